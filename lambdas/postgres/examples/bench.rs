//! Benchmark of the PostgreSQL Lambda zips against DESIGN 5.1's targets.
//!
//! ```sh
//! scripts/services up && eval "$(scripts/services env)"
//! scripts/dist postgres
//! cargo run --release -p rotwise-lambda-postgres --example bench [-- ZIP... ] [--rotations N]
//! ```
//!
//! For each zip (default: `dist/postgres/bootstrap.zip`) and each strategy, the zip's
//! `bootstrap` runs as a process under the local Lambda Runtime API, with Secrets Manager
//! served by the test kit's local endpoint and the private PostgreSQL. Printed: zip size,
//! init time (process start → first `next` poll), wall time per step (median of the warm
//! rotations), warm rotation time against 1.25 × (SM calls × one SM round trip + logins ×
//! one login) measured in the same run, Secrets Manager calls per rotation, peak RSS
//! (`VmHWM`), RSS growth over the warm rotations, failed logins and plaintext passwords in
//! the server log. A program, not a test: nothing fails on timing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rotwise_core::store::{AWSCURRENT, AwsStore, MemoryStore, SecretStore};
use rotwise_core::{ExposeSecret, SecretString};
use rotwise_lambda::emulator::{LambdaProcess, Outcome, RuntimeApi};
use rotwise_postgres::sql::{quote_ident, quote_literal, scram_verifier};
use rotwise_test_services::{PgService, require_pg, unique_name};
use rotwise_testkit::endpoint::LocalEndpoint;
use serde_json::{Value, json};

const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Run {
    strategy: &'static str,
    init: Duration,
    cold_steps: [Duration; 4],
    warm_steps: [Duration; 4],
    warm_rotation: Duration,
    sm_calls: u64,
    sm_round_trip: Duration,
    login: Duration,
    logins_per_rotation: u32,
    peak_rss_kib: u64,
    growth_bytes_per_rotation: f64,
    rotations: usize,
    failed_logins: usize,
    plaintext_in_log: bool,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn create_role(
    pg: &PgService,
    name: &str,
    password: &str,
    attrs: &str,
) -> Result<(), BoxError> {
    pg.admin()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {} LOGIN {attrs} PASSWORD {}",
            quote_ident(name),
            quote_literal(&scram_verifier(&SecretString::from(password)))
        ))
        .await?;
    Ok(())
}

async fn drop_roles(pg: &PgService, names: &[String]) {
    let admin = pg.admin().await;
    for name in names {
        let q = quote_ident(name);
        let _ = admin
            .batch_execute(&format!(
                "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {}) THEN \
                 EXECUTE 'DROP OWNED BY {q}'; EXECUTE 'DROP ROLE {q}'; END IF; END $$",
                quote_literal(name)
            ))
            .await;
    }
}

fn secret_json(pg: &PgService, user: &str, password: &str, masterarn: Option<&str>) -> String {
    let port = pg.admin_config().get_ports().first().copied().unwrap_or(0);
    let mut v = json!({"engine": "postgres", "host": "127.0.0.1", "port": port,
        "username": user, "password": password, "dbname": "postgres", "ssl": true});
    if let Some(arn) = masterarn {
        v["masterarn"] = json!(arn);
    }
    v.to_string()
}

async fn one_rotation(
    api: &RuntimeApi,
    endpoint: &LocalEndpoint,
    arn: &str,
) -> Result<([Duration; 4], u64), BoxError> {
    let token = endpoint.store().begin_rotation(arn)?;
    endpoint.reset_calls();
    let mut times = [Duration::ZERO; 4];
    for (i, step) in STEPS.iter().enumerate() {
        let event = json!({"Step": step, "SecretId": arn, "ClientRequestToken": token});
        let started = Instant::now();
        let outcome = api.invoke(&event, Duration::from_secs(30)).await?;
        times[i] = started.elapsed();
        if outcome != Outcome::Response(Value::Null) {
            return Err(format!("{step}: {outcome:?}").into());
        }
    }
    let calls = endpoint.total_calls();
    endpoint.store().complete_rotation(arn, &token)?;
    Ok((times, calls))
}

async fn bench(
    bin: &Path,
    pg: &PgService,
    strategy: &'static str,
    rotations: usize,
) -> Result<Run, BoxError> {
    let user = unique_name("rw_bench");
    let master = unique_name("rw_bench_m");
    let roles = vec![format!("{user}_clone"), user.clone(), master.clone()];
    let result = async {
        let initial = format!("Bench-{}", &unique_name("p")[2..]);
        let master_pw = format!("Bench-{}", &unique_name("m")[2..]);
        create_role(pg, &user, &initial, "").await?;
        let store = Arc::new(MemoryStore::new());
        let masterarn = if strategy == "alternating" {
            create_role(pg, &master, &master_pw, "CREATEROLE").await?;
            pg.admin()
                .await
                .batch_execute(&format!(
                    "GRANT {} TO {} WITH ADMIN OPTION",
                    quote_ident(&user),
                    quote_ident(&master)
                ))
                .await?;
            Some(store.insert_secret("bench/master", &secret_json(pg, &master, &master_pw, None))?)
        } else {
            None
        };
        let arn = store.insert_secret(
            "bench/pg",
            &secret_json(pg, &user, &initial, masterarn.as_deref()),
        )?;
        let endpoint = LocalEndpoint::start(store.clone())?;
        let api = RuntimeApi::start().await?;
        let env = [
            ("SECRETS_MANAGER_ENDPOINT", endpoint.url()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_string()),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_string()),
            ("ROTATION_STRATEGY", strategy.to_string()),
            ("ROTATION_TLS_MODE", "verify-full".to_string()),
            ("ROTATION_CA_FILE", pg.ca.display().to_string()),
        ];
        let mut process = LambdaProcess::spawn(bin, &api, &env)?;
        let first = api
            .wait_first_poll(Duration::from_secs(10))
            .await
            .ok_or("no first poll")?;
        let init = first.duration_since(process.started());

        let mut log = pg.log_cursor();
        log.advance();
        let (cold_steps, mut sm_calls) = one_rotation(&api, &endpoint, &arn).await?;
        // Warm-up, then the measured warm rotations.
        for _ in 0..5 {
            let (_, c) = one_rotation(&api, &endpoint, &arn).await?;
            sm_calls = sm_calls.max(c);
        }
        let rss_before = process.status_kib("VmRSS").unwrap_or(0);
        let mut per_step: [Vec<Duration>; 4] = Default::default();
        let mut totals = Vec::new();
        let mut passwords = vec![initial.clone(), master_pw.clone()];
        for _ in 0..rotations {
            let (t, c) = one_rotation(&api, &endpoint, &arn).await?;
            sm_calls = sm_calls.max(c);
            for i in 0..4 {
                per_step[i].push(t[i]);
            }
            totals.push(t.iter().sum());
            let current = store.get_secret_value(&arn, None, Some(AWSCURRENT)).await?;
            let v: Value =
                serde_json::from_str(current.payload.as_string().ok_or("binary")?.expose_secret())?;
            passwords.push(v["password"].as_str().unwrap_or_default().to_string());
        }
        let rss_after = process.status_kib("VmRSS").unwrap_or(0);
        let peak_rss_kib = process.status_kib("VmHWM").unwrap_or(0);
        process.stop().await;

        // Server log: failed logins and plaintext passwords over every rotation.
        let marker = unique_name("bench_fence");
        pg.admin()
            .await
            .batch_execute(&format!("SELECT '{marker}'"))
            .await?;
        let text = log.wait_for(&marker, Duration::from_secs(5)).await;
        let failed_logins = roles
            .iter()
            .map(|r| {
                text.matches(&format!("password authentication failed for user \"{r}\""))
                    .count()
            })
            .sum();
        let plaintext_in_log = passwords
            .iter()
            .any(|p| !p.is_empty() && text.contains(p.as_str()));

        // Baselines in the same run: one Secrets Manager round trip, one TLS login.
        let sdk = AwsStore::for_endpoint(endpoint.url(), "us-east-1");
        sdk.describe_secret(&arn).await?;
        let mut rt = Vec::new();
        for _ in 0..30 {
            let started = Instant::now();
            sdk.describe_secret(&arn).await?;
            rt.push(started.elapsed());
        }
        let current = store.get_secret_value(&arn, None, Some(AWSCURRENT)).await?;
        let v: Value =
            serde_json::from_str(current.payload.as_string().ok_or("binary")?.expose_secret())?;
        let (u, p) = (
            v["username"].as_str().unwrap_or_default().to_string(),
            v["password"].as_str().unwrap_or_default().to_string(),
        );
        let mut logins = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            let client = pg.connect_as(&u, &p).await?;
            logins.push(started.elapsed());
            drop(client);
        }
        let rotations_total = rotations + 6;
        Ok::<_, BoxError>(Run {
            strategy,
            init,
            cold_steps,
            warm_steps: per_step.map(median),
            warm_rotation: median(totals),
            sm_calls,
            sm_round_trip: median(rt),
            login: median(logins),
            logins_per_rotation: if strategy == "single" { 2 } else { 3 },
            peak_rss_kib,
            growth_bytes_per_rotation: (rss_after as f64 - rss_before as f64) * 1024.0
                / rotations as f64,
            rotations: rotations_total,
            failed_logins,
            plaintext_in_log,
        })
    }
    .await;
    drop_roles(pg, &roles).await;
    result
}

fn print_table(zip: &Path, zip_size: u64, runs: &[Run]) {
    println!();
    println!(
        "{} — {} bytes ({:.2} MB; target ≤ 5 MB)",
        zip.display(),
        zip_size,
        zip_size as f64 / 1e6
    );
    let mut header = format!("| {:<46} | {:<38} |", "metric", "target (DESIGN 5.1)");
    let mut rule = format!("|{}|{}|", "-".repeat(48), "-".repeat(40));
    for r in runs {
        header.push_str(&format!(" {:<26} |", r.strategy));
        rule.push_str(&format!("{}|", "-".repeat(28)));
    }
    println!("{header}\n{rule}");
    let row = |name: &str, target: &str, f: &dyn Fn(&Run) -> String| {
        let mut line = format!("| {name:<46} | {target:<38} |");
        for r in runs {
            line.push_str(&format!(" {:<26} |", f(r)));
        }
        println!("{line}");
    };
    row("zip size", "≤ 5 MB", &|_| {
        format!("{:.2} MB", zip_size as f64 / 1e6)
    });
    row(
        "init: process start → first next poll",
        "≤ 5 ms",
        &|r| ms(r.init),
    );
    for (i, step) in STEPS.iter().enumerate() {
        row(&format!("cold {step}"), "", &|r| ms(r.cold_steps[i]));
    }
    for (i, step) in STEPS.iter().enumerate() {
        row(&format!("warm {step} (median)"), "", &|r| {
            ms(r.warm_steps[i])
        });
    }
    row(
        "warm rotation (median, 4 invocations)",
        "≤ 1.25 × (calls × RT + logins × login)",
        &|r| ms(r.warm_rotation),
    );
    row("  SM round trip / DB login (same run)", "", &|r| {
        format!("{} / {}", ms(r.sm_round_trip), ms(r.login))
    });
    row(
        "  bound 1.25 × (calls × RT + logins × login)",
        "",
        &|r| {
            let bound = (r.sm_round_trip * r.sm_calls as u32 + r.login * r.logins_per_rotation)
                .mul_f64(1.25);
            let verdict = if r.warm_rotation <= bound {
                "met"
            } else {
                "MISSED"
            };
            format!("{} ({verdict})", ms(bound))
        },
    );
    row(
        "Secrets Manager calls per rotation (max)",
        "≤ 11 single, ≤ 12 alternating",
        &|r| r.sm_calls.to_string(),
    );
    row("peak RSS (VmHWM)", "≤ 12 MiB", &|r| {
        format!("{:.2} MiB", r.peak_rss_kib as f64 / 1024.0)
    });
    row("RSS growth per warm rotation", "≤ 1 KiB", &|r| {
        format!("{:.0} B", r.growth_bytes_per_rotation)
    });
    row("failed logins (all rotations)", "0", &|r| {
        format!("{} in {} rotations", r.failed_logins, r.rotations)
    });
    row("plaintext password in server log", "never", &|r| {
        if r.plaintext_in_log { "FOUND" } else { "none" }.to_string()
    });
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let mut zips = Vec::new();
    let mut rotations = 100usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--rotations" {
            rotations = args.next().ok_or("--rotations N")?.parse()?;
        } else {
            zips.push(PathBuf::from(a));
        }
    }
    if zips.is_empty() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        zips.push(root.join("dist/postgres/bootstrap.zip"));
    }
    let Some(pg) = require_pg() else {
        return Err("the private PostgreSQL is not running: scripts/services up".into());
    };
    for zip in zips {
        let zip = zip
            .canonicalize()
            .map_err(|e| format!("{}: {e} (build it with scripts/dist)", zip.display()))?;
        let size = std::fs::metadata(&zip)?.len();
        let dir = std::env::temp_dir().join(unique_name("rotwise_bench"));
        std::fs::create_dir_all(&dir)?;
        let status = std::process::Command::new("unzip")
            .args(["-q", "-o"])
            .arg(&zip)
            .arg("-d")
            .arg(&dir)
            .status()?;
        if !status.success() {
            return Err(format!("unzip {} failed", zip.display()).into());
        }
        let bin = dir.join("bootstrap");
        let mut runs = Vec::new();
        for strategy in ["single", "alternating"] {
            runs.push(bench(&bin, &pg, strategy, rotations).await?);
        }
        print_table(&zip, size, &runs);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
