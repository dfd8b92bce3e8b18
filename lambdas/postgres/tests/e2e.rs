//! End to end: the built Lambda binary as a real process under a local Lambda Runtime API,
//! Secrets Manager served by the test kit's local endpoint (the in-memory store over HTTP),
//! and the private PostgreSQL of `scripts/services up`.

use std::sync::Arc;
use std::time::Duration;

use rotwise_core::ExposeSecret;
use rotwise_core::store::{AWSCURRENT, AWSPENDING, AWSPREVIOUS, MemoryStore, SecretStore};
use rotwise_lambda::emulator::{LambdaProcess, Outcome, RuntimeApi};
use rotwise_postgres::sql::{quote_ident, quote_literal, scram_verifier};
use rotwise_test_services::{PgService, require_pg, run_then_cleanup, unique_name};
use rotwise_testkit::endpoint::LocalEndpoint;
use secrecy::SecretString;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_rotwise-lambda-postgres");
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);
const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

fn port(pg: &PgService) -> u16 {
    pg.admin_config()
        .get_ports()
        .first()
        .copied()
        .expect("ROTATION_TEST_PG_URL names the private server's port")
}

fn secret_json(pg: &PgService, user: &str, password: &str, masterarn: Option<&str>) -> String {
    let mut v = json!({
        "engine": "postgres",
        "host": "127.0.0.1",
        "port": port(pg),
        "username": user,
        "password": password,
        "dbname": "postgres",
        "ssl": true,
    });
    if let Some(arn) = masterarn {
        v["masterarn"] = Value::String(arn.to_string());
    }
    v.to_string()
}

/// A password that is easy to find in a log: the canary.
fn canary() -> String {
    format!("Canary-{}", &unique_name("c")[2..])
}

async fn create_role(pg: &PgService, name: &str, password: &str, attrs: &str) {
    pg.admin()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {} LOGIN {attrs} PASSWORD {}",
            quote_ident(name),
            quote_literal(&scram_verifier(&SecretString::from(password)))
        ))
        .await
        .unwrap_or_else(|e| panic!("create role {name}: {e}"));
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

async fn logs_in(pg: &PgService, user: &str, password: &str) -> bool {
    pg.connect_as(user, password).await.is_ok()
}

async fn password_in(store: &MemoryStore, arn: &str, stage: &str) -> (String, String) {
    let payload = store
        .get_secret_value(arn, None, Some(stage))
        .await
        .unwrap();
    let v: Value =
        serde_json::from_str(payload.payload.as_string().unwrap().expose_secret()).unwrap();
    (
        v["username"].as_str().unwrap().to_string(),
        v["password"].as_str().unwrap().to_string(),
    )
}

struct Harness {
    endpoint: LocalEndpoint,
    api: RuntimeApi,
    process: LambdaProcess,
}

impl Harness {
    async fn start(store: Arc<MemoryStore>, env: &[(&str, String)]) -> Harness {
        let endpoint = LocalEndpoint::start(store).unwrap();
        let api = RuntimeApi::start().await.unwrap();
        let mut all = vec![
            ("SECRETS_MANAGER_ENDPOINT", endpoint.url()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_string()),
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE".to_string()),
        ];
        all.extend(env.iter().cloned());
        let process = LambdaProcess::spawn(BIN.as_ref(), &api, &all).unwrap();
        assert!(
            api.wait_first_poll(Duration::from_secs(10)).await.is_some(),
            "the function never polled for work; stderr: {}",
            process.stderr()
        );
        Harness {
            endpoint,
            api,
            process,
        }
    }

    async fn step(&self, step: &str, arn: &str, token: &str) -> Outcome {
        let event = json!({"Step": step, "SecretId": arn, "ClientRequestToken": token});
        self.api.invoke(&event, INVOKE_TIMEOUT).await.unwrap()
    }

    /// The four steps through the Runtime API; each must answer `null`. Returns the
    /// Secrets Manager calls they made.
    async fn rotate(&self, arn: &str) -> (String, u64) {
        let token = self.endpoint.store().begin_rotation(arn).unwrap();
        self.endpoint.reset_calls();
        for step in STEPS {
            match self.step(step, arn, &token).await {
                Outcome::Response(Value::Null) => {}
                other => panic!(
                    "{step}: {other:?}\nlogs:\n{}{}",
                    self.process.stdout(),
                    self.process.stderr()
                ),
            }
        }
        let calls = self.endpoint.take_calls();
        eprintln!("Secrets Manager calls for one rotation: {calls:?}");
        self.endpoint
            .store()
            .complete_rotation(arn, &token)
            .unwrap();
        (token, calls.values().sum())
    }

    async fn logs(&mut self) -> String {
        self.process.stop().await;
        format!("{}{}", self.process.stdout(), self.process.stderr())
    }
}

fn tls_env(pg: &PgService, strategy: &str) -> Vec<(&'static str, String)> {
    vec![
        ("ROTATION_STRATEGY", strategy.to_string()),
        ("ROTATION_TLS_MODE", "verify-full".to_string()),
        ("ROTATION_CA_FILE", pg.ca.display().to_string()),
    ]
}

/// The JSON log lines the function wrote.
fn json_lines(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// The positive control for the "no secret in the logs" checks: the capture holds the
/// function's JSON lines at TRACE, including one "step succeeded" line per step with its
/// duration, span fields and the secret's ARN.
fn assert_log_capture_works(logs: &str, arn: &str) {
    let lines = json_lines(logs);
    for step in STEPS {
        assert!(
            lines.iter().any(|l| l["message"] == "step succeeded"
                && l["span"]["step"] == step
                && l["duration_ms"].is_number()),
            "no 'step succeeded' line with duration for {step}:\n{logs}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "TRACE" || l["level"] == "DEBUG"),
        "TRACE is in effect (some TRACE or DEBUG line is captured):\n{logs}"
    );
    assert!(logs.contains(arn), "span fields are captured");
}

#[tokio::test]
async fn single_user_rotation_through_the_runtime_api() {
    let Some(pg) = require_pg() else { return };
    let user = unique_name("rw_lpg_single");
    let roles = vec![user.clone()];
    let body = {
        let pg = pg.clone();
        async move {
            let initial = canary();
            create_role(&pg, &user, &initial, "").await;
            let store = Arc::new(MemoryStore::new());
            let arn = store
                .insert_secret("lambda/pg/single", &secret_json(&pg, &user, &initial, None))
                .unwrap();
            let old_version = store
                .describe_secret(&arn)
                .await
                .unwrap()
                .version_with_stage(AWSCURRENT)
                .unwrap()
                .to_string();
            let mut h = Harness::start(store.clone(), &tls_env(&pg, "single")).await;

            let (token, calls) = h.rotate(&arn).await;
            assert!(
                calls <= 11,
                "at most 11 Secrets Manager calls, made {calls}"
            );

            let d = store.describe_secret(&arn).await.unwrap();
            assert_eq!(d.version_with_stage(AWSCURRENT), Some(token.as_str()));
            assert_eq!(
                d.version_with_stage(AWSPREVIOUS),
                Some(old_version.as_str())
            );
            assert_eq!(d.version_with_stage(AWSPENDING), None);

            let (u, new) = password_in(&store, &arn, AWSCURRENT).await;
            assert_eq!(u, user);
            assert_ne!(new, initial);
            assert!(logs_in(&pg, &user, &new).await, "the new password logs in");
            assert!(
                !logs_in(&pg, &user, &initial).await,
                "the old password is refused"
            );

            // A second rotation in the same (warm) process.
            let (_, calls) = h.rotate(&arn).await;
            assert!(calls <= 11, "warm: at most 11 calls, made {calls}");
            let (_, newer) = password_in(&store, &arn, AWSCURRENT).await;
            assert!(logs_in(&pg, &user, &newer).await);
            assert!(!logs_in(&pg, &user, &new).await);

            let logs = h.logs().await;
            assert_log_capture_works(&logs, &arn);
            for (what, pw) in [("initial", &initial), ("first", &new), ("second", &newer)] {
                assert!(
                    !logs.contains(pw.as_str()),
                    "the {what} password is in the logs"
                );
            }
        }
    };
    run_then_cleanup(body, drop_roles(&pg, &roles)).await;
}

#[tokio::test]
async fn alternating_rotation_through_the_runtime_api() {
    let Some(pg) = require_pg() else { return };
    let user = unique_name("rw_lpg_alt");
    let master = unique_name("rw_lpg_master");
    let roles = vec![format!("{user}_clone"), user.clone(), master.clone()];
    let body = {
        let pg = pg.clone();
        async move {
            let initial = canary();
            let master_pw = canary();
            create_role(&pg, &master, &master_pw, "CREATEROLE").await;
            create_role(&pg, &user, &initial, "").await;
            // PostgreSQL 16+ needs ADMIN on the base role; harmless on 15.
            pg.admin()
                .await
                .batch_execute(&format!(
                    "GRANT {} TO {} WITH ADMIN OPTION",
                    quote_ident(&user),
                    quote_ident(&master)
                ))
                .await
                .unwrap();
            let store = Arc::new(MemoryStore::new());
            let master_arn = store
                .insert_secret(
                    "lambda/pg/master",
                    &secret_json(&pg, &master, &master_pw, None),
                )
                .unwrap();
            let arn = store
                .insert_secret(
                    "lambda/pg/alternating",
                    &secret_json(&pg, &user, &initial, Some(&master_arn)),
                )
                .unwrap();
            let mut h = Harness::start(store.clone(), &tls_env(&pg, "alternating")).await;

            let (token, calls) = h.rotate(&arn).await;
            assert!(
                calls <= 12,
                "at most 12 Secrets Manager calls, made {calls}"
            );
            let d = store.describe_secret(&arn).await.unwrap();
            assert_eq!(d.version_with_stage(AWSCURRENT), Some(token.as_str()));
            let (u1, p1) = password_in(&store, &arn, AWSCURRENT).await;
            assert_eq!(u1, format!("{user}_clone"));
            assert!(logs_in(&pg, &u1, &p1).await, "the clone logs in");
            assert!(
                logs_in(&pg, &user, &initial).await,
                "AWSPREVIOUS keeps working until the next rotation"
            );

            let (_, calls) = h.rotate(&arn).await;
            assert!(calls <= 12, "warm: at most 12 calls, made {calls}");
            let (u2, p2) = password_in(&store, &arn, AWSCURRENT).await;
            assert_eq!(u2, user);
            assert!(logs_in(&pg, &u2, &p2).await);
            assert!(
                !logs_in(&pg, &user, &initial).await,
                "the base user's old password is refused"
            );
            assert!(
                logs_in(&pg, &u1, &p1).await,
                "the clone (AWSPREVIOUS) still logs in"
            );

            let logs = h.logs().await;
            assert_log_capture_works(&logs, &arn);
            for pw in [&initial, &master_pw, &p1, &p2] {
                assert!(!logs.contains(pw.as_str()), "a password is in the logs");
            }
        }
    };
    run_then_cleanup(body, drop_roles(&pg, &roles)).await;
}

/// Needs no database: every event here fails (or succeeds as a no-op) before any login.
#[tokio::test]
async fn invalid_events_return_errors_and_change_nothing() {
    let store = Arc::new(MemoryStore::new());
    let arn = store
        .insert_secret(
            "lambda/pg/invalid",
            r#"{"engine":"postgres","host":"127.0.0.1","port":1,"username":"u","password":"Canary-invalid-events"}"#,
        )
        .unwrap();
    let current = store
        .describe_secret(&arn)
        .await
        .unwrap()
        .version_with_stage(AWSCURRENT)
        .unwrap()
        .to_string();
    let pending = store.begin_rotation(&arn).unwrap();
    let mut h = Harness::start(store.clone(), &[("ROTATION_STRATEGY", "single".into())]).await;
    let before = store.snapshot();

    let cases: Vec<(Vec<u8>, &str, Option<String>)> = vec![
        (b"\"just a string\"".to_vec(), "InvalidEvent", None),
        (b"[1, 2]".to_vec(), "InvalidEvent", None),
        (br#"{"Step": "createSecret"}"#.to_vec(), "InvalidEvent", None),
        (
            json!({"Step": 4, "SecretId": arn, "ClientRequestToken": pending})
                .to_string()
                .into_bytes(),
            "InvalidEvent",
            None,
        ),
        (
            json!({"Step": "createSecret", "SecretId": arn, "ClientRequestToken": "no-such-version"})
                .to_string()
                .into_bytes(),
            "ValueError",
            Some(format!(
                "Secret version no-such-version has no stage for rotation of secret {arn}."
            )),
        ),
        (
            json!({"Step": "rotateEverything", "SecretId": arn, "ClientRequestToken": pending})
                .to_string()
                .into_bytes(),
            "ValueError",
            Some(format!(
                "Invalid step parameter rotateEverything for secret {arn}"
            )),
        ),
        (
            json!({"Step": "createSecret", "SecretId": "no/such/secret", "ClientRequestToken": pending})
                .to_string()
                .into_bytes(),
            "ResourceNotFoundException",
            None,
        ),
    ];
    for (event, error_type, message) in &cases {
        let shown = String::from_utf8_lossy(event);
        match h
            .api
            .invoke_raw(event.clone(), INVOKE_TIMEOUT)
            .await
            .unwrap()
        {
            Outcome::Error(report) => {
                assert_eq!(report.error_type(), *error_type, "{shown}: {report:?}");
                if let Some(m) = message {
                    assert_eq!(report.error_message(), m, "AWS's text verbatim");
                }
                assert!(!report.error_message().is_empty());
            }
            other => panic!("{shown}: expected an error, got {other:?}"),
        }
    }
    // Not JSON at all: the runtime's own deserialisation error, and still nothing changes.
    match h
        .api
        .invoke_raw(b"{not json".to_vec(), INVOKE_TIMEOUT)
        .await
        .unwrap()
    {
        Outcome::Error(report) => assert!(!report.error_type().is_empty()),
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(before == store.snapshot(), "the store is unchanged");

    // The process keeps serving: a step for a token already AWSCURRENT succeeds (AWS's
    // rule), without even checking the step name.
    let done = json!({"Step": "anything", "SecretId": arn, "ClientRequestToken": current});
    assert_eq!(
        h.api.invoke(&done, INVOKE_TIMEOUT).await.unwrap(),
        Outcome::Response(Value::Null)
    );
    assert!(h.process.is_running());
    assert!(before == store.snapshot(), "the store is unchanged");
    let logs = h.logs().await;
    assert!(logs.contains("step failed"), "failures are logged:\n{logs}");
    assert!(!logs.contains("Canary-invalid-events"));
}

#[tokio::test]
async fn a_bad_environment_variable_stops_init_naming_it() {
    for (var, value) in [
        ("ROTATION_STRATEGY", "sideways"),
        ("ROTATION_TLS_MODE", "allow"),
        ("ROTATION_CA_FILE", "/nonexistent/rds-bundle.pem"),
        ("ROTATION_CONNECT_TIMEOUT_MS", "5s"),
        ("ROTATION_PASSWORDS", "api"),
        ("PASSWORD_LENGTH", "0"),
        ("EXCLUDE_NUMBERS", "maybe"),
        ("REQUIRE_EACH_INCLUDED_TYPE", "perhaps"),
        ("AWS_LAMBDA_LOG_LEVEL", "LOUD"),
    ] {
        let api = RuntimeApi::start().await.unwrap();
        let mut process =
            LambdaProcess::spawn(BIN.as_ref(), &api, &[(var, value.to_string())]).unwrap();
        let status = process
            .wait_exit(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("{var}={value}: the process did not exit"));
        assert!(!status.success(), "{var}={value}: exit status {status}");
        let stderr = process.stderr();
        assert!(
            stderr.contains(var) && stderr.contains(value),
            "{var}={value}: stderr names the variable and value: {stderr}"
        );
        let report = api
            .wait_init_error(Duration::from_secs(2))
            .await
            .unwrap_or_else(|| panic!("{var}={value}: no init/error posted"));
        assert_eq!(report.error_type(), "InvalidConfiguration");
        assert!(
            report.error_message().contains(var),
            "{var}: {}",
            report.error_message()
        );
        assert_eq!(api.polls(), 0, "{var}: it never asked for work");
    }
}

#[tokio::test]
async fn init_makes_no_network_call_and_polls_quickly() {
    // The endpoint and database are unreachable: init must not care.
    let api = RuntimeApi::start().await.unwrap();
    let mut process = LambdaProcess::spawn(
        BIN.as_ref(),
        &api,
        &[
            ("SECRETS_MANAGER_ENDPOINT", "http://127.0.0.1:9".to_string()),
            ("ROTATION_STRATEGY", "single".to_string()),
        ],
    )
    .unwrap();
    let polled = api.wait_first_poll(Duration::from_secs(10)).await;
    let init = polled.map(|at| at.duration_since(process.started()));
    eprintln!("init (process start to first poll): {init:?}");
    assert!(init.is_some(), "no poll; stderr: {}", process.stderr());
    assert!(process.is_running());
    process.stop().await;
    assert!(process.stdout().contains("initialised"));
}
