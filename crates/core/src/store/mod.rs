//! The Secrets Manager calls rotation needs, behind one trait.
//!
//! [`SecretStore`] is deliberately close to the service's API: each method is one
//! Secrets Manager operation with the same parameters, so an implementation is a thin
//! adapter and the driver's call count is the service's call count. Two
//! implementations live in this crate:
//!
//! - [`MemoryStore`]: in memory, with the service's real label semantics (one stage on
//!   one version, AWSPREVIOUS following AWSCURRENT, token idempotency, deprecated
//!   versions, "A previous rotation isn't complete"). Use it in tests and locally.
//! - `AwsStore` (feature `aws`, on by default): the AWS SDK client, and `LazyAwsStore`,
//!   the same configured on its first call.
//!
//! A store that wraps another one implements [`StoreLayer`] and is used as
//! [`Layered`]; `&S`, `Box<S>` and `Arc<S>` of any store are stores themselves.

mod layer;
mod memory;
pub use layer::{Layered, Operation, StoreCall, StoreFuture, StoreLayer};
pub use memory::{MemoryStore, StoreSnapshot};

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "aws")]
pub use aws::{AwsStore, LazyAws, LazyAwsStore, RotationSetup, SM_UNREACHABLE};

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use time::OffsetDateTime;

use crate::password::PasswordPolicy;

/// The label on the version consumers use.
pub const AWSCURRENT: &str = "AWSCURRENT";
/// The label on the version being rotated in.
pub const AWSPENDING: &str = "AWSPENDING";
/// The label the service moves to the old current version.
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// A secret value: a string (what every rotation function stores) or bytes.
///
/// Both variants are `secrecy` types: `Debug` prints `[REDACTED]` and the memory is
/// zeroized on drop.
#[derive(Clone)]
pub enum SecretPayload {
    /// `SecretString`.
    String(SecretString),
    /// `SecretBinary`.
    Binary(SecretSlice<u8>),
}

impl SecretPayload {
    /// The string value, or `None` for a binary secret.
    pub fn as_string(&self) -> Option<&SecretString> {
        match self {
            SecretPayload::String(s) => Some(s),
            SecretPayload::Binary(_) => None,
        }
    }

    /// Whether two payloads hold the same value (constant-time is not needed: both
    /// sides are already in this process).
    pub fn same_value(&self, other: &SecretPayload) -> bool {
        match (self, other) {
            (SecretPayload::String(a), SecretPayload::String(b)) => {
                a.expose_secret() == b.expose_secret()
            }
            (SecretPayload::Binary(a), SecretPayload::Binary(b)) => {
                a.expose_secret() == b.expose_secret()
            }
            _ => false,
        }
    }
}

impl fmt::Debug for SecretPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretPayload::String(_) => f.write_str("SecretString([REDACTED])"),
            SecretPayload::Binary(_) => f.write_str("SecretBinary([REDACTED])"),
        }
    }
}

impl From<SecretString> for SecretPayload {
    fn from(s: SecretString) -> Self {
        SecretPayload::String(s)
    }
}

impl From<&str> for SecretPayload {
    fn from(s: &str) -> Self {
        SecretPayload::String(SecretString::from(s))
    }
}

impl From<String> for SecretPayload {
    fn from(s: String) -> Self {
        SecretPayload::String(SecretString::from(s))
    }
}

/// `DescribeSecret`'s answer, reduced to what rotation and the CLI read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretDescription {
    /// The secret's ARN.
    pub arn: String,
    /// The secret's name.
    pub name: String,
    /// `Description`.
    pub description: Option<String>,
    /// `RotationEnabled`; `None` when the service (or moto) omits the key.
    pub rotation_enabled: Option<bool>,
    /// `RotationLambdaARN`.
    pub rotation_lambda_arn: Option<String>,
    /// `RotationRules.AutomaticallyAfterDays`.
    pub rotation_days: Option<i64>,
    /// `RotationRules.ScheduleExpression`.
    pub rotation_schedule: Option<String>,
    /// `LastRotatedDate`.
    pub last_rotated: Option<OffsetDateTime>,
    /// `VersionIdsToStages`: every version that holds at least one stage.
    pub versions: BTreeMap<String, Vec<String>>,
    /// `KmsKeyId`: the customer managed key, `None` for the account's default key.
    pub kms_key_id: Option<String>,
    /// `Tags`, key to value, including the system tags AWS sets itself (for example
    /// `aws:rds:primarydbinstancearn` on a master secret RDS manages).
    pub tags: BTreeMap<String, String>,
}

impl SecretDescription {
    /// The version holding `stage`, if any.
    pub fn version_with_stage(&self, stage: &str) -> Option<&str> {
        self.versions
            .iter()
            .find(|(_, stages)| stages.iter().any(|s| s == stage))
            .map(|(id, _)| id.as_str())
    }

    /// The stages of `version_id` (empty when the version holds none or is unknown).
    pub fn stages_of(&self, version_id: &str) -> &[String] {
        self.versions
            .get(version_id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Whether `version_id` holds `stage`.
    pub fn has_stage(&self, version_id: &str, stage: &str) -> bool {
        self.stages_of(version_id).iter().any(|s| s == stage)
    }
}

/// One version as `GetSecretValue` returns it.
#[derive(Clone, Debug)]
pub struct SecretVersion {
    /// The secret's ARN.
    pub arn: String,
    /// The secret's name.
    pub name: String,
    /// The version id (the `ClientRequestToken` it was put with).
    pub version_id: String,
    /// Its stages.
    pub stages: Vec<String>,
    /// The value.
    pub payload: SecretPayload,
    /// `CreatedDate`.
    pub created: Option<OffsetDateTime>,
}

/// One row of `ListSecretVersionIds`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionSummary {
    /// The version id.
    pub version_id: String,
    /// Its stages (empty for a deprecated version).
    pub stages: Vec<String>,
    /// `CreatedDate`.
    pub created: Option<OffsetDateTime>,
}

/// `PutSecretValue`'s input.
///
/// `Debug` prints `[REDACTED]` for the `RotationToken` (it authorizes a write to the
/// secret), as the payload's own `Debug` does for the value.
#[derive(Clone)]
pub struct PutSecretValue {
    /// ARN or name.
    pub secret_id: String,
    /// `ClientRequestToken`: the new version's id.
    pub token: String,
    /// The value.
    pub payload: SecretPayload,
    /// `VersionStages`. Empty means the service default (AWSCURRENT).
    pub stages: Vec<String>,
    /// `RotationToken`, forwarded from the rotation event when present.
    pub rotation_token: Option<String>,
}

impl fmt::Debug for PutSecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutSecretValue")
            .field("secret_id", &self.secret_id)
            .field("token", &self.token)
            .field("payload", &self.payload)
            .field("stages", &self.stages)
            .field(
                "rotation_token",
                &self.rotation_token.as_ref().map(|_| "[REDACTED]"),
            )
            .finish()
    }
}

/// `PutSecretValue`'s answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutOutput {
    /// The secret's ARN.
    pub arn: String,
    /// The version id written (or found, on an idempotent repeat).
    pub version_id: String,
    /// Its stages after the call.
    pub stages: Vec<String>,
}

/// `UpdateSecretVersionStage`'s input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateVersionStage {
    /// ARN or name.
    pub secret_id: String,
    /// The stage to move or remove.
    pub stage: String,
    /// `MoveToVersionId`.
    pub move_to: Option<String>,
    /// `RemoveFromVersionId`.
    pub remove_from: Option<String>,
}

/// `CreateSecret`'s input.
#[derive(Clone, Debug)]
pub struct CreateSecret {
    /// The name.
    pub name: String,
    /// The first value; it becomes AWSCURRENT. `None` creates a secret with no version.
    pub payload: Option<SecretPayload>,
    /// `ClientRequestToken` for the first version (generated when `None`).
    pub token: Option<String>,
    /// `Description`.
    pub description: Option<String>,
    /// `KmsKeyId`: the KMS key that encrypts the secret's values (ARN, key id or alias);
    /// `None`: the account's `aws/secretsmanager` key.
    pub kms_key_id: Option<String>,
}

/// Which store error, in the service's terms. Callers branch on this, never on text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// `ResourceNotFoundException`.
    ResourceNotFound,
    /// `InvalidRequestException`.
    InvalidRequest,
    /// `InvalidParameterException`.
    InvalidParameter,
    /// `ResourceExistsException`.
    ResourceExists,
    /// `LimitExceededException`.
    LimitExceeded,
    /// The call did not get an answer (network, timeout, dispatch failure).
    Transport,
    /// Any other service error.
    Service,
}

impl StoreErrorKind {
    /// The service's `__type` for this kind.
    pub fn aws_type(self) -> &'static str {
        match self {
            StoreErrorKind::ResourceNotFound => "ResourceNotFoundException",
            StoreErrorKind::InvalidRequest => "InvalidRequestException",
            StoreErrorKind::InvalidParameter => "InvalidParameterException",
            StoreErrorKind::ResourceExists => "ResourceExistsException",
            StoreErrorKind::LimitExceeded => "LimitExceededException",
            StoreErrorKind::Transport => "TransportError",
            StoreErrorKind::Service => "InternalServiceError",
        }
    }
}

/// A failed store call. The message never contains a secret value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {} ({})", .message, .kind.aws_type())]
pub struct StoreError {
    /// What went wrong, in the service's terms.
    pub kind: StoreErrorKind,
    /// The operation, e.g. `GetSecretValue`.
    pub operation: &'static str,
    /// The service's message (or the transport error).
    pub message: String,
}

impl StoreError {
    /// A new error.
    pub fn new(kind: StoreErrorKind, operation: &'static str, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            operation,
            message: message.into(),
        }
    }

    /// Whether this is `ResourceNotFoundException`.
    pub fn is_not_found(&self) -> bool {
        self.kind == StoreErrorKind::ResourceNotFound
    }

    /// The service refused the request for its rate (`ThrottlingException`, what it
    /// answers above a request quota), after the SDK's own retries: worth a later retry.
    pub fn is_throttling(&self) -> bool {
        self.kind == StoreErrorKind::Service
            && [
                "ThrottlingException",
                "TooManyRequestsException",
                "Throttling:",
            ]
            .iter()
            .any(|c| self.message.starts_with(c))
    }
}

/// The Secrets Manager operations the rotation driver and the CLI use.
///
/// Every method is one API call. Implementations must not retry in a way that changes
/// the outcome (the driver and the service already retry whole steps).
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// `DescribeSecret`.
    async fn describe_secret(&self, secret_id: &str) -> Result<SecretDescription, StoreError>;

    /// `GetSecretValue` by version id and/or stage. Implementations pass `AWSCURRENT`
    /// explicitly when both are `None` (moto can return a stale version otherwise).
    async fn get_secret_value(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<SecretVersion, StoreError>;

    /// `PutSecretValue`.
    async fn put_secret_value(&self, input: PutSecretValue) -> Result<PutOutput, StoreError>;

    /// `UpdateSecretVersionStage`.
    async fn update_secret_version_stage(
        &self,
        input: UpdateVersionStage,
    ) -> Result<(), StoreError>;

    /// `GetRandomPassword`, for deployments that want the service to make passwords.
    async fn get_random_password(
        &self,
        policy: &PasswordPolicy,
    ) -> Result<SecretString, StoreError>;

    /// `CreateSecret` (the CLI's `put` on a new name).
    async fn create_secret(&self, input: CreateSecret) -> Result<PutOutput, StoreError>;

    /// `ListSecretVersionIds` with `IncludeDeprecated`.
    async fn list_secret_version_ids(
        &self,
        secret_id: &str,
    ) -> Result<Vec<VersionSummary>, StoreError>;
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    /// Issue 19, item 5: neither the rotation token nor the value is in `Debug`.
    #[test]
    fn put_secret_value_debug_hides_the_rotation_token_and_the_value() {
        let put = PutSecretValue {
            secret_id: "s".into(),
            token: "t".into(),
            payload: "canary-value-91".into(),
            stages: vec![AWSPENDING.into()],
            rotation_token: Some("canary-rotation-token-91".into()),
        };
        let text = format!("{put:?} {put:#?}");
        assert!(!text.contains("canary-rotation-token-91"), "{text}");
        assert!(!text.contains("canary-value-91"), "{text}");
        assert!(
            text.contains("[REDACTED]") && text.contains("AWSPENDING"),
            "{text}"
        );
    }
}
