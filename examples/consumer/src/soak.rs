//! The soak: consumer tasks query PostgreSQL through a [`Pool`] while rotations run.
//!
//! Loopback only: the private PostgreSQL of `scripts/services up`, and the test kit's
//! local Secrets Manager endpoint serving the in-memory store the rotations write to.
//! Bounded: `rotations` rotations and a `time_limit` for everything.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use rotwise_core::Driver;
use rotwise_core::store::MemoryStore;
use rotwise_postgres::sql::{quote_ident, quote_literal, scram_verifier};
use rotwise_postgres::{DbOptions, PgRotator, Strategy, TlsMode};
use rotwise_test_services::{PgService, unique_name};
use rotwise_testkit::LocalService;
use rotwise_testkit::endpoint::LocalEndpoint;

use crate::{Pool, PoolConfig, Stats};

/// What to run.
#[derive(Clone, Debug)]
pub struct SoakParams {
    /// Single or alternating users.
    pub strategy: Strategy,
    /// Rotations to run.
    pub rotations: usize,
    /// Concurrent consumer tasks (and the pool's size).
    pub tasks: usize,
    /// The consumer's cache refresh interval.
    pub refresh_interval: Duration,
    /// The pool's connection lifetime.
    pub connection_lifetime: Duration,
    /// Pause after each rotation (ARCHITECTURE.md, "Strategies keep their promises": alternating needs at least twice the refresh
    /// interval, or a rotation resets the password of a user the consumer still holds).
    pub pacing: Duration,
    /// Everything must finish within this.
    pub time_limit: Duration,
}

impl SoakParams {
    /// The issue's soak: 8 tasks, 50 rotations; alternating paced at 2x the refresh
    /// interval, single user back to back.
    pub fn issue(strategy: Strategy) -> SoakParams {
        let refresh_interval = Duration::from_millis(100);
        SoakParams {
            strategy,
            rotations: 50,
            tasks: 8,
            refresh_interval,
            connection_lifetime: Duration::from_millis(400),
            pacing: match strategy {
                Strategy::Alternating => refresh_interval * 2,
                Strategy::Single => Duration::ZERO,
            },
            time_limit: Duration::from_secs(180),
        }
    }
}

/// What happened.
#[derive(Clone, Debug)]
pub struct SoakReport {
    /// The parameters.
    pub params: SoakParams,
    /// Rotations completed.
    pub rotations: usize,
    /// Queries that succeeded.
    pub queries: u64,
    /// Errors the application saw.
    pub failures: u64,
    /// The first of them.
    pub first_failure: Option<String>,
    /// Logins the server refused (all absorbed by the reconnect path if `failures` is 0).
    pub auth_failures: u64,
    /// Reconnects after a refused login (each after a secret refresh).
    pub reconnects: u64,
    /// Connections opened.
    pub connects: u64,
    /// Wall time.
    pub duration: Duration,
}

impl std::fmt::Display for SoakReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?}: {} rotations, {} tasks, {} queries, {} failed, {} refused logins, \
             {} internal reconnects, {} connections, {:.1} s (refresh {} ms, lifetime {} ms, pacing {} ms)",
            self.params.strategy,
            self.rotations,
            self.params.tasks,
            self.queries,
            self.failures,
            self.auth_failures,
            self.reconnects,
            self.connects,
            self.duration.as_secs_f64(),
            self.params.refresh_interval.as_millis(),
            self.params.connection_lifetime.as_millis(),
            self.params.pacing.as_millis(),
        )
    }
}

async fn create_role(
    admin: &rotwise_postgres::tokio_postgres::Client,
    name: &str,
    pw: &str,
    attrs: &str,
) -> Result<(), String> {
    let verifier = scram_verifier(&pw.to_string().into());
    admin
        .batch_execute(&format!(
            "CREATE ROLE {} LOGIN {attrs} PASSWORD {}",
            quote_ident(name),
            quote_literal(&verifier)
        ))
        .await
        .map_err(|e| format!("create role {name}: {e}"))
}

fn secret_json(port: u16, user: &str, pw: &str, masterarn: Option<&str>) -> String {
    let mut v = serde_json::json!({
        "engine": "postgres", "host": "127.0.0.1", "port": port,
        "username": user, "password": pw, "dbname": "postgres", "ssl": true,
    });
    if let Some(m) = masterarn {
        v["masterarn"] = m.into();
    }
    v.to_string()
}

/// Run the soak on `pg`; roles are created with unique names and dropped afterwards.
pub async fn soak(pg: &PgService, params: SoakParams) -> Result<SoakReport, String> {
    let base = unique_name("rw_consumer");
    let master = unique_name("rw_consumer_master");
    let roles = [format!("{base}_clone"), base.clone(), master.clone()];
    let result = tokio::time::timeout(params.time_limit, run(pg, &params, &base, &master))
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "the soak did not finish within {:?}",
                params.time_limit
            ))
        });
    let admin = pg.admin().await;
    for role in roles {
        let q = quote_ident(&role);
        let _ = admin
            .batch_execute(&format!("DROP OWNED BY {q}; DROP ROLE {q}"))
            .await;
    }
    result
}

async fn run(
    pg: &PgService,
    params: &SoakParams,
    base: &str,
    master: &str,
) -> Result<SoakReport, String> {
    let port = pg
        .admin_config()
        .get_ports()
        .first()
        .copied()
        .ok_or("ROTATION_TEST_PG_URL has no port")?;
    let admin = pg.admin().await;
    let pw = format!("Init-{}", unique_name("p"));
    create_role(&admin, base, &pw, "").await?;
    let store = Arc::new(MemoryStore::new());
    let masterarn = match params.strategy {
        Strategy::Single => None,
        Strategy::Alternating => {
            let mpw = format!("Master-{}", unique_name("p"));
            create_role(&admin, master, &mpw, "CREATEROLE").await?;
            let arn = store
                .insert_secret(
                    &format!("db/master/{master}"),
                    &secret_json(port, master, &mpw, None),
                )
                .map_err(|e| e.to_string())?;
            Some(arn)
        }
    };
    let arn = store
        .insert_secret(
            &format!("db/app/{base}"),
            &secret_json(port, base, &pw, masterarn.as_deref()),
        )
        .map_err(|e| e.to_string())?;

    let options = DbOptions {
        tls: Some(TlsMode::VerifyFull),
        ca_file: Some(pg.ca.clone()),
        strategy: Some(params.strategy),
        ..DbOptions::default()
    };
    let rotator = Arc::new(PgRotator::new(options.clone()));
    let driver = Driver::new(store.clone(), rotator);
    let service = LocalService::new(store.clone());

    // The consumer only knows the endpoint URL and the secret's name.
    let endpoint = LocalEndpoint::start(store.clone()).map_err(|e| e.to_string())?;
    let sdk = aws_sdk_secretsmanager::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDLOCAL",
            "local",
            None,
            None,
            "example",
        ))
        .endpoint_url(endpoint.url());
    let pool = Arc::new(
        Pool::new(
            sdk,
            Arc::new(PgRotator::new(DbOptions {
                strategy: None,
                ..options
            })),
            PoolConfig {
                secret_id: format!("db/app/{base}"),
                refresh_interval: params.refresh_interval,
                connection_lifetime: params.connection_lifetime,
                max_size: params.tasks,
                retry_deadline: Duration::from_secs(10),
            },
        )
        .map_err(|e| e.to_string())?,
    );

    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let first_failure = Arc::new(std::sync::Mutex::new(None::<String>));
    let mut tasks = Vec::new();
    for _ in 0..params.tasks {
        let (pool, stop, first) = (pool.clone(), stop.clone(), first_failure.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = pool.query("SELECT current_user").await {
                    first
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e.0);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
    }
    let mut done = 0;
    let mut rotation_error = None;
    for _ in 0..params.rotations {
        match service.rotate(&arn, &driver).await {
            Ok(_) => done += 1,
            Err(e) => {
                rotation_error = Some(e.to_string());
                break;
            }
        }
        tokio::time::sleep(params.pacing).await;
    }
    // Let the consumers run one more refresh interval on the final value.
    tokio::time::sleep(params.refresh_interval * 2).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await
            .map_err(|e| format!("a consumer task panicked: {e}"))?;
    }
    let duration = started.elapsed();
    endpoint.shutdown().await;
    if let Some(e) = rotation_error {
        return Err(format!("rotation {} failed: {e}", done + 1));
    }
    let s = &pool.stats;
    let first = first_failure
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Ok(SoakReport {
        params: params.clone(),
        rotations: done,
        queries: Stats::get(&s.queries),
        failures: Stats::get(&s.failures),
        first_failure: first,
        auth_failures: Stats::get(&s.auth_failures),
        reconnects: Stats::get(&s.reconnects),
        connects: Stats::get(&s.connects),
        duration,
    })
}
