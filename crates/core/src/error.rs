//! The driver's error type.

use std::fmt;

use crate::event::{EventError, Step};
use crate::password::PasswordError;
use crate::store::{StoreError, StoreErrorKind};

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
        source: RotatorError,
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
            RotationError::Rotator { source, .. } => source.kind().error_type(),
        }
    }

    /// The neutral kind of this error, for callers that branch on it (the CLI's exit
    /// codes, `doctor`): a rotator's own kind, [`ErrorKind::Store`] for a Secrets Manager
    /// call, [`ErrorKind::InvalidSecret`] for a secret with nothing to rotate from, and
    /// [`ErrorKind::InvalidEvent`] for a malformed event or a failed pre-check.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RotationError::InvalidEvent(_) | RotationError::Precheck(_) => ErrorKind::InvalidEvent,
            RotationError::Store { source, .. } => ErrorKind::Store(source.kind),
            RotationError::NoCurrentVersion { .. } => ErrorKind::InvalidSecret,
            RotationError::Rotator { source, .. } => source.kind(),
        }
    }
}

/// What kind of failure a rotator reports, in words that do not depend on the system being
/// rotated. The Lambda's `errorType` is [`ErrorKind::error_type`]; the CLI's exit codes and
/// `doctor` branch on the kind. The table of kinds is in `lambdas/README.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The target could not be reached: connection refused, DNS, a timeout.
    Unreachable,
    /// The target refused a credential (wrong password, unknown user).
    LoginRefused,
    /// TLS failed: the certificate did not verify, or the handshake failed.
    Tls,
    /// Logged in, but the user may not do what the step needs.
    Permission,
    /// A secret value is not usable (malformed JSON, a key missing or of the wrong type,
    /// a name over the target's limit, another user than the current one).
    InvalidSecret,
    /// The function's own configuration is wrong (environment, CA file).
    Configuration,
    /// The target's state does not allow the step (e.g. an existing user that is not
    /// the one expected); a person has to look.
    Conflict,
    /// The target failed a request after a successful login (a statement failed).
    Target,
    /// A Secrets Manager call failed, with the service's error kind.
    Store(StoreErrorKind),
    /// A malformed event or one of AWS's pre-checks (the driver's own errors).
    InvalidEvent,
    /// Anything else.
    Internal,
}

impl ErrorKind {
    /// Every kind a rotator reports (the store's kinds not expanded), for tables and tests.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::Unreachable,
        ErrorKind::LoginRefused,
        ErrorKind::Tls,
        ErrorKind::Permission,
        ErrorKind::InvalidSecret,
        ErrorKind::Configuration,
        ErrorKind::Conflict,
        ErrorKind::Target,
        ErrorKind::Internal,
    ];

    /// The Lambda `errorType` for a rotator's failure of this kind. A store failure keeps
    /// the service's exception name, so alarms on it keep matching.
    pub fn error_type(self) -> &'static str {
        match self {
            ErrorKind::Unreachable => "TargetUnreachable",
            ErrorKind::LoginRefused => "LoginRefused",
            ErrorKind::Tls => "TlsFailed",
            ErrorKind::Permission => "PermissionDenied",
            ErrorKind::InvalidSecret => "InvalidSecret",
            ErrorKind::Configuration => "InvalidConfiguration",
            ErrorKind::Conflict => "Conflict",
            ErrorKind::Target => "TargetError",
            ErrorKind::Store(k) => k.aws_type(),
            ErrorKind::InvalidEvent => "InvalidEvent",
            ErrorKind::Internal => "RotationFailed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error_type())
    }
}

/// A rotator's failure: a neutral [`ErrorKind`] and the system's own message. Never holds
/// a secret value.
///
/// A rotator builds one with [`RotatorError::new`] (kind and message),
/// [`RotatorError::with_source`] (kind, message and the underlying error), or `?` on a
/// [`StoreError`] or [`PasswordError`]; [`ResultExt::kind`] tags any other error.
///
/// ```
/// use rotwise_core::{ErrorKind, ResultExt, RotatorError};
///
/// let e = RotatorError::new(ErrorKind::LoginRefused, "the API refused the admin key");
/// assert_eq!(e.kind().error_type(), "LoginRefused");
/// assert_eq!(e.to_string(), "the API refused the admin key");
///
/// let parsed: Result<u16, _> = "http".parse::<u16>();
/// let e = parsed.kind(ErrorKind::InvalidSecret, "the port is not a number").unwrap_err();
/// assert_eq!(e.to_string(), "the port is not a number: invalid digit found in string");
/// ```
#[derive(Debug)]
pub struct RotatorError {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl RotatorError {
    /// An error of `kind` with `message` (which must not hold a secret value).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        RotatorError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// An error of `kind`: `message`, caused by `source` (shown after a colon).
    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        RotatorError {
            kind,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    /// An [`ErrorKind::Internal`] error from any error (its text becomes the message).
    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        RotatorError::new(ErrorKind::Internal, error.to_string())
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the source.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for RotatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RotatorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<StoreError> for RotatorError {
    fn from(e: StoreError) -> Self {
        RotatorError::new(ErrorKind::Store(e.kind), e.to_string())
    }
}

impl From<PasswordError> for RotatorError {
    fn from(e: PasswordError) -> Self {
        RotatorError::new(ErrorKind::Configuration, e.to_string())
    }
}

/// A bare message is an [`ErrorKind::Internal`] error (tag it with a kind when you know
/// one: [`RotatorError::new`]).
impl From<&str> for RotatorError {
    fn from(message: &str) -> Self {
        RotatorError::new(ErrorKind::Internal, message)
    }
}

impl From<String> for RotatorError {
    fn from(message: String) -> Self {
        RotatorError::new(ErrorKind::Internal, message)
    }
}

/// A JSON error in a rotator is almost always a secret value that is not the JSON it
/// should be: [`ErrorKind::InvalidSecret`]. serde_json's messages quote no input.
impl From<serde_json::Error> for RotatorError {
    fn from(e: serde_json::Error) -> Self {
        RotatorError::new(ErrorKind::InvalidSecret, e.to_string())
    }
}

/// Tag any error with an [`ErrorKind`] and a message of your own.
pub trait ResultExt<T> {
    /// `Err(e)` becomes a [`RotatorError`] of `kind`: `message`, caused by `e`.
    fn kind(self, kind: ErrorKind, message: impl Into<String>) -> Result<T, RotatorError>;
}

impl<T, E> ResultExt<T> for Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn kind(self, kind: ErrorKind, message: impl Into<String>) -> Result<T, RotatorError> {
        self.map_err(|e| RotatorError::with_source(kind, message, e))
    }
}
