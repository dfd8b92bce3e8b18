//! What both engines' connectors share: one attempt's outcome, the `prefer` fallback to
//! plaintext with its WARN, and turning an attempt into a logged-in session or a
//! [`LoginError`] that names the credential.

use std::future::Future;

use crate::credential::{Credential, LoginError, LoginFailure};
use crate::error::DbError;
use crate::secret::{DbSecret, Engine};
use crate::tls::TlsMode;

/// Why one connection attempt failed, as the engine classified its driver's error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The server's or the TLS library's reason (never the password).
    pub reason: String,
    /// What kind of failure.
    pub failure: LoginFailure,
}

impl Attempt {
    /// A failed attempt of `failure` kind.
    pub fn new(failure: LoginFailure, reason: impl Into<String>) -> Attempt {
        Attempt {
            reason: reason.into(),
            failure,
        }
    }
}

/// `prefer`: run `tls` (a verify-full attempt); when TLS itself failed (the server
/// refused it, the handshake or the certificate failed), log a WARN naming the host and
/// the reason and run `plain`. Never silent.
pub async fn prefer<S, T, P, PF>(host: &str, port: u16, tls: T, plain: P) -> Result<S, Attempt>
where
    T: Future<Output = Result<S, Attempt>>,
    P: FnOnce() -> PF,
    PF: Future<Output = Result<S, Attempt>>,
{
    match tls.await {
        Err(a) if a.failure == LoginFailure::Tls => {
            tracing::warn!(
                host = %host,
                port = port,
                reason = %a.reason,
                "TLS to the database failed; ssl mode is prefer, so reconnecting WITHOUT TLS \
                 (set \"ssl\": true in the secret or ROTATION_TLS_MODE=verify-full to refuse this)"
            );
            plain().await
        }
        other => other,
    }
}

/// The end of a login: a DEBUG event on success, else a [`LoginError`] naming the
/// credential, the user and the host.
pub fn finish<S, E: Engine>(
    secret: &DbSecret<E>,
    credential: Credential,
    mode: TlsMode,
    result: Result<S, Attempt>,
) -> Result<S, DbError> {
    match result {
        Ok(session) => {
            tracing::debug!(
                %credential,
                user = %secret.username,
                host = %secret.host,
                tls = %mode,
                "logged in"
            );
            Ok(session)
        }
        Err(a) => Err(LoginError {
            credential,
            user: secret.username.clone(),
            host: secret.host.clone(),
            port: secret.port,
            reason: a.reason,
            failure: a.failure,
        }
        .into()),
    }
}
