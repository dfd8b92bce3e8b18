//! Logging in: one TCP connection per login (never the Unix socket), TLS per [`TlsMode`],
//! a timeout over the whole handshake, and errors that name the credential.
//!
//! `prefer` retries without TLS only when the TLS handshake itself failed ([`classify`]:
//! the server did not offer TLS, or rustls failed with an error only a handshake produces);
//! an error after a completed handshake (a record that does not decrypt, a server error)
//! is reported, never retried in plaintext.
//!
//! On a connection not verified for the host name (`disable`, `require`, `prefer` after its
//! fallback) the login goes through a [`Relay`] that refuses `caching_sha2_password` full
//! authentication (see `relay.rs` for why mysql_async cannot be configured to), unless
//! [`DbOptions::allow_cleartext_password`]; `mysql_clear_password` is answered only on
//! `verify-full` or with that option; `sha256_password` is never answered (mysql_async
//! does not implement it and sends an empty response).
//!
//! mysql_async's `Opts` derives `Debug` with the password: options are built here, passed
//! to the driver and never formatted.

use std::sync::{Arc, OnceLock};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, DriverError, IoError, OptsBuilder};
use rotwise_core::{ErrorKind, ExposeSecret};
use rotwise_db::error::{chain, fmt_duration};
use rotwise_db::login::{self, Attempt, CleartextRefused};
use rotwise_db::{Credential, DbError, DbOptions, LoginFailure};
use rustls::pki_types::ServerName;

use crate::secret::MysqlSecret;
use crate::tls::{self, TlsMode};

mod relay;

use relay::{Relay, Stopped, Upstream};

/// Opens connections for one rotator; the trust roots are loaded once per process, on the
/// first connection that needs them: the relay's rustls configuration for `require`, and
/// mysql_async's roots for `verify-full` (with Amazon RDS's CAs for an RDS host, without
/// for any other), see [`tls::load_roots`].
pub(crate) struct Connector {
    options: DbOptions,
    require_tls: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
    verify_roots: OnceLock<Result<Arc<Vec<&'static [u8]>>, String>>,
    verify_roots_rds: OnceLock<Result<Arc<Vec<&'static [u8]>>, String>>,
}

/// Server errors that mean "wrong password or no such user":
/// ER_ACCESS_DENIED_ERROR and ER_ACCESS_DENIED_NO_PASSWORD_ERROR.
const ACCESS_DENIED: [u16; 2] = [1045, 1698];

/// Server errors that mean "logged in, but not allowed": ER_DBACCESS_DENIED_ERROR,
/// ER_TABLEACCESS_DENIED_ERROR, ER_COLUMNACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR,
/// ER_PROCACCESS_DENIED_ERROR, ER_CANT_CREATE_USER_WITH_GRANT.
const NOT_ALLOWED: [u16; 6] = [1044, 1142, 1143, 1227, 1370, 1410];

impl Connector {
    pub(crate) fn new(options: &DbOptions) -> Connector {
        Connector {
            options: options.clone(),
            require_tls: OnceLock::new(),
            verify_roots: OnceLock::new(),
            verify_roots_rds: OnceLock::new(),
        }
    }

    /// The `verify-full` roots for a connection to `host`.
    fn roots(&self, host: &str) -> Result<Arc<Vec<&'static [u8]>>, DbError> {
        let rds = rotwise_db::rds::is_rds_host(host);
        let cell = if rds {
            &self.verify_roots_rds
        } else {
            &self.verify_roots
        };
        cell.get_or_init(|| tls::load_roots(self.options.ca_file.as_deref(), rds))
            .clone()
            .map_err(DbError::TlsConfig)
    }

    /// The relay's TLS configuration for `require` (chain only; with a CA file, that file's
    /// CAs only).
    fn require_tls(&self) -> Result<Arc<rustls::ClientConfig>, DbError> {
        self.require_tls
            .get_or_init(|| {
                let roots =
                    rotwise_db::tls::root_store(self.options.ca_file.as_deref(), TlsMode::Require)?;
                rotwise_db::tls::client_config(Arc::new(roots), TlsMode::Require).map(Arc::new)
            })
            .clone()
            .map_err(DbError::TlsConfig)
    }

    /// The options for `secret`; `verified`: the connection will be `verify-full`.
    fn builder(&self, secret: &MysqlSecret, verified: bool) -> OptsBuilder {
        OptsBuilder::default()
            .ip_or_hostname(secret.host.clone())
            .tcp_port(secret.port)
            .user(Some(secret.username.clone()))
            .pass(Some(secret.password.expose_secret().to_owned()))
            .db_name(secret.dbname.clone())
            // A TCP login to a loopback address would otherwise switch to the Unix socket.
            .prefer_socket(false)
            // mysql_clear_password sends the password as is.
            .enable_cleartext_plugin(verified || self.options.allow_cleartext_password)
    }

    /// Log in with `secret`.
    pub(crate) async fn connect(
        &self,
        secret: &MysqlSecret,
        credential: Credential,
    ) -> Result<Conn, DbError> {
        let mode = self.options.tls.unwrap_or_else(|| secret.tls_mode());
        let result = match mode {
            TlsMode::Disable => self.plain(secret).await,
            TlsMode::VerifyFull => self.verified(secret).await?,
            TlsMode::Require => {
                let config = self.require_tls()?;
                match ServerName::try_from(secret.host.clone()) {
                    Ok(name) => {
                        let upstream = Upstream::Tls { config, name };
                        self.relayed(secret, upstream).await
                    }
                    Err(e) => Err(Attempt::new(
                        LoginFailure::Tls,
                        format!("TLS: the host is not a valid server name: {e}"),
                    )),
                }
            }
            TlsMode::Prefer => {
                let verified = self.verified(secret).await?;
                login::prefer(&secret.host, secret.port, async { verified }, || {
                    self.plain(secret)
                })
                .await
            }
        };
        login::finish(secret, credential, mode, result)
    }

    /// A plaintext login: through the [`Relay`] that refuses full authentication, unless
    /// cleartext is allowed.
    async fn plain(&self, secret: &MysqlSecret) -> Result<Conn, Attempt> {
        if self.options.allow_cleartext_password {
            self.attempt(self.builder(secret, false), &secret.host)
                .await
        } else {
            self.relayed(secret, Upstream::Plain).await
        }
    }

    /// A verify-full attempt (a bad CA file is an error, not a failed attempt).
    async fn verified(&self, secret: &MysqlSecret) -> Result<Result<Conn, Attempt>, DbError> {
        let roots = self.roots(&secret.host)?;
        tls::install_provider();
        let builder = self
            .builder(secret, true)
            .ssl_opts(tls::ssl_opts(&roots, None));
        Ok(self.attempt(builder, &secret.host).await)
    }

    /// An unverified login through a [`Relay`] (see `relay.rs`).
    async fn relayed(&self, secret: &MysqlSecret, upstream: Upstream) -> Result<Conn, Attempt> {
        let refusal = (!self.options.allow_cleartext_password).then(|| CleartextRefused {
            what: "full authentication (caching_sha2_password), which sends the password,",
            host: secret.host.clone(),
            note: "; a MySQL 8 caching_sha2_password account needs it on its first login \
                   after each password change",
        });
        let timeout = self.options.connect_timeout;
        let login = async {
            let relay = Relay::start(&secret.host, secret.port, upstream, refusal)
                .await
                .map_err(|e| Attempt::new(LoginFailure::Unreachable, format!("relay: {e}")))?;
            let builder = self
                .builder(secret, false)
                .ip_or_hostname("127.0.0.1")
                .tcp_port(relay.port());
            match Conn::new(builder).await {
                Ok(conn) => {
                    relay.keep();
                    Ok(conn)
                }
                Err(e) => Err(match relay.outcome().await {
                    Some(Stopped::Refused(refused)) => refused.attempt(),
                    Some(Stopped::Tls { reason, handshake }) => {
                        let a = Attempt::new(LoginFailure::Tls, reason);
                        if handshake { a } else { a.after_handshake() }
                    }
                    // The driver only saw the relay's side close: the relay's reason
                    // (e.g. the server refused the TCP connection) says more.
                    Some(Stopped::Io(reason))
                        if matches!(e, mysql_async::Error::Io(IoError::Io(_))) =>
                    {
                        Attempt::new(LoginFailure::Unreachable, reason)
                    }
                    Some(Stopped::Io(_)) | None => classify(&e, &secret.host),
                }),
            }
        };
        match tokio::time::timeout(timeout, login).await {
            Err(_) => Err(timed_out(timeout)),
            Ok(result) => result,
        }
    }

    async fn attempt(&self, builder: OptsBuilder, host: &str) -> Result<Conn, Attempt> {
        let timeout = self.options.connect_timeout;
        match tokio::time::timeout(timeout, Conn::new(builder)).await {
            Err(_) => Err(timed_out(timeout)),
            Ok(Err(e)) => Err(classify(&e, host)),
            Ok(Ok(conn)) => Ok(conn),
        }
    }
}

fn timed_out(timeout: std::time::Duration) -> Attempt {
    Attempt::new(
        LoginFailure::Unreachable,
        format!("timed out after {}", fmt_duration(timeout)),
    )
}

/// Run `SELECT 1` and close the connection.
pub(crate) async fn probe_and_close(mut conn: Conn) -> Result<(), DbError> {
    conn.query_drop("SELECT 1")
        .await
        .map_err(|e| sql("SELECT 1", &e))?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// A driver error as one attempt's failure. TLS failures are [`LoginFailure::Tls`]; only
/// those of the handshake itself ([`handshake_failed`]) let `prefer` retry without TLS.
/// A refused `mysql_clear_password` request is a [`CleartextRefused`] naming `host`.
fn classify(e: &mysql_async::Error, host: &str) -> Attempt {
    if let mysql_async::Error::Driver(DriverError::CleartextPluginDisabled) = e {
        let refused = CleartextRefused {
            what: "the password in cleartext (mysql_clear_password)",
            host: host.to_owned(),
            note: "",
        };
        tracing::warn!(host = %host, "{refused}");
        return refused.attempt();
    }
    let server_code = match e {
        mysql_async::Error::Server(s) => Some(s.code),
        _ => None,
    };
    let rustls_error = match e {
        mysql_async::Error::Io(IoError::Io(io)) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    // Before or at the handshake by construction: the server did not offer TLS, or the
    // TLS client could not be set up.
    let refused_or_setup = matches!(
        e,
        mysql_async::Error::Io(IoError::Tls(_))
            | mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer)
    );
    let tls_failed = rustls_error.is_some() || refused_or_setup;
    let failure = match server_code {
        Some(code) if ACCESS_DENIED.contains(&code) => LoginFailure::Refused,
        Some(code) if NOT_ALLOWED.contains(&code) => LoginFailure::Permission,
        Some(_) => LoginFailure::Server,
        None if tls_failed => LoginFailure::Tls,
        None => LoginFailure::Unreachable,
    };
    let reason = match rustls_error {
        Some(r) if handshake_failed(r) => format!("TLS handshake failed: {r:?}: {r}"),
        Some(r) => format!("TLS failed: {r:?}: {r}"),
        None if tls_failed => format!("TLS: {}", chain(e)),
        None => chain(e),
    };
    let attempt = Attempt::new(failure, reason);
    if refused_or_setup || rustls_error.is_some_and(handshake_failed) {
        attempt
    } else {
        attempt.after_handshake()
    }
}

/// Whether rustls failed in a way only the handshake produces: the certificate did not
/// verify, the server offered nothing acceptable, or it refused the handshake with one of
/// the alerts a server sends for that. mysql_async reports a handshake error and a later
/// read error the same way (an `io::Error` holding the `rustls::Error`), so the variant
/// decides. Errors an on-path attacker can cause after a completed handshake (a record
/// that does not decrypt or parse, an unexpected message) are not handshake failures: a
/// plaintext retry on them would turn "break the verified session" into "read the
/// plaintext one".
fn handshake_failed(e: &rustls::Error) -> bool {
    use rustls::{AlertDescription as A, Error as E};
    match e {
        E::InvalidCertificate(_)
        | E::NoCertificatesPresented
        | E::UnsupportedNameType
        | E::PeerIncompatible(_)
        | E::InvalidCertRevocationList(_)
        | E::HandshakeNotComplete
        | E::NoApplicationProtocol => true,
        E::AlertReceived(alert) => matches!(
            alert,
            A::HandshakeFailure
                | A::ProtocolVersion
                | A::InsufficientSecurity
                | A::IllegalParameter
                | A::UnrecognisedName
                | A::UnsupportedExtension
        ),
        _ => false,
    }
}

/// The kind of a failed statement: [`ErrorKind::Permission`] for a missing privilege
/// (the server's "access denied" errors after login), else [`ErrorKind::Target`].
pub fn statement_kind(e: &mysql_async::Error) -> ErrorKind {
    match e {
        mysql_async::Error::Server(s) if NOT_ALLOWED.contains(&s.code) => ErrorKind::Permission,
        _ => ErrorKind::Target,
    }
}

/// A statement error, with the server's message (mysql_async's errors never carry the
/// connection options, so no password).
pub(crate) fn sql(context: impl Into<String>, e: &mysql_async::Error) -> DbError {
    DbError::Sql {
        context: context.into(),
        reason: chain(e),
        kind: statement_kind(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rustls_io(e: rustls::Error) -> mysql_async::Error {
        mysql_async::Error::Io(IoError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            e,
        )))
    }

    /// Only handshake failures let `prefer` retry without TLS; errors an attacker can
    /// inject after the handshake, and server errors, do not. Failed before the fix: every
    /// rustls error counted as a failed handshake.
    #[test]
    fn only_handshake_failures_allow_a_plaintext_retry() {
        let retry = |e: mysql_async::Error| classify(&e, "db").tls_handshake_failed;
        for handshake in [
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
            rustls::Error::NoCertificatesPresented,
            rustls::Error::PeerIncompatible(rustls::PeerIncompatible::NoCipherSuitesInCommon),
            rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure),
            rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion),
        ] {
            assert!(retry(rustls_io(handshake.clone())), "{handshake:?}");
        }
        assert!(retry(mysql_async::Error::Driver(
            DriverError::NoClientSslFlagFromServer
        )));
        for later in [
            rustls::Error::DecryptError,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
            rustls::Error::PeerMisbehaved(rustls::PeerMisbehaved::IllegalMiddleboxChangeCipherSpec),
            rustls::Error::AlertReceived(rustls::AlertDescription::BadRecordMac),
            rustls::Error::AlertReceived(rustls::AlertDescription::DecryptError),
            rustls::Error::General("x".into()),
        ] {
            let failed = classify(&rustls_io(later.clone()), "db");
            assert_eq!(failed.failure, LoginFailure::Tls, "{later:?}");
            assert!(!failed.tls_handshake_failed, "{later:?}");
        }
        let eof = mysql_async::Error::Io(IoError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        assert!(!retry(eof));
    }
}
