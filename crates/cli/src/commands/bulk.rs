//! `rotate --aws` for several secrets: named, `--all`, or `--filter name=PREFIX` /
//! `--filter tag:KEY=VALUE` (ListSecrets), started and followed `--concurrency` at a time.
//!
//! Secrets Manager allows 50 `RotateSecret` requests per second per Region and 10,000
//! `DescribeSecret` and `GetSecretValue` together (its quotas page, "Secrets Manager
//! quotas"); above a quota it answers `ThrottlingException`. Starts are spaced to stay
//! under 40 per second, the SDK retries a throttled request with backoff, and a request
//! still throttled after that is tried again here, with a longer backoff, up to
//! [`ATTEMPTS`] times. One secret's failure never stops the others; the summary lists each
//! failure, and the exit code is 1 when any secret did not rotate.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rotwise_core::store::{AwsStore, RotationSetup, StoreError};
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};

use super::Ctx;
use super::output::print_json;
use super::rotate::{Ended, RotateArgs};
use crate::error::CliError;

/// Tries of one request that keeps being throttled.
pub const ATTEMPTS: u32 = 6;
/// At most this many `RotateSecret` starts per second (the quota is 50).
const STARTS_PER_SECOND: u32 = 40;

/// A `--filter`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `name=PREFIX`.
    Name(String),
    /// `tag:KEY=VALUE` (both exact).
    Tag(String, String),
}

/// Parse `name=PREFIX` or `tag:KEY=VALUE`.
pub fn parse_filter(f: &str) -> Result<Filter, CliError> {
    let bad = || {
        CliError::input(format!(
            "--filter {f:?}: give name=PREFIX or tag:KEY=VALUE (e.g. --filter name=prod/ --filter tag:team=payments)"
        ))
    };
    if let Some(prefix) = f.strip_prefix("name=") {
        return if prefix.is_empty() {
            Err(bad())
        } else {
            Ok(Filter::Name(prefix.to_string()))
        };
    }
    let (key, value) = f
        .strip_prefix("tag:")
        .and_then(|kv| kv.split_once('='))
        .ok_or_else(bad)?;
    if key.is_empty() {
        return Err(bad());
    }
    Ok(Filter::Tag(key.to_string(), value.to_string()))
}

/// How one secret went.
struct Outcome {
    name: String,
    /// `rotated`, `started` (no --wait), `timed_out`, `abandoned`, `failed`.
    outcome: &'static str,
    version: Option<String>,
    seconds: f64,
    error: Option<String>,
}

impl Outcome {
    fn ok(&self) -> bool {
        matches!(self.outcome, "rotated" | "started")
    }
}

/// Spaces the starts: one every 1/[`STARTS_PER_SECOND`] s.
struct Pace {
    next: Mutex<Instant>,
}

impl Pace {
    async fn wait(&self) {
        let gap = Duration::from_secs(1) / STARTS_PER_SECOND;
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(Instant::now());
            *next = at + gap;
            at
        };
        tokio::time::sleep_until(at.into()).await;
    }
}

/// The backoff before try `attempt` (1-based) of a throttled request: 0.2 s doubling,
/// at most 5 s, with up to 50% added at random so concurrent retries spread out.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(200) * 2u32.saturating_pow(attempt.saturating_sub(1));
    let base = base.min(Duration::from_secs(5));
    let jitter = u64::from(rand_u16()) % (base.as_millis() as u64 / 2 + 1);
    base + Duration::from_millis(jitter)
}

/// A little randomness for the jitter (not a secret): the clock's nanoseconds.
fn rand_u16() -> u16 {
    (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        % 65_536) as u16
}

/// `call`, tried again while Secrets Manager throttles it.
pub(crate) async fn retrying<T, F, Fut>(mut call: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if e.is_throttling() && attempt < ATTEMPTS => {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The secrets to rotate: the names given, or what ListSecrets returns for `--all` or
/// the filters (tags matched exactly here: the service matches prefixes).
async fn targets(store: &AwsStore, args: &RotateArgs) -> Result<Vec<String>, CliError> {
    if !args.secrets.is_empty() {
        let mut seen = BTreeSet::new();
        return Ok(args
            .secrets
            .iter()
            .filter(|s| seen.insert(s.as_str()))
            .cloned()
            .collect());
    }
    let filters: Vec<Filter> = args
        .filter
        .iter()
        .map(|f| parse_filter(f))
        .collect::<Result<_, _>>()?;
    let mut query: Vec<(&str, Vec<String>)> = Vec::new();
    for f in &filters {
        match f {
            Filter::Name(p) => query.push(("name", vec![p.clone()])),
            Filter::Tag(k, v) => {
                query.push(("tag-key", vec![k.clone()]));
                query.push(("tag-value", vec![v.clone()]));
            }
        }
    }
    let listed = retrying(|| store.list_secrets(&query))
        .await
        .map_err(|e| CliError::store_with(format!("ListSecrets: {e}"), e))?;
    Ok(listed
        .into_iter()
        .filter(|(name, tags)| {
            filters.iter().all(|f| match f {
                Filter::Name(p) => name.starts_with(p.as_str()),
                Filter::Tag(k, v) => tags.get(k) == Some(v),
            })
        })
        .map(|(name, _)| name)
        .collect())
}

/// Start one rotation and, with `--wait`, follow it to its end.
async fn rotate_one(
    store: &AwsStore,
    name: String,
    setup: &RotationSetup,
    wait: Option<(Duration, Duration)>,
    pace: &Pace,
) -> Outcome {
    let started = Instant::now();
    let failed = |name: String, e: String| Outcome {
        name,
        outcome: "failed",
        version: None,
        seconds: started.elapsed().as_secs_f64(),
        error: Some(e),
    };
    let version = match retrying(|| async {
        pace.wait().await;
        store.rotate_secret_with(&name, setup).await
    })
    .await
    {
        Ok(v) => v,
        Err(e) => return failed(name, e.to_string()),
    };
    let Some((deadline, poll)) = wait else {
        return Outcome {
            name,
            outcome: "started",
            version: Some(version),
            seconds: started.elapsed().as_secs_f64(),
            error: None,
        };
    };
    let ended = match super::rotate::follow(store, &name, &version, deadline, poll, started).await {
        Ok(ended) => ended,
        Err(e) => return failed(name, e.to_string()),
    };
    let error = match ended {
        Ended::Rotated => None,
        Ended::TimedOut => Some(format!(
            "still AWSPENDING after {} s; `rotwise --aws doctor {name}` shows where it stopped",
            deadline.as_secs()
        )),
        Ended::Abandoned => Some("AWSPENDING was removed before the rotation finished".into()),
    };
    Outcome {
        name,
        outcome: ended.as_str(),
        version: Some(version),
        seconds: started.elapsed().as_secs_f64(),
        error,
    }
}

/// One plain line per finished secret (what a log or CI shows).
fn line(o: &Outcome) -> String {
    match &o.error {
        None => format!(
            "{:<9} {}  {:.1} s  version {}",
            o.outcome,
            o.name,
            o.seconds,
            o.version.as_deref().unwrap_or("-")
        ),
        Some(e) => format!(
            "{:<9} {}  {:.1} s  {e}",
            o.outcome.to_uppercase(),
            o.name,
            o.seconds
        ),
    }
}

pub async fn run(store: &Arc<AwsStore>, args: &RotateArgs, ctx: &Ctx) -> Result<(), CliError> {
    let started = Instant::now();
    let names = targets(store, args).await?;
    if names.is_empty() {
        return Err(CliError::input(
            "no secret matches: check the names or the --filter (ListSecrets returned none)",
        ));
    }
    let total = names.len();
    let bar = (!ctx.json && std::io::stdout().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new(total as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} secrets  {elapsed}  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let setup = Arc::new(args.setup());
    let wait = args.wait.then(|| {
        (
            Duration::from_secs(args.timeout),
            Duration::from_secs_f64(args.poll),
        )
    });
    let pace = Arc::new(Pace {
        next: Mutex::new(Instant::now()),
    });
    let slots = Arc::new(Semaphore::new(usize::from(args.concurrency)));
    let mut tasks = tokio::task::JoinSet::new();
    for name in names {
        let (store, setup, pace, slots) =
            (store.clone(), setup.clone(), pace.clone(), slots.clone());
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await;
            rotate_one(&store, name, &setup, wait, &pace).await
        });
    }
    let mut outcomes = Vec::with_capacity(total);
    while let Some(done) = tasks.join_next().await {
        let o = done.map_err(|e| CliError::Failed(format!("a rotation task stopped: {e}")))?;
        match &bar {
            Some(pb) => {
                if !o.ok() {
                    pb.println(line(&o));
                }
                pb.set_message(o.name.clone());
                pb.inc(1);
            }
            None if !ctx.json => println!("{}", line(&o)),
            None => {}
        }
        outcomes.push(o);
    }
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    outcomes.sort_by(|a, b| a.name.cmp(&b.name));
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok()).collect();
    let seconds = started.elapsed().as_secs_f64();
    let done = total - failed.len();
    let verb = if args.wait { "rotated" } else { "started" };
    if ctx.json {
        print_json(&json!({
            "total": total,
            verb: done,
            "failed": failed.len(),
            "seconds": seconds,
            "secrets": outcomes.iter().map(|o| json!({
                "secret": o.name, "outcome": o.outcome, "version_id": o.version,
                "seconds": o.seconds, "error": o.error,
            })).collect::<Vec<Value>>(),
        }));
    } else {
        println!(
            "summary: {total} secrets, {done} {verb}, {} failed, {seconds:.1} s",
            failed.len()
        );
        if !failed.is_empty() {
            println!("{:<40} {:<10} reason", "secret", "outcome");
            for o in &failed {
                println!(
                    "{:<40} {:<10} {}",
                    o.name,
                    o.outcome,
                    o.error.as_deref().unwrap_or("")
                );
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{} of {total} secrets did not {}",
            failed.len(),
            if args.wait {
                "rotate"
            } else {
                "start rotating"
            }
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_or_say_what_to_give() {
        assert_eq!(
            parse_filter("name=prod/").unwrap(),
            Filter::Name("prod/".into())
        );
        assert_eq!(
            parse_filter("tag:team=pay=ments").unwrap(),
            Filter::Tag("team".into(), "pay=ments".into())
        );
        assert_eq!(
            parse_filter("tag:env=").unwrap(),
            Filter::Tag("env".into(), String::new())
        );
        for bad in ["name=", "tag:=x", "tag:team", "prod/", "owner=me"] {
            let e = parse_filter(bad).unwrap_err().to_string();
            assert!(e.contains("name=PREFIX or tag:KEY=VALUE"), "{bad}: {e}");
        }
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert!(
            backoff(1) >= Duration::from_millis(200) && backoff(1) <= Duration::from_millis(300)
        );
        assert!(backoff(3) >= Duration::from_millis(800));
        assert!(backoff(30) <= Duration::from_millis(7500));
    }
}
