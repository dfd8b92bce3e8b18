//! Logging in: one TCP connection per login (never the Unix socket), TLS per [`TlsMode`],
//! a timeout over the whole handshake, and errors that name the credential.
//!
//! mysql_async's `Opts` derives `Debug` with the password: options are built here, passed
//! to the driver and never formatted.

use std::sync::{Arc, OnceLock};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, DriverError, IoError, OptsBuilder};
use rotwise_core::{ErrorKind, ExposeSecret};
use rotwise_db::error::{chain, fmt_duration};
use rotwise_db::login::{self, Attempt};
use rotwise_db::{Credential, DbError, DbOptions, LoginFailure};

use crate::secret::MysqlSecret;
use crate::tls::{self, TlsMode};

/// Opens connections for one rotator; the trust roots are loaded once per process.
pub(crate) struct Connector {
    options: DbOptions,
    roots: OnceLock<Result<Arc<Vec<Vec<u8>>>, String>>,
}

/// One attempt's failure, and for `require` a DNS name the certificate is valid for when
/// only the name did not match.
struct Failed {
    attempt: Attempt,
    presented_name: Option<String>,
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
            roots: OnceLock::new(),
        }
    }

    fn roots(&self) -> Result<Arc<Vec<Vec<u8>>>, DbError> {
        self.roots
            .get_or_init(|| tls::load_roots(self.options.ca_file.as_deref()))
            .clone()
            .map_err(DbError::TlsConfig)
    }

    fn builder(secret: &MysqlSecret) -> OptsBuilder {
        OptsBuilder::default()
            .ip_or_hostname(secret.host.clone())
            .tcp_port(secret.port)
            .user(Some(secret.username.clone()))
            .pass(Some(secret.password.expose_secret().to_owned()))
            .db_name(secret.dbname.clone())
            // A TCP login to a loopback address would otherwise switch to the Unix socket.
            .prefer_socket(false)
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
                let roots = self.roots()?;
                match self.with_tls(secret, &roots, None).await {
                    // Chain verified, name not: check the chain again against a name the
                    // certificate holds. (mysql_async's own "skip domain validation" does
                    // not recognise rustls' current name-mismatch error.)
                    Err(Failed {
                        presented_name: Some(name),
                        ..
                    }) => self.with_tls(secret, &roots, Some(&name)).await,
                    other => other,
                }
                .map_err(|f| f.attempt)
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

    async fn plain(&self, secret: &MysqlSecret) -> Result<Conn, Attempt> {
        self.attempt(Self::builder(secret))
            .await
            .map_err(|f| f.attempt)
    }

    /// A verify-full attempt (a bad CA file is an error, not a failed attempt).
    async fn verified(&self, secret: &MysqlSecret) -> Result<Result<Conn, Attempt>, DbError> {
        let roots = self.roots()?;
        Ok(self
            .with_tls(secret, &roots, None)
            .await
            .map_err(|f| f.attempt))
    }

    async fn with_tls(
        &self,
        secret: &MysqlSecret,
        roots: &[Vec<u8>],
        name: Option<&str>,
    ) -> Result<Conn, Failed> {
        tls::install_provider();
        let builder = Self::builder(secret).ssl_opts(tls::ssl_opts(roots, name));
        self.attempt(builder).await
    }

    async fn attempt(&self, builder: OptsBuilder) -> Result<Conn, Failed> {
        let timeout = self.options.connect_timeout;
        match tokio::time::timeout(timeout, Conn::new(builder)).await {
            Err(_) => Err(Failed {
                attempt: Attempt::new(
                    LoginFailure::Unreachable,
                    format!("timed out after {}", fmt_duration(timeout)),
                ),
                presented_name: None,
            }),
            Ok(Err(e)) => Err(classify(&e)),
            Ok(Ok(conn)) => Ok(conn),
        }
    }
}

/// Run `SELECT 1` and close the connection.
pub(crate) async fn probe_and_close(mut conn: Conn) -> Result<(), DbError> {
    conn.query_drop("SELECT 1")
        .await
        .map_err(|e| sql("SELECT 1", &e))?;
    let _ = conn.disconnect().await;
    Ok(())
}

fn classify(e: &mysql_async::Error) -> Failed {
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
    let tls_failed = rustls_error.is_some()
        || matches!(
            e,
            mysql_async::Error::Io(IoError::Tls(_))
                | mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer)
        );
    let failure = match server_code {
        Some(code) if ACCESS_DENIED.contains(&code) => LoginFailure::Refused,
        Some(code) if NOT_ALLOWED.contains(&code) => LoginFailure::Permission,
        Some(_) => LoginFailure::Server,
        None if tls_failed => LoginFailure::Tls,
        None => LoginFailure::Unreachable,
    };
    let reason = match rustls_error {
        Some(r) => format!("TLS handshake failed: {r:?}: {r}"),
        None if tls_failed => format!("TLS: {}", chain(e)),
        None => chain(e),
    };
    Failed {
        attempt: Attempt::new(failure, reason),
        presented_name: rustls_error.and_then(tls::presented_dns_name),
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
