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
//!
//! CPU time (user + system) is a figure of its own: at init, for the cold start (init and
//! the first rotation) and per warm rotation, with the warm figure split by step. It is
//! read from a control group the process is placed in before it starts
//! ([`CpuGroup`], exact and counting exited threads), else from `/proc/<pid>/stat`
//! (10 ms ticks; the table says so).
//!
//! # Modelled Lambda
//!
//! A second table per engine runs the same function as Lambda would in a region: under a
//! CPU quota equal to a 128 MB and a 512 MB function's share of a core
//! ([`lambda_cpu_share`]: 7.2% and 29%), with the Secrets Manager endpoint answering
//! 5 ms late ([`LocalEndpoint::set_delay`](rotwise_testkit::endpoint::LocalEndpoint::set_delay))
//! and the database behind a [`DelayProxy`] adding 1 ms each way. It reports init, the
//! cold rotation (init + the first rotation's four invocations), the warm rotation, the
//! ratio of the two (target: cold ≤ 2 × warm at 128 MB), CPU, throttled periods, calls and
//! logins. When no control group can be made (not root, no `cpu` controller), the table
//! says so and only the host column is shown; nothing fails.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Error;
use rotwise_core::store::{AWSCURRENT, AwsStore, MemoryStore, SecretStore};
use serde_json::{Value, json};

use crate::cgroup::{CpuGroup, DEFAULT_PERIOD, lambda_cpu_share, process_cpu};
use crate::delay::DelayProxy;
use crate::emulator::Outcome;
use crate::harness::{Fixture, Harness, STEPS, credentials_in, users_of, with_key};

/// Warm-up rotations before the measured ones (the first is also reported as cold), unless
/// `--warm-up N` says otherwise.
const WARM_UP: usize = 5;

/// Measured rotations after which the steady RSS growth is counted (one-time growth, such
/// as a pool or a cache reaching its size, happens before).
const STEADY_AFTER: usize = 100;

/// The model of a region: what every Secrets Manager call and every database packet pay.
#[derive(Clone, Copy, Debug)]
struct Network {
    /// Added to every Secrets Manager answer.
    sm_delay: Duration,
    /// Added to each direction of the database's traffic.
    db_one_way: Duration,
}

/// 5 ms per Secrets Manager call, 1 ms each way to the database.
const REGION: Network = Network {
    sm_delay: Duration::from_millis(5),
    db_one_way: Duration::from_millis(1),
};

/// What the command line asks for.
struct Options {
    rotations: usize,
    /// Rotations between the cold one and the measured ones (host table).
    warm_up: usize,
    batches: Vec<usize>,
    /// Memory sizes modelled (empty: no modelled table).
    model_mb: Vec<u32>,
    model_rotations: usize,
    network: Network,
    period: Duration,
    /// Extra variables for the function (experiments, e.g. `GLIBC_TUNABLES`).
    extra_env: Vec<(String, String)>,
}

/// The function's CPU time (user + system): from its control group when it has one, else
/// from `/proc/<pid>/stat` in 10 ms ticks.
struct Meter {
    group: Option<CpuGroup>,
    pid: u32,
}

impl Meter {
    fn read(&self) -> Option<Duration> {
        match &self.group {
            Some(g) => g.usage().ok(),
            None => process_cpu(self.pid),
        }
    }

    fn exact(&self) -> bool {
        self.group.is_some()
    }

    fn throttled(&self) -> Option<u64> {
        self.group.as_ref()?.throttled_periods()
    }
}

/// One rotation, with each invocation's wall and CPU time.
struct Measured {
    wall: [Duration; 4],
    cpu: [Option<Duration>; 4],
    calls: u64,
    /// Secrets Manager calls by operation.
    by_operation: BTreeMap<String, u64>,
}

impl Measured {
    fn total(&self) -> Duration {
        self.wall.iter().sum()
    }
}

/// Wait until the function asks for work again after an invocation queued when the API
/// had seen `polls_before` polls: it is idle then, so its CPU time for the invocation is
/// complete (under a quota, the work after the response may wait for the next period).
async fn settle(h: &Harness, polls_before: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.api.polls() <= polls_before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// [`Harness::try_rotate`] with the CPU time of each invocation.
async fn rotate_measured(h: &Harness, meter: &Meter, arn: &str) -> Result<Measured, Error> {
    let store = h.endpoint.store();
    let token = store.begin_rotation(arn)?;
    h.endpoint.reset_calls();
    let mut wall = [Duration::ZERO; 4];
    let mut cpu = [None; 4];
    for (i, step) in STEPS.iter().enumerate() {
        let polls = h.api.polls();
        let before = meter.read();
        let started = Instant::now();
        let outcome = h.try_step(step, arn, &token).await?;
        let elapsed = started.elapsed();
        if outcome != Outcome::Response(Value::Null) {
            return Err(format!(
                "{step}: {outcome:?}\nlogs:\n{}{}",
                h.process.stdout(),
                h.process.stderr()
            )
            .into());
        }
        settle(h, polls).await;
        if let (Some(w), Some(c)) = (wall.get_mut(i), cpu.get_mut(i)) {
            *w = elapsed;
            *c = meter.read().zip(before).map(|(a, b)| a.saturating_sub(b));
        }
    }
    let by_operation = h.endpoint.take_calls();
    let calls = by_operation.values().sum();
    store.complete_rotation(arn, &token)?;
    Ok(Measured {
        wall,
        cpu,
        calls,
        by_operation,
    })
}

/// The mean of the `Some` values of `v` (`None` when any is missing).
fn mean(v: &[Option<Duration>]) -> Option<Duration> {
    let sum: Option<Duration> = v.iter().copied().sum();
    let n = u32::try_from(v.len()).ok().filter(|&n| n > 0)?;
    sum.map(|s| s / n)
}

struct Run {
    strategy: &'static str,
    init: Duration,
    cold_steps: [Duration; 4],
    warm_steps: [Duration; 4],
    warm_rotation: Duration,
    sm_calls: u64,
    /// The calls of the last measured rotation, by operation.
    sm_calls_by_operation: BTreeMap<String, u64>,
    sm_round_trip: Duration,
    login: Duration,
    logins_per_rotation: u32,
    peak_rss_kib: u64,
    growth_bytes_per_rotation: f64,
    /// Growth per rotation after the first [`STEADY_AFTER`] measured ones, if there were
    /// at least twice as many.
    steady_growth_bytes_per_rotation: Option<f64>,
    rotations: usize,
    measured: usize,
    failed_logins: usize,
    plaintext_in_log: bool,
    connections_per_rotation: f64,
    /// Secrets rotated back to back by one process: (count, total wall time).
    batches: Vec<(usize, Duration)>,
    /// CPU read from a control group (exact), else from `/proc` ticks.
    cpu_exact: bool,
    cpu_init: Option<Duration>,
    /// Init and the first rotation.
    cpu_cold: Option<Duration>,
    /// Mean per measured rotation, and per step.
    cpu_warm: Option<Duration>,
    cpu_warm_steps: [Option<Duration>; 4],
}

impl Run {
    fn cold_rotation(&self) -> Duration {
        self.init + self.cold_steps.iter().sum::<Duration>()
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn cpu_ms(d: Option<Duration>, exact: bool) -> String {
    match d {
        Some(d) if exact => ms(d),
        Some(d) => format!("≈{} (ticks)", ms(d)),
        None => "n/a".to_string(),
    }
}

/// The function's variables for a run.
fn function_env<'a, F: Fixture>(
    fx: &F,
    strategy: &str,
    memory_mb: Option<u32>,
    opts: &'a Options,
) -> Vec<(&'a str, String)> {
    let mut env = vec![
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_string()),
        ("ROTATION_STRATEGY", strategy.to_string()),
    ];
    if let Some(mb) = memory_mb {
        env.push(("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", mb.to_string()));
    }
    env.extend(fx.env());
    env.extend(opts.extra_env.iter().map(|(k, v)| (k.as_str(), v.clone())));
    env
}

async fn bench<F: Fixture>(
    bin: &Path,
    fx: &F,
    strategy: &'static str,
    opts: &Options,
) -> Result<Run, Error> {
    let rotations = opts.rotations;
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
        let env = function_env(fx, strategy, None, opts);
        // No quota: the group only counts CPU time.
        let group = CpuGroup::create(None, opts.period).ok();
        let mut h =
            Harness::try_start_with(bin, store.clone(), &env, Duration::ZERO, group.as_ref())
                .await?;
        let meter = Meter {
            group,
            pid: h.process.pid(),
        };
        let cpu_init = meter.read();
        let init = h
            .api
            .first_poll()
            .ok_or("no first poll")?
            .duration_since(h.process.started());

        let log = fx.log_mark();
        let cold = rotate_measured(&h, &meter, &arn).await?;
        let cpu_cold = meter.read();
        let mut sm_calls = cold.calls;
        for _ in 0..opts.warm_up {
            sm_calls = sm_calls.max(rotate_measured(&h, &meter, &arn).await?.calls);
        }
        let rss_before = h.process.status_kib("VmRSS").unwrap_or(0);
        let mut rss_steady = None;
        let mut per_step: [Vec<Duration>; 4] = Default::default();
        let mut cpu_steps: [Vec<Option<Duration>>; 4] = Default::default();
        let mut cpu_totals = Vec::new();
        let mut totals = Vec::new();
        let mut passwords = vec![initial.clone(), master_pw.clone()];
        let mut by_operation = BTreeMap::new();
        for i in 0..rotations {
            if i == STEADY_AFTER && rotations >= 2 * STEADY_AFTER {
                rss_steady = h.process.status_kib("VmRSS");
            }
            let r = rotate_measured(&h, &meter, &arn).await?;
            sm_calls = sm_calls.max(r.calls);
            by_operation.clone_from(&r.by_operation);
            for (times, t) in per_step.iter_mut().zip(r.wall) {
                times.push(t);
            }
            for (cpus, c) in cpu_steps.iter_mut().zip(r.cpu) {
                cpus.push(c);
            }
            cpu_totals.push(r.cpu.iter().copied().sum::<Option<Duration>>());
            totals.push(r.total());
            passwords.push(credentials_in(&store, &arn, AWSCURRENT).await.1);
        }
        let rss_after = h.process.status_kib("VmRSS").unwrap_or(0);
        let peak_rss_kib = h.process.status_kib("VmHWM").unwrap_or(0);
        h.process.stop().await;
        let cpu_exact = meter.exact();
        drop(meter); // the group is empty now: remove it

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
        let growth = |from: u64, n: usize| (rss_after as f64 - from as f64) * 1024.0 / n as f64;
        Ok::<_, Error>(Run {
            strategy,
            init,
            cold_steps: cold.wall,
            warm_steps: per_step.map(median),
            warm_rotation: median(totals),
            sm_calls,
            sm_calls_by_operation: by_operation,
            sm_round_trip: median(rt),
            login: median(logins),
            logins_per_rotation: if strategy == "single" { 2 } else { 3 },
            peak_rss_kib,
            growth_bytes_per_rotation: growth(rss_before, rotations),
            steady_growth_bytes_per_rotation: rss_steady
                .map(|at| growth(at, rotations - STEADY_AFTER)),
            rotations: rotations + 1 + opts.warm_up,
            measured: rotations,
            failed_logins,
            plaintext_in_log,
            connections_per_rotation: connections as f64 / (rotations + 1 + opts.warm_up) as f64,
            batches: Vec::new(),
            cpu_exact,
            cpu_init,
            cpu_cold,
            cpu_warm: mean(&cpu_totals),
            cpu_warm_steps: cpu_steps.map(|v| mean(&v)),
        })
    }
    .await;
    fx.drop_users(&users).await;
    let mut run = result?;
    for &n in &opts.batches {
        run.batches
            .push((n, back_to_back(bin, fx, strategy, n, opts).await?));
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
    opts: &Options,
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
        let env = function_env(fx, strategy, None, opts);
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

/// One strategy under one modelled Lambda size.
struct ModelRun {
    init: Duration,
    /// Init and the first rotation's four invocations.
    cold_rotation: Duration,
    warm_rotation: Duration,
    cpu_init: Option<Duration>,
    cpu_cold: Option<Duration>,
    cpu_warm: Option<Duration>,
    throttled_cold: Option<u64>,
    throttled_warm: Option<f64>,
    sm_calls: u64,
    connections_per_rotation: f64,
    failed_logins: usize,
    rotations: usize,
}

/// The address the fixture's secrets point at (`host`, `port` of its secret JSON).
fn db_target<F: Fixture>(fx: &F) -> Result<SocketAddr, Error> {
    let v: Value = serde_json::from_str(&fx.secret_json("probe", "probe", None))?;
    let host = v["host"]
        .as_str()
        .ok_or("the fixture's secret has no host")?;
    let port = v["port"]
        .as_u64()
        .ok_or("the fixture's secret has no port")?;
    Ok(format!("{host}:{port}").parse()?)
}

/// `strategy` run as a `memory_mb` Lambda in a region: the process under that CPU share,
/// Secrets Manager and the database behind [`Options::network`]'s delays.
async fn modelled<F: Fixture>(
    bin: &Path,
    fx: &F,
    strategy: &'static str,
    memory_mb: u32,
    opts: &Options,
) -> Result<ModelRun, Error> {
    let group = CpuGroup::create(Some(lambda_cpu_share(memory_mb)), opts.period)?;
    let proxy = DelayProxy::start(db_target(fx)?, opts.network.db_one_way).await?;
    let via_proxy = |json: String| with_key(&json, "port", Some(json!(proxy.port())));
    let user = fx.unique_name("rw_model");
    let master = fx.unique_name("rw_model_m");
    let users = users_of(&user, &master);
    let result = async {
        let initial = format!("Bench-{}", &fx.unique_name("p")[2..]);
        let master_pw = format!("Bench-{}", &fx.unique_name("m")[2..]);
        fx.create_user(&user, &initial).await?;
        let store = Arc::new(MemoryStore::new());
        let masterarn = if strategy == "alternating" {
            fx.create_master(&master, &master_pw, &user).await?;
            let json = via_proxy(fx.secret_json(&master, &master_pw, None));
            Some(store.insert_secret("model/master", &json)?)
        } else {
            None
        };
        let json = via_proxy(fx.secret_json(&user, &initial, masterarn.as_deref()));
        let arn = store.insert_secret("model/secret", &json)?;
        let env = function_env(fx, strategy, Some(memory_mb), opts);
        let log = fx.log_mark();
        let mut h = Harness::try_start_with(
            bin,
            store.clone(),
            &env,
            opts.network.sm_delay,
            Some(&group),
        )
        .await?;
        let init = h
            .api
            .first_poll()
            .ok_or("no first poll")?
            .duration_since(h.process.started());
        let meter = Meter {
            group: Some(group),
            pid: h.process.pid(),
        };
        let cpu_init = meter.read();
        let cold = rotate_measured(&h, &meter, &arn).await?;
        let cpu_cold = meter.read();
        let throttled_cold = meter.throttled();
        let mut sm_calls = cold.calls;
        // One warm-up: the second rotation still meets one-time costs (e.g. a second
        // connection kind).
        sm_calls = sm_calls.max(rotate_measured(&h, &meter, &arn).await?.calls);
        let cpu_before = meter.read();
        let throttled_before = meter.throttled();
        let mut walls = Vec::new();
        for _ in 0..opts.model_rotations {
            let r = rotate_measured(&h, &meter, &arn).await?;
            sm_calls = sm_calls.max(r.calls);
            walls.push(r.total());
        }
        let n = opts.model_rotations.max(1);
        let cpu_warm = meter
            .read()
            .zip(cpu_before)
            .map(|(a, b)| a.saturating_sub(b) / n as u32);
        let throttled_warm = meter
            .throttled()
            .zip(throttled_before)
            .map(|(a, b)| a.saturating_sub(b) as f64 / n as f64);
        h.process.stop().await;
        drop(meter);
        let text = fx.log_since(&log).await?;
        let rotations = opts.model_rotations + 2;
        let failed_logins = users.iter().map(|u| fx.failed_logins(&text, u)).sum();
        let connections: usize = users.iter().map(|u| fx.connections(&text, u)).sum();
        Ok::<_, Error>(ModelRun {
            init,
            cold_rotation: init + cold.total(),
            warm_rotation: median(walls),
            cpu_init,
            cpu_cold,
            cpu_warm,
            throttled_cold,
            throttled_warm,
            sm_calls,
            connections_per_rotation: connections as f64 / rotations as f64,
            failed_logins,
            rotations,
        })
    }
    .await;
    fx.drop_users(&users).await;
    result
}

/// A markdown table: a row label, a target, then one cell per column.
struct Table {
    widths: (usize, usize, usize),
}

impl Table {
    fn header(&self, columns: &[String]) {
        let (a, b, c) = self.widths;
        let mut header = format!("| {:<a$} | {:<b$} |", "metric", "target");
        let mut rule = format!("|{}|{}|", "-".repeat(a + 2), "-".repeat(b + 2));
        for col in columns {
            header.push_str(&format!(" {col:<c$} |"));
            rule.push_str(&format!("{}|", "-".repeat(c + 2)));
        }
        println!("{header}\n{rule}");
    }

    fn row(&self, name: &str, target: &str, cells: impl IntoIterator<Item = String>) {
        let (a, b, c) = self.widths;
        let mut line = format!("| {name:<a$} | {target:<b$} |");
        for cell in cells {
            line.push_str(&format!(" {cell:<c$} |"));
        }
        println!("{line}");
    }
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
    let t = Table {
        widths: (46, 38, 26),
    };
    t.header(
        &runs
            .iter()
            .map(|r| r.strategy.to_string())
            .collect::<Vec<_>>(),
    );
    let row = |name: &str, target: &str, f: &dyn Fn(&Run) -> String| {
        t.row(name, target, runs.iter().map(f));
    };
    row("zip size", "≤ 5 MB", &|_| match zip_size {
        Some(size) => format!("{:.2} MB", size as f64 / 1e6),
        None => "not built".to_string(),
    });
    row("init: exec → first next poll", "≤ 5 ms", &|r| ms(r.init));
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
    row("CPU (user+sys): init", "", &|r| {
        cpu_ms(r.cpu_init, r.cpu_exact)
    });
    row("CPU: cold start + first rotation", "", &|r| {
        cpu_ms(r.cpu_cold, r.cpu_exact)
    });
    row("CPU per warm rotation (mean)", "", &|r| {
        cpu_ms(r.cpu_warm, r.cpu_exact)
    });
    for (i, step) in STEPS.iter().enumerate() {
        row(&format!("  CPU per warm {step} (mean)"), "", &|r| {
            cpu_ms(r.cpu_warm_steps[i], r.cpu_exact)
        });
    }
    row(
        "Secrets Manager calls per rotation (max)",
        "≤ 10 single, ≤ 11 alternating",
        &|r| r.sm_calls.to_string(),
    );
    for op in runs
        .iter()
        .flat_map(|r| r.sm_calls_by_operation.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        row(&format!("  {op}"), "", &|r| {
            r.sm_calls_by_operation
                .get(op)
                .copied()
                .unwrap_or(0)
                .to_string()
        });
    }
    row("database connections per rotation", "", &|r| {
        format!("{:.1}", r.connections_per_rotation)
    });
    if let Some(first) = runs.first() {
        for (i, &(n, _)) in first.batches.iter().enumerate() {
            row(
                &format!("{n} secrets back to back: total / per secret"),
                "",
                &|r| match r.batches.get(i) {
                    Some(&(_, total)) => format!("{} / {}", ms(total), ms(total / n as u32)),
                    None => "n/a".to_string(),
                },
            );
        }
    }
    row("peak RSS (VmHWM)", "≤ 12 MiB", &|r| {
        format!("{:.2} MiB", r.peak_rss_kib as f64 / 1024.0)
    });
    row("RSS growth per warm rotation", "≤ 1 KiB", &|r| {
        format!("{:.0} B over {}", r.growth_bytes_per_rotation, r.measured)
    });
    if runs
        .iter()
        .any(|r| r.steady_growth_bytes_per_rotation.is_some())
    {
        row(
            &format!("  after the first {STEADY_AFTER} rotations"),
            "",
            &|r| match r.steady_growth_bytes_per_rotation {
                Some(g) => format!("{g:.0} B"),
                None => "n/a".to_string(),
            },
        );
    }
    row("failed logins (all rotations)", "0", &|r| {
        format!("{} in {} rotations", r.failed_logins, r.rotations)
    });
    row("plaintext password in server log", "never", &|r| {
        if r.plaintext_in_log { "FOUND" } else { "none" }.to_string()
    });
}

/// The modelled-Lambda table: the host runs, then each memory size, per strategy.
fn print_model_table(
    engine: &str,
    runs: &[Run],
    models: &[(u32, Vec<(&'static str, ModelRun)>)],
    opts: &Options,
    skipped: Option<&str>,
) {
    println!();
    println!(
        "#### {engine}: modelled Lambda — Secrets Manager +{} per call, database +{} each way, \
         CPU quota per {} period, TLS on",
        ms(opts.network.sm_delay),
        ms(opts.network.db_one_way),
        ms(opts.period),
    );
    println!();
    if let Some(reason) = skipped {
        println!("CPU quota modes skipped: {reason}.");
        println!();
    }
    let t = Table {
        widths: (44, 18, 20),
    };
    let mut columns: Vec<String> = runs
        .iter()
        .map(|r| format!("host {}", r.strategy))
        .collect();
    for (mb, list) in models {
        columns.extend(list.iter().map(|(s, _)| format!("{mb} MB {s}")));
    }
    t.header(&columns);
    let model_cells = |f: &dyn Fn(u32, &ModelRun) -> String| -> Vec<String> {
        models
            .iter()
            .flat_map(|(mb, list)| list.iter().map(move |(_, m)| (*mb, m)))
            .map(|(mb, m)| f(mb, m))
            .collect()
    };
    let row = |name: &str,
               target: &str,
               host: &dyn Fn(&Run) -> String,
               model: &dyn Fn(u32, &ModelRun) -> String| {
        let mut cells: Vec<String> = runs.iter().map(host).collect();
        cells.extend(model_cells(model));
        t.row(name, target, cells);
    };
    row(
        "CPU share of one core",
        "",
        &|_| "whole core".to_string(),
        &|mb, _| format!("{:.1}%", lambda_cpu_share(mb) * 100.0),
    );
    row("init", "", &|r| ms(r.init), &|_, m| ms(m.init));
    row(
        "cold rotation (init + first rotation)",
        "",
        &|r| ms(r.cold_rotation()),
        &|_, m| ms(m.cold_rotation),
    );
    row(
        "warm rotation (median)",
        "",
        &|r| ms(r.warm_rotation),
        &|_, m| ms(m.warm_rotation),
    );
    let ratio = |cold: Duration, warm: Duration| cold.as_secs_f64() / warm.as_secs_f64().max(1e-9);
    row(
        "cold rotation ÷ warm rotation",
        "≤ 2 at 128 MB",
        &|r| format!("{:.2}×", ratio(r.cold_rotation(), r.warm_rotation)),
        &|mb, m| {
            let x = ratio(m.cold_rotation, m.warm_rotation);
            if mb == 128 {
                let verdict = if x <= 2.0 { "met" } else { "MISSED" };
                format!("{x:.2}× ({verdict})")
            } else {
                format!("{x:.2}×")
            }
        },
    );
    row(
        "CPU: init",
        "",
        &|r| cpu_ms(r.cpu_init, r.cpu_exact),
        &|_, m| cpu_ms(m.cpu_init, true),
    );
    row(
        "CPU: cold start + first rotation",
        "",
        &|r| cpu_ms(r.cpu_cold, r.cpu_exact),
        &|_, m| cpu_ms(m.cpu_cold, true),
    );
    row(
        "CPU per warm rotation (mean)",
        "",
        &|r| cpu_ms(r.cpu_warm, r.cpu_exact),
        &|_, m| cpu_ms(m.cpu_warm, true),
    );
    row(
        "throttled periods: cold / per warm rotation",
        "",
        &|_| "none".to_string(),
        &|_, m| match (m.throttled_cold, m.throttled_warm) {
            (Some(c), Some(w)) => format!("{c} / {w:.1}"),
            _ => "n/a".to_string(),
        },
    );
    row(
        "Secrets Manager calls per rotation (max)",
        "",
        &|r| r.sm_calls.to_string(),
        &|_, m| m.sm_calls.to_string(),
    );
    row(
        "database connections per rotation",
        "",
        &|r| format!("{:.1}", r.connections_per_rotation),
        &|_, m| format!("{:.1}", m.connections_per_rotation),
    );
    row(
        "failed logins",
        "0",
        &|r| format!("{} in {}", r.failed_logins, r.rotations),
        &|_, m| format!("{} in {}", m.failed_logins, m.rotations),
    );
}

/// Both strategies of one binary: the host table, then the modelled one.
async fn bench_binary<F: Fixture>(
    fx: &F,
    bin: &Path,
    shown: &str,
    zip_size: Option<u64>,
    opts: &Options,
) -> Result<(), Error> {
    let mut runs = Vec::new();
    for strategy in ["single", "alternating"] {
        runs.push(bench(bin, fx, strategy, opts).await?);
    }
    print_table(fx.engine(), shown, zip_size, &runs);
    if opts.model_mb.is_empty() {
        return Ok(());
    }
    let mut models = Vec::new();
    let mut skipped = None;
    match CpuGroup::create(Some(0.5), opts.period) {
        Err(e) => skipped = Some(e.to_string()),
        Ok(probe) => {
            drop(probe);
            for &mb in &opts.model_mb {
                let mut list = Vec::new();
                for strategy in ["single", "alternating"] {
                    list.push((strategy, modelled(bin, fx, strategy, mb, opts).await?));
                }
                models.push((mb, list));
            }
        }
    }
    print_model_table(fx.engine(), &runs, &models, opts, skipped.as_deref());
    Ok(())
}

fn parse_ms(flag: &str, value: Option<String>) -> Result<Duration, Error> {
    let value = value.ok_or_else(|| format!("{flag} MS"))?;
    match value.parse::<f64>() {
        Ok(v) if (0.0..=60_000.0).contains(&v) => Ok(Duration::from_secs_f64(v / 1000.0)),
        _ => Err(format!("{flag}: milliseconds from 0 to 60000, got {value:?}").into()),
    }
}

/// The benchmark program, from the command line:
///
/// ```text
/// [ZIP...] [--bin PATH] [--rotations N] [--warm-up N] [--short] [--no-batches]
///          [--model-mb MB]... [--no-model] [--model-rotations N]
///          [--sm-delay-ms MS] [--db-delay-ms MS] [--cpu-period-ms MS] [--env NAME=VALUE]...
/// ```
///
/// Default: `dist/<engine>/bootstrap.zip` if built, else the binary `--bin` names (zip
/// size "not built"); 1,000 measured rotations (the memory target is over 1,000) and 1, 10,
/// 100 secrets back to back; the modelled table at 512 and 128 MB with 20 measured warm
/// rotations, Secrets Manager +5 ms, database +1 ms each way, a 100 ms CPU period.
/// `--short`: 5 rotations, 1 and 10 secrets, the modelled table at 128 MB only with 3 warm
/// rotations. `--env` passes a variable to the function (experiments such as
/// `GLIBC_TUNABLES`); `--warm-up` sets the rotations between the cold one and the measured
/// ones (default 5; 0 to profile a cold start). One host table per zip or binary, with a column per strategy, then
/// the modelled table.
///
/// # Errors
///
/// Bad arguments, no zip and no `--bin`, or a rotation that failed.
pub async fn main<F: Fixture>(fx: F) -> Result<(), Error> {
    let mut zips = Vec::new();
    let mut bin = None;
    let mut rotations = None;
    let mut warm_up = WARM_UP;
    let mut model_rotations = None;
    let mut model_mb = Vec::new();
    let mut no_model = false;
    let mut no_batches = false;
    let mut short = false;
    let mut network = REGION;
    let mut period = DEFAULT_PERIOD;
    let mut extra_env = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rotations" => rotations = Some(args.next().ok_or("--rotations N")?.parse()?),
            "--warm-up" => warm_up = args.next().ok_or("--warm-up N")?.parse()?,
            "--model-rotations" => {
                model_rotations = Some(args.next().ok_or("--model-rotations N")?.parse()?);
            }
            "--model-mb" => model_mb.push(args.next().ok_or("--model-mb MB")?.parse()?),
            "--no-model" => no_model = true,
            "--no-batches" => no_batches = true,
            "--sm-delay-ms" => network.sm_delay = parse_ms(&a, args.next())?,
            "--db-delay-ms" => network.db_one_way = parse_ms(&a, args.next())?,
            "--cpu-period-ms" => period = parse_ms(&a, args.next())?,
            "--env" => {
                let pair = args.next().ok_or("--env NAME=VALUE")?;
                let (k, v) = pair.split_once('=').ok_or("--env NAME=VALUE")?;
                extra_env.push((k.to_string(), v.to_string()));
            }
            "--bin" => bin = Some(PathBuf::from(args.next().ok_or("--bin PATH")?)),
            "--short" => short = true,
            _ => zips.push(PathBuf::from(a)),
        }
    }
    let rotations: usize = rotations.unwrap_or(if short { 5 } else { 1000 });
    if rotations == 0 {
        return Err("--rotations must be at least 1".into());
    }
    if model_mb.is_empty() && !no_model {
        model_mb = if short { vec![128] } else { vec![512, 128] };
    }
    if no_model {
        model_mb.clear();
    }
    if let Some(&mb) = model_mb.iter().find(|&&mb| !(128..=10240).contains(&mb)) {
        return Err(format!("--model-mb {mb}: Lambda allows 128 to 10240 MB").into());
    }
    let opts = Options {
        rotations,
        warm_up,
        batches: match (no_batches, short) {
            (true, _) => Vec::new(),
            (false, true) => vec![1, 10],
            (false, false) => vec![1, 10, 100],
        },
        model_mb,
        model_rotations: model_rotations.unwrap_or(if short { 3 } else { 20 }).max(1),
        network,
        period,
        extra_env,
    };
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
        return bench_binary(&fx, &bin, &bin.display().to_string(), None, &opts).await;
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
        let shown = zip
            .strip_prefix(std::env::current_dir()?)
            .unwrap_or(&zip)
            .display()
            .to_string();
        let result = bench_binary(&fx, &bin, &shown, Some(size), &opts).await;
        let _ = std::fs::remove_dir_all(&dir);
        result?;
    }
    Ok(())
}
