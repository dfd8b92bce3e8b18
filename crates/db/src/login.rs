//! What both engines' connectors share: one attempt's outcome, the `prefer` fallback to
//! plaintext with its WARN, the refusal of a cleartext password request on an unverified
//! connection ([`CleartextRefused`]), and turning an attempt into a logged-in session or a
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
    /// Whether [`prefer`] may retry without TLS: TLS itself failed, before the handshake
    /// completed (the server refused TLS, the handshake or the certificate failed).
    pub tls_handshake_failed: bool,
}

impl Attempt {
    /// A failed attempt of `failure` kind; a [`LoginFailure::Tls`] one counts as a failed
    /// handshake (see [`Attempt::after_handshake`]).
    pub fn new(failure: LoginFailure, reason: impl Into<String>) -> Attempt {
        Attempt {
            reason: reason.into(),
            failure,
            tls_handshake_failed: failure == LoginFailure::Tls,
        }
    }

    /// The same failure, known to have happened after the TLS handshake completed (or
    /// not a handshake failure at all): `prefer` reports it instead of retrying without
    /// TLS.
    pub fn after_handshake(mut self) -> Attempt {
        self.tls_handshake_failed = false;
        self
    }
}

/// A server asked for the password in a form an eavesdropper or the server itself could
/// read, over a connection whose certificate was not verified for the host name, and
/// `ROTATION_ALLOW_CLEARTEXT_PASSWORD` is not set. Nothing was sent. Engines map it to
/// [`LoginFailure::Tls`] (see [`CleartextRefused::attempt`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the server asked for {what} over a connection whose certificate was not verified for \
     {host}; use verify-full, or set {var}=true to allow it{note}",
    var = crate::options::ENV_ALLOW_CLEARTEXT_PASSWORD
)]
pub struct CleartextRefused {
    /// What the server asked for, e.g. `the password in cleartext`.
    pub what: &'static str,
    /// The host connected to.
    pub host: String,
    /// An engine's addition (starts with `; ` or is empty).
    pub note: &'static str,
}

impl CleartextRefused {
    /// The PostgreSQL case: `AuthenticationCleartextPassword`.
    pub fn password(host: impl Into<String>) -> CleartextRefused {
        CleartextRefused {
            what: "the password in cleartext",
            host: host.into(),
            note: "",
        }
    }

    /// The failed attempt it makes ([`LoginFailure::Tls`], never retried without TLS).
    pub fn attempt(&self) -> Attempt {
        Attempt::new(LoginFailure::Tls, self.to_string()).after_handshake()
    }
}

/// `prefer`: run `tls` (a verify-full attempt); when TLS itself failed (the server
/// refused it, the handshake or the certificate failed), log a WARN naming the host and
/// the reason and run `plain`. Never silent. The engine decides what counts as "TLS itself
/// failed" (an attempt of [`LoginFailure::Tls`]): only a failure before the handshake
/// completed, never one after it (that would let whoever can break a verified session
/// force a plaintext one).
pub async fn prefer<S, T, P, PF>(host: &str, port: u16, tls: T, plain: P) -> Result<S, Attempt>
where
    T: Future<Output = Result<S, Attempt>>,
    P: FnOnce() -> PF,
    PF: Future<Output = Result<S, Attempt>>,
{
    match tls.await {
        Err(a) if a.tls_handshake_failed => {
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
    rotwise_core::metrics::record_login(result.is_ok());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleartext_refusal_says_what_and_names_the_variable() {
        let a = CleartextRefused::password("db.example.com").attempt();
        assert_eq!(a.failure, LoginFailure::Tls);
        assert_eq!(
            a.reason,
            "the server asked for the password in cleartext over a connection whose \
             certificate was not verified for db.example.com; use verify-full, or set \
             ROTATION_ALLOW_CLEARTEXT_PASSWORD=true to allow it"
        );
        assert_eq!(a.failure.kind(), rotwise_core::ErrorKind::Tls);
        assert!(
            !a.tls_handshake_failed,
            "never a reason to retry without TLS"
        );
    }

    #[tokio::test]
    async fn prefer_retries_only_after_a_failed_handshake() {
        let plain_runs = std::cell::Cell::new(0);
        let plain = || async {
            plain_runs.set(plain_runs.get() + 1);
            Ok::<_, Attempt>("plain")
        };
        let handshake = Attempt::new(LoginFailure::Tls, "bad certificate");
        assert_eq!(
            prefer("db", 1, async { Err(handshake) }, plain).await,
            Ok("plain")
        );
        let later = Attempt::new(LoginFailure::Tls, "decrypt error").after_handshake();
        assert_eq!(
            prefer("db", 1, async { Err(later.clone()) }, plain).await,
            Err(later)
        );
        let refused = Attempt::new(LoginFailure::Refused, "bad password");
        assert_eq!(
            prefer("db", 1, async { Err(refused.clone()) }, plain).await,
            Err(refused)
        );
        assert_eq!(plain_runs.get(), 1);
    }
}
