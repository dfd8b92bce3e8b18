//! `doctor`: find what blocks rotation or breaks the secret's consumers, and say how to
//! fix it. It logs in with AWSCURRENT (drift: a password changed outside rotation) and
//! with a stuck AWSPENDING (did setSecret run?), and `--fix` acts on what the database
//! says, never stranding the secret: it finishes a rotation the database already took,
//! clears AWSPENDING only while AWSCURRENT logs in, and otherwise changes nothing.

use std::io::IsTerminal;
use std::sync::Arc;

use clap::Args;
use rotwise_core::config::Env;
use rotwise_core::store::{
    AWSCURRENT, AWSPENDING, SecretDescription, SecretStore, StoreErrorKind, UpdateVersionStage,
};
use rotwise_core::{Driver, ErrorKind, LoginProbe, PasswordSource, RotationEvent, Rotator, Step};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::output::print_json;
use super::{Ctx, describe};
use crate::backend::Backend;
use crate::engines::{self, Check, Engine};
use crate::error::CliError;

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// The secret's name (or ARN).
    pub secret: String,
    /// Repair a stuck rotation, as far as the database allows (asks first unless --yes):
    /// finish it when the database already accepts AWSPENDING, remove AWSPENDING when the
    /// database accepts AWSCURRENT, otherwise change nothing.
    #[arg(long)]
    pub fix: bool,
    /// Do not ask before fixing.
    #[arg(long, requires = "fix")]
    pub yes: bool,
}

/// The version of the `--json` report (bumped only for an incompatible change).
const SCHEMA: u32 = 2;

/// A problem that blocks rotation or breaks the secret's consumers.
struct Finding {
    code: &'static str,
    message: String,
    fix: String,
}

impl Finding {
    fn new(code: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding {
            code,
            message: message.into(),
            fix: fix.into(),
        }
    }
}

/// The secret's target, when its AWSCURRENT value is one an engine can use.
struct Target {
    engine: Engine,
    rotator: Arc<dyn Rotator>,
    probe: Arc<dyn LoginProbe>,
    passwords: PasswordSource,
}

/// A stuck AWSPENDING (on a version that is not AWSCURRENT) and what the database says.
enum Pending {
    Absent,
    /// The version RotateSecret made; createSecret never put its value.
    NoValue {
        id: String,
    },
    /// A value, and whether it logs in (`None`: no target to ask).
    Value {
        id: String,
        login: Option<Check>,
    },
}

impl Pending {
    fn id(&self) -> Option<&str> {
        match self {
            Pending::Absent => None,
            Pending::NoValue { id } | Pending::Value { id, .. } => Some(id),
        }
    }

    fn accepted(&self) -> bool {
        matches!(
            self,
            Pending::Value {
                login: Some(Check::Accepted),
                ..
            }
        )
    }

    fn state(&self) -> &'static str {
        match self {
            Pending::Absent => "absent",
            Pending::NoValue { .. } => "no_value",
            Pending::Value { login, .. } => match login {
                Some(Check::Accepted) => "accepted",
                Some(Check::Refused) => "refused",
                _ => "not_checked",
            },
        }
    }
}

/// What `--fix` would do, decided from what the database said, before asking.
enum Plan {
    /// Nothing to repair.
    Nothing,
    /// The database accepts AWSPENDING: setSecret (again, idempotent), testSecret,
    /// finishSecret.
    Finish { id: String },
    /// AWSCURRENT logs in and the database does not hold AWSPENDING's value.
    Clear { id: String },
    /// Any change could leave no working credential: why, and what a person must do.
    Refuse(String),
}

impl Plan {
    fn action(&self) -> &'static str {
        match self {
            Plan::Nothing => "none",
            Plan::Finish { .. } => "finish",
            Plan::Clear { .. } => "clear",
            Plan::Refuse(_) => "refuse",
        }
    }
}

/// What `--fix` did.
#[derive(Default)]
struct Fixes {
    fixed: Vec<&'static str>,
    /// Why nothing was fixed.
    refused: Option<String>,
}

pub async fn run(args: DoctorArgs, ctx: &Ctx) -> Result<(), CliError> {
    let secret = args.secret.as_str();
    let (report, remaining) = check(secret, ctx, args.fix.then_some(args.yes)).await?;
    if ctx.json {
        print_json(&report);
    } else {
        if remaining == 0 && report["findings"].as_array().is_some_and(Vec::is_empty) {
            println!("{secret}: AWSCURRENT logs in and nothing blocks rotation");
        }
        print_findings(&report, "");
        if let Some(r) = report["not_fixed_reason"].as_str() {
            eprintln!("{r}");
        }
    }
    if remaining == 0 {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{remaining} problem(s) found for {secret}"
        )))
    }
}

/// What `doctor SECRET` finds, as its `--json` report, changing nothing (for `rotate
/// --wait`, which shows it when a rotation does not finish).
pub async fn examine(secret: &str, ctx: &Ctx) -> Result<Value, CliError> {
    check(secret, ctx, None).await.map(|(report, _)| report)
}

/// The findings of a `--json` report as text lines, each prefixed by `indent`.
pub fn print_findings(report: &Value, indent: &str) {
    for f in report["findings"].as_array().into_iter().flatten() {
        let fixed = f["fixed"] == true;
        let s = |k: &str| f[k].as_str().unwrap_or("");
        let state = if fixed { "FIXED" } else { "PROBLEM" };
        println!("{indent}{state} [{}] {}", s("code"), s("message"));
        if !fixed {
            println!("{indent}  fix: {}", s("fix"));
        }
    }
}

/// Every check, then `--fix` when `fix` is `Some(yes)`: the report and how many findings
/// remain unfixed.
async fn check(secret: &str, ctx: &Ctx, fix: Option<bool>) -> Result<(Value, usize), CliError> {
    let store = ctx.backend.store();
    let d = describe(store.as_ref(), secret).await?;
    let on_file = ctx.backend.is_file();
    let mut findings = Vec::new();
    findings.extend(rotation_disabled(&d, secret, on_file));
    findings.extend(no_rotation_function(&d, secret, on_file));
    findings.extend(overdue(&d, secret, OffsetDateTime::now_utc()));
    let (target, current_login) = if d.version_with_stage(AWSCURRENT).is_none() {
        findings.push(Finding::new(
            "no_current",
            "no version holds AWSCURRENT: there is nothing to rotate from",
            format!("`rotwise put {secret} --from-json FILE`"),
        ));
        (None, None)
    } else {
        let (target, current) =
            check_value(store.as_ref(), &ctx.env, &d, secret, &mut findings).await;
        match (&target, current) {
            (Some(t), Some(value)) => {
                let login = Check::login(t.probe.as_ref(), &value).await;
                (target, Some((login, value)))
            }
            _ => (target, None),
        }
    };
    let pending = pending_state(store.as_ref(), &d, target.as_ref()).await;
    let current_check = current_login.as_ref().map(|(c, _)| c);
    findings.extend(current_finding(current_login.as_ref(), &pending, secret));
    findings.extend(pending_finding(&pending, current_check, secret, on_file));
    let plan = plan(&pending, current_check, target.is_some(), &d, secret);
    let fixes = match fix {
        Some(yes) => apply(&plan, ctx, store.as_ref(), &d, target.as_ref(), secret, yes).await?,
        None => Fixes::default(),
    };
    let remaining = findings
        .iter()
        .filter(|f| !fixes.fixed.contains(&f.code))
        .count();
    let report = report(
        secret,
        &d,
        &findings,
        &fixes,
        &pending,
        current_check,
        &plan,
    );
    Ok((report, remaining))
}

fn rotation_disabled(d: &SecretDescription, secret: &str, on_file: bool) -> Option<Finding> {
    (d.rotation_enabled == Some(false)).then(|| {
        Finding::new(
            "rotation_disabled",
            format!("Secret {} is not enabled for rotation", d.arn),
            if on_file {
                format!("`rotwise rotate {secret}` turns rotation on, as RotateSecret does")
            } else {
                format!(
                    "`aws secretsmanager rotate-secret --secret-id {secret} --rotation-lambda-arn ARN` turns rotation on"
                )
            },
        )
    })
}

/// On Secrets Manager: rotation on, but no function to run it.
fn no_rotation_function(d: &SecretDescription, secret: &str, on_file: bool) -> Option<Finding> {
    let unset = d.rotation_lambda_arn.as_deref().is_none_or(str::is_empty);
    (!on_file && d.rotation_enabled == Some(true) && unset).then(|| {
        Finding::new(
            "no_rotation_function",
            "rotation is on but no rotation function is set (RotationLambdaARN is empty)",
            format!(
                "`aws secretsmanager rotate-secret --secret-id {secret} --rotation-lambda-arn ARN` with the ARN of the function deploy/*.yaml created"
            ),
        )
    })
}

/// The last rotation older than the schedule allows (`AutomaticallyAfterDays`, or a
/// `rate(N days)` / `rate(N hours)` expression; a `cron(...)` schedule is not judged),
/// with a day's grace: the service rotates within a window, not at an instant.
fn overdue(d: &SecretDescription, secret: &str, now: OffsetDateTime) -> Option<Finding> {
    if d.rotation_enabled != Some(true) {
        return None;
    }
    let last = d.last_rotated?;
    let every = d
        .rotation_days
        .filter(|n| *n > 0)
        .map(time::Duration::days)
        .or_else(|| d.rotation_schedule.as_deref().and_then(rate))?;
    let late = now - last - every;
    (late > time::Duration::days(1)).then(|| {
        Finding::new(
            "rotation_overdue",
            format!(
                "the last rotation was {} days ago; the schedule rotates every {}: the rotations since failed or never started",
                (now - last).whole_days(),
                human(every)
            ),
            format!(
                "look at the rotation function's log for the failed step, then `rotwise status {secret}`; a rotation that cannot start is named by the other findings"
            ),
        )
    })
}

/// `rate(N days)` / `rate(N hours)` (Secrets Manager's schedule expressions).
fn rate(expr: &str) -> Option<time::Duration> {
    let inner = expr.trim().strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.trim().split_once(' ')?;
    let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
    match unit.trim() {
        "day" | "days" => Some(time::Duration::days(n)),
        "hour" | "hours" => Some(time::Duration::hours(n)),
        _ => None,
    }
}

fn human(d: time::Duration) -> String {
    if d.whole_hours() % 24 == 0 {
        format!("{} days", d.whole_days())
    } else {
        format!("{} hours", d.whole_hours())
    }
}

/// The stuck AWSPENDING, if any, and whether the database accepts its value.
async fn pending_state(
    store: &dyn SecretStore,
    d: &SecretDescription,
    target: Option<&Target>,
) -> Pending {
    let Some(id) = d
        .version_with_stage(AWSPENDING)
        .filter(|id| !d.has_stage(id, AWSCURRENT))
        .map(str::to_string)
    else {
        return Pending::Absent;
    };
    let value = match store
        .get_secret_value(&d.arn, Some(&id), Some(AWSPENDING))
        .await
    {
        Ok(v) => v,
        Err(e) if e.kind == StoreErrorKind::ResourceNotFound => return Pending::NoValue { id },
        Err(e) => {
            return Pending::Value {
                id,
                login: Some(Check::Error {
                    kind: ErrorKind::Store(e.kind),
                    message: format!("cannot read its value: {e}"),
                }),
            };
        }
    };
    let login = match target {
        None => None,
        Some(t) => Some(
            match value
                .payload
                .as_string()
                .and_then(|s| serde_json::from_str::<Value>(s.expose_secret()).ok())
            {
                Some(v @ Value::Object(_)) => Check::login(t.probe.as_ref(), &v).await,
                _ => Check::Error {
                    kind: ErrorKind::InvalidSecret,
                    message: "its value is not a JSON object".into(),
                },
            },
        ),
    };
    Pending::Value { id, login }
}

/// AWSCURRENT does not log in: the incident every consumer of the secret sees.
fn current_finding(
    login: Option<&(Check, Value)>,
    pending: &Pending,
    secret: &str,
) -> Option<Finding> {
    let (check, value) = login?;
    let s = |k: &str| value.get(k).and_then(Value::as_str).unwrap_or("");
    match check {
        Check::Accepted | Check::Skipped => None,
        Check::Refused if pending.accepted() => Some(Finding::new(
            "current_refused",
            format!(
                "AWSCURRENT is refused by the database: setSecret gave the database AWSPENDING's value and the rotation did not finish (user {} on {})",
                s("username"),
                s("host")
            ),
            format!("`rotwise doctor {secret} --fix` finishes that rotation (see pending_set)"),
        )),
        Check::Refused => Some(Finding::new(
            "current_refused",
            format!(
                "AWSCURRENT is refused by the database: the password was changed outside rotation (user {} on {})",
                s("username"),
                s("host")
            ),
            format!(
                "put the password the database now has as AWSCURRENT (`rotwise put {secret} --from-json FILE`), or set the database user's password back to AWSCURRENT's; then rotate"
            ),
        )),
        Check::Error { kind, message } => Some(Finding::new(
            "current_login_failed",
            format!(
                "AWSCURRENT could not be checked against the database ({} as {}): {message}",
                s("host"),
                s("username")
            ),
            login_fix(*kind, "secret"),
        )),
    }
}

fn pending_finding(
    pending: &Pending,
    current: Option<&Check>,
    secret: &str,
    on_file: bool,
) -> Option<Finding> {
    let id = pending.id()?;
    let stuck = format!(
        "version {id} holds AWSPENDING without AWSCURRENT: A previous rotation isn't complete. That rotation will be reattempted."
    );
    let retry = if on_file {
        format!("`rotwise rotate {secret} --resume`")
    } else {
        "invoking the rotation function again".into()
    };
    if pending.accepted() {
        return Some(Finding::new(
            "pending_set",
            format!(
                "{stuck} The database accepts its value: setSecret ran, and the rotation stopped before finishSecret."
            ),
            format!(
                "`rotwise doctor {secret} --fix` finishes it (setSecret again, testSecret, then AWSCURRENT moves to {id} and AWSPREVIOUS to the old version); or {retry}"
            ),
        ));
    }
    let state = match pending {
        Pending::NoValue { .. } => {
            " It holds no value (the rotation stopped before createSecret).".to_string()
        }
        Pending::Value {
            login: Some(Check::Refused),
            ..
        } => " The database refuses its value: setSecret did not change the password.".into(),
        Pending::Value {
            login: Some(Check::Error { message, .. }),
            ..
        } => format!(" Whether the database accepts its value is unknown: {message}."),
        _ => " Whether the database accepts its value is unknown: the secret names no engine rotwise can ask.".into(),
    };
    let fix = if current == Some(&Check::Accepted) {
        format!(
            "`rotwise doctor {secret} --fix` removes the label (UpdateSecretVersionStage with RemoveFromVersionId={id}): AWSCURRENT logs in; or {retry}"
        )
    } else {
        "first make AWSCURRENT log in (see the other findings); `--fix` removes the label only while it does".to_string()
    };
    Some(Finding::new(
        "stale_pending",
        format!("{stuck}{state}"),
        fix,
    ))
}

/// What `--fix` may do, from what the database said.
fn plan(
    pending: &Pending,
    current: Option<&Check>,
    has_target: bool,
    d: &SecretDescription,
    secret: &str,
) -> Plan {
    let Some(id) = pending.id().map(str::to_string) else {
        return Plan::Nothing;
    };
    if pending.accepted() {
        return Plan::Finish { id };
    }
    let unknown_pending = match pending {
        Pending::Value {
            login: Some(Check::Error { message, .. }),
            ..
        } => Some(message.as_str()),
        _ => None,
    };
    if let Some(why) = unknown_pending {
        return Plan::Refuse(format!(
            "not fixing: whether the database accepts AWSPENDING's value is unknown ({why}); if setSecret ran, removing the label would leave no working credential. Fix what stops the check and run doctor again"
        ));
    }
    let remove = format!(
        "aws secretsmanager update-secret-version-stage --secret-id {secret} --version-stage AWSPENDING --remove-from-version-id {id}"
    );
    match current {
        Some(Check::Accepted) => Plan::Clear { id },
        _ if !has_target => Plan::Refuse(format!(
            "not fixing: rotwise cannot ask this secret's system which value it accepts (see the findings); if you know AWSCURRENT still works there, remove the label yourself: `{remove}`"
        )),
        Some(Check::Refused) => Plan::Refuse(format!(
            "not fixing: the database accepts neither AWSCURRENT nor AWSPENDING of {}, so no label move gives the secret a working credential. A person must put the password the database has now as AWSCURRENT (`rotwise put {secret} --from-json FILE`) or set the user's password to AWSCURRENT's, then run `rotwise doctor {secret} --fix` again",
            d.name
        )),
        _ => Plan::Refuse(
            "not fixing: AWSCURRENT could not be checked against the database (see current_login_failed); removing AWSPENDING is safe only while AWSCURRENT logs in".into(),
        ),
    }
}

/// Carry out `plan`, after asking unless `yes`.
async fn apply(
    plan: &Plan,
    ctx: &Ctx,
    store: &dyn SecretStore,
    d: &SecretDescription,
    target: Option<&Target>,
    secret: &str,
    yes: bool,
) -> Result<Fixes, CliError> {
    let question = match plan {
        Plan::Nothing => return Ok(Fixes::default()),
        Plan::Refuse(why) => {
            return Ok(Fixes {
                fixed: vec![],
                refused: Some(why.clone()),
            });
        }
        Plan::Finish { id } => format!(
            "Finish the rotation of {secret}: testSecret, then move AWSCURRENT to version {id}?"
        ),
        Plan::Clear { id } => format!("Remove AWSPENDING from version {id} of {secret}?"),
    };
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Ok(Fixes {
                fixed: vec![],
                refused: Some("not fixing: stdin is not a terminal and --yes was not given".into()),
            });
        }
        eprint!("{question} [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).ok();
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            return Ok(Fixes {
                fixed: vec![],
                refused: Some("not fixing: not confirmed".into()),
            });
        }
    }
    match plan {
        Plan::Clear { id } => {
            remove_pending(store, d, id).await?;
            Ok(Fixes {
                fixed: vec!["stale_pending"],
                refused: None,
            })
        }
        Plan::Finish { id } => {
            let Some(t) = target else {
                return Ok(Fixes::default());
            };
            finish(ctx, store, d, t, id).await?;
            Ok(Fixes {
                fixed: vec!["pending_set", "current_refused"],
                refused: None,
            })
        }
        Plan::Nothing | Plan::Refuse(_) => Ok(Fixes::default()),
    }
}

async fn remove_pending(
    store: &dyn SecretStore,
    d: &SecretDescription,
    id: &str,
) -> Result<(), CliError> {
    store
        .update_secret_version_stage(UpdateVersionStage {
            secret_id: d.arn.clone(),
            stage: AWSPENDING.to_string(),
            move_to: None,
            remove_from: Some(id.to_string()),
        })
        .await
        .map_err(|e| CliError::store_with(format!("cannot remove AWSPENDING: {e}"), e))
}

/// The rest of the rotation the database already took: setSecret (idempotent: with
/// single user it finds the pending password already working; with alternating users it
/// completes the clone's grants), testSecret, finishSecret; then what the service does
/// after a rotation (AWSPENDING off the new AWSCURRENT). A step that fails stops here,
/// before any label moves.
async fn finish(
    ctx: &Ctx,
    store: &dyn SecretStore,
    d: &SecretDescription,
    t: &Target,
    id: &str,
) -> Result<(), CliError> {
    let driver = Driver::new(ctx.backend.store(), t.rotator.clone())
        .with_passwords(t.passwords.clone())
        .finishing_by_hand();
    for step in [Step::SetSecret, Step::TestSecret, Step::FinishSecret] {
        driver
            .handle(&RotationEvent::new(step, d.arn.clone(), id.to_string()))
            .await
            .map_err(|e| CliError::Rotation {
                secret: d.name.clone(),
                step,
                token: id.to_string(),
                source: Box::new(e),
            })?;
    }
    match &ctx.backend {
        Backend::File(file) => {
            file.0
                .complete_rotation(&d.arn, id)
                .map_err(|e| CliError::store_with(e.to_string(), e))?;
        }
        Backend::Aws(_) => remove_pending(store, d, id).await?,
    }
    tracing::info!(
        engine = t.engine.name(),
        version = id,
        "finished the rotation by hand"
    );
    Ok(())
}

/// The `--json` report (schema [`SCHEMA`]).
fn report(
    secret: &str,
    d: &SecretDescription,
    findings: &[Finding],
    fixes: &Fixes,
    pending: &Pending,
    current: Option<&Check>,
    plan: &Plan,
) -> Value {
    let fixed = |f: &Finding| fixes.fixed.contains(&f.code);
    json!({
        "schema": SCHEMA,
        "secret": secret,
        "arn": d.arn,
        "ok": findings.iter().all(fixed),
        "current_login": current.map_or("not_checked", Check::as_str),
        "pending": {"state": pending.state(), "version_id": pending.id()},
        "fix": plan.action(),
        "findings": findings.iter().map(|f| json!({
            "code": f.code, "message": f.message, "fix": f.fix,
            "fixed": fixed(f),
        })).collect::<Vec<_>>(),
        "not_fixed_reason": fixes.refused,
    })
}

/// The AWSCURRENT value: a JSON object an engine can use, with its keys, environment,
/// user name limits and master secret. Returns the target (when the engine loads) and the
/// value (when it is complete enough to log in with).
async fn check_value(
    store: &dyn SecretStore,
    env: &Env,
    d: &SecretDescription,
    secret: &str,
    findings: &mut Vec<Finding>,
) -> (Option<Target>, Option<Value>) {
    let value = match current_object(store, d, secret).await {
        Ok(v) => v,
        Err(f) => {
            findings.push(f);
            return (None, None);
        }
    };
    let engine_key = value.get("engine").and_then(Value::as_str);
    let Some(engine) = engine_key.and_then(Engine::from_engine_key) else {
        findings.push(Finding::new(
            "unknown_engine",
            match engine_key {
                Some(e) => format!("unknown engine {e:?}"),
                None => "the secret JSON has no \"engine\" key".into(),
            },
            format!(
                "set \"engine\" to one of: {}; {}",
                engines::known_engines(),
                engines::OTHER_SYSTEMS
            ),
        ));
        return (None, None);
    };
    let master = value.get("masterarn").and_then(Value::as_str);
    let missing = missing_keys(engine, &value, master.is_some(), secret);
    let complete = missing.is_none();
    findings.extend(missing);
    let target = match load(engine, env) {
        Ok(t) => Some(t),
        Err(e) => {
            findings.push(Finding::new(
                "invalid_environment",
                format!("engine {}: {e}", engine.name()),
                "correct or unset the variable (the rotation Lambda reads the same ones)",
            ));
            None
        }
    };
    let engine_key = engine_key.unwrap_or_default();
    findings.extend(name_too_long(
        engine,
        env,
        engine_key,
        &value,
        master.is_some(),
    ));
    if let (Some(master), Some(t)) = (master, &target) {
        findings.extend(check_master(store, t, master).await);
    }
    (target, complete.then_some(value))
}

/// The engine's rotator, probe and password source from the environment.
fn load(engine: Engine, env: &Env) -> Result<Target, String> {
    engine.check_environment(env).map_err(|e| e.to_string())?;
    let loaded = engine.load(env).map_err(|e| e.to_string())?;
    let probe = loaded
        .probe
        .ok_or_else(|| format!("engine {} has no login check", engine.name()))?;
    let passwords = engine.passwords(env).map_err(|e| e.to_string())?;
    Ok(Target {
        engine,
        rotator: loaded.rotator,
        probe,
        passwords,
    })
}

/// The AWSCURRENT value as a JSON object, or the finding that says why it is not one.
async fn current_object(
    store: &dyn SecretStore,
    d: &SecretDescription,
    secret: &str,
) -> Result<Value, Finding> {
    let current = store
        .get_secret_value(&d.arn, None, Some(AWSCURRENT))
        .await
        .map_err(|e| {
            Finding::new(
                "current_unreadable",
                format!("cannot read the AWSCURRENT value: {e}"),
                "check permissions (secretsmanager:GetSecretValue)",
            )
        })?;
    let text = current.payload.as_string().ok_or_else(|| {
        Finding::new(
            "binary_secret",
            "the AWSCURRENT value is binary; engines read a JSON SecretString",
            format!("`rotwise put {secret} --from-json FILE` with a JSON object"),
        )
    })?;
    match serde_json::from_str::<Value>(text.expose_secret()) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(Finding::new(
            "not_json_object",
            "the AWSCURRENT value is not a JSON object",
            format!(
                "`rotwise put {secret} --from-json FILE` with {{\"engine\",\"host\",\"username\",\"password\",...}}; {}",
                engines::OTHER_SYSTEMS
            ),
        )),
    }
}

fn missing_keys(engine: Engine, value: &Value, alternating: bool, secret: &str) -> Option<Finding> {
    let missing: Vec<&str> = engine
        .required_keys(alternating)
        .into_iter()
        .filter(|k| {
            value
                .get(*k)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        })
        .collect();
    (!missing.is_empty()).then(|| {
        Finding::new(
            "missing_keys",
            format!(
                "the secret JSON lacks {} for engine {}{}",
                missing.join(", "),
                engine.name(),
                if alternating {
                    " (alternating users)"
                } else {
                    ""
                }
            ),
            format!("`rotwise put {secret} --from-json FILE` with the keys added"),
        )
    })
}

/// The user name, or an alternating secret's `<user>_clone`, over the engine's limit.
fn name_too_long(
    engine: Engine,
    env: &Env,
    engine_key: &str,
    value: &Value,
    alternating: bool,
) -> Option<Finding> {
    let user = value.get("username").and_then(Value::as_str)?;
    let limit = engine.username_limit(env, engine_key)?;
    let base = match user.strip_suffix("_clone") {
        Some(b) if !b.is_empty() => b,
        _ => user,
    };
    let clone = format!("{base}_clone");
    let (user_len, clone_len) = (limit.len(user), limit.len(&clone));
    let unit = limit.unit;
    if user_len > limit.max {
        Some(Finding::new(
            "username_too_long",
            format!(
                "username is {user_len} {unit}; {} have at most {} {unit}",
                limit.what, limit.max
            ),
            "use a shorter user name",
        ))
    } else if alternating && clone_len > limit.max {
        Some(Finding::new(
            "clone_name_too_long",
            format!(
                "alternating rotation needs the user {clone}, {clone_len} {unit}; {} have at most {} {unit}",
                limit.what, limit.max
            ),
            format!(
                "shorten the base username to at most {} {unit}",
                limit.max.saturating_sub("_clone".len())
            ),
        ))
    } else {
        None
    }
}

/// The master secret (`masterarn`): readable, complete, and logging in.
async fn check_master(store: &dyn SecretStore, t: &Target, master: &str) -> Option<Finding> {
    let m = match store.get_secret_value(master, None, Some(AWSCURRENT)).await {
        Ok(m) => m,
        Err(e) => {
            return Some(Finding::new(
                "master_missing",
                format!("the master secret {master} cannot be read: {e}"),
                "create the master secret, or fix \"masterarn\"",
            ));
        }
    };
    let mut mv = m
        .payload
        .as_string()
        .and_then(|s| serde_json::from_str::<Value>(s.expose_secret()).ok())
        .filter(Value::is_object);
    // A master secret RDS or Redshift manages has no host: its tag says where it is.
    if let Some(v) = mv.as_mut().filter(|v| v.get("host").is_none())
        && let Err(finding) = locate_managed(store, master, v).await
    {
        return Some(finding);
    }
    let mv = mv.filter(|v| {
        ["host", "username", "password"]
            .iter()
            .all(|k| v.get(*k).and_then(Value::as_str).is_some())
    });
    let Some(mv) = mv else {
        return Some(Finding::new(
            "master_incomplete",
            format!(
                "the master secret {master} is not a JSON object with host, username and password"
            ),
            "add host/port/engine/username/password to the master secret",
        ));
    };
    let (kind, why) = match Check::login(t.probe.as_ref(), &mv).await {
        Check::Accepted | Check::Skipped => return None,
        Check::Refused => (
            ErrorKind::LoginRefused,
            "the server refused the password".to_string(),
        ),
        Check::Error { kind, message } => (kind, message),
    };
    let s = |k: &str| mv.get(k).and_then(Value::as_str).unwrap_or("");
    Some(Finding::new(
        "master_login_failed",
        format!(
            "the master secret {master} does not log in to {} as {}: {why}",
            s("host"),
            s("username")
        ),
        login_fix(kind, "master secret"),
    ))
}

/// Fill `host`, `port` and `engine` of a master secret RDS or Redshift manages (no `host`)
/// from its system tag and the service's API, as the rotation does; a master without such
/// a tag is left as it is (reported incomplete by the caller).
async fn locate_managed(
    store: &dyn SecretStore,
    master: &str,
    value: &mut Value,
) -> Result<(), Finding> {
    use rotwise_db::managed::{Locator, ManagedDatabase, secret_engine};
    let tags = match store.describe_secret(master).await {
        Ok(d) => d.tags,
        Err(e) => {
            return Err(Finding::new(
                "master_missing",
                format!("the master secret {master} cannot be described: {e}"),
                "allow secretsmanager:DescribeSecret on the master secret",
            ));
        }
    };
    let database = match ManagedDatabase::from_tags(&tags) {
        Ok(Some(database)) => database,
        Ok(None) => return Ok(()),
        Err(e) => {
            return Err(Finding::new(
                "master_incomplete",
                e.to_string(),
                "fix the tag, or add host/port/engine to the master secret",
            ));
        }
    };
    match rotwise_managed::AwsLocator::from_env()
        .locate(&database)
        .await
    {
        Ok(endpoint) => {
            value["host"] = json!(endpoint.host);
            value["port"] = json!(endpoint.port);
            value["engine"] = json!(secret_engine(&endpoint.engine));
            Ok(())
        }
        Err(e) => Err(Finding::new(
            "master_unlocated",
            format!(
                "the master secret {master} belongs to the {database}, and where that database is \
                 could not be read: {e}"
            ),
            "see the message; the rotation function makes the same call \
             (docs/src/guides/managed-masters.md)",
        )),
    }
}

/// What to do when the login with `secret` (`"secret"`, `"master secret"`) fails with
/// `kind`.
fn login_fix(kind: ErrorKind, secret: &str) -> String {
    match kind {
        ErrorKind::Unreachable => format!(
            "the {secret}'s server cannot be reached from here: check its \"host\" and \"port\", the network (VPN, security groups, firewall) and that the database is up"
        ),
        ErrorKind::LoginRefused => format!(
            "the password was changed outside rotation: put the working password as a new AWSCURRENT of the {secret} (`rotwise put`), or rotate or correct the {secret} first"
        ),
        ErrorKind::Tls => "TLS to the database failed: set ROTATION_CA_FILE to the CA bundle that signed the server's certificate (e.g. RDS's), or ROTATION_TLS_MODE=require for an endpoint whose certificate does not name the host".into(),
        ErrorKind::Permission => format!(
            "the {secret}'s user logs in but lacks a privilege: grant what the engine needs (CONNECT on the database; CREATEROLE on PostgreSQL, CREATE USER on MySQL)"
        ),
        ErrorKind::Configuration => {
            "correct or unset the variable (the rotation Lambda reads the same ones)".into()
        }
        ErrorKind::InvalidSecret => format!(
            "fix the {secret}'s keys (engine, host, port, username, password)"
        ),
        _ => format!("rotate or correct the {secret} first"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(
        days: Option<i64>,
        schedule: Option<&str>,
        last: OffsetDateTime,
    ) -> SecretDescription {
        SecretDescription {
            arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf".into(),
            name: "db".into(),
            description: None,
            rotation_enabled: Some(true),
            rotation_lambda_arn: Some("arn:aws:lambda:us-east-1:123456789012:function:f".into()),
            rotation_days: days,
            rotation_schedule: schedule.map(str::to_string),
            last_rotated: Some(last),
            versions: Default::default(),
            kms_key_id: None,
            tags: Default::default(),
        }
    }

    #[test]
    fn overdue_follows_the_schedule_with_a_day_of_grace() {
        let now = OffsetDateTime::now_utc();
        let ago = |days: i64| now - time::Duration::days(days);
        assert!(overdue(&described(Some(30), None, ago(30)), "db", now).is_none());
        assert!(overdue(&described(Some(30), None, ago(31)), "db", now).is_none());
        let f = overdue(&described(Some(30), None, ago(45)), "db", now).unwrap();
        assert_eq!(f.code, "rotation_overdue");
        assert!(
            f.message.contains("45 days ago") && f.message.contains("every 30 days"),
            "{}",
            f.message
        );
        assert!(overdue(&described(None, Some("rate(7 days)"), ago(9)), "db", now).is_some());
        assert!(overdue(&described(None, Some("rate(12 hours)"), ago(2)), "db", now).is_some());
        assert!(overdue(&described(None, Some("rate(12 hours)"), ago(1)), "db", now).is_none());
        // A cron schedule is not judged; nor is a secret whose rotation is off.
        assert!(
            overdue(
                &described(None, Some("cron(0 16 1,15 * ? *)"), ago(400)),
                "db",
                now
            )
            .is_none()
        );
        let mut off = described(Some(1), None, ago(400));
        off.rotation_enabled = Some(false);
        assert!(overdue(&off, "db", now).is_none());
    }

    #[test]
    fn rate_reads_days_and_hours_only() {
        assert_eq!(rate("rate(10 days)"), Some(time::Duration::days(10)));
        assert_eq!(rate("rate(1 day)"), Some(time::Duration::days(1)));
        assert_eq!(rate(" rate(4 hours) "), Some(time::Duration::hours(4)));
        for bad in [
            "rate(0 days)",
            "rate(x days)",
            "rate(3 weeks)",
            "cron(0 1 * * ? *)",
            "rate(3days)",
        ] {
            assert_eq!(rate(bad), None, "{bad}");
        }
    }

    #[test]
    fn each_login_failure_kind_has_its_own_hint() {
        let hints: Vec<String> = [
            ErrorKind::Unreachable,
            ErrorKind::LoginRefused,
            ErrorKind::Tls,
            ErrorKind::Permission,
            ErrorKind::Configuration,
            ErrorKind::InvalidSecret,
            ErrorKind::Target,
        ]
        .into_iter()
        .map(|k| login_fix(k, "master secret"))
        .collect();
        for (i, h) in hints.iter().enumerate() {
            assert!(!hints[..i].contains(h), "{h}");
        }
        assert!(hints[0].contains("\"port\""));
        assert!(hints[1].contains("changed outside rotation"));
        assert!(hints[2].contains("ROTATION_CA_FILE") && hints[2].contains("ROTATION_TLS_MODE"));
        assert!(hints[3].contains("grant"));
    }
}
