//! What every engine's end-to-end test and benchmark shares (feature `test-support`): the
//! built binary under the local [`RuntimeApi`], Secrets Manager served by the test kit's
//! [`LocalEndpoint`] over a [`MemoryStore`], the engine-independent end-to-end checks, and
//! the [`Fixture`] an engine implements to make users on its private test server.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use async_trait::async_trait;
use rotwise_core::BoxError;
use rotwise_core::store::{AWSCURRENT, AWSPENDING, AWSPREVIOUS, MemoryStore, SecretStore};
use rotwise_testkit::endpoint::LocalEndpoint;
use serde_json::{Value, json};

use crate::emulator::{LambdaProcess, Outcome, RuntimeApi};

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
    /// Create a login user with `password` (never in plaintext in the server's log).
    async fn create_user(&self, name: &str, password: &str) -> Result<(), BoxError>;
    /// Create a master like RDS's (not a superuser) able to manage `user` and its clone.
    async fn create_master(&self, name: &str, password: &str, user: &str) -> Result<(), BoxError>;
    /// Drop these users (and their clones' leftovers) if they exist; errors are ignored.
    async fn drop_users(&self, names: &[String]);
    /// Log in once as `user` and disconnect.
    async fn login(&self, user: &str, password: &str) -> Result<(), BoxError>;
    /// The end of the server's log now.
    fn log_mark(&self) -> Self::LogMark;
    /// Everything the server logged since `mark`, up to a fence statement run now.
    async fn log_since(&self, mark: &Self::LogMark) -> Result<String, BoxError>;
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
    ) -> Result<Harness, BoxError> {
        let endpoint = LocalEndpoint::start(store)?;
        let api = RuntimeApi::start().await?;
        let mut all = vec![
            ("SECRETS_MANAGER_ENDPOINT", endpoint.url()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_string()),
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE".to_string()),
        ];
        all.extend(env.iter().cloned());
        let process = LambdaProcess::spawn(bin, &api, &all)?;
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
        let event = json!({"Step": step, "SecretId": arn, "ClientRequestToken": token});
        self.api.invoke(&event, INVOKE_TIMEOUT).await.unwrap()
    }

    /// Start a rotation in the store, run the four steps through the Runtime API (each
    /// must answer `null`), then complete it as Secrets Manager does.
    ///
    /// # Errors
    ///
    /// A step that failed, with the function's logs so far.
    pub async fn try_rotate(&self, arn: &str) -> Result<Rotation, BoxError> {
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

    /// Stop the function; everything it wrote (stdout then stderr).
    pub async fn logs(&mut self) -> String {
        self.process.stop().await;
        format!("{}{}", self.process.stdout(), self.process.stderr())
    }
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
        assert_eq!(report.error_type(), crate::CONFIG_ERROR_TYPE);
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
