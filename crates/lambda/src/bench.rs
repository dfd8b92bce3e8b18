//! The benchmark of a Lambda zip against DESIGN 5.1's targets (feature `test-support`),
//! shared by the engines' `examples/bench.rs`: each supplies a [`Fixture`] for its private
//! test server and calls [`main`].
//!
//! For each zip (default: `dist/<engine>/bootstrap.zip`) and each strategy, the zip's
//! `bootstrap` runs as a process under the local Lambda Runtime API, with Secrets Manager
//! served by the test kit's local endpoint and the engine's private server. Printed: zip
//! size, init time (process start → first `next` poll), wall time per step (median of the
//! warm rotations), warm rotation time against 1.25 × (SM calls × one SM round trip +
//! logins × one login) measured in the same run, Secrets Manager calls per rotation, peak
//! RSS (`VmHWM`), RSS growth over the warm rotations, failed logins and plaintext
//! passwords in the server log. A program, not a test: nothing fails on timing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rotwise_core::BoxError;
use rotwise_core::store::{AWSCURRENT, AwsStore, MemoryStore, SecretStore};

use crate::harness::{Fixture, Harness, STEPS, credentials_in, users_of};

/// Warm-up rotations before the measured ones (the first is also reported as cold).
const WARM_UP: usize = 5;

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

async fn bench<F: Fixture>(
    bin: &Path,
    fx: &F,
    strategy: &'static str,
    rotations: usize,
) -> Result<Run, BoxError> {
    let user = fx.unique_name("rw_bench");
    let master = fx.unique_name("rw_bench_m");
    let users = users_of(&user, &master);
    let result = async {
        let initial = format!("Bench-{}", &fx.unique_name("p")[2..]);
        let master_pw = format!("Bench-{}", &fx.unique_name("m")[2..]);
        fx.create_user(&user, &initial).await?;
        let store = Arc::new(MemoryStore::new());
        let masterarn = if strategy == "alternating" {
            fx.create_master(&master, &master_pw, &user).await?;
            Some(store.insert_secret("bench/master", &fx.secret_json(&master, &master_pw, None))?)
        } else {
            None
        };
        let arn = store.insert_secret(
            "bench/secret",
            &fx.secret_json(&user, &initial, masterarn.as_deref()),
        )?;
        let mut env = vec![
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_string()),
            ("ROTATION_STRATEGY", strategy.to_string()),
        ];
        env.extend(fx.env());
        let mut h = Harness::try_start(bin, store.clone(), &env).await?;
        let init = h
            .api
            .first_poll()
            .ok_or("no first poll")?
            .duration_since(h.process.started());

        let log = fx.log_mark();
        let cold = h.try_rotate(&arn).await?;
        let mut sm_calls = cold.total_calls();
        for _ in 0..WARM_UP {
            sm_calls = sm_calls.max(h.try_rotate(&arn).await?.total_calls());
        }
        let rss_before = h.process.status_kib("VmRSS").unwrap_or(0);
        let mut per_step: [Vec<Duration>; 4] = Default::default();
        let mut totals = Vec::new();
        let mut passwords = vec![initial.clone(), master_pw.clone()];
        for _ in 0..rotations {
            let r = h.try_rotate(&arn).await?;
            sm_calls = sm_calls.max(r.total_calls());
            for (times, t) in per_step.iter_mut().zip(r.steps) {
                times.push(t);
            }
            totals.push(r.steps.iter().sum());
            passwords.push(credentials_in(&store, &arn, AWSCURRENT).await.1);
        }
        let rss_after = h.process.status_kib("VmRSS").unwrap_or(0);
        let peak_rss_kib = h.process.status_kib("VmHWM").unwrap_or(0);
        h.process.stop().await;

        // Server log: failed logins and plaintext passwords over every rotation.
        let text = fx.log_since(&log).await?;
        let failed_logins = users.iter().map(|u| fx.failed_logins(&text, u)).sum();
        let plaintext_in_log = passwords
            .iter()
            .any(|p| !p.is_empty() && text.contains(p.as_str()));

        // Baselines in the same run: one Secrets Manager round trip, one TLS login.
        let sdk = AwsStore::for_endpoint(h.endpoint.url(), "us-east-1");
        sdk.describe_secret(&arn).await?;
        let mut rt = Vec::new();
        for _ in 0..30 {
            let started = Instant::now();
            sdk.describe_secret(&arn).await?;
            rt.push(started.elapsed());
        }
        let (u, p) = credentials_in(&store, &arn, AWSCURRENT).await;
        let mut logins = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            fx.login(&u, &p).await?;
            logins.push(started.elapsed());
        }
        Ok::<_, BoxError>(Run {
            strategy,
            init,
            cold_steps: cold.steps,
            warm_steps: per_step.map(median),
            warm_rotation: median(totals),
            sm_calls,
            sm_round_trip: median(rt),
            login: median(logins),
            logins_per_rotation: if strategy == "single" { 2 } else { 3 },
            peak_rss_kib,
            growth_bytes_per_rotation: (rss_after as f64 - rss_before as f64) * 1024.0
                / rotations as f64,
            rotations: rotations + 1 + WARM_UP,
            failed_logins,
            plaintext_in_log,
        })
    }
    .await;
    fx.drop_users(&users).await;
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

/// The benchmark program: `[ZIP...] [--rotations N]` from the command line (default
/// `dist/<engine>/bootstrap.zip`, 100 measured rotations); one table per zip, with a
/// column per strategy.
///
/// # Errors
///
/// Bad arguments, a missing zip, or a rotation that failed.
pub async fn main<F: Fixture>(fx: F) -> Result<(), BoxError> {
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
    if rotations == 0 {
        return Err("--rotations must be at least 1".into());
    }
    if zips.is_empty() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        zips.push(root.join(format!("dist/{}/bootstrap.zip", fx.engine())));
    }
    for zip in zips {
        let zip = zip.canonicalize().map_err(|e| {
            format!(
                "{}: {e} (build it with scripts/dist {})",
                zip.display(),
                fx.engine()
            )
        })?;
        let size = std::fs::metadata(&zip)?.len();
        let dir = std::env::temp_dir().join(fx.unique_name("rotwise_bench"));
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
            runs.push(bench(&bin, &fx, strategy, rotations).await?);
        }
        print_table(&zip, size, &runs);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
