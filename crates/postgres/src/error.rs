//! Errors. None carries a password or a secret value: only credential names, users,
//! hosts and the server's or TLS library's reason.

use rotwise_core::store::StoreError;

use crate::secret::SecretError;
use crate::sql::NameError;

pub use rotwise_dbsecret::{Credential, LoginError};

/// An error from the PostgreSQL rotators.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// A secret value is not a usable PostgreSQL secret.
    #[error("{error} (in the {credential} secret)")]
    Secret {
        /// Which secret.
        credential: Credential,
        /// What is wrong.
        error: SecretError,
    },
    /// A username cannot be used.
    #[error("{0}")]
    Name(#[from] NameError),
    /// A login failed.
    #[error(transparent)]
    Login(#[from] LoginError),
    /// A step failed with one of AWS's messages, with the cause (e.g. the login that failed).
    #[error("{message}: {cause}")]
    Step {
        /// AWS's text where AWS has one.
        message: String,
        /// Why.
        #[source]
        cause: Box<PgError>,
    },
    /// A check failed with one of AWS's messages (nothing more to say).
    #[error("{0}")]
    Refused(String),
    /// A statement failed.
    #[error("{context}: {reason}")]
    Sql {
        /// What was being done.
        context: String,
        /// The server's reason.
        reason: String,
    },
    /// The TLS configuration (CA files) is unusable.
    #[error("TLS configuration: {0}")]
    TlsConfig(String),
    /// The secret store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PgError {
    /// Whether this is (or wraps) a login the server refused (wrong password, no such user).
    pub fn is_auth_refused(&self) -> bool {
        match self {
            PgError::Login(l) => l.auth_refused,
            PgError::Step { cause, .. } => cause.is_auth_refused(),
            _ => false,
        }
    }

    pub(crate) fn step(message: impl Into<String>, cause: PgError) -> PgError {
        PgError::Step {
            message: message.into(),
            cause: Box::new(cause),
        }
    }
}

/// An error with its whole `source()` chain, `a: b: c` (tokio-postgres' `Display` shows
/// only the outermost part).
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = s.source();
    }
    out
}

/// A statement error, with the server's message.
pub(crate) fn sql(context: impl Into<String>, e: &tokio_postgres::Error) -> PgError {
    PgError::Sql {
        context: context.into(),
        reason: chain(e),
    }
}
