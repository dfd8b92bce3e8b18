//! `rotate`: on the file store, run a whole rotation locally (the four steps, then a
//! login proof); on Secrets Manager, ask the service to rotate (`RotateSecret`).

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use rotwise_core::metrics::{CallCounter, Counts};
use rotwise_core::store::{
    AWSCURRENT, AWSPENDING, AwsStore, Layered, RotationSetup, SecretDescription, SecretStore,
    StoreErrorKind,
};
use rotwise_core::{Driver, PasswordSource, RotationError, RotationEvent, Step};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::output::{labels, labels_text, print_json};
use super::{Ctx, describe, parse_object};
use crate::backend::Backend;
use crate::engines::{self, Check, Engine, Loaded, Proof};
use crate::error::CliError;
use crate::file_store::FileLayer;

#[derive(Args, Debug)]
pub struct RotateArgs {
    /// The secret's name (or ARN). On Secrets Manager, several names rotate them all
    /// (with --all or --filter, none).
    #[arg(value_name = "SECRET", required_unless_present_any = ["all", "filter"])]
    pub secrets: Vec<String>,
    /// Secrets Manager: rotate every secret ListSecrets returns.
    #[arg(long, conflicts_with_all = ["secrets", "filter"])]
    pub all: bool,
    /// Secrets Manager: rotate the secrets ListSecrets returns for `name=PREFIX` or
    /// `tag:KEY=VALUE` (repeat to narrow: every filter must match).
    #[arg(long, value_name = "FILTER", conflicts_with = "secrets")]
    pub filter: Vec<String>,
    /// Secrets Manager, several secrets: how many rotations to start and follow at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=50))]
    pub concurrency: u16,
    /// Use this engine instead of the secret's `engine` key.
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// Use an example rotator instead of a database engine: `random-string` writes a new
    /// password into the secret and changes NO system (a throwaway secret only; refused
    /// for a secret whose `engine` is a database).
    #[arg(long, value_name = "NAME", conflicts_with = "engine")]
    pub example: Option<String>,
    /// Resume the rotation whose AWSPENDING version is already there instead of
    /// starting a new one.
    #[arg(long)]
    pub resume: bool,
    /// Secrets Manager: set up rotation with this function (`RotationLambdaARN`), which
    /// also turns rotation on.
    #[arg(long, value_name = "ARN")]
    pub lambda_arn: Option<String>,
    /// Secrets Manager: the rotation schedule, `rate(N days)`, `rate(N hours)` or
    /// `cron(...)` (`RotationRules.ScheduleExpression`).
    #[arg(long, value_name = "EXPR", conflicts_with = "every")]
    pub schedule: Option<String>,
    /// Secrets Manager: rotate every DAYS days (`RotationRules.AutomaticallyAfterDays`,
    /// 1 to 1000).
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub every: Option<i64>,
    /// Secrets Manager: wait until the rotation ends (AWSCURRENT on the new version), then
    /// report the outcome; the exit code follows it.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub timeout: u64,
    /// Show what a rotation would do, changing nothing: the checks, the reads, a login with
    /// the current credential (and the master's, alternating), the statements setSecret
    /// would run with passwords and hashes redacted, the users it would create or change,
    /// and the label moves. Runs here, on the file store or (--aws) against Secrets
    /// Manager with the engine built into this CLI: the database must be reachable from
    /// this machine.
    #[arg(long)]
    pub dry_run: bool,
    /// With --wait: seconds between two looks at the secret (DescribeSecret).
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, hide = true)]
    pub poll: f64,
}

impl RotateArgs {
    /// On Secrets Manager the secret's own rotation function runs the steps: the options
    /// of a local rotation are bad input there.
    pub fn check_store(&self, on_service: bool) -> Result<(), CliError> {
        if self.dry_run {
            return self.check_dry_run();
        }
        if on_service && (self.engine.is_some() || self.example.is_some() || self.resume) {
            return Err(CliError::input(
                "on Secrets Manager the secret's own rotation function runs the steps: --engine, --example and --resume apply to the file store only",
            ));
        }
        let service_only = self.lambda_arn.is_some()
            || self.schedule.is_some()
            || self.every.is_some()
            || self.wait
            || self.is_bulk();
        if !on_service && service_only {
            return Err(CliError::input(
                "--lambda-arn, --schedule, --every, --wait, several secrets, --all and --filter are for Secrets Manager (--aws or --endpoint): on the file store, rotate runs the four steps of one secret itself and returns when they end",
            ));
        }
        if let Some(e) = &self.schedule
            && !valid_schedule(e)
        {
            return Err(CliError::input(format!(
                "--schedule {e:?}: give rate(N days), rate(N hours) or cron(...), e.g. 'rate(30 days)'"
            )));
        }
        for f in &self.filter {
            crate::commands::bulk::parse_filter(f)?;
        }
        if !(self.poll > 0.0 && self.poll <= 60.0) {
            return Err(CliError::input("--poll: between 0 and 60 seconds"));
        }
        Ok(())
    }

    /// `--dry-run` describes one new rotation, run here: nothing that starts, sets up or
    /// waits for one goes with it.
    fn check_dry_run(&self) -> Result<(), CliError> {
        if self.is_bulk() {
            return Err(CliError::input(
                "--dry-run takes one secret: run it for each secret (several names, --all and --filter start rotations)",
            ));
        }
        let mut with = Vec::new();
        for (set, name) in [
            (self.resume, "--resume"),
            (self.example.is_some(), "--example"),
            (self.lambda_arn.is_some(), "--lambda-arn"),
            (self.schedule.is_some(), "--schedule"),
            (self.every.is_some(), "--every"),
            (self.wait, "--wait"),
        ] {
            if set {
                with.push(name);
            }
        }
        if !with.is_empty() {
            return Err(CliError::input(format!(
                "--dry-run describes a new rotation and changes nothing, so it cannot go with {}",
                with.join(", ")
            )));
        }
        Ok(())
    }

    /// The one secret of a single rotation.
    pub fn secret(&self) -> &str {
        self.secrets.first().map_or("", String::as_str)
    }

    /// Several secrets, `--all` or `--filter`.
    pub fn is_bulk(&self) -> bool {
        self.secrets.len() > 1 || self.all || !self.filter.is_empty()
    }

    pub(crate) fn setup(&self) -> RotationSetup {
        RotationSetup {
            lambda_arn: self.lambda_arn.clone(),
            every_days: self.every,
            schedule: self.schedule.clone(),
        }
    }
}

/// A schedule Secrets Manager could take: `rate(N day[s]|hour[s])` or `cron(...)`.
fn valid_schedule(e: &str) -> bool {
    if let Some(inner) = e.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        return match inner.split_once(' ') {
            Some((n, unit)) => {
                n.parse::<u32>().is_ok_and(|n| n > 0)
                    && matches!(unit, "day" | "days" | "hour" | "hours")
            }
            None => false,
        };
    }
    e.starts_with("cron(") && e.ends_with(')') && e.len() > "cron()".len()
}

pub async fn run(args: RotateArgs, ctx: &Ctx) -> Result<(), CliError> {
    if args.dry_run {
        return dry_run(&args, ctx).await;
    }
    match &ctx.backend {
        Backend::Aws(aws) if args.is_bulk() => super::bulk::run(aws, &args, ctx).await,
        Backend::Aws(aws) => on_service(aws, &args, ctx).await,
        Backend::File(file) => locally(&args, ctx, &file.0).await,
    }
}

/// `rotate --aws`: ask the service to rotate (setting up rotation first when asked); its
/// rotation function runs the steps. With `--wait`, follow it to the end.
async fn on_service(store: &AwsStore, args: &RotateArgs, ctx: &Ctx) -> Result<(), CliError> {
    let (secret, json) = (args.secret(), ctx.json);
    let started = Instant::now();
    let version = match store.rotate_secret_with(secret, &args.setup()).await {
        Ok(v) => v,
        Err(e) if e.kind == StoreErrorKind::InvalidRequest => {
            return Err(CliError::store_with(
                format!("{e}; `rotwise doctor --aws {secret}` finds what blocks it"),
                e,
            ));
        }
        Err(e) => return Err(CliError::store(secret, e)),
    };
    if args.wait {
        return wait(store, args, ctx, &version, started).await;
    }
    if json {
        println!(
            "{}",
            json!({"secret": secret, "started": true, "version_id": version})
        );
    } else {
        println!(
            "started the rotation of {secret}: version {version} is AWSPENDING and the service now invokes the secret's rotation function"
        );
        println!("follow it with: rotwise status {secret} (with the same --aws/--endpoint)");
    }
    Ok(())
}

/// `rotate --dry-run`, on either store: [`Driver::dry_run`] with the engine built into this
/// CLI, its reads counted, its plan printed.
async fn dry_run(args: &RotateArgs, ctx: &Ctx) -> Result<(), CliError> {
    let secret = args.secret();
    let counted = Arc::new(Layered(CallCounter::new(ctx.backend.store())));
    let store: Arc<dyn SecretStore> = counted.clone();
    let plan = prepare(args, ctx, store.as_ref()).await?;
    let driver = Driver::new(store.clone(), plan.loaded.rotator.clone())
        .with_passwords(plan.passwords.clone());
    let run = driver
        .dry_run(&plan.before.arn)
        .await
        .map_err(|e| CliError::DryRun {
            secret: secret.to_string(),
            source: Box::new(e),
        })?;
    let counts = Counts::now(&counted.0);
    let set = &run.set;
    let result = json!({
        "secret": secret,
        "arn": run.arn,
        "engine": plan.engine.name(),
        "rotator": run.rotator,
        "dry_run": true,
        "changed": false,
        "labels_now": labels(&plan.before),
        "next_user": run.next_user,
        "logins": set.logins.iter()
            .map(|l| json!({"credential": l.credential, "user": l.user}))
            .collect::<Vec<_>>(),
        "users": set.users_changed().iter()
            .map(|(u, k)| json!({"user": u, "action": k.as_str()}))
            .collect::<Vec<_>>(),
        "statements": set.changes.iter()
            .map(|c| json!({"user": c.user, "action": c.kind.as_str(), "statement": c.statement}))
            .collect::<Vec<_>>(),
        "notes": set.notes,
        "label_moves": run.labels.iter()
            .map(|m| json!({"step": m.step.as_str(), "label": m.label, "from": m.from, "to": m.to}))
            .collect::<Vec<_>>(),
        "secrets_manager_calls": counts.secrets_manager_calls,
        "database_logins": counts.logins,
        "failed_database_logins": counts.failed_logins,
    });
    if ctx.json {
        print_json(&result);
        return Ok(());
    }
    let rotator = if run.rotator == plan.engine.name() {
        String::new()
    } else {
        format!(" ({})", run.rotator)
    };
    println!(
        "dry run: a rotation of {secret} with {}{rotator}; nothing is written",
        plan.engine.name()
    );
    println!("  labels now: {}", labels_text(&labels(&plan.before)));
    println!("  logged in (read-only):");
    for login in &set.logins {
        println!("    {login}");
    }
    if let Some(user) = &run.next_user {
        println!(
            "  createSecret would put a new version for user {user:?} with a new password (not shown)"
        );
    }
    println!("  setSecret would:");
    if set.changes.is_empty() {
        println!("    change nothing");
    }
    for change in &set.changes {
        println!("    {} {:?}", change.kind.describe(), change.user);
        if let Some(statement) = &change.statement {
            println!("      {statement}");
        }
    }
    for note in &set.notes {
        println!("  note: {note}");
    }
    if let Some(user) = &run.next_user {
        println!("  testSecret would log in as {user:?} with the new password");
    }
    println!("  label moves:");
    for m in &run.labels {
        println!("    {m}");
    }
    println!(
        "  {} Secrets Manager calls (reads), {} database logins ({} refused)",
        counts.secrets_manager_calls, counts.logins, counts.failed_logins
    );
    println!("nothing was changed: no version put, no label moved, no statement above run");
    Ok(())
}

/// What a local rotation starts from, all checked before anything changes.
struct Plan {
    before: SecretDescription,
    /// The AWSCURRENT value as JSON (`None` for a non-JSON value rotated by an example).
    current: Option<Value>,
    engine: Engine,
    loaded: Loaded,
    passwords: PasswordSource,
}

/// A local rotation on the file store.
async fn locally(args: &RotateArgs, ctx: &Ctx, file: &FileLayer) -> Result<(), CliError> {
    let secret = args.secret();
    let store = ctx.backend.store();
    let plan = prepare(args, ctx, store.as_ref()).await?;
    let token = start(args, file, &plan.before)?;
    let arn = plan.before.arn.clone();
    if !ctx.json {
        println!(
            "rotating {secret} with {} (token {token})",
            plan.engine.name()
        );
        println!("  labels before: {}", labels_text(&labels(&plan.before)));
    }
    // Counted as the Lambda counts them (its EMF metrics): calls and logins per step.
    let counted = Arc::new(Layered(CallCounter::new(store.clone())));
    let driver = Driver::new(counted.clone(), plan.loaded.rotator.clone())
        .with_passwords(plan.passwords.clone());
    let (steps, failure) = run_steps(&driver, &counted.0, &arn, &token, ctx.json).await;
    let mut result = json!({
        "secret": secret,
        "arn": arn,
        "engine": plan.engine.name(),
        "token": token,
        "labels_before": labels(&plan.before),
        "steps": steps,
    });
    if let Some((step, e)) = failure {
        result["ok"] = false.into();
        result["error"] =
            json!({"step": step.as_str(), "message": e.to_string(), "kind": e.kind().error_type()});
        if let Ok(d) = store.describe_secret(&arn).await {
            result["labels_after"] = json!(labels(&d));
        }
        if ctx.json {
            print_json(&result);
        }
        return Err(CliError::Rotation {
            secret: secret.to_string(),
            step,
            token,
            source: Box::new(e),
        });
    }
    file.complete_rotation(&arn, &token)
        .map_err(|e| CliError::store_with(e.to_string(), e))?;
    let after = describe(store.as_ref(), secret).await?;
    result["labels_after"] = json!(labels(&after));
    if !ctx.json {
        println!("  labels after:  {}", labels_text(&labels(&after)));
    }
    let proof = prove(&plan, store.as_ref(), &after.arn).await;
    report_proof(&proof, &mut result, ctx.json);
    if let Some(kind) = proof.failure() {
        return Err(CliError::Proof {
            secret: secret.to_string(),
            kind,
        });
    }
    if !ctx.json {
        println!("rotated {secret}: version {token} is AWSCURRENT");
    }
    Ok(())
}

/// Read the secret, choose the engine, check the value and the environment: bad input is
/// found here, before anything changes.
async fn prepare(args: &RotateArgs, ctx: &Ctx, store: &dyn SecretStore) -> Result<Plan, CliError> {
    let secret = args.secret();
    let before = describe(store, secret).await?;
    let current_text = current_text(store, &before, secret).await?;
    let current = if args.example.is_some() {
        serde_json::from_str::<Value>(&current_text).ok()
    } else {
        Some(parse_object(
            &current_text,
            &format!("secret {secret}'s AWSCURRENT value"),
        )?)
    };
    let engine = select_engine(args, current.as_ref())?;
    engine.check_secret(current.as_ref().unwrap_or(&Value::Null))?;
    let config = |e| CliError::config(Some(engine.name()), e);
    let loaded = engine.load(&ctx.env).map_err(config)?;
    let passwords = engine.passwords(&ctx.env).map_err(config)?;
    Ok(Plan {
        before,
        current,
        engine,
        loaded,
        passwords,
    })
}

/// The AWSCURRENT value's text.
async fn current_text(
    store: &dyn SecretStore,
    d: &SecretDescription,
    secret: &str,
) -> Result<String, CliError> {
    let current = store
        .get_secret_value(&d.arn, None, Some(AWSCURRENT))
        .await
        .map_err(|e| match e.kind {
            StoreErrorKind::ResourceNotFound => CliError::store_with(
                format!(
                    "secret {secret} has no AWSCURRENT value; `rotwise put {secret} --from-json FILE` first"
                ),
                e,
            ),
            _ => CliError::store_with(e.to_string(), e),
        })?;
    Ok(current
        .payload
        .as_string()
        .ok_or_else(|| {
            CliError::input(format!("secret {secret} is binary; rotate string secrets"))
        })?
        .expose_secret()
        .to_string())
}

/// The engine: `--example`, else `--engine`, else the secret's `engine` key.
fn select_engine(args: &RotateArgs, current: Option<&Value>) -> Result<Engine, CliError> {
    if let Some(ex) = &args.example {
        let engine = Engine::from_example(ex).ok_or_else(|| {
            CliError::input(format!(
                "unknown example {ex:?}; examples: {}",
                engines::EXAMPLES
            ))
        })?;
        // A secret of a known engine belongs to a real database: changing only the
        // secret would break it.
        if let Some(key) = current
            .and_then(|v| v.get("engine"))
            .and_then(Value::as_str)
            .filter(|k| Engine::from_engine_key(k).is_some())
        {
            return Err(CliError::input(format!(
                "--example {ex} changes no system, and this secret is a {key} credential: rotating \
                 it this way would leave the database with the old password; drop --example"
            )));
        }
        eprintln!("{}", engines::RANDOM_STRING_WARNING);
        return Ok(engine);
    }
    let key = match (&args.engine, current) {
        (Some(e), _) => e.clone(),
        (None, Some(v)) => match v.get("engine") {
            Some(Value::String(e)) => e.clone(),
            _ => {
                return Err(CliError::input(format!(
                    "the secret has no string \"engine\" key; add one ({}) or use --engine; {}",
                    engines::known_engines(),
                    engines::OTHER_SYSTEMS
                )));
            }
        },
        (None, None) => {
            return Err(CliError::input(format!(
                "the secret is not a JSON object, so no database engine can rotate it; {}",
                engines::OTHER_SYSTEMS
            )));
        }
    };
    Engine::from_engine_key(&key).ok_or_else(|| {
        CliError::input(format!(
            "unknown engine {key:?}; known engines: {}; {}",
            engines::known_engines(),
            engines::OTHER_SYSTEMS
        ))
    })
}

/// A new rotation (what `RotateSecret` does first), or `--resume` of the pending one.
fn start(
    args: &RotateArgs,
    file: &FileLayer,
    before: &SecretDescription,
) -> Result<String, CliError> {
    let secret = args.secret();
    if args.resume {
        return before
            .version_with_stage(AWSPENDING)
            .map(str::to_string)
            .ok_or_else(|| {
                CliError::input(format!(
                    "secret {secret} has no AWSPENDING version to resume"
                ))
            });
    }
    file.begin_rotation(&before.arn).map_err(|e| match e.kind {
        StoreErrorKind::InvalidRequest => CliError::store_with(
            format!(
                "RotateSecret: {}\nhint: `rotwise doctor {secret}` shows the stuck version; `rotwise rotate {secret} --resume` finishes it, `rotwise doctor {secret} --fix` discards it",
                e.message
            ),
            e,
        ),
        _ => CliError::store(secret, e),
    })
}

/// The four steps, each timed and counted (the fields of the Lambda's metrics); stops at
/// the first failure.
async fn run_steps(
    driver: &Driver,
    calls: &CallCounter,
    arn: &str,
    token: &str,
    json: bool,
) -> (Vec<Value>, Option<(Step, RotationError)>) {
    let mut steps = Vec::new();
    for step in Step::ALL {
        let before = Counts::now(calls);
        let started = Instant::now();
        let result = driver
            .handle(&RotationEvent::new(
                step,
                arn.to_string(),
                token.to_string(),
            ))
            .await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let c = Counts::now(calls) - before;
        let mut line = json!({
            "step": step.as_str(), "ok": result.is_ok(), "duration_ms": ms,
            "secrets_manager_calls": c.secrets_manager_calls,
            "database_logins": c.logins, "failed_database_logins": c.failed_logins,
        });
        match result {
            Ok(outcome) => {
                if !json {
                    println!("  {:<13} ok      {:>8.1} ms", step.as_str(), ms);
                }
                line["outcome"] = format!("{outcome:?}").into();
                steps.push(line);
            }
            Err(e) => {
                if !json {
                    println!("  {:<13} FAILED  {:>8.1} ms", step.as_str(), ms);
                }
                line["error"] = e.to_string().into();
                line["error_type"] = e.error_type().into();
                steps.push(line);
                return (steps, Some((step, e)));
            }
        }
    }
    (steps, None)
}

/// The login proof: the new AWSCURRENT value logs in, the old one no longer does.
async fn prove(plan: &Plan, store: &dyn SecretStore, arn: &str) -> Proof {
    let new_value = store
        .get_secret_value(arn, None, Some(AWSCURRENT))
        .await
        .ok()
        .and_then(|v| v.payload.as_string().map(|s| s.expose_secret().to_string()))
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .unwrap_or(Value::Null);
    let probe = plan.loaded.probe.as_ref().map(Arc::as_ref);
    let old = plan.current.as_ref().unwrap_or(&Value::Null);
    engines::prove(plan.engine, probe, old, &new_value).await
}

/// The proof into the JSON result, and printed (text) or the result printed (`--json`).
fn report_proof(proof: &Proof, result: &mut Value, json: bool) {
    let detail = |c: &Check| match c {
        Check::Error { kind, message } => {
            json!({"result": c.as_str(), "error": message, "kind": kind.error_type()})
        }
        _ => json!({"result": c.as_str()}),
    };
    result["proof"] = json!({
        "new_login": detail(&proof.new_login),
        "old_login": detail(&proof.old_login),
        "warning": proof.warning,
    });
    result["ok"] = proof.failure().is_none().into();
    if json {
        print_json(result);
        return;
    }
    let line = |who: &str, c: &Check| match c {
        Check::Error { message, .. } => println!("  {who}: could not check ({message})"),
        Check::Skipped => {}
        _ => println!("  {who}: {}", c.as_str()),
    };
    line("new password login", &proof.new_login);
    line("old password login", &proof.old_login);
    if let Some(w) = &proof.warning {
        eprintln!("WARNING: {w}");
    }
}

/// Look at `secret` every `poll` until the rotation of `version` ends or `deadline` (from
/// `started`) passes. A throttled `DescribeSecret` is tried again with backoff.
pub(crate) async fn follow(
    store: &AwsStore,
    secret: &str,
    version: &str,
    deadline: std::time::Duration,
    poll: std::time::Duration,
    started: Instant,
) -> Result<Ended, CliError> {
    loop {
        let d = super::bulk::retrying(|| store.describe_secret(secret))
            .await
            .map_err(|e| CliError::store(secret, e))?;
        if d.has_stage(version, AWSCURRENT) {
            return Ok(Ended::Rotated);
        }
        if !d.has_stage(version, AWSPENDING) {
            return Ok(Ended::Abandoned);
        }
        if started.elapsed() >= deadline {
            return Ok(Ended::TimedOut);
        }
        tokio::time::sleep(poll.min(deadline.saturating_sub(started.elapsed()))).await;
    }
}

/// How a rotation the service runs ended, as `--wait` saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// AWSCURRENT is on the new version.
    Rotated,
    /// The new version lost AWSPENDING without becoming AWSCURRENT (cancelled, or the
    /// label was moved by hand).
    Abandoned,
    /// Still AWSPENDING when the time ran out.
    TimedOut,
}

impl Ended {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Ended::Rotated => "rotated",
            Ended::Abandoned => "abandoned",
            Ended::TimedOut => "timed_out",
        }
    }
}

/// `--wait`: look at the secret every `--poll` seconds until the rotation of `version` ends
/// or `--timeout` passes; report the outcome, how long it took and, when it did not finish,
/// where it stopped and what `doctor` finds.
async fn wait(
    store: &AwsStore,
    args: &RotateArgs,
    ctx: &Ctx,
    version: &str,
    started: Instant,
) -> Result<(), CliError> {
    let secret = args.secret();
    let deadline = std::time::Duration::from_secs(args.timeout);
    let poll = std::time::Duration::from_secs_f64(args.poll);
    if !ctx.json {
        println!(
            "started the rotation of {secret} (version {version}); waiting up to {} s",
            args.timeout
        );
    }
    let ended = follow(store, secret, version, deadline, poll, started).await?;
    let seconds = started.elapsed().as_secs_f64();
    let outcome = ended.as_str();
    if ended == Ended::Rotated {
        if ctx.json {
            print_json(
                &json!({"secret": secret, "version_id": version, "outcome": outcome, "seconds": seconds}),
            );
        } else {
            println!("rotated {secret}: version {version} is AWSCURRENT ({seconds:.1} s)");
        }
        return Ok(());
    }
    let has_value = store
        .get_secret_value(secret, Some(version), None)
        .await
        .is_ok();
    let stopped = if has_value {
        "createSecret ran (the new version holds a value); the rotation stopped in setSecret, testSecret or finishSecret"
    } else {
        "createSecret did not finish (the new version holds no value): the function was not invoked, cannot reach Secrets Manager, or failed at createSecret"
    };
    let what = match ended {
        Ended::Abandoned => format!(
            "the rotation of {secret} ended without finishing: version {version} no longer holds AWSPENDING and is not AWSCURRENT (cancelled, or the label was moved)"
        ),
        _ => format!(
            "the rotation of {secret} did not finish within {} s: version {version} still holds AWSPENDING",
            args.timeout
        ),
    };
    let doctor = super::doctor::examine(secret, ctx).await.ok();
    if ctx.json {
        print_json(&json!({
            "secret": secret, "version_id": version, "outcome": outcome, "seconds": seconds,
            "stopped": stopped, "doctor": doctor,
        }));
    } else {
        println!("{what}");
        println!("  {stopped}");
        println!("  the function's log names the failed step and why; what doctor finds:");
        match &doctor {
            Some(report) => super::doctor::print_findings(report, "    "),
            None => println!("    (doctor could not run: `rotwise --aws doctor {secret}`)"),
        }
    }
    Err(CliError::Failed(what))
}
