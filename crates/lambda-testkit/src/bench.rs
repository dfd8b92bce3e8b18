//! The benchmark of a Lambda zip against the project's performance targets (the target
//! column of `docs/src/performance.md`, which `scripts/bench` writes), shared by the
//! engines' `examples/bench.rs`: each supplies a [`Fixture`] for its private test server
//! and calls [`main`].
//!
//! For each zip (default: `dist/<engine>/bootstrap.zip`) and each strategy, the zip's
//! `bootstrap` runs as a process under the local Lambda Runtime API, with Secrets Manager
//! served by the test kit's local endpoint and the engine's private server. Printed: zip
//! size, init time (process start → first `next` poll), wall time per step (median of the
//! warm rotations), warm rotation time against 1.25 × (SM calls × one SM round trip +
//! logins × one login) measured in the same run, Secrets Manager calls per rotation, peak
//! RSS (`VmHWM`), RSS growth over the warm rotations, failed logins and plaintext
//! passwords in the server log, database connections per rotation (counted in the server's
//! log), and 1, 10, 100 secrets rotated back to back by one warm process (total and per
//! secret). Without the zip, the binary given by `--bin` runs and the zip size reads "not
//! built". `--short` (for CI): 5 measured rotations, 1 and 10 secrets. A program, not a
//! test: nothing fails on timing; a missed target is shown in the table.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Error;
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
    connections_per_rotation: f64,
    /// Secrets rotated back to back by one process: (count, total wall time).
    batches: Vec<(usize, Duration)>,
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
    batches: &[usize],
) -> Result<Run, Error> {
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
        let connections: usize = users.iter().map(|u| fx.connections(&text, u)).sum();
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
        Ok::<_, Error>(Run {
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
            connections_per_rotation: connections as f64 / (rotations + 1 + WARM_UP) as f64,
            batches: Vec::new(),
        })
    }
    .await;
    fx.drop_users(&users).await;
    let mut run = result?;
    for &n in batches {
        run.batches
            .push((n, back_to_back(bin, fx, strategy, n).await?));
    }
    Ok(run)
}

/// `n` secrets (each its own user, and master when alternating) rotated one after the
/// other by one process: the wall time of all the rotations.
async fn back_to_back<F: Fixture>(
    bin: &Path,
    fx: &F,
    strategy: &'static str,
    n: usize,
) -> Result<Duration, Error> {
    let mut users = Vec::new();
    let result = async {
        let store = Arc::new(MemoryStore::new());
        let mut arns = Vec::new();
        for i in 0..n {
            let user = fx.unique_name("rw_batch");
            let master = fx.unique_name("rw_batch_m");
            users.extend(users_of(&user, &master));
            let password = format!("Bench-{}", &fx.unique_name("p")[2..]);
            fx.create_user(&user, &password).await?;
            let masterarn = if strategy == "alternating" {
                fx.create_master(&master, &password, &user).await?;
                let json = fx.secret_json(&master, &password, None);
                Some(store.insert_secret(&format!("batch/master/{i}"), &json)?)
            } else {
                None
            };
            let json = fx.secret_json(&user, &password, masterarn.as_deref());
            arns.push(store.insert_secret(&format!("batch/secret/{i}"), &json)?);
        }
        let mut env = vec![
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_string()),
            ("ROTATION_STRATEGY", strategy.to_string()),
        ];
        env.extend(fx.env());
        let mut h = Harness::try_start(bin, store, &env).await?;
        let started = Instant::now();
        for arn in &arns {
            h.try_rotate(arn).await?;
        }
        let total = started.elapsed();
        h.process.stop().await;
        Ok::<_, Error>(total)
    }
    .await;
    fx.drop_users(&users).await;
    result
}

fn print_table(engine: &str, what: &str, zip_size: Option<u64>, runs: &[Run]) {
    println!();
    match zip_size {
        Some(size) => println!(
            "### {engine}: {what} — {size} bytes ({:.2} MB; target ≤ 5 MB)",
            size as f64 / 1e6
        ),
        None => println!("### {engine}: {what} (zip not built)"),
    }
    println!();
    let mut header = format!("| {:<46} | {:<38} |", "metric", "target");
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
    row("zip size", "≤ 5 MB", &|_| match zip_size {
        Some(size) => format!("{:.2} MB", size as f64 / 1e6),
        None => "not built".to_string(),
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
    row("database connections per rotation", "", &|r| {
        format!("{:.1}", r.connections_per_rotation)
    });
    if let Some(first) = runs.first() {
        for (i, &(n, _)) in first.batches.iter().enumerate() {
            row(
                &format!("{n} secrets back to back: total / per secret"),
                "",
                &|r| {
                    let total = r.batches[i].1;
                    format!("{} / {}", ms(total), ms(total / n as u32))
                },
            );
        }
    }
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

/// The benchmark program: `[ZIP...] [--bin PATH] [--rotations N] [--short]` from the
/// command line. Default: `dist/<engine>/bootstrap.zip` if built, else the binary `--bin`
/// names (zip size "not built"); 100 measured rotations and 1, 10, 100 secrets back to
/// back (`--short`: 5 rotations, 1 and 10 secrets). One table per zip or binary, with a
/// column per strategy.
///
/// # Errors
///
/// Bad arguments, no zip and no `--bin`, or a rotation that failed.
pub async fn main<F: Fixture>(fx: F) -> Result<(), Error> {
    let mut zips = Vec::new();
    let mut bin = None;
    let mut rotations = None;
    let mut short = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rotations" => rotations = Some(args.next().ok_or("--rotations N")?.parse()?),
            "--bin" => bin = Some(PathBuf::from(args.next().ok_or("--bin PATH")?)),
            "--short" => short = true,
            _ => zips.push(PathBuf::from(a)),
        }
    }
    let rotations: usize = rotations.unwrap_or(if short { 5 } else { 100 });
    let batches: &[usize] = if short { &[1, 10] } else { &[1, 10, 100] };
    if rotations == 0 {
        return Err("--rotations must be at least 1".into());
    }
    if zips.is_empty() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let zip = root.join(format!("dist/{}/bootstrap.zip", fx.engine()));
        if zip.exists() || bin.is_none() {
            zips.push(zip);
        }
    }
    if zips.is_empty()
        && let Some(bin) = bin
    {
        let mut runs = Vec::new();
        for strategy in ["single", "alternating"] {
            runs.push(bench(&bin, &fx, strategy, rotations, batches).await?);
        }
        print_table(fx.engine(), &bin.display().to_string(), None, &runs);
        return Ok(());
    }
    for zip in zips {
        let zip = zip.canonicalize().map_err(|e| {
            format!(
                "{}: {e} (build it with scripts/dist {}, or pass --bin)",
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
            runs.push(bench(&bin, &fx, strategy, rotations, batches).await?);
        }
        let shown = zip
            .strip_prefix(std::env::current_dir()?)
            .unwrap_or(&zip)
            .display()
            .to_string();
        print_table(fx.engine(), &shown, Some(size), &runs);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
