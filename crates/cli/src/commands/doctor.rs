//! `doctor`: find what blocks rotation and say how to fix it; `--fix` clears a stale
//! AWSPENDING.

use std::io::IsTerminal;

use clap::Args;
use rotwise_core::ErrorKind;
use rotwise_core::config::Env;
use rotwise_core::store::{
    AWSCURRENT, AWSPENDING, SecretDescription, SecretStore, UpdateVersionStage,
};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::output::print_json;
use super::{Ctx, describe};
use crate::engines::{self, Check, Engine};
use crate::error::CliError;

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// The secret's name (or ARN).
    pub secret: String,
    /// Remove a stale AWSPENDING label (asks first unless --yes).
    #[arg(long)]
    pub fix: bool,
    /// Do not ask before fixing.
    #[arg(long, requires = "fix")]
    pub yes: bool,
}

/// A problem that blocks rotation.
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

/// What `--fix` did.
#[derive(Default)]
struct Fixes {
    fixed: Vec<&'static str>,
    /// Why nothing was fixed.
    refused: Option<String>,
}

pub async fn run(args: DoctorArgs, ctx: &Ctx) -> Result<(), CliError> {
    let secret = args.secret.as_str();
    let store = ctx.backend.store();
    let d = describe(store.as_ref(), secret).await?;
    let on_file = ctx.backend.is_file();
    let mut findings = Vec::new();
    findings.extend(rotation_disabled(&d, secret, on_file));
    let stale = d
        .version_with_stage(AWSPENDING)
        .filter(|id| !d.has_stage(id, AWSCURRENT))
        .map(str::to_string);
    if let Some(id) = &stale {
        findings.push(stale_pending(store.as_ref(), &d, id, secret, on_file).await);
    }
    if d.version_with_stage(AWSCURRENT).is_none() {
        findings.push(Finding::new(
            "no_current",
            "no version holds AWSCURRENT: there is nothing to rotate from",
            format!("`rotwise put {secret} --from-json FILE`"),
        ));
    } else {
        check_value(store.as_ref(), &ctx.env, &d, secret, &mut findings).await;
    }
    let fixes = match (&stale, args.fix) {
        (Some(id), true) => fix_stale(store.as_ref(), &d, id, secret, args.yes).await?,
        _ => Fixes::default(),
    };
    report(secret, &d, &findings, &fixes, ctx.json);
    let remaining = findings
        .iter()
        .filter(|f| !fixes.fixed.contains(&f.code))
        .count();
    if remaining == 0 {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{remaining} problem(s) block rotation of {secret}"
        )))
    }
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

async fn stale_pending(
    store: &dyn SecretStore,
    d: &SecretDescription,
    id: &str,
    secret: &str,
    on_file: bool,
) -> Finding {
    let has_value = store
        .get_secret_value(&d.arn, Some(id), Some(AWSPENDING))
        .await
        .is_ok();
    Finding::new(
        "stale_pending",
        format!(
            "version {id} holds AWSPENDING without AWSCURRENT: A previous rotation isn't complete. That rotation will be reattempted.{}",
            if has_value {
                " It holds a value: if setSecret already ran, the target may accept only that value now."
            } else {
                " It holds no value (the rotation stopped before createSecret)."
            }
        ),
        if on_file {
            format!(
                "`rotwise doctor {secret} --fix` removes the label (UpdateSecretVersionStage with RemoveFromVersionId={id}); or `rotwise rotate {secret} --resume` to finish that rotation"
            )
        } else {
            format!(
                "`rotwise --endpoint/--aws doctor {secret} --fix` removes the label (UpdateSecretVersionStage with RemoveFromVersionId={id}); or invoke the rotation function again"
            )
        },
    )
}

/// Remove AWSPENDING from the stale version `id`, after asking unless `yes`.
async fn fix_stale(
    store: &dyn SecretStore,
    d: &SecretDescription,
    id: &str,
    secret: &str,
    yes: bool,
) -> Result<Fixes, CliError> {
    let go = if yes {
        true
    } else if std::io::stdin().is_terminal() {
        eprint!("Remove AWSPENDING from version {id} of {secret}? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).ok();
        matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
    } else {
        return Ok(Fixes {
            fixed: vec![],
            refused: Some("not fixing: stdin is not a terminal and --yes was not given".into()),
        });
    };
    if !go {
        return Ok(Fixes {
            fixed: vec![],
            refused: Some("not fixing: not confirmed".into()),
        });
    }
    store
        .update_secret_version_stage(UpdateVersionStage {
            secret_id: d.arn.clone(),
            stage: AWSPENDING.to_string(),
            move_to: None,
            remove_from: Some(id.to_string()),
        })
        .await
        .map_err(|e| CliError::store_with(format!("cannot remove AWSPENDING: {e}"), e))?;
    Ok(Fixes {
        fixed: vec!["stale_pending"],
        refused: None,
    })
}

fn report(secret: &str, d: &SecretDescription, findings: &[Finding], fixes: &Fixes, json: bool) {
    let fixed = |f: &Finding| fixes.fixed.contains(&f.code);
    if json {
        print_json(&json!({
            "secret": secret,
            "arn": d.arn,
            "ok": findings.iter().all(fixed),
            "findings": findings.iter().map(|f| json!({
                "code": f.code, "message": f.message, "fix": f.fix,
                "fixed": fixed(f),
            })).collect::<Vec<_>>(),
            "not_fixed_reason": fixes.refused,
        }));
        return;
    }
    if findings.is_empty() {
        println!("{secret}: nothing blocks rotation");
    }
    for f in findings {
        let state = if fixed(f) { "FIXED" } else { "PROBLEM" };
        println!("{state} [{}] {}", f.code, f.message);
        if !fixed(f) {
            println!("  fix: {}", f.fix);
        }
    }
    if let Some(r) = &fixes.refused {
        eprintln!("{r}");
    }
}

/// The AWSCURRENT value: a JSON object an engine can use, with its keys, environment,
/// user name limits and master secret.
async fn check_value(
    store: &dyn SecretStore,
    env: &Env,
    d: &SecretDescription,
    secret: &str,
    findings: &mut Vec<Finding>,
) {
    let value = match current_object(store, d, secret).await {
        Ok(v) => v,
        Err(f) => return findings.push(f),
    };
    let engine_key = value.get("engine").and_then(Value::as_str);
    let Some(engine) = engine_key.and_then(Engine::from_engine_key) else {
        return findings.push(Finding::new(
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
    };
    let master = value.get("masterarn").and_then(Value::as_str);
    findings.extend(missing_keys(engine, &value, master.is_some(), secret));
    if let Err(e) = engine.check_environment(env) {
        findings.push(Finding::new(
            "invalid_environment",
            format!("engine {}: {e}", engine.name()),
            "correct or unset the variable (the rotation Lambda reads the same ones)",
        ));
    }
    let engine_key = engine_key.unwrap_or_default();
    findings.extend(name_too_long(
        engine,
        env,
        engine_key,
        &value,
        master.is_some(),
    ));
    if let Some(master) = master {
        findings.extend(check_master(store, env, engine, master).await);
    }
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
async fn check_master(
    store: &dyn SecretStore,
    env: &Env,
    engine: Engine,
    master: &str,
) -> Option<Finding> {
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
    let mv = m
        .payload
        .as_string()
        .and_then(|s| serde_json::from_str::<Value>(s.expose_secret()).ok())
        .filter(|v| {
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
    let (kind, why) = master_login(env, engine, &mv).await?;
    let s = |k: &str| mv.get(k).and_then(Value::as_str).unwrap_or("");
    Some(Finding::new(
        "master_login_failed",
        format!(
            "the master secret {master} does not log in to {} as {}: {why}",
            s("host"),
            s("username")
        ),
        login_fix(kind, "master"),
    ))
}

/// Why the master value does not log in (its kind and the reason), `None` when it does.
async fn master_login(env: &Env, engine: Engine, master: &Value) -> Option<(ErrorKind, String)> {
    let probe = match engine.load(env) {
        Ok(loaded) => loaded.probe?,
        Err(e) => return Some((ErrorKind::Configuration, e.to_string())),
    };
    match Check::login(probe.as_ref(), master).await {
        Check::Accepted | Check::Skipped => None,
        Check::Refused => Some((
            ErrorKind::LoginRefused,
            "the server refused the password".into(),
        )),
        Check::Error { kind, message } => Some((kind, message)),
    }
}

/// What to do when the `whose` secret's login fails with `kind`.
fn login_fix(kind: ErrorKind, whose: &str) -> String {
    match kind {
        ErrorKind::Unreachable => format!(
            "the {whose} secret's server cannot be reached from here: check its \"host\" and \"port\", the network (VPN, security groups, firewall) and that the database is up"
        ),
        ErrorKind::LoginRefused => format!(
            "the password was changed outside rotation: put the working password as a new AWSCURRENT of the {whose} secret (`rotwise put`), or rotate or correct the {whose} secret first"
        ),
        ErrorKind::Tls => "TLS to the database failed: set ROTATION_CA_FILE to the CA bundle that signed the server's certificate (e.g. RDS's), or ROTATION_TLS_MODE=require for an endpoint whose certificate does not name the host".into(),
        ErrorKind::Permission => format!(
            "the {whose} user logs in but lacks a privilege: grant what the engine needs (CONNECT on the database; CREATEROLE on PostgreSQL, CREATE USER on MySQL)"
        ),
        ErrorKind::Configuration => {
            "correct or unset the variable (the rotation Lambda reads the same ones)".into()
        }
        ErrorKind::InvalidSecret => format!(
            "fix the {whose} secret's keys (engine, host, port, username, password)"
        ),
        _ => format!("rotate or correct the {whose} secret first"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        .map(|k| login_fix(k, "master"))
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
