//! What every engine's end-to-end test and benchmark shares: the built binary under the
//! local [`RuntimeApi`], Secrets Manager served by the test kit's [`LocalEndpoint`] over a
//! [`MemoryStore`], the engine-independent end-to-end checks (invalid events, a bad
//! environment, offline init, and [`assert_error_types`]: the Lambda `errorType` of each
//! failure class), and the [`Fixture`] an engine implements to make users on its private
//! test server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use async_trait::async_trait;
use rotwise_core::ErrorKind;
use rotwise_core::store::{AWSCURRENT, AWSPENDING, AWSPREVIOUS, MemoryStore, SecretStore};
use rotwise_testkit::endpoint::LocalEndpoint;
use serde_json::{Value, json};

use crate::Error;
use crate::cgroup::CpuGroup;
use crate::emulator::{ErrorReport, LambdaProcess, Outcome, RuntimeApi};

/// The four steps, in order.
pub const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

/// How long one invocation may take.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

/// An engine's private test server, as the end-to-end tests and the benchmark use it.
/// Implement it with [`macro@async_trait`] (re-exported here).
#[async_trait]
pub trait Fixture: Send + Sync {
    /// A position in the server's log.
    type LogMark: Send + Sync;

    /// The engine's folder under `lambdas/` and `dist/` (`postgres`, `mysql`).
    fn engine(&self) -> &'static str;
    /// A fresh user name starting with `prefix` (a lowercase identifier).
    fn unique_name(&self, prefix: &str) -> String;
    /// AWS's secret JSON for `user` on this server (alternating when `masterarn` is given).
    fn secret_json(&self, user: &str, password: &str, masterarn: Option<&str>) -> String;
    /// The function's variables for this server (TLS mode, CA file).
    fn env(&self) -> Vec<(&'static str, String)>;
    /// A CA file that did not sign the server's certificate: `verify-full` with it as
    /// `ROTATION_CA_FILE` must fail (for [`assert_error_types`]).
    fn untrusted_ca(&self) -> PathBuf;
    /// Create a login user with `password` (never in plaintext in the server's log).
    async fn create_user(&self, name: &str, password: &str) -> Result<(), Error>;
    /// Create a master like RDS's (not a superuser) able to manage `user` and its clone.
    async fn create_master(&self, name: &str, password: &str, user: &str) -> Result<(), Error>;
    /// Drop these users (and their clones' leftovers) if they exist; errors are ignored.
    async fn drop_users(&self, names: &[String]);
    /// Log in once as `user` and disconnect.
    async fn login(&self, user: &str, password: &str) -> Result<(), Error>;
    /// The end of the server's log now.
    fn log_mark(&self) -> Self::LogMark;
    /// Everything the server logged since `mark`, up to a fence statement run now.
    async fn log_since(&self, mark: &Self::LogMark) -> Result<String, Error>;
    /// Failed logins of `user` in `log`.
    fn failed_logins(&self, log: &str, user: &str) -> usize;
    /// Connections `user` opened in `log` (PostgreSQL `log_connections`, MariaDB's general
    /// log `Connect` lines).
    fn connections(&self, log: &str, user: &str) -> usize;
}

/// The users of one alternating (or single) setup, dropped at the end.
pub fn users_of(user: &str, master: &str) -> Vec<String> {
    vec![
        format!("{user}_clone"),
        user.to_string(),
        master.to_string(),
    ]
}

/// One rotation through the Runtime API.
#[derive(Clone, Debug)]
pub struct Rotation {
    /// The version the rotation made AWSCURRENT.
    pub token: String,
    /// Wall time of each invocation, in [`STEPS`] order.
    pub steps: [Duration; 4],
    /// Secrets Manager calls by operation.
    pub calls: BTreeMap<String, u64>,
}

impl Rotation {
    /// Secrets Manager calls in all.
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }
}

/// A Lambda binary under a local Runtime API, with Secrets Manager served by a
/// [`LocalEndpoint`].
pub struct Harness {
    /// Secrets Manager.
    pub endpoint: LocalEndpoint,
    /// The Runtime API the function polls.
    pub api: RuntimeApi,
    /// The function.
    pub process: LambdaProcess,
}

impl Harness {
    /// Start `bin` with `SECRETS_MANAGER_ENDPOINT` set, JSON logs at TRACE, then `env`
    /// (which may override those), and wait for its first poll.
    ///
    /// # Errors
    ///
    /// When the endpoint, the API or the process cannot start, or the function never polls.
    pub async fn try_start(
        bin: &Path,
        store: Arc<MemoryStore>,
        env: &[(&str, String)],
    ) -> Result<Harness, Error> {
        Self::try_start_with(bin, store, env, Duration::ZERO, None).await
    }

    /// [`Harness::try_start`], with the endpoint answering `sm_delay` late
    /// ([`LocalEndpoint::set_delay`]) and the process in `cgroup` (the benchmark's model
    /// of a Lambda function in a region).
    ///
    /// # Errors
    ///
    /// As [`Harness::try_start`].
    pub async fn try_start_with(
        bin: &Path,
        store: Arc<MemoryStore>,
        env: &[(&str, String)],
        sm_delay: Duration,
        cgroup: Option<&CpuGroup>,
    ) -> Result<Harness, Error> {
        let endpoint = LocalEndpoint::start(store)?;
        endpoint.set_delay(sm_delay);
        let api = RuntimeApi::start().await?;
        let mut all = vec![
            ("SECRETS_MANAGER_ENDPOINT", endpoint.url()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_string()),
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE".to_string()),
        ];
        all.extend(env.iter().cloned());
        let process = LambdaProcess::spawn_in(bin, &api, &all, cgroup)?;
        if api.wait_first_poll(Duration::from_secs(10)).await.is_none() {
            return Err(format!(
                "the function never polled for work; stderr: {}",
                process.stderr()
            )
            .into());
        }
        Ok(Harness {
            endpoint,
            api,
            process,
        })
    }

    /// [`Harness::try_start`], panicking on failure (for tests).
    pub async fn start(bin: &Path, store: Arc<MemoryStore>, env: &[(&str, String)]) -> Harness {
        Harness::try_start(bin, store, env)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()))
    }

    /// Invoke one step.
    ///
    /// # Panics
    ///
    /// When no outcome arrives within [`INVOKE_TIMEOUT`].
    pub async fn step(&self, step: &str, arn: &str, token: &str) -> Outcome {
        self.try_step(step, arn, token).await.unwrap()
    }

    /// Invoke one step.
    ///
    /// # Errors
    ///
    /// When no outcome arrives within [`INVOKE_TIMEOUT`].
    pub async fn try_step(&self, step: &str, arn: &str, token: &str) -> Result<Outcome, Error> {
        let event = json!({"Step": step, "SecretId": arn, "ClientRequestToken": token});
        Ok(self.api.invoke(&event, INVOKE_TIMEOUT).await?)
    }

    /// Invoke one step that must succeed (answer `null`).
    ///
    /// # Errors
    ///
    /// Any other outcome, with the function's logs so far.
    pub async fn try_step_succeeds(&self, step: &str, arn: &str, token: &str) -> Result<(), Error> {
        match self.try_step(step, arn, token).await? {
            Outcome::Response(Value::Null) => Ok(()),
            other => Err(self.with_logs(format!("{step}: expected null, got {other:?}"))),
        }
    }

    /// Invoke one step that must fail with `error_type` (and a message) before writing to
    /// the store: every secret, version, value and label is as it was, and the process
    /// keeps serving. Returns the function's report.
    ///
    /// # Errors
    ///
    /// Any other outcome, or a change in the store, with the function's logs so far.
    pub async fn try_step_fails(
        &mut self,
        step: &str,
        arn: &str,
        token: &str,
        error_type: &str,
    ) -> Result<ErrorReport, Error> {
        let store = self.endpoint.store().clone();
        let labels = labels_of(&store, arn).await?;
        let before = store.snapshot();
        let report = match self.try_step(step, arn, token).await? {
            Outcome::Error(report) => report,
            other => {
                return Err(self.with_logs(format!(
                    "{step}: expected errorType {error_type}, got {other:?}"
                )));
            }
        };
        if report.error_type() != error_type || report.error_message().is_empty() {
            return Err(self.with_logs(format!(
                "{step}: expected errorType {error_type} with a message, got {report:?}"
            )));
        }
        let after = labels_of(&store, arn).await?;
        if after != labels {
            return Err(format!(
                "{step} failed but moved labels: (AWSCURRENT, AWSPENDING, AWSPREVIOUS) \
                 {labels:?} became {after:?}"
            )
            .into());
        }
        if before != store.snapshot() {
            return Err(format!("{step} failed ({error_type}) but changed the store").into());
        }
        if !self.process.is_running() {
            return Err(self.with_logs(format!("{step}: the process exited after failing")));
        }
        Ok(report)
    }

    fn with_logs(&self, what: String) -> Error {
        format!(
            "{what}\nlogs:\n{}{}",
            self.process.stdout(),
            self.process.stderr()
        )
        .into()
    }

    /// Start a rotation in the store, run the four steps through the Runtime API (each
    /// must answer `null`), then complete it as Secrets Manager does.
    ///
    /// # Errors
    ///
    /// A step that failed, with the function's logs so far.
    pub async fn try_rotate(&self, arn: &str) -> Result<Rotation, Error> {
        let store = self.endpoint.store();
        let token = store.begin_rotation(arn)?;
        self.endpoint.reset_calls();
        let mut steps = [Duration::ZERO; 4];
        for (i, step) in STEPS.iter().enumerate() {
            let started = Instant::now();
            let outcome = self.step(step, arn, &token).await;
            steps[i] = started.elapsed();
            if outcome != Outcome::Response(Value::Null) {
                return Err(format!(
                    "{step}: {outcome:?}\nlogs:\n{}{}",
                    self.process.stdout(),
                    self.process.stderr()
                )
                .into());
            }
        }
        let calls = self.endpoint.take_calls();
        store.complete_rotation(arn, &token)?;
        Ok(Rotation {
            token,
            steps,
            calls,
        })
    }

    /// [`Harness::try_rotate`], panicking on failure; prints the calls made.
    pub async fn rotate(&self, arn: &str) -> Rotation {
        let rotation = self.try_rotate(arn).await.unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "Secrets Manager calls for one rotation: {:?}",
            rotation.calls
        );
        rotation
    }

    /// [`Harness::rotate`], then check the rotation made at most `max_calls` Secrets
    /// Manager calls and left the labels right: AWSCURRENT on the new version, AWSPREVIOUS
    /// on the old AWSCURRENT, no AWSPENDING.
    pub async fn rotate_checked(&self, arn: &str, max_calls: u64) -> Rotation {
        let store = self.endpoint.store();
        let before = version_at(store, arn, AWSCURRENT).await;
        let rotation = self.rotate(arn).await;
        assert!(
            rotation.total_calls() <= max_calls,
            "at most {max_calls} Secrets Manager calls, made {:?}",
            rotation.calls
        );
        assert_eq!(
            version_at(store, arn, AWSCURRENT).await.as_deref(),
            Some(rotation.token.as_str()),
            "AWSCURRENT is on the new version"
        );
        assert_eq!(
            version_at(store, arn, AWSPREVIOUS).await,
            before,
            "AWSPREVIOUS is on the old AWSCURRENT"
        );
        assert_eq!(version_at(store, arn, AWSPENDING).await, None);
        rotation
    }

    /// One rotation through the Runtime API, each event carrying `rotation_token` as its
    /// `RotationToken` (what the service sends and what must never be logged); panics
    /// unless every step succeeds.
    pub async fn rotate_with_rotation_token(&self, arn: &str, rotation_token: &str) {
        let store = self.endpoint.store();
        let token = store.begin_rotation(arn).unwrap();
        for step in STEPS {
            let event = json!({"Step": step, "SecretId": arn, "ClientRequestToken": token,
                "RotationToken": rotation_token});
            let outcome = self.api.invoke(&event, INVOKE_TIMEOUT).await.unwrap();
            assert_eq!(
                outcome,
                Outcome::Response(Value::Null),
                "{step}\nlogs:\n{}{}",
                self.process.stdout(),
                self.process.stderr()
            );
        }
        store.complete_rotation(arn, &token).unwrap();
    }

    /// Stop the function; everything it wrote (stdout then stderr).
    pub async fn logs(&mut self) -> String {
        self.process.stop().await;
        format!("{}{}", self.process.stdout(), self.process.stderr())
    }
}

/// Which of `secrets` (name, value) appear in `logs`, each with the start of the first line
/// holding it: what a canary test asserts is empty.
pub fn leaks(logs: &str, secrets: &[(String, String)]) -> Vec<String> {
    secrets
        .iter()
        .filter_map(|(name, value)| {
            logs.lines()
                .find(|l| l.contains(value.as_str()))
                .map(|l| format!("{name} in: {}", l.chars().take(300).collect::<String>()))
        })
        .collect()
}

/// A canary test's positive control: `logs` (JSON lines when `json`, else text) hold
/// rotwise's own DEBUG lines, so the capture really ran below INFO.
pub fn assert_own_debug_lines(logs: &str, json: bool) {
    let found = if json {
        json_lines(logs).iter().any(|l| {
            l["level"] == "DEBUG"
                && l["target"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("rotwise"))
        })
    } else {
        logs.lines()
            .any(|l| l.contains(" DEBUG ") && l.contains("rotwise_"))
    };
    assert!(found, "rotwise's own DEBUG lines are captured:\n{logs}");
}

/// The version that has `stage`, if any.
///
/// # Panics
///
/// When the secret does not exist.
pub async fn version_at(store: &MemoryStore, arn: &str, stage: &str) -> Option<String> {
    store
        .describe_secret(arn)
        .await
        .unwrap()
        .version_with_stage(stage)
        .map(str::to_string)
}

/// The username and password the secret holds at `stage`.
///
/// # Panics
///
/// When the secret has no such version or it is not JSON with those keys.
pub async fn credentials_in(store: &MemoryStore, arn: &str, stage: &str) -> (String, String) {
    let payload = store
        .get_secret_value(arn, None, Some(stage))
        .await
        .unwrap();
    let text = payload.payload.as_string().unwrap();
    let v: Value = serde_json::from_str(rotwise_core::ExposeSecret::expose_secret(text)).unwrap();
    (
        v["username"].as_str().unwrap().to_string(),
        v["password"].as_str().unwrap().to_string(),
    )
}

/// The JSON log lines in `logs`.
pub fn json_lines(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

/// The positive control for the "no secret in the logs" checks: the capture holds the
/// function's JSON lines at TRACE, including one "step succeeded" line per step with its
/// duration, span fields and the secret's ARN.
///
/// # Panics
///
/// When it does not.
pub fn assert_log_capture_works(logs: &str, arn: &str) {
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

/// Invalid events through the Runtime API: each is answered with an error response of
/// the right type (AWS's text verbatim for the pre-checks), nothing in the store changes,
/// the process keeps serving, and `canary` (the secret's password) is never logged.
/// Needs no database: every event fails (or succeeds as a no-op) before any login.
///
/// # Panics
///
/// When any of that does not hold.
pub async fn assert_invalid_events_change_nothing(bin: &Path, secret_json: &str, canary: &str) {
    assert!(secret_json.contains(canary), "the canary is the password");
    let store = Arc::new(MemoryStore::new());
    let arn = store.insert_secret("lambda/invalid", secret_json).unwrap();
    let current = version_at(&store, &arn, AWSCURRENT).await.unwrap();
    let pending = store.begin_rotation(&arn).unwrap();
    let mut h = Harness::start(
        bin,
        store.clone(),
        &[("ROTATION_STRATEGY", "single".into())],
    )
    .await;
    let before = store.snapshot();

    let event = |step: Value, token: &str| {
        json!({"Step": step, "SecretId": arn, "ClientRequestToken": token})
            .to_string()
            .into_bytes()
    };
    let cases: Vec<(Vec<u8>, &str, Option<String>)> = vec![
        (b"\"just a string\"".to_vec(), "InvalidEvent", None),
        (b"[1, 2]".to_vec(), "InvalidEvent", None),
        (br#"{"Step": "createSecret"}"#.to_vec(), "InvalidEvent", None),
        (event(json!(4), &pending), "InvalidEvent", None),
        (
            event(json!("createSecret"), "no-such-version"),
            "ValueError",
            Some(format!(
                "Secret version no-such-version has no stage for rotation of secret {arn}."
            )),
        ),
        (
            event(json!("rotateEverything"), &pending),
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
    assert_eq!(
        h.step("anything", &arn, &current).await,
        Outcome::Response(Value::Null)
    );
    assert!(h.process.is_running());
    assert!(before == store.snapshot(), "the store is unchanged");
    let logs = h.logs().await;
    assert!(logs.contains("step failed"), "failures are logged:\n{logs}");
    assert!(!logs.contains(canary), "the password is in the logs");
}

/// Bad values of the variables every engine reads, for [`assert_bad_env_stops_init`].
pub const COMMON_BAD_ENV: &[(&str, &str)] = &[
    ("ROTATION_STRATEGY", "sideways"),
    ("ROTATION_TLS_MODE", "allow"),
    ("ROTATION_CA_FILE", "/nonexistent/rds-bundle.pem"),
    ("ROTATION_CONNECT_TIMEOUT_MS", "5s"),
    ("ROTATION_PASSWORDS", "api"),
    ("PASSWORD_LENGTH", "0"),
    ("EXCLUDE_NUMBERS", "maybe"),
    ("REQUIRE_EACH_INCLUDED_TYPE", "perhaps"),
    ("AWS_LAMBDA_LOG_LEVEL", "LOUD"),
];

/// Each `(variable, value)` alone stops the function at init: non-zero exit, stderr names
/// the variable and the value, an `init/error` of type `InvalidConfiguration` naming the
/// variable, and no poll for work.
///
/// # Panics
///
/// When any of that does not hold.
pub async fn assert_bad_env_stops_init(bin: &Path, cases: &[(&str, &str)]) {
    for &(var, value) in cases {
        let api = RuntimeApi::start().await.unwrap();
        let mut process = LambdaProcess::spawn(bin, &api, &[(var, value.to_string())]).unwrap();
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
        assert_eq!(report.error_type(), ErrorKind::Configuration.error_type());
        assert!(
            report.error_message().contains(var),
            "{var}: {}",
            report.error_message()
        );
        assert_eq!(api.polls(), 0, "{var}: it never asked for work");
    }
}

/// With Secrets Manager unreachable, the function still initialises and polls (no
/// network call at init); prints the time from process start to the first poll.
///
/// # Panics
///
/// When it does not poll within 10 s or exits.
pub async fn assert_init_is_offline(bin: &Path) {
    let api = RuntimeApi::start().await.unwrap();
    let mut process = LambdaProcess::spawn(
        bin,
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

/// AWSCURRENT, AWSPENDING and AWSPREVIOUS of the secret.
async fn labels_of(store: &MemoryStore, arn: &str) -> Result<[Option<String>; 3], Error> {
    let d = store.describe_secret(arn).await?;
    Ok([AWSCURRENT, AWSPENDING, AWSPREVIOUS]
        .map(|stage| d.version_with_stage(stage).map(str::to_string)))
}

/// A TCP port on `127.0.0.1` that nothing listens on: bound by the OS, then released
/// (a connection to it is refused at once).
///
/// # Panics
///
/// When no port can be bound.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    listener.local_addr().unwrap().port()
}

/// `secret_json` (a JSON object) with `key` set to `value`, or removed when `value` is
/// `None`.
///
/// # Panics
///
/// When `secret_json` is not a JSON object.
pub fn with_key(secret_json: &str, key: &str, value: Option<Value>) -> String {
    let mut v: Value = serde_json::from_str(secret_json).unwrap();
    let object = v.as_object_mut().expect("the secret JSON is an object");
    match value {
        Some(value) => object.insert(key.to_string(), value),
        None => object.remove(key),
    };
    v.to_string()
}

/// A password that is easy to find in a log.
fn canary<F: Fixture>(fx: &F) -> String {
    format!("Canary-{}", &fx.unique_name("c")[2..])
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), Error> {
    if ok { Ok(()) } else { Err(what().into()) }
}

/// The report's message and the function's logs do not contain `secret`.
async fn assert_not_leaked(
    h: &mut Harness,
    report: &ErrorReport,
    secret: &str,
) -> Result<(), Error> {
    ensure(!report.body.to_string().contains(secret), || {
        format!("the error report contains a secret value: {report:?}")
    })?;
    let logs = h.logs().await;
    ensure(!logs.contains(secret), || {
        "a secret value is in the function's logs".to_string()
    })
}

/// A harness for `bin` with `ROTATION_STRATEGY=single`, the fixture's variables, then
/// `extra` (which may override them).
async fn start_single<F: Fixture>(
    fx: &F,
    bin: &Path,
    store: Arc<MemoryStore>,
    extra: &[(&'static str, String)],
) -> Result<Harness, Error> {
    let mut env = vec![("ROTATION_STRATEGY", "single".to_string())];
    env.extend(fx.env());
    env.extend(extra.iter().cloned());
    Harness::try_start(bin, store, &env).await
}

/// createSecret with an unusable AWSCURRENT fails with `InvalidSecret` and writes nothing:
/// a value that is not JSON, and AWS's JSON without `host`. Needs no database login.
///
/// # Errors
///
/// When any of that does not hold.
pub async fn try_invalid_secret<F: Fixture>(fx: &F, bin: &Path) -> Result<(), Error> {
    let expected = ErrorKind::InvalidSecret.error_type();
    let password = canary(fx);
    let store = Arc::new(MemoryStore::new());
    let cases = [
        ("not JSON", format!("username=app password={password}")),
        (
            "no host",
            with_key(
                &fx.secret_json(&fx.unique_name("rw_nohost"), &password, None),
                "host",
                None,
            ),
        ),
    ];
    let mut secrets = Vec::new();
    for (i, (what, value)) in cases.iter().enumerate() {
        let arn = store.insert_secret(&format!("lambda/invalid-secret/{i}"), value)?;
        let token = store.begin_rotation(&arn)?;
        secrets.push((*what, arn, token));
    }
    let mut h = start_single(fx, bin, store.clone(), &[]).await?;
    let mut reports = Vec::new();
    for (what, arn, token) in &secrets {
        let report = h
            .try_step_fails("createSecret", arn, token, expected)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        reports.push(report);
    }
    for report in &reports {
        ensure(!report.body.to_string().contains(&password), || {
            format!("the error report contains the password: {report:?}")
        })?;
    }
    let logs = h.logs().await;
    ensure(!logs.contains(&password), || {
        "the password is in the function's logs".to_string()
    })
}

/// setSecret against a closed local port fails with `TargetUnreachable` (createSecret,
/// which needs no database, succeeds first); the store is as createSecret left it.
///
/// # Errors
///
/// When any of that does not hold.
pub async fn try_target_unreachable<F: Fixture>(fx: &F, bin: &Path) -> Result<(), Error> {
    let expected = ErrorKind::Unreachable.error_type();
    let password = canary(fx);
    let store = Arc::new(MemoryStore::new());
    let mut h = start_single(fx, bin, store.clone(), &[]).await?;
    // The port is taken after the harness's own listeners, so none of them can get it.
    let secret = with_key(
        &fx.secret_json(&fx.unique_name("rw_unreachable"), &password, None),
        "port",
        Some(json!(closed_port())),
    );
    let arn = store.insert_secret("lambda/unreachable", &secret)?;
    let token = store.begin_rotation(&arn)?;
    h.try_step_succeeds("createSecret", &arn, &token).await?;
    let report = h
        .try_step_fails("setSecret", &arn, &token, expected)
        .await?;
    assert_not_leaked(&mut h, &report, &password).await
}

/// A real user with a wrong password in AWSCURRENT: setSecret fails with `LoginRefused`,
/// the store is as createSecret left it, and the user's real password still logs in.
///
/// # Errors
///
/// When any of that does not hold.
pub async fn try_login_refused<F: Fixture>(fx: &F, bin: &Path) -> Result<(), Error> {
    let user = fx.unique_name("rw_refused");
    let result = async {
        let expected = ErrorKind::LoginRefused.error_type();
        let real = canary(fx);
        let wrong = canary(fx);
        fx.create_user(&user, &real).await?;
        let store = Arc::new(MemoryStore::new());
        let arn = store.insert_secret("lambda/refused", &fx.secret_json(&user, &wrong, None))?;
        let token = store.begin_rotation(&arn)?;
        let mut h = start_single(fx, bin, store.clone(), &[]).await?;
        h.try_step_succeeds("createSecret", &arn, &token).await?;
        let report = h
            .try_step_fails("setSecret", &arn, &token, expected)
            .await?;
        let metrics = emf_lines(&h.process.stdout())?;
        let failed = metrics
            .iter()
            .find(|m| m["Step"] == "setSecret")
            .ok_or("no metrics line for the failed setSecret")?;
        ensure(
            failed["Failure"] == 1
                && failed["Success"] == 0
                && failed["ErrorType"] == expected
                && failed["FailedDatabaseLogins"].as_u64() >= Some(1),
            || format!("the failed setSecret's metrics: {failed}"),
        )?;
        assert_not_leaked(&mut h, &report, &wrong).await?;
        ensure(!report.body.to_string().contains(&real), || {
            format!("the error report contains the real password: {report:?}")
        })?;
        fx.login(&user, &real)
            .await
            .map_err(|e| format!("the user's real password no longer logs in: {e}"))?;
        Ok(())
    }
    .await;
    fx.drop_users(std::slice::from_ref(&user)).await;
    result
}

/// The CloudWatch Embedded Metric Format lines in a function's stdout, each checked
/// against the EMF specification
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>):
/// a JSON object whose `_aws` member holds an integer `Timestamp` (milliseconds since the
/// epoch, here within a day of now) and a non-empty `CloudWatchMetrics` array of
/// directives; each directive has a `Namespace`, `Dimensions` (arrays of at most 30
/// dimension names, each a string member of the line) and at most 100 `Metrics`, each with
/// a `Name` whose member is a number (or an array of at most 100 numbers) and a `Unit`
/// from CloudWatch's list.
///
/// # Errors
///
/// The first line that breaks the specification, and why.
pub fn emf_lines(stdout: &str) -> Result<Vec<Value>, Error> {
    const UNITS: [&str; 27] = [
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i128);
    let mut lines = Vec::new();
    for line in stdout.lines().filter(|l| l.contains("\"_aws\"")) {
        let bad = |why: &str| -> Error {
            format!("EMF line breaks the specification ({why}): {line}").into()
        };
        let v: Value = serde_json::from_str(line).map_err(|e| bad(&e.to_string()))?;
        let aws = v
            .get("_aws")
            .filter(|a| a.is_object())
            .ok_or_else(|| bad("no _aws object"))?;
        let ts = aws["Timestamp"]
            .as_i64()
            .ok_or_else(|| bad("Timestamp is not an integer"))?;
        if (i128::from(ts) - now_ms).abs() > 86_400_000 {
            return Err(bad("Timestamp is not milliseconds near now"));
        }
        let directives = aws["CloudWatchMetrics"]
            .as_array()
            .filter(|d| !d.is_empty())
            .ok_or_else(|| bad("CloudWatchMetrics is not a non-empty array"))?;
        for d in directives {
            if !d["Namespace"]
                .as_str()
                .is_some_and(|n| !n.is_empty() && n.len() <= 255)
            {
                return Err(bad("Namespace"));
            }
            let sets = d["Dimensions"]
                .as_array()
                .ok_or_else(|| bad("Dimensions is not an array"))?;
            for set in sets {
                let names = set
                    .as_array()
                    .filter(|s| s.len() <= 30)
                    .ok_or_else(|| bad("a dimension set"))?;
                for n in names {
                    let n = n
                        .as_str()
                        .ok_or_else(|| bad("a dimension name is not a string"))?;
                    if !v[n].is_string() {
                        return Err(bad(&format!("dimension {n} has no string member")));
                    }
                }
            }
            let metrics = d["Metrics"]
                .as_array()
                .filter(|m| m.len() <= 100)
                .ok_or_else(|| bad("Metrics"))?;
            for m in metrics {
                let name = m["Name"]
                    .as_str()
                    .ok_or_else(|| bad("a metric without Name"))?;
                let value = &v[name];
                let numeric = value.is_number()
                    || value
                        .as_array()
                        .is_some_and(|a| a.len() <= 100 && a.iter().all(Value::is_number));
                if !numeric {
                    return Err(bad(&format!("metric {name} has no numeric member")));
                }
                if let Some(unit) = m.get("Unit")
                    && !unit.as_str().is_some_and(|u| UNITS.contains(&u))
                {
                    return Err(bad(&format!(
                        "metric {name}'s Unit {unit} is not CloudWatch's"
                    )));
                }
            }
        }
        lines.push(v);
    }
    Ok(lines)
}

/// The metrics of `rotations` successful rotations in `logs` (see [`emf_lines`]): four
/// step lines each, in order, with `Success` 1, the function's `engine` and `strategy`;
/// one rotation line each whose `RotationSecretsManagerCalls` is `calls` and equals the sum
/// of its steps' `SecretsManagerCalls` (what the local endpoint counted is checked by the
/// caller), and whose `RotationDatabaseLogins` is its steps' `DatabaseLogins`, at least
/// one, none failed. Panics with the lines otherwise.
pub fn assert_rotation_metrics(
    logs: &str,
    engine: &str,
    strategy: &str,
    rotations: usize,
    calls: u64,
) {
    let lines = emf_lines(logs).unwrap_or_else(|e| panic!("{e}"));
    let steps: Vec<&Value> = lines.iter().filter(|l| l.get("Step").is_some()).collect();
    let done: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("Rotations").is_some())
        .collect();
    assert_eq!(steps.len(), 4 * rotations, "step lines: {lines:#?}");
    assert_eq!(done.len(), rotations, "rotation lines: {lines:#?}");
    for (i, line) in steps.iter().enumerate() {
        assert_eq!(line["Step"], STEPS[i % 4], "{line}");
        assert_eq!(line["Engine"], engine, "{line}");
        assert_eq!(line["Strategy"], strategy, "{line}");
        assert_eq!(
            (line["Success"].as_u64(), line["Failure"].as_u64()),
            (Some(1), Some(0)),
            "{line}"
        );
        assert_eq!(line["FailedDatabaseLogins"], 0, "{line}");
    }
    for rotation in done {
        let token = &rotation["VersionId"];
        let of_it: Vec<&&Value> = steps.iter().filter(|l| &l["VersionId"] == token).collect();
        assert_eq!(of_it.len(), 4, "{rotation}");
        let sum = |k: &str| {
            of_it
                .iter()
                .map(|l| l[k].as_u64().unwrap_or(0))
                .sum::<u64>()
        };
        assert_eq!(rotation["RotationSecretsManagerCalls"], calls, "{rotation}");
        assert_eq!(sum("SecretsManagerCalls"), calls, "{rotation}");
        assert_eq!(
            rotation["RotationDatabaseLogins"],
            sum("DatabaseLogins"),
            "{rotation}"
        );
        assert!(sum("DatabaseLogins") >= 1, "{rotation}");
        assert!(
            rotation["RotationDuration"]
                .as_f64()
                .is_some_and(|d| d > 0.0),
            "{rotation}"
        );
        assert_eq!(rotation["Rotations"], 1);
    }
}

/// `verify-full` with a `ROTATION_CA_FILE` that did not sign the server's certificate
/// ([`Fixture::untrusted_ca`]): setSecret fails with `TlsFailed` and the store is as
/// createSecret left it; the password is unchanged on the server. Positive control: the
/// same setSecret with the fixture's own variables (the right CA) succeeds.
///
/// # Errors
///
/// When any of that does not hold.
pub async fn try_tls_failed<F: Fixture>(fx: &F, bin: &Path) -> Result<(), Error> {
    let user = fx.unique_name("rw_tls");
    let result = async {
        let expected = ErrorKind::Tls.error_type();
        let password = canary(fx);
        fx.create_user(&user, &password).await?;
        let store = Arc::new(MemoryStore::new());
        let arn = store.insert_secret("lambda/tls", &fx.secret_json(&user, &password, None))?;
        let token = store.begin_rotation(&arn)?;
        let untrusted = [
            ("ROTATION_TLS_MODE", "verify-full".to_string()),
            ("ROTATION_CA_FILE", fx.untrusted_ca().display().to_string()),
        ];
        let mut h = start_single(fx, bin, store.clone(), &untrusted).await?;
        h.try_step_succeeds("createSecret", &arn, &token).await?;
        let report = h
            .try_step_fails("setSecret", &arn, &token, expected)
            .await?;
        assert_not_leaked(&mut h, &report, &password).await?;
        fx.login(&user, &password)
            .await
            .map_err(|e| format!("the password changed although TLS failed: {e}"))?;

        let mut trusted = start_single(fx, bin, store.clone(), &[]).await?;
        trusted
            .try_step_succeeds("setSecret", &arn, &token)
            .await
            .map_err(|e| format!("positive control (the server's CA): {e}"))?;
        trusted.process.stop().await;
        Ok(())
    }
    .await;
    fx.drop_users(std::slice::from_ref(&user)).await;
    result
}

/// The Lambda `errorType` of each failure class, each a real invocation of `bin` under
/// the emulator with Secrets Manager on the test kit's local endpoint and a single-user
/// secret:
///
/// | case | failing step | `errorType` |
/// |---|---|---|
/// | the database is unreachable (a closed local port) | setSecret | `TargetUnreachable` |
/// | AWSCURRENT's password is refused by the server | setSecret | `LoginRefused` |
/// | `verify-full` against a CA that did not sign the server's certificate | setSecret | `TlsFailed` |
/// | AWSCURRENT is not JSON, or has no `host` | createSecret | `InvalidSecret` |
///
/// Each failing step leaves the store unchanged (labels as before), and the report and
/// the logs hold no password. Every case runs; the failures are reported together.
///
/// # Panics
///
/// When any case does not hold.
pub async fn assert_error_types<F: Fixture>(fx: &F, bin: &Path) {
    let results = [
        ("unreachable", try_target_unreachable(fx, bin).await),
        ("login refused", try_login_refused(fx, bin).await),
        ("TLS failed", try_tls_failed(fx, bin).await),
        ("invalid secret", try_invalid_secret(fx, bin).await),
    ];
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(case, r)| r.as_ref().err().map(|e| format!("{case}: {e}")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[cfg(test)]
mod tests {
    use rotwise_core::ErrorKind;

    use super::*;

    /// The `errorType`s the end-to-end checks expect are the documented ones.
    #[test]
    fn error_types_are_the_documented_names() {
        assert_eq!(ErrorKind::Unreachable.error_type(), "TargetUnreachable");
        assert_eq!(ErrorKind::LoginRefused.error_type(), "LoginRefused");
        assert_eq!(ErrorKind::Tls.error_type(), "TlsFailed");
        assert_eq!(ErrorKind::InvalidSecret.error_type(), "InvalidSecret");
        assert_eq!(
            ErrorKind::Configuration.error_type(),
            "InvalidConfiguration"
        );
    }

    #[test]
    fn with_key_sets_and_removes() {
        let json = r#"{"host":"h","port":5432}"#;
        let set: Value = serde_json::from_str(&with_key(json, "port", Some(json!(1)))).unwrap();
        assert_eq!(set, json!({"host": "h", "port": 1}));
        let removed: Value = serde_json::from_str(&with_key(json, "host", None)).unwrap();
        assert_eq!(removed, json!({"port": 5432}));
    }

    #[test]
    fn a_closed_port_refuses_connections() {
        let port = closed_port();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
