//! The subcommands.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::time::Instant;

use rotwise_core::password::PasswordPolicy;
use rotwise_core::store::{
    AWSCURRENT, AWSPENDING, CreateSecret, PutSecretValue, SecretDescription, SecretStore,
    StoreErrorKind, UpdateVersionStage,
};
use rotwise_core::{Driver, RotationEvent, Step};
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use rotwise_mysql::MysqlRotator;
use rotwise_postgres::{PgRotator, PgSecret};

use crate::engines::{self, Check, Engine};
use crate::{Backend, Failure, my, pg};

fn date(t: Option<OffsetDateTime>) -> Value {
    t.and_then(|t| t.format(&Rfc3339).ok())
        .map(Value::String)
        .unwrap_or(Value::Null)
}

fn print_json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

/// Read a JSON object from FILE or stdin. Errors never quote the input.
fn read_json_object(source: &str) -> Result<Map<String, Value>, Failure> {
    let text = if source == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Failure::bad_input(format!("cannot read stdin: {e}")))?;
        s
    } else {
        std::fs::read_to_string(source)
            .map_err(|e| Failure::bad_input(format!("cannot read {source}: {e}")))?
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Failure::bad_input(format!(
            "{source}: the secret must be a JSON object, not {}",
            kind_of(&other)
        ))),
        Err(e) => Err(Failure::bad_input(format!(
            "{source}: malformed JSON ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

async fn describe(store: &dyn SecretStore, secret: &str) -> Result<SecretDescription, Failure> {
    store
        .describe_secret(secret)
        .await
        .map_err(|e| Failure::store(secret, e))
}

/// Create `secret` with `value`, or put `value` as a new AWSCURRENT version.
async fn put_value(
    store: &dyn SecretStore,
    secret: &str,
    value: String,
) -> Result<(bool, String, String), Failure> {
    match store.describe_secret(secret).await {
        Ok(d) => {
            let out = store
                .put_secret_value(PutSecretValue {
                    secret_id: d.arn.clone(),
                    token: uuid::Uuid::new_v4().to_string(),
                    payload: value.into(),
                    stages: vec![AWSCURRENT.to_string()],
                    rotation_token: None,
                })
                .await
                .map_err(|e| Failure::store(secret, e))?;
            Ok((false, out.arn, out.version_id))
        }
        Err(e) if e.is_not_found() => {
            let out = store
                .create_secret(CreateSecret {
                    name: secret.to_string(),
                    payload: Some(value.into()),
                    token: Some(uuid::Uuid::new_v4().to_string()),
                    description: None,
                })
                .await
                .map_err(|e| Failure::store(secret, e))?;
            Ok((true, out.arn, out.version_id))
        }
        Err(e) => Err(Failure::store(secret, e)),
    }
}

pub async fn put(backend: &Backend, secret: &str, source: &str, json: bool) -> Result<(), Failure> {
    let map = read_json_object(source)?;
    let store = backend.store();
    let (created, arn, version) =
        put_value(store.as_ref(), secret, Value::Object(map).to_string()).await?;
    if json {
        print_json(&json!({
            "secret": secret, "arn": arn, "version_id": version, "created": created,
            "stages": [AWSCURRENT],
        }));
    } else if created {
        println!("created secret {secret} ({arn}); version {version} is AWSCURRENT");
    } else {
        println!("put version {version} of {secret} as AWSCURRENT");
    }
    Ok(())
}

/// `var` (`ROTATION_TEST_PG_URL`, `ROTATION_TEST_MYSQL_URL`), else the same line in the
/// `scripts/services` env file.
fn default_url(var: &str) -> Option<String> {
    if let Ok(u) = std::env::var(var)
        && !u.is_empty()
    {
        return Some(u);
    }
    let dir = std::env::var("ROTATION_SERVICES_DIR")
        .ok()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "/tmp/rotwise-services".into());
    let text = std::fs::read_to_string(std::path::Path::new(&dir).join("env")).ok()?;
    let prefix = format!("{var}=");
    text.lines().find_map(|l| {
        let l = l.trim().strip_prefix("export ").unwrap_or(l.trim());
        l.strip_prefix(prefix.as_str())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

/// `init-demo`'s options.
pub struct InitDemoOptions {
    pub engine: String,
    pub pg_url: Option<String>,
    pub mysql_url: Option<String>,
    pub name: Option<String>,
}

pub async fn init_demo(
    backend: &Backend,
    opts: InitDemoOptions,
    json: bool,
) -> Result<(), Failure> {
    let engine = match Engine::from_engine_key(&opts.engine) {
        Some(e @ (Engine::Postgres | Engine::Mysql)) => e,
        _ => {
            return Err(Failure::bad_input(format!(
                "unknown engine {:?} for init-demo; use postgres or mysql",
                opts.engine
            )));
        }
    };
    let policy = engine.password_policy().map_err(Failure::bad_input)?;
    match engine {
        Engine::Mysql => {
            if opts.pg_url.is_some() {
                return Err(Failure::bad_input(
                    "--pg-url is for --engine postgres; use --mysql-url",
                ));
            }
            init_demo_mysql(backend, opts, &policy, json).await
        }
        _ => {
            if opts.mysql_url.is_some() {
                return Err(Failure::bad_input(
                    "--mysql-url is for --engine mysql; use --pg-url",
                ));
            }
            init_demo_postgres(backend, opts, &policy, json).await
        }
    }
}

fn demo_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

async fn init_demo_postgres(
    backend: &Backend,
    opts: InitDemoOptions,
    policy: &PasswordPolicy,
    json: bool,
) -> Result<(), Failure> {
    let url = opts.pg_url.or_else(|| default_url("ROTATION_TEST_PG_URL")).ok_or_else(|| {
        Failure::bad_input(
            "no PostgreSQL URL: pass --pg-url postgres://ADMIN:PASSWORD@HOST:PORT/DB, or run `scripts/services up` for the private test server",
        )
    })?;
    let name = opts.name.unwrap_or_else(|| "demo/postgres".into());
    let admin =
        pg::Target::from_url(&url).map_err(|e| Failure::bad_input(format!("--pg-url: {e}")))?;
    let admin_secret = PgSecret::parse_str(&admin.to_secret().to_string())
        .map_err(|e| Failure::bad_input(format!("--pg-url: {e}")))?;
    let rotator = PgRotator::new(engines::pg_options().map_err(Failure::bad_input)?);
    let client = rotator.connect(&admin_secret).await.map_err(|e| {
        Failure::failed(format!(
            "cannot log in to PostgreSQL at {}:{} as {}: {e}",
            admin.host, admin.port, admin.user
        ))
    })?;
    let role = demo_name("rotwise_demo");
    let password = policy
        .generate()
        .map_err(|e| Failure::failed(format!("cannot generate a password: {e}")))?;
    // The server only ever sees a SCRAM verifier, so the statement log holds no password.
    let verifier = rotwise_postgres::sql::scram_verifier(&password);
    let sql = format!(
        "CREATE ROLE {} LOGIN PASSWORD '{}'",
        pg::quote_ident(&role),
        verifier.replace('\'', "''")
    );
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| Failure::failed(format!("cannot create role {role}: {e}")))?;
    let mut secret = Map::new();
    secret.insert("engine".into(), "postgres".into());
    secret.insert("host".into(), admin.host.clone().into());
    secret.insert("port".into(), admin.port.into());
    secret.insert("username".into(), role.clone().into());
    secret.insert("password".into(), password.expose_secret().into());
    secret.insert("dbname".into(), admin.dbname.clone().into());
    let store = backend.store();
    let (created, arn, version) =
        put_value(store.as_ref(), &name, Value::Object(secret).to_string()).await?;
    if json {
        print_json(&json!({
            "secret": name, "arn": arn, "version_id": version, "created": created,
            "engine": "postgres", "role": role, "host": admin.host, "port": admin.port,
            "dbname": admin.dbname,
        }));
    } else {
        println!(
            "created login role {role} on {}:{}/{} with a random password",
            admin.host, admin.port, admin.dbname
        );
        print_demo_next(&name, created, &version);
    }
    Ok(())
}

fn print_demo_next(name: &str, created: bool, version: &str) {
    println!(
        "{} secret {name} (version {version} is AWSCURRENT)",
        if created { "created" } else { "updated" }
    );
    println!("next: rotwise rotate {name}");
}

async fn init_demo_mysql(
    backend: &Backend,
    opts: InitDemoOptions,
    policy: &PasswordPolicy,
    json: bool,
) -> Result<(), Failure> {
    let url = opts.mysql_url.or_else(|| default_url("ROTATION_TEST_MYSQL_URL")).ok_or_else(|| {
        Failure::bad_input(
            "no MySQL URL: pass --mysql-url mysql://ADMIN:PASSWORD@HOST:PORT, or run `scripts/services up` for the private test MariaDB",
        )
    })?;
    let name = opts.name.unwrap_or_else(|| "demo/mysql".into());
    let admin =
        my::Admin::from_url(&url).map_err(|e| Failure::bad_input(format!("--mysql-url: {e}")))?;
    let rotator = MysqlRotator::new(engines::mysql_options().map_err(Failure::bad_input)?);
    let mut conn = admin.connect(&rotator).await.map_err(|e| {
        Failure::failed(format!(
            "cannot log in to MySQL at {}:{} as {}: {e}",
            admin.host, admin.port, admin.user
        ))
    })?;
    let user = demo_name("rotwise_demo");
    let password = policy
        .generate()
        .map_err(|e| Failure::failed(format!("cannot generate a password: {e}")))?;
    let created_user = my::create_user(&mut conn, &user, &password).await;
    let _ = conn.disconnect().await;
    let demo = created_user.map_err(Failure::failed)?;
    let secret = my::demo_secret(&admin, &demo, &user, &password);
    let store = backend.store();
    let (created, arn, version) = put_value(store.as_ref(), &name, secret.to_string()).await?;
    if json {
        print_json(&json!({
            "secret": name, "arn": arn, "version_id": version, "created": created,
            "engine": demo.engine, "user": user, "account_host": demo.account_host,
            "host": admin.host, "port": admin.port,
        }));
    } else {
        println!(
            "created user '{user}'@'{}' on {} {}:{} with a random password",
            demo.account_host, demo.engine, admin.host, admin.port
        );
        print_demo_next(&name, created, &version);
    }
    Ok(())
}

pub struct RotateOptions {
    pub engine: Option<String>,
    pub example: Option<String>,
    pub resume: bool,
}

fn parse_object(text: &str, what: &str) -> Result<Value, Failure> {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(Failure::bad_input(format!(
            "{what} is {}, not a JSON object",
            kind_of(&other)
        ))),
        Err(e) => Err(Failure::bad_input(format!(
            "{what} is not valid JSON ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))),
    }
}

fn select_engine(opts: &RotateOptions, current: Option<&Value>) -> Result<Engine, Failure> {
    if let Some(ex) = &opts.example {
        return Engine::from_example(ex).ok_or_else(|| {
            Failure::bad_input(format!(
                "unknown example {ex:?}; examples: {}",
                engines::EXAMPLES
            ))
        });
    }
    let key = match (&opts.engine, current) {
        (Some(e), _) => e.clone(),
        (None, Some(v)) => match v.get("engine") {
            Some(Value::String(e)) => e.clone(),
            _ => {
                return Err(Failure::bad_input(format!(
                    "the secret has no string \"engine\" key; add one ({}) or use --engine / --example random-string",
                    engines::KNOWN_ENGINES
                )));
            }
        },
        (None, None) => unreachable_engine()?,
    };
    Engine::from_engine_key(&key).ok_or_else(|| {
        Failure::bad_input(format!(
            "unknown engine {key:?}; known engines: {} (or --example random-string)",
            engines::KNOWN_ENGINES
        ))
    })
}

fn unreachable_engine() -> Result<String, Failure> {
    Err(Failure::bad_input(
        "the secret is not a JSON object; use --example random-string",
    ))
}

fn labels(d: &SecretDescription) -> BTreeMap<String, Vec<String>> {
    d.versions.clone()
}

fn labels_text(l: &BTreeMap<String, Vec<String>>) -> String {
    l.iter()
        .map(|(id, s)| format!("{id} [{}]", s.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `rotate --aws`: ask the service to rotate; its rotation function runs the steps.
pub async fn rotate_on_service(
    store: &rotwise_core::store::AwsStore,
    secret: &str,
    json: bool,
) -> Result<(), Failure> {
    let version = match store.rotate_secret(secret).await {
        Ok(v) => v,
        Err(e) if e.kind == rotwise_core::store::StoreErrorKind::InvalidRequest => {
            return Err(Failure::failed(format!(
                "{e}; `rotwise doctor --aws {secret}` finds what blocks it"
            )));
        }
        Err(e) => return Err(Failure::store(secret, e)),
    };
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

pub async fn rotate(
    backend: &Backend,
    secret: &str,
    opts: &RotateOptions,
    json: bool,
) -> Result<(), Failure> {
    let Backend::File(file) = backend else {
        return Err(Failure::bad_input("rotate needs the file store"));
    };
    let store = backend.store();
    let before = describe(store.as_ref(), secret).await?;
    let current = store
        .get_secret_value(&before.arn, None, Some(AWSCURRENT))
        .await
        .map_err(|e| match e.kind {
            StoreErrorKind::ResourceNotFound => Failure::bad_input(format!(
                "secret {secret} has no AWSCURRENT value; `rotwise put {secret} --from-json FILE` first"
            )),
            _ => Failure::failed(e.to_string()),
        })?;
    let current_text = current
        .payload
        .as_string()
        .ok_or_else(|| {
            Failure::bad_input(format!("secret {secret} is binary; rotate string secrets"))
        })?
        .expose_secret()
        .to_string();
    let current_value = if opts.example.is_some() {
        serde_json::from_str::<Value>(&current_text).ok()
    } else {
        Some(parse_object(
            &current_text,
            &format!("secret {secret}'s AWSCURRENT value"),
        )?)
    };
    let engine = select_engine(opts, current_value.as_ref())?;
    let rotator = engine
        .rotator(current_value.as_ref().unwrap_or(&Value::Null))
        .map_err(|e| Failure::bad_input(format!("engine {}: {e}", engine.name())))?;
    let passwords = engine
        .passwords()
        .map_err(|e| Failure::bad_input(format!("engine {}: {e}", engine.name())))?;

    let token = if opts.resume {
        before
            .version_with_stage(AWSPENDING)
            .map(str::to_string)
            .ok_or_else(|| {
                Failure::bad_input(format!(
                    "secret {secret} has no AWSPENDING version to resume"
                ))
            })?
    } else {
        file.begin_rotation(&before.arn).map_err(|e| match e.kind {
            StoreErrorKind::InvalidRequest => Failure::failed(format!(
                "RotateSecret: {}\nhint: `rotwise doctor {secret}` shows the stuck version; `rotwise rotate {secret} --resume` finishes it, `rotwise doctor {secret} --fix` discards it",
                e.message
            )),
            _ => Failure::store(secret, e),
        })?
    };
    if !json {
        println!("rotating {secret} with {} (token {token})", engine.name());
        println!("  labels before: {}", labels_text(&labels(&before)));
    }

    let driver = Driver::new(store.clone(), rotator).with_passwords(passwords);
    let mut steps = Vec::new();
    let mut failure = None;
    for step in Step::ALL {
        let started = Instant::now();
        let result = driver
            .handle(&RotationEvent::new(step, before.arn.clone(), token.clone()))
            .await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(outcome) => {
                if !json {
                    println!("  {:<13} ok      {:>8.1} ms", step.as_str(), ms);
                }
                steps.push(json!({"step": step.as_str(), "ok": true, "duration_ms": ms, "outcome": format!("{outcome:?}")}));
            }
            Err(e) => {
                if !json {
                    println!("  {:<13} FAILED  {:>8.1} ms", step.as_str(), ms);
                }
                steps.push(json!({"step": step.as_str(), "ok": false, "duration_ms": ms, "error": e.to_string()}));
                failure = Some((step, e.to_string()));
                break;
            }
        }
    }
    let mut result = json!({
        "secret": secret,
        "arn": before.arn,
        "engine": engine.name(),
        "token": token,
        "labels_before": labels(&before),
        "steps": steps,
    });
    if let Some((step, message)) = failure {
        result["ok"] = false.into();
        result["error"] = json!({"step": step.as_str(), "message": message});
        if let Ok(d) = store.describe_secret(&before.arn).await {
            result["labels_after"] = json!(labels(&d));
        }
        if json {
            print_json(&result);
        }
        return Err(Failure::failed(format!(
            "rotation of {secret} failed at {step}: {message}\nthe version {token} keeps AWSPENDING; fix the cause, then `rotwise rotate {secret} --resume` (or `rotwise doctor {secret} --fix` to discard it)"
        )));
    }
    file.complete_rotation(&before.arn, &token)
        .map_err(|e| Failure::failed(e.to_string()))?;
    let after = describe(store.as_ref(), secret).await?;
    result["labels_after"] = json!(labels(&after));
    if !json {
        println!("  labels after:  {}", labels_text(&labels(&after)));
    }

    let new_value = store
        .get_secret_value(&after.arn, None, Some(AWSCURRENT))
        .await
        .ok()
        .and_then(|v| v.payload.as_string().map(|s| s.expose_secret().to_string()))
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .unwrap_or(Value::Null);
    let proof = engine
        .prove(current_value.as_ref().unwrap_or(&Value::Null), &new_value)
        .await;
    let detail = |c: &Check| match c {
        Check::Error(e) => json!({"result": c.as_str(), "error": e}),
        _ => json!({"result": c.as_str()}),
    };
    result["proof"] = json!({
        "new_login": detail(&proof.new_login),
        "old_login": detail(&proof.old_login),
        "warning": proof.warning,
    });
    result["ok"] = (!proof.failed()).into();
    if json {
        print_json(&result);
    } else {
        let line = |who: &str, c: &Check| match c {
            Check::Error(e) => println!("  {who}: could not check ({e})"),
            Check::Skipped => {}
            _ => println!("  {who}: {}", c.as_str()),
        };
        line("new password login", &proof.new_login);
        line("old password login", &proof.old_login);
        if let Some(w) = &proof.warning {
            eprintln!("WARNING: {w}");
        }
    }
    if proof.failed() {
        return Err(Failure::failed(format!(
            "rotation of {secret} completed, but the new credential does not log in"
        )));
    }
    if !json {
        println!("rotated {secret}: version {token} is AWSCURRENT");
    }
    Ok(())
}

pub async fn status(backend: &Backend, secret: &str, json: bool) -> Result<(), Failure> {
    let store = backend.store();
    let d = describe(store.as_ref(), secret).await?;
    let mut versions = store
        .list_secret_version_ids(&d.arn)
        .await
        .map_err(|e| Failure::store(secret, e))?;
    versions.sort_by_key(|v| v.created);
    if json {
        print_json(&json!({
            "name": d.name,
            "arn": d.arn,
            "description": d.description,
            "rotation": {
                "enabled": d.rotation_enabled,
                "lambda_arn": d.rotation_lambda_arn,
                "automatically_after_days": d.rotation_days,
                "schedule_expression": d.rotation_schedule,
                "last_rotated": date(d.last_rotated),
            },
            "versions": versions.iter().map(|v| json!({
                "version_id": v.version_id,
                "stages": v.stages,
                "created": date(v.created),
                "deprecated": v.stages.is_empty(),
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    println!("{}  ({})", d.name, d.arn);
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    println!(
        "rotation: enabled={}  lambda={}  every={}  schedule={}  last rotated={}",
        opt(d.rotation_enabled.map(|b| b.to_string())),
        opt(d.rotation_lambda_arn.clone()),
        opt(d.rotation_days.map(|n| format!("{n} days"))),
        opt(d.rotation_schedule.clone()),
        opt(d.last_rotated.and_then(|t| t.format(&Rfc3339).ok())),
    );
    println!("versions ({}):", versions.len());
    for v in &versions {
        let stages = if v.stages.is_empty() {
            "(deprecated)".to_string()
        } else {
            v.stages.join(", ")
        };
        println!(
            "  {}  {:<32}  created {}",
            v.version_id,
            stages,
            opt(v.created.and_then(|t| t.format(&Rfc3339).ok()))
        );
    }
    Ok(())
}

struct Finding {
    code: &'static str,
    message: String,
    fix: String,
}

pub async fn doctor(
    backend: &Backend,
    secret: &str,
    fix: bool,
    yes: bool,
    json: bool,
) -> Result<(), Failure> {
    let store = backend.store();
    let d = describe(store.as_ref(), secret).await?;
    let mut findings = Vec::new();

    if d.rotation_enabled == Some(false) {
        findings.push(Finding {
            code: "rotation_disabled",
            message: format!("Secret {} is not enabled for rotation", d.arn),
            fix: if backend.is_file() {
                format!("`rotwise rotate {secret}` turns rotation on, as RotateSecret does")
            } else {
                format!(
                    "`aws secretsmanager rotate-secret --secret-id {secret} --rotation-lambda-arn ARN` turns rotation on"
                )
            },
        });
    }

    let current_id = d.version_with_stage(AWSCURRENT).map(str::to_string);
    let stale = d
        .version_with_stage(AWSPENDING)
        .filter(|id| !d.has_stage(id, AWSCURRENT))
        .map(str::to_string);
    if let Some(id) = &stale {
        let has_value = store
            .get_secret_value(&d.arn, Some(id), Some(AWSPENDING))
            .await
            .is_ok();
        findings.push(Finding {
            code: "stale_pending",
            message: format!(
                "version {id} holds AWSPENDING without AWSCURRENT: A previous rotation isn't complete. That rotation will be reattempted.{}",
                if has_value {
                    " It holds a value: if setSecret already ran, the target may accept only that value now."
                } else {
                    " It holds no value (the rotation stopped before createSecret)."
                }
            ),
            fix: if backend.is_file() {
                format!(
                    "`rotwise doctor {secret} --fix` removes the label (UpdateSecretVersionStage with RemoveFromVersionId={id}); or `rotwise rotate {secret} --resume` to finish that rotation"
                )
            } else {
                format!(
                    "`rotwise --endpoint/--aws doctor {secret} --fix` removes the label (UpdateSecretVersionStage with RemoveFromVersionId={id}); or invoke the rotation function again"
                )
            },
        });
    }

    if current_id.is_none() {
        findings.push(Finding {
            code: "no_current",
            message: "no version holds AWSCURRENT: there is nothing to rotate from".into(),
            fix: format!("`rotwise put {secret} --from-json FILE`"),
        });
    } else {
        check_value(store.as_ref(), &d, secret, &mut findings).await;
    }

    let mut fixed = Vec::new();
    let mut refused = None;
    if fix && let Some(id) = &stale {
        let go = if yes {
            true
        } else if std::io::stdin().is_terminal() {
            eprint!("Remove AWSPENDING from version {id} of {secret}? [y/N] ");
            let mut answer = String::new();
            std::io::stdin().read_line(&mut answer).ok();
            matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
        } else {
            refused =
                Some("not fixing: stdin is not a terminal and --yes was not given".to_string());
            false
        };
        if go {
            store
                .update_secret_version_stage(UpdateVersionStage {
                    secret_id: d.arn.clone(),
                    stage: AWSPENDING.to_string(),
                    move_to: None,
                    remove_from: Some(id.clone()),
                })
                .await
                .map_err(|e| Failure::failed(format!("cannot remove AWSPENDING: {e}")))?;
            fixed.push("stale_pending");
        } else if refused.is_none() {
            refused = Some("not fixing: not confirmed".to_string());
        }
    }
    let remaining: Vec<&Finding> = findings
        .iter()
        .filter(|f| !fixed.contains(&f.code))
        .collect();

    if json {
        print_json(&json!({
            "secret": secret,
            "arn": d.arn,
            "ok": remaining.is_empty(),
            "findings": findings.iter().map(|f| json!({
                "code": f.code, "message": f.message, "fix": f.fix,
                "fixed": fixed.contains(&f.code),
            })).collect::<Vec<_>>(),
            "not_fixed_reason": refused,
        }));
    } else {
        if findings.is_empty() {
            println!("{secret}: nothing blocks rotation");
        }
        for f in &findings {
            let state = if fixed.contains(&f.code) {
                "FIXED"
            } else {
                "PROBLEM"
            };
            println!("{state} [{}] {}", f.code, f.message);
            if !fixed.contains(&f.code) {
                println!("  fix: {}", f.fix);
            }
        }
        if let Some(r) = &refused {
            eprintln!("{r}");
        }
    }
    if remaining.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "{} problem(s) block rotation of {secret}",
            remaining.len()
        )))
    }
}

async fn check_value(
    store: &dyn SecretStore,
    d: &SecretDescription,
    secret: &str,
    findings: &mut Vec<Finding>,
) {
    let current = match store.get_secret_value(&d.arn, None, Some(AWSCURRENT)).await {
        Ok(v) => v,
        Err(e) => {
            findings.push(Finding {
                code: "current_unreadable",
                message: format!("cannot read the AWSCURRENT value: {e}"),
                fix: "check permissions (secretsmanager:GetSecretValue)".into(),
            });
            return;
        }
    };
    let Some(text) = current.payload.as_string() else {
        findings.push(Finding {
            code: "binary_secret",
            message: "the AWSCURRENT value is binary; engines read a JSON SecretString".into(),
            fix: format!("`rotwise put {secret} --from-json FILE` with a JSON object"),
        });
        return;
    };
    let value = match serde_json::from_str::<Value>(text.expose_secret()) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            findings.push(Finding {
                code: "not_json_object",
                message: "the AWSCURRENT value is not a JSON object".into(),
                fix: format!(
                    "`rotwise put {secret} --from-json FILE` with {{\"engine\",\"host\",\"username\",\"password\",...}}, or rotate it with --example random-string"
                ),
            });
            return;
        }
    };
    let engine_key = value.get("engine").and_then(Value::as_str);
    let Some(engine) = engine_key.and_then(Engine::from_engine_key) else {
        findings.push(Finding {
            code: "unknown_engine",
            message: match engine_key {
                Some(e) => format!("unknown engine {e:?}"),
                None => "the secret JSON has no \"engine\" key".into(),
            },
            fix: format!(
                "set \"engine\" to one of: {} (or rotate with --example random-string)",
                engines::KNOWN_ENGINES
            ),
        });
        return;
    };
    let master = value.get("masterarn").and_then(Value::as_str);
    let alternating = master.is_some();
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
    if !missing.is_empty() {
        findings.push(Finding {
            code: "missing_keys",
            message: format!(
                "the secret JSON lacks {} for engine {}{}",
                missing.join(", "),
                engine.name(),
                if alternating {
                    " (alternating users)"
                } else {
                    ""
                }
            ),
            fix: format!("`rotwise put {secret} --from-json FILE` with the keys added"),
        });
    }
    if let Err(e) = engine.check_environment() {
        findings.push(Finding {
            code: "invalid_environment",
            message: format!("engine {}: {e}", engine.name()),
            fix: "correct or unset the variable (the rotation Lambda reads the same ones)".into(),
        });
    }
    let limit = engine.username_limit(engine_key.unwrap_or_default());
    if let (Some(user), Some(limit)) = (value.get("username").and_then(Value::as_str), limit) {
        let base = match user.strip_suffix("_clone") {
            Some(b) if !b.is_empty() => b,
            _ => user,
        };
        let clone = format!("{base}_clone");
        let (user_len, clone_len) = (limit.len(user), limit.len(&clone));
        let unit = limit.unit;
        if user_len > limit.max {
            findings.push(Finding {
                code: "username_too_long",
                message: format!(
                    "username is {user_len} {unit}; {} have at most {} {unit}",
                    limit.what, limit.max
                ),
                fix: "use a shorter user name".into(),
            });
        } else if alternating && clone_len > limit.max {
            findings.push(Finding {
                code: "clone_name_too_long",
                message: format!(
                    "alternating rotation needs the user {clone}, {clone_len} {unit}; {} have at most {} {unit}",
                    limit.what, limit.max
                ),
                fix: format!(
                    "shorten the base username to at most {} {unit}",
                    limit.max.saturating_sub("_clone".len())
                ),
            });
        }
    }
    if let Some(master) = master {
        match store.get_secret_value(master, None, Some(AWSCURRENT)).await {
            Err(e) => findings.push(Finding {
                code: "master_missing",
                message: format!("the master secret {master} cannot be read: {e}"),
                fix: "create the master secret, or fix \"masterarn\"".into(),
            }),
            Ok(m) => {
                let mv = m
                    .payload
                    .as_string()
                    .and_then(|s| serde_json::from_str::<Value>(s.expose_secret()).ok())
                    .filter(|v| {
                        ["host", "username", "password"]
                            .iter()
                            .all(|k| v.get(*k).and_then(Value::as_str).is_some())
                    });
                match mv {
                    Some(mv) => {
                        if let Err(why) = engine.master_login(&mv).await {
                            let s = |k: &str| mv.get(k).and_then(Value::as_str).unwrap_or("");
                            findings.push(Finding {
                                code: "master_login_failed",
                                message: format!(
                                    "the master secret {master} does not log in to {} as {}: {why}",
                                    s("host"),
                                    s("username")
                                ),
                                fix: "rotate or correct the master secret first".into(),
                            });
                        }
                    }
                    None => findings.push(Finding {
                        code: "master_incomplete",
                        message: format!(
                            "the master secret {master} is not a JSON object with host, username and password"
                        ),
                        fix: "add host/port/engine/username/password to the master secret".into(),
                    }),
                }
            }
        }
    }
}

pub async fn debug_begin(backend: &Backend, secret: &str) -> Result<(), Failure> {
    let Backend::File(file) = backend else {
        return Err(Failure::bad_input(
            "debug begin-rotation needs the file store",
        ));
    };
    let token = file
        .begin_rotation(secret)
        .map_err(|e| Failure::store(secret, e))?;
    println!("{token}");
    Ok(())
}

pub async fn debug_put_pending(
    backend: &Backend,
    secret: &str,
    source: &str,
) -> Result<(), Failure> {
    let map = read_json_object(source)?;
    let store = backend.store();
    let token = uuid::Uuid::new_v4().to_string();
    store
        .put_secret_value(PutSecretValue {
            secret_id: secret.to_string(),
            token: token.clone(),
            payload: Value::Object(map).to_string().into(),
            stages: vec![AWSPENDING.to_string()],
            rotation_token: None,
        })
        .await
        .map_err(|e| Failure::store(secret, e))?;
    println!("{token}");
    Ok(())
}

pub async fn debug_set_rotation(
    backend: &Backend,
    secret: &str,
    enabled: bool,
) -> Result<(), Failure> {
    let Backend::File(file) = backend else {
        return Err(Failure::bad_input(
            "debug set-rotation needs the file store",
        ));
    };
    file.configure_rotation(secret, Some(enabled), None, None)
        .map_err(|e| Failure::store(secret, e))
}
