//! The event Secrets Manager sends to a rotation function, and its steps.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One rotation invocation: `{"Step", "SecretId", "ClientRequestToken", "RotationToken"?}`.
///
/// `Step` stays a string here: AWS's functions validate it only after the label checks
/// (an unknown step for a token that is already AWSCURRENT succeeds), and so do we.
/// `Debug` hides `RotationToken`, which authorizes a write to the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationEvent {
    /// `createSecret`, `setSecret`, `testSecret` or `finishSecret`.
    #[serde(rename = "Step")]
    pub step: String,
    /// The secret's ARN (or name, when invoked by hand).
    #[serde(rename = "SecretId")]
    pub secret_id: String,
    /// The id of the version being rotated in.
    #[serde(rename = "ClientRequestToken")]
    pub client_request_token: String,
    /// Passed on to `PutSecretValue` (needed for cross-account rotation).
    #[serde(
        rename = "RotationToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub rotation_token: Option<String>,
}

impl fmt::Debug for RotationEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RotationEvent")
            .field("step", &self.step)
            .field("secret_id", &self.secret_id)
            .field("client_request_token", &self.client_request_token)
            .field(
                "rotation_token",
                &self.rotation_token.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// Why an event could not be read. The message names the problem and the expected shape.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid rotation event: {0}; expected a JSON object {{\"Step\": \"createSecret|setSecret|testSecret|finishSecret\", \"SecretId\": \"<arn>\", \"ClientRequestToken\": \"<version id>\", \"RotationToken\": \"<optional>\"}}"
)]
pub struct EventError(pub String);

impl RotationEvent {
    /// A new event (no `RotationToken`).
    pub fn new(step: Step, secret_id: impl Into<String>, token: impl Into<String>) -> Self {
        RotationEvent {
            step: step.as_str().to_string(),
            secret_id: secret_id.into(),
            client_request_token: token.into(),
            rotation_token: None,
        }
    }

    /// Read an event from JSON, with a clear error for anything malformed.
    ///
    /// ```
    /// use rotwise_core::RotationEvent;
    /// let ok = RotationEvent::from_json(&serde_json::json!({
    ///     "Step": "createSecret", "SecretId": "arn:...:secret:db", "ClientRequestToken": "t"
    /// }));
    /// assert!(ok.is_ok());
    /// let err = RotationEvent::from_json(&serde_json::json!({"Step": "createSecret"}))
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("missing field `SecretId`"));
    /// ```
    pub fn from_json(value: &serde_json::Value) -> Result<Self, EventError> {
        if !value.is_object() {
            return Err(EventError(format!(
                "the event is a JSON {}, not an object",
                json_kind(value)
            )));
        }
        let event: RotationEvent =
            serde_json::from_value(value.clone()).map_err(|e| EventError(e.to_string()))?;
        for (name, field) in [
            ("Step", &event.step),
            ("SecretId", &event.secret_id),
            ("ClientRequestToken", &event.client_request_token),
        ] {
            if field.trim().is_empty() {
                return Err(EventError(format!("field `{name}` is empty")));
            }
        }
        Ok(event)
    }

    /// Read an event from JSON text.
    pub fn from_json_str(text: &str) -> Result<Self, EventError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| EventError(format!("not JSON: {e}")))?;
        Self::from_json(&value)
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// The four rotation steps, in the order the service runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// Make the pending version.
    CreateSecret,
    /// Make the target accept it.
    SetSecret,
    /// Prove it works.
    TestSecret,
    /// Make it current.
    FinishSecret,
}

impl Step {
    /// All steps in order.
    pub const ALL: [Step; 4] = [
        Step::CreateSecret,
        Step::SetSecret,
        Step::TestSecret,
        Step::FinishSecret,
    ];

    /// The name the service uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::CreateSecret => "createSecret",
            Step::SetSecret => "setSecret",
            Step::TestSecret => "testSecret",
            Step::FinishSecret => "finishSecret",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not one of the four step names (they are case-sensitive, as in AWS).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown step {0:?}: expected createSecret, setSecret, testSecret or finishSecret")]
pub struct UnknownStep(pub String);

impl FromStr for Step {
    type Err = UnknownStep;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Step::ALL
            .into_iter()
            .find(|step| step.as_str() == s)
            .ok_or_else(|| UnknownStep(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_aws_field_names_and_optional_rotation_token() {
        let e = RotationEvent::from_json(&json!({
            "Step": "setSecret", "SecretId": "s", "ClientRequestToken": "t", "RotationToken": "r"
        }))
        .unwrap();
        assert_eq!(e.step, "setSecret");
        assert_eq!(e.rotation_token.as_deref(), Some("r"));
        let e = RotationEvent::from_json(&json!({
            "Step": "setSecret", "SecretId": "s", "ClientRequestToken": "t"
        }))
        .unwrap();
        assert_eq!(e.rotation_token, None);
        // Round trip keeps AWS's names and leaves out an absent RotationToken.
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"Step": "setSecret", "SecretId": "s", "ClientRequestToken": "t"})
        );
    }

    #[test]
    fn malformed_events_say_what_is_wrong() {
        let cases = [
            (json!(null), "JSON null, not an object"),
            (json!([1]), "JSON array, not an object"),
            (json!("createSecret"), "JSON string, not an object"),
            (
                json!({"SecretId": "s", "ClientRequestToken": "t"}),
                "missing field `Step`",
            ),
            (
                json!({"Step": "createSecret", "ClientRequestToken": "t"}),
                "missing field `SecretId`",
            ),
            (
                json!({"Step": "createSecret", "SecretId": "s"}),
                "missing field `ClientRequestToken`",
            ),
            (
                json!({"Step": 1, "SecretId": "s", "ClientRequestToken": "t"}),
                "invalid type: integer `1`, expected a string",
            ),
            (
                json!({"Step": "createSecret", "SecretId": "", "ClientRequestToken": "t"}),
                "field `SecretId` is empty",
            ),
            (
                json!({"Step": "createSecret", "SecretId": "s", "ClientRequestToken": " "}),
                "field `ClientRequestToken` is empty",
            ),
        ];
        for (value, expected) in cases {
            let err = RotationEvent::from_json(&value).unwrap_err().to_string();
            assert!(err.contains(expected), "{value}: {err}");
            assert!(err.contains("expected a JSON object"), "{err}");
        }
        let err = RotationEvent::from_json_str("{not json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not JSON"), "{err}");
    }

    #[test]
    fn debug_hides_rotation_token() {
        let mut e = RotationEvent::new(Step::CreateSecret, "s", "t");
        e.rotation_token = Some("very-secret-rotation-token".into());
        let dbg = format!("{e:?}");
        assert!(!dbg.contains("very-secret"), "{dbg}");
        assert!(dbg.contains("[REDACTED]"));
    }

    #[test]
    fn steps_parse_case_sensitively() {
        for step in Step::ALL {
            assert_eq!(step.as_str().parse::<Step>().unwrap(), step);
        }
        assert!("CreateSecret".parse::<Step>().is_err());
        assert!("".parse::<Step>().is_err());
    }
}
