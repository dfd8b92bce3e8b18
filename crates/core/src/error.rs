//! The driver's error type.

use crate::event::{EventError, Step};
use crate::rotator::BoxError;
use crate::store::StoreError;

/// AWS's pre-check failures, in the order AWS's functions check them. `Display` is
/// AWS's text verbatim, so alarms and runbooks written for AWS's functions keep
/// matching.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrecheckError {
    /// `RotationEnabled` is explicitly `false`.
    #[error("Secret {secret_id} is not enabled for rotation")]
    RotationDisabled {
        /// The event's `SecretId`.
        secret_id: String,
    },
    /// The token is not a version of the secret (or holds no stage).
    #[error("Secret version {token} has no stage for rotation of secret {secret_id}.")]
    NoStage {
        /// The event's `ClientRequestToken`.
        token: String,
        /// The event's `SecretId`.
        secret_id: String,
    },
    /// The token's version is neither AWSCURRENT nor AWSPENDING.
    #[error("Secret version {token} not set as AWSPENDING for rotation of secret {secret_id}.")]
    NotPending {
        /// The event's `ClientRequestToken`.
        token: String,
        /// The event's `SecretId`.
        secret_id: String,
    },
    /// The step is not one of the four.
    #[error("Invalid step parameter {step} for secret {secret_id}")]
    InvalidStep {
        /// The event's `Step`.
        step: String,
        /// The event's `SecretId`.
        secret_id: String,
    },
}

/// Why a rotation step failed. Never contains a secret value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotationError {
    /// The event is malformed; nothing was read or changed.
    #[error(transparent)]
    InvalidEvent(#[from] EventError),
    /// One of AWS's pre-checks failed; nothing was changed.
    #[error(transparent)]
    Precheck(#[from] PrecheckError),
    /// A Secrets Manager call failed.
    #[error("{step}: {source}")]
    Store {
        /// The step (or `None` before the step is known).
        step: StepName,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// The secret has no AWSCURRENT version, so there is nothing to rotate from.
    #[error("{step}: secret {secret_id} has no AWSCURRENT version; put a value first")]
    NoCurrentVersion {
        /// The step.
        step: Step,
        /// The event's `SecretId`.
        secret_id: String,
    },
    /// The rotator failed.
    #[error("{step} failed for secret {secret_id}: {source}")]
    Rotator {
        /// The step.
        step: Step,
        /// The event's `SecretId`.
        secret_id: String,
        /// The rotator's error.
        #[source]
        source: BoxError,
    },
}

/// A step name for errors raised before the step string is validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepName(pub String);

impl std::fmt::Display for StepName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl RotationError {
    /// A short machine-readable name for the error's kind (Lambda's `errorType`).
    pub fn error_type(&self) -> &'static str {
        match self {
            RotationError::InvalidEvent(_) => "InvalidEvent",
            RotationError::Precheck(_) => "ValueError",
            RotationError::Store { source, .. } => source.kind.aws_type(),
            RotationError::NoCurrentVersion { .. } => "NoCurrentVersion",
            RotationError::Rotator { .. } => "RotationFailed",
        }
    }
}
