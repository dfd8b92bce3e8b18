//! The consumer side of rotation: an application that reads its database secret through
//! [`aws_secretsmanager_caching`] and keeps working while the secret rotates.
//!
//! - [`Pool`]: a small hand-rolled PostgreSQL connection pool. Connections live at most
//!   `connection_lifetime`; the secret is cached for `refresh_interval` (shorter), so a
//!   new connection normally uses a fresh enough value.
//! - On an **authentication failure** when connecting, the pool refreshes the secret once
//!   (`refresh_now = true`, bypassing the cache) and reconnects. Single-user rotation has a
//!   window (setSecret..finishSecret) where neither the old nor the new AWSCURRENT works;
//!   the pool then keeps refreshing and reconnecting with a short backoff, up to
//!   `retry_deadline`, so the application does not see it. Every such reconnect is counted
//!   in [`Stats::reconnects`].
//!
//! Why hand-rolled and not deadpool-postgres: deadpool's manager holds one fixed
//! `tokio_postgres::Config`, so the password refresh on an auth failure (the point of this
//! example) would need a custom `Manager` anyway; the whole pool is ~100 lines here and
//! shows exactly where the refresh happens.
//!
//! Logins go through `rotwise_postgres`'s connector (TLS per the secret's `ssl` key,
//! verify-full against the given CA), the same code the rotator uses.
//!
//! [`soak`] runs the soak the README describes and returns its numbers.

pub mod soak;

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_secretsmanager_caching::SecretsManagerCachingClient;
use rotwise_postgres::tokio_postgres::{Client, Row};
use rotwise_postgres::{PgRotator, PgSecret};
use tokio::sync::{Mutex, Semaphore};

/// Counters (monotonic).
#[derive(Debug, Default)]
pub struct Stats {
    /// Queries that returned rows to the application.
    pub queries: AtomicU64,
    /// Errors the application saw.
    pub failures: AtomicU64,
    /// New connections opened successfully.
    pub connects: AtomicU64,
    /// Logins the server refused.
    pub auth_failures: AtomicU64,
    /// Connection attempts made after an auth failure (each after a secret refresh).
    pub reconnects: AtomicU64,
}

impl Stats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A counter's value.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// How the pool behaves.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// The database secret's name or ARN.
    pub secret_id: String,
    /// How long a cached secret value is served (the caching client's TTL).
    pub refresh_interval: Duration,
    /// Connections older than this are closed instead of reused (longer than
    /// `refresh_interval`).
    pub connection_lifetime: Duration,
    /// At most this many connections at once.
    pub max_size: usize,
    /// How long to keep refreshing and reconnecting after auth failures.
    pub retry_deadline: Duration,
}

struct Pooled {
    client: Client,
    born: Instant,
}

/// A PostgreSQL pool whose credentials come from Secrets Manager through the caching client.
pub struct Pool {
    cache: SecretsManagerCachingClient,
    connector: Arc<PgRotator>,
    config: PoolConfig,
    idle: Mutex<Vec<Pooled>>,
    permits: Semaphore,
    /// What happened so far.
    pub stats: Stats,
}

/// An error the application sees (never holds a secret value).
#[derive(Debug)]
pub struct ConsumerError(pub String);

impl std::fmt::Display for ConsumerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConsumerError {}

impl Pool {
    /// A pool reading `config.secret_id` through a caching client built from
    /// `sdk` (e.g. with an endpoint override), logging in with `connector`.
    pub fn new(
        sdk: aws_sdk_secretsmanager::config::Builder,
        connector: Arc<PgRotator>,
        config: PoolConfig,
    ) -> Result<Pool, ConsumerError> {
        let client = aws_sdk_secretsmanager::Client::from_conf(sdk.build());
        let cache = SecretsManagerCachingClient::new(
            client,
            NonZeroUsize::new(16).unwrap_or(NonZeroUsize::MIN),
            config.refresh_interval,
            false,
        )
        .map_err(|e| ConsumerError(format!("cannot build the caching client: {e}")))?;
        Ok(Pool {
            cache,
            connector,
            permits: Semaphore::new(config.max_size),
            config,
            idle: Mutex::new(Vec::new()),
            stats: Stats::default(),
        })
    }

    /// The secret (from the cache, or fetched now when `refresh`).
    async fn secret(&self, refresh: bool) -> Result<PgSecret, ConsumerError> {
        let out = self
            .cache
            .get_secret_value(&self.config.secret_id, None, None, refresh)
            .await
            .map_err(|e| ConsumerError(format!("reading the secret failed: {e}")))?;
        let text = out
            .secret_string
            .ok_or_else(|| ConsumerError("the database secret has no SecretString".into()))?;
        PgSecret::parse_str(&text).map_err(|e| ConsumerError(format!("bad database secret: {e}")))
    }

    /// Open a connection; on an auth failure refresh the secret and reconnect.
    async fn connect(&self) -> Result<Pooled, ConsumerError> {
        let deadline = Instant::now() + self.config.retry_deadline;
        let mut secret = self.secret(false).await?;
        let mut backoff = Duration::from_millis(5);
        let mut refreshed = false;
        loop {
            match self.connector.connect(&secret).await {
                Ok(client) => {
                    Stats::bump(&self.stats.connects);
                    return Ok(Pooled {
                        client,
                        born: Instant::now(),
                    });
                }
                Err(e) if e.is_auth_refused() && Instant::now() < deadline => {
                    Stats::bump(&self.stats.auth_failures);
                    if refreshed {
                        // The refreshed value was refused too: a single-user rotation is
                        // between setSecret and finishSecret. Wait for finishSecret.
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_millis(200));
                    }
                    secret = self.secret(true).await?;
                    refreshed = true;
                    Stats::bump(&self.stats.reconnects);
                }
                Err(e) => {
                    if e.is_auth_refused() {
                        Stats::bump(&self.stats.auth_failures);
                    }
                    return Err(ConsumerError(format!("cannot connect: {e}")));
                }
            }
        }
    }

    /// Run `sql` (no parameters) on a pooled connection.
    pub async fn query(&self, sql: &str) -> Result<Vec<Row>, ConsumerError> {
        let result = self.query_inner(sql).await;
        match &result {
            Ok(_) => Stats::bump(&self.stats.queries),
            Err(_) => Stats::bump(&self.stats.failures),
        }
        result
    }

    async fn query_inner(&self, sql: &str) -> Result<Vec<Row>, ConsumerError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ConsumerError("the pool is closed".into()))?;
        let reused = {
            let mut idle = self.idle.lock().await;
            idle.retain(|c| {
                !c.client.is_closed() && c.born.elapsed() < self.config.connection_lifetime
            });
            idle.pop()
        };
        let conn = match reused {
            Some(c) => c,
            None => self.connect().await?,
        };
        match conn.client.query(sql, &[]).await {
            Ok(rows) => {
                self.idle.lock().await.push(conn);
                Ok(rows)
            }
            // The server closed the session (restart, terminated backend): one new
            // connection, one retry.
            Err(_) if conn.client.is_closed() => {
                let conn = self.connect().await?;
                let rows = conn
                    .client
                    .query(sql, &[])
                    .await
                    .map_err(|e| ConsumerError(format!("query failed: {e}")))?;
                self.idle.lock().await.push(conn);
                Ok(rows)
            }
            Err(e) => Err(ConsumerError(format!("query failed: {e}"))),
        }
    }
}
