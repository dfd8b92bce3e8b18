//! [`DbError`]: what both engines' rotators fail with, mapped to a neutral
//! [`ErrorKind`]. None carries a password or a secret value: only credential names,
//! users, hosts and the server's or TLS library's reason.

use std::time::Duration;

use rotwise_core::store::StoreError;
use rotwise_core::{ErrorKind, RotatorError};

use crate::credential::{Credential, LoginError};
use crate::names::NameError;
use crate::secret::SecretError;

/// An error from a database rotator.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A secret value is not a usable secret for this engine.
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
    /// Every credential single-user setSecret may use failed to log in (AWS's text, then
    /// each failure).
    #[error("{message}: {}", join(.failures))]
    NoLogin {
        /// AWS's text.
        message: String,
        /// The failures, current first.
        failures: Vec<LoginError>,
    },
    /// A step failed with one of AWS's messages, with the cause (e.g. the login that failed).
    #[error("{message}: {cause}")]
    Step {
        /// AWS's text where AWS has one.
        message: String,
        /// Why.
        #[source]
        cause: Box<DbError>,
    },
    /// A check refused the step (AWS's text where AWS has one).
    #[error("{message}")]
    Rejected {
        /// What kind of problem.
        kind: ErrorKind,
        /// What is wrong and, where it helps, what to do.
        message: String,
    },
    /// A statement failed.
    #[error("{context}: {reason}")]
    Sql {
        /// What was being done.
        context: String,
        /// The server's reason.
        reason: String,
        /// [`ErrorKind::Permission`] when the server said the user lacks a privilege,
        /// else [`ErrorKind::Target`].
        kind: ErrorKind,
    },
    /// The TLS configuration (CA files) is unusable.
    #[error("TLS configuration: {0}")]
    TlsConfig(String),
    /// The secret store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn join(failures: &[LoginError]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl DbError {
    /// The neutral kind: what the Lambda's `errorType` and the CLI's exit code say.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DbError::Secret { .. } | DbError::Name(_) => ErrorKind::InvalidSecret,
            DbError::Login(l) => l.failure.kind(),
            // The current credential's failure says most (it is tried first).
            DbError::NoLogin { failures, .. } => failures
                .first()
                .map_or(ErrorKind::LoginRefused, |l| l.failure.kind()),
            DbError::Step { cause, .. } => cause.kind(),
            DbError::Rejected { kind, .. } | DbError::Sql { kind, .. } => *kind,
            DbError::TlsConfig(_) => ErrorKind::Configuration,
            DbError::Store(e) => ErrorKind::Store(e.kind),
        }
    }

    /// Whether this is (or wraps) a login the server refused (wrong password, no such user).
    pub fn is_auth_refused(&self) -> bool {
        match self {
            DbError::Login(l) => l.is_auth_refused(),
            DbError::Step { cause, .. } => cause.is_auth_refused(),
            _ => false,
        }
    }

    /// `message`, caused by `cause`.
    pub fn step(message: impl Into<String>, cause: DbError) -> DbError {
        DbError::Step {
            message: message.into(),
            cause: Box::new(cause),
        }
    }

    /// A check that refused the step, of `kind`.
    pub fn rejected(kind: ErrorKind, message: impl Into<String>) -> DbError {
        DbError::Rejected {
            kind,
            message: message.into(),
        }
    }

    /// A secret value that is not usable.
    pub fn secret(credential: Credential, error: SecretError) -> DbError {
        DbError::Secret { credential, error }
    }
}

impl From<DbError> for RotatorError {
    fn from(e: DbError) -> Self {
        RotatorError::new(e.kind(), e.to_string())
    }
}

/// An error with its whole `source()` chain, `a: b: c` (drivers' `Display` often shows
/// only the outermost part). A part already in the text is not repeated.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = s.source();
    }
    out
}

/// A type's name without its module paths, for errors about a value of the wrong type
/// (`Option<alloc::string::String>` → `Option<String>`): the engines' typed row readers
/// name what they wanted, never the value they got.
///
/// ```
/// assert_eq!(rotwise_db::error::short_type_name::<Option<String>>(), "Option<String>");
/// assert_eq!(rotwise_db::error::short_type_name::<i32>(), "i32");
/// ```
pub fn short_type_name<T>() -> String {
    let full = std::any::type_name::<T>();
    let mut out = String::with_capacity(full.len());
    let mut segment = String::new();
    for c in full.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            segment.push(c);
        } else {
            out.push_str(segment.rsplit("::").next().unwrap_or(""));
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(segment.rsplit("::").next().unwrap_or(""));
    out
}

/// A timeout for messages: `5 s`, `250 ms`.
pub fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::LoginFailure;

    fn login(failure: LoginFailure) -> LoginError {
        LoginError {
            credential: Credential::Current,
            user: "app".into(),
            host: "db".into(),
            port: 5432,
            reason: "nope".into(),
            failure,
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(
            DbError::from(login(LoginFailure::Tls)).kind(),
            ErrorKind::Tls
        );
        let e = DbError::NoLogin {
            message: "Unable to log into database".into(),
            failures: vec![
                login(LoginFailure::Unreachable),
                login(LoginFailure::Refused),
            ],
        };
        assert_eq!(e.kind(), ErrorKind::Unreachable);
        assert!(
            e.to_string()
                .starts_with("Unable to log into database: login with the current")
        );
        let e = DbError::step("outer", DbError::from(login(LoginFailure::Refused)));
        assert_eq!(e.kind(), ErrorKind::LoginRefused);
        assert!(e.is_auth_refused());
        assert_eq!(
            RotatorError::from(DbError::TlsConfig("x".into())).kind(),
            ErrorKind::Configuration
        );
    }
}
