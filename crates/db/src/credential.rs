//! Which credential a login or a secret belongs to, and why a login failed.

use std::fmt;

use rotwise_core::ErrorKind;

/// Which credential a login or a secret belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// AWSCURRENT.
    Current,
    /// AWSPENDING.
    Pending,
    /// AWSPREVIOUS.
    Previous,
    /// The master secret (`masterarn`).
    Master,
    /// A value checked outside a rotation step.
    Given,
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Credential::Current => "current",
            Credential::Pending => "pending",
            Credential::Previous => "previous",
            Credential::Master => "master",
            Credential::Given => "given",
        })
    }
}

/// Why a login failed, as the engine classified its driver's error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginFailure {
    /// The server refused the password or the user (PostgreSQL: SQLSTATE class 28;
    /// MySQL/MariaDB: error 1045 or 1698).
    Refused,
    /// TLS failed: the server refused it, the handshake failed or the certificate did
    /// not verify.
    Tls,
    /// The server could not be reached: connection refused, DNS, a timeout.
    Unreachable,
    /// Authenticated, but the user may not connect (no `CONNECT` on the database, ...).
    Permission,
    /// Any other server error during startup (e.g. the database does not exist).
    Server,
}

impl LoginFailure {
    /// The neutral kind.
    pub fn kind(self) -> ErrorKind {
        match self {
            LoginFailure::Refused => ErrorKind::LoginRefused,
            LoginFailure::Tls => ErrorKind::Tls,
            LoginFailure::Unreachable => ErrorKind::Unreachable,
            LoginFailure::Permission => ErrorKind::Permission,
            LoginFailure::Server => ErrorKind::Target,
        }
    }
}

/// A failed login. Never carries the password: only the credential's name, the user,
/// the host and the server's or the TLS library's reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "login with the {credential} credentials (user {user:?} at {host}:{port}) failed: {reason}"
)]
pub struct LoginError {
    /// Whose credentials.
    pub credential: Credential,
    /// The username.
    pub user: String,
    /// The host.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The server's or the TLS library's reason (never the password).
    pub reason: String,
    /// What kind of failure.
    pub failure: LoginFailure,
}

impl LoginError {
    /// Whether the server refused the password or the user, as opposed to an unreachable
    /// server or a TLS failure.
    pub fn is_auth_refused(&self) -> bool {
        self.failure == LoginFailure::Refused
    }
}
