//! Which credential a login or a secret belongs to.

use std::fmt;

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
    /// The server refused the password or the user (PostgreSQL: SQLSTATE class 28;
    /// MySQL/MariaDB: error 1045 or 1698), as opposed to an unreachable server or a TLS
    /// failure.
    pub auth_refused: bool,
}
