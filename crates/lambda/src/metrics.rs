//! Rotation metrics as CloudWatch Embedded Metric Format (EMF) lines on stdout: one per
//! step and one per completed rotation. CloudWatch Logs turns them into metrics with no API
//! call from the function (and so no permission): the line is the metric.
//!
//! Each step's line has the dimensions `Engine`, `Strategy` and `Step` (and, in a second
//! dimension set, `Function`, the function's name, which the templates' alarm watches),
//! and the metrics `Duration` (Milliseconds), `Success` and `Failure` (Count, 1 or 0),
//! `SecretsManagerCalls`, `DatabaseLogins` and `FailedDatabaseLogins` (Count). A rotation's
//! line, written when finishSecret moves AWSCURRENT, has `Engine` and `Strategy` (and
//! `Function`), `Rotations` (Count, 1) and, when the same process ran the whole rotation
//! (the usual case: the service invokes a warm function four times in a row),
//! `RotationDuration` from the start of createSecret, and the calls and logins of the four
//! steps. Properties that are not dimensions: `SecretId` (the ARN), `VersionId` (the
//! token, which is not a secret) and, on failure, `ErrorType`.
//!
//! The namespace is `ROTATION_METRICS_NAMESPACE` (default `Rotwise`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rotwise_core::config::{ConfigError, Env};
use rotwise_core::metrics::Counts;
use serde_json::{Map, Value, json};

/// The variable that names the metrics' namespace.
pub const ENV_NAMESPACE: &str = "ROTATION_METRICS_NAMESPACE";
/// The namespace when [`ENV_NAMESPACE`] is unset.
pub const DEFAULT_NAMESPACE: &str = "Rotwise";
/// The metric that counts failed steps (1 per failure), which the templates' alarm sums.
pub const FAILURE_METRIC: &str = "Failure";
/// The dimension that names the function (its own dimension set, for the alarm).
pub const FUNCTION_DIMENSION: &str = "Function";
/// Lambda's variable for the function's name.
const ENV_FUNCTION: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// Rotations in progress remembered at most (a function rotating many secrets at once
/// forgets the oldest; their rotation line then has no duration).
const MAX_IN_FLIGHT: usize = 64;
/// A rotation older than this is forgotten (the service gives up well before).
const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// The step names EMF dimensions take; anything else is `invalid`.
const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

/// What one step did, for its line.
#[derive(Clone, Debug)]
pub struct StepRecord<'a> {
    /// The event's `Step` (any text: an unknown one is recorded as `invalid`).
    pub step: &'a str,
    /// The event's `SecretId`.
    pub secret_id: &'a str,
    /// The event's `ClientRequestToken`.
    pub token: &'a str,
    /// The step's wall time.
    pub duration: Duration,
    /// The step's error type (its `errorType`), `None` on success.
    pub error_type: Option<&'a str>,
    /// Whether finishSecret moved AWSCURRENT in this invocation (not a retry that found
    /// the rotation done).
    pub completed_rotation: bool,
    /// What the step cost.
    pub counts: Counts,
}

/// A rotation seen from createSecret on.
struct InFlight {
    started: Instant,
    counts: Counts,
}

/// Writes the EMF lines of one function.
pub struct Metrics {
    namespace: String,
    engine: String,
    strategy: String,
    function: Option<String>,
    in_flight: Mutex<HashMap<String, InFlight>>,
}

impl Metrics {
    /// The namespace ([`ENV_NAMESPACE`]), the strategy (`ROTATION_STRATEGY`, `auto` when
    /// unset: each secret's keys decide) and the function's name from the environment.
    ///
    /// # Errors
    ///
    /// A namespace CloudWatch would refuse: more than 255 characters, a character outside
    /// letters, digits, space and `. - _ / # :`, or the reserved `AWS/` prefix.
    pub fn from_env(env: &Env, engine: &str) -> Result<Metrics, ConfigError> {
        let namespace = env.get_set(ENV_NAMESPACE).unwrap_or(DEFAULT_NAMESPACE);
        let valid = namespace.len() <= 255
            && !namespace.starts_with("AWS/")
            && namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " .-_/#:".contains(c));
        if !valid {
            return Err(ConfigError::invalid(
                ENV_NAMESPACE,
                namespace,
                "a CloudWatch namespace: at most 255 of letters, digits, space and . - _ / # :, not starting with AWS/",
            ));
        }
        let strategy = env
            .get_set("ROTATION_STRATEGY")
            .map(|s| s.trim().to_ascii_lowercase())
            .unwrap_or_else(|| "auto".into());
        Ok(Metrics {
            namespace: namespace.to_string(),
            engine: engine.to_string(),
            strategy,
            function: env.get_set(ENV_FUNCTION).map(str::to_string),
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    /// The EMF lines for a finished step: the step's, and the rotation's when this step
    /// completed one. Call once per invocation.
    pub fn lines(&self, record: &StepRecord<'_>) -> Vec<String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let step = if STEPS.contains(&record.step) {
            record.step
        } else {
            "invalid"
        };
        let ok = record.error_type.is_none();
        let mut lines = vec![self.step_line(now, step, record, ok)];
        let rotation = self.track(step, record, ok);
        if record.completed_rotation {
            lines.push(self.rotation_line(now, record, rotation));
        }
        lines
    }

    /// Remember a rotation from createSecret on; at its completion, return what it took.
    fn track(&self, step: &str, record: &StepRecord<'_>, ok: bool) -> Option<(Duration, Counts)> {
        let mut map = self
            .in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.retain(|_, r| r.started.elapsed() < MAX_AGE);
        if step == "createSecret" && ok && !map.contains_key(record.token) {
            if map.len() >= MAX_IN_FLIGHT
                && let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, r)| r.started)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
            map.insert(
                record.token.to_string(),
                InFlight {
                    started: Instant::now() - record.duration,
                    counts: Counts::default(),
                },
            );
        }
        if let Some(r) = map.get_mut(record.token) {
            r.counts = r.counts + record.counts;
        }
        if record.completed_rotation {
            return map
                .remove(record.token)
                .map(|r| (r.started.elapsed(), r.counts));
        }
        None
    }

    fn envelope(
        &self,
        now: u64,
        dimensions: &[&str],
        metrics: &[(&str, &str)],
    ) -> Map<String, Value> {
        let mut sets = vec![json!(dimensions)];
        if self.function.is_some() {
            sets.push(json!([FUNCTION_DIMENSION]));
        }
        let mut m = Map::new();
        m.insert(
            "_aws".into(),
            json!({
                "Timestamp": now,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": sets,
                    "Metrics": metrics.iter().map(|(name, unit)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
                }],
            }),
        );
        m.insert("Engine".into(), json!(self.engine));
        m.insert("Strategy".into(), json!(self.strategy));
        if let Some(f) = &self.function {
            m.insert(FUNCTION_DIMENSION.into(), json!(f));
        }
        m
    }

    fn step_line(&self, now: u64, step: &str, record: &StepRecord<'_>, ok: bool) -> String {
        let mut m = self.envelope(
            now,
            &["Engine", "Strategy", "Step"],
            &[
                ("Duration", "Milliseconds"),
                ("Success", "Count"),
                (FAILURE_METRIC, "Count"),
                ("SecretsManagerCalls", "Count"),
                ("DatabaseLogins", "Count"),
                ("FailedDatabaseLogins", "Count"),
            ],
        );
        m.insert("Step".into(), json!(step));
        m.insert(
            "Duration".into(),
            json!(record.duration.as_secs_f64() * 1000.0),
        );
        m.insert("Success".into(), json!(u8::from(ok)));
        m.insert(FAILURE_METRIC.into(), json!(u8::from(!ok)));
        m.insert(
            "SecretsManagerCalls".into(),
            json!(record.counts.secrets_manager_calls),
        );
        m.insert("DatabaseLogins".into(), json!(record.counts.logins));
        m.insert(
            "FailedDatabaseLogins".into(),
            json!(record.counts.failed_logins),
        );
        m.insert("SecretId".into(), json!(record.secret_id));
        m.insert("VersionId".into(), json!(record.token));
        if let Some(e) = record.error_type {
            m.insert("ErrorType".into(), json!(e));
        }
        Value::Object(m).to_string()
    }

    fn rotation_line(
        &self,
        now: u64,
        record: &StepRecord<'_>,
        whole: Option<(Duration, Counts)>,
    ) -> String {
        let mut metrics = vec![("Rotations", "Count")];
        if whole.is_some() {
            metrics.extend([
                ("RotationDuration", "Milliseconds"),
                ("RotationSecretsManagerCalls", "Count"),
                ("RotationDatabaseLogins", "Count"),
            ]);
        }
        let mut m = self.envelope(now, &["Engine", "Strategy"], &metrics);
        m.insert("Rotations".into(), json!(1));
        if let Some((took, counts)) = whole {
            m.insert(
                "RotationDuration".into(),
                json!(took.as_secs_f64() * 1000.0),
            );
            m.insert(
                "RotationSecretsManagerCalls".into(),
                json!(counts.secrets_manager_calls),
            );
            m.insert("RotationDatabaseLogins".into(), json!(counts.logins));
        }
        m.insert("SecretId".into(), json!(record.secret_id));
        m.insert("VersionId".into(), json!(record.token));
        Value::Object(m).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(pairs: &[(&str, &str)]) -> Result<Metrics, ConfigError> {
        Metrics::from_env(&Env::from_pairs(pairs.iter().copied()), "postgres")
    }

    fn record<'a>(
        step: &'a str,
        token: &'a str,
        error: Option<&'a str>,
        done: bool,
    ) -> StepRecord<'a> {
        StepRecord {
            step,
            secret_id: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
            token,
            duration: Duration::from_millis(12),
            error_type: error,
            completed_rotation: done,
            counts: Counts {
                secrets_manager_calls: 3,
                logins: 1,
                failed_logins: 0,
            },
        }
    }

    #[test]
    fn a_bad_namespace_names_the_variable() {
        for bad in ["AWS/Lambda", "has;semicolon", &"n".repeat(256)] {
            let e = metrics(&[(ENV_NAMESPACE, bad)]).err().unwrap();
            assert_eq!(e.var, ENV_NAMESPACE, "{bad}");
        }
        let m = metrics(&[(ENV_NAMESPACE, "Team/Rotation #1")]).unwrap();
        assert_eq!(m.namespace, "Team/Rotation #1");
        assert_eq!(metrics(&[]).unwrap().namespace, DEFAULT_NAMESPACE);
    }

    #[test]
    fn a_whole_rotation_in_one_process_has_its_totals() {
        let m = metrics(&[
            ("ROTATION_STRATEGY", "single"),
            (ENV_FUNCTION, "rotwise-pg"),
        ])
        .unwrap();
        let token = "5b3c0c8a-0000-4000-8000-000000000001";
        for step in ["createSecret", "setSecret", "testSecret"] {
            assert_eq!(m.lines(&record(step, token, None, false)).len(), 1);
        }
        let lines = m.lines(&record("finishSecret", token, None, true));
        assert_eq!(lines.len(), 2);
        let rotation: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(rotation["Rotations"], 1);
        assert_eq!(rotation["RotationSecretsManagerCalls"], 12);
        assert_eq!(rotation["RotationDatabaseLogins"], 4);
        assert!(rotation["RotationDuration"].as_f64().unwrap() >= 12.0);
        assert_eq!(rotation["Function"], "rotwise-pg");
        assert!(m.in_flight.lock().unwrap().is_empty());

        // finishSecret of a rotation this process did not start: Rotations only.
        let lines = m.lines(&record("finishSecret", "other", None, true));
        let rotation: Value = serde_json::from_str(&lines[1]).unwrap();
        assert!(rotation.get("RotationDuration").is_none(), "{rotation}");
        let names: Vec<&str> = rotation["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Rotations"]);
    }

    #[test]
    fn a_failed_step_and_an_unknown_step() {
        let m = metrics(&[]).unwrap();
        let line: Value = serde_json::from_str(
            &m.lines(&record("setSecret", "t", Some("LoginRefused"), false))[0],
        )
        .unwrap();
        assert_eq!(
            (line["Success"].as_u64(), line["Failure"].as_u64()),
            (Some(0), Some(1))
        );
        assert_eq!(line["ErrorType"], "LoginRefused");
        assert_eq!(line["Strategy"], "auto");
        assert!(line.get("Function").is_none());
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Engine", "Strategy", "Step"]])
        );
        let line: Value = serde_json::from_str(
            &m.lines(&record("dropTables", "t", Some("ValueError"), false))[0],
        )
        .unwrap();
        assert_eq!(line["Step"], "invalid");
    }

    #[test]
    fn in_flight_rotations_are_bounded() {
        let m = metrics(&[]).unwrap();
        for i in 0..(MAX_IN_FLIGHT + 10) {
            m.lines(&record("createSecret", &format!("t{i}"), None, false));
        }
        assert_eq!(m.in_flight.lock().unwrap().len(), MAX_IN_FLIGHT);
    }
}
