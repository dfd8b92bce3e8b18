//! Logging in: one TCP connection per login (never the Unix socket), TLS per [`TlsMode`],
//! a timeout over the whole handshake, and errors that name the credential.
//!
//! mysql_async's `Opts` derives `Debug` with the password: options are built here, passed
//! to the driver and never formatted.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, DriverError, IoError, OptsBuilder};
use rotwise_core::ExposeSecret;

use crate::MysqlOptions;
use crate::error::{Credential, LoginError, MysqlError, chain};
use crate::secret::MysqlSecret;
use crate::tls::{self, TlsMode};

/// Opens connections for one rotator; the trust roots are loaded once per process.
pub(crate) struct Connector {
    options: MysqlOptions,
    roots: OnceLock<Result<Arc<Vec<Vec<u8>>>, String>>,
}

/// Why one connection attempt failed.
struct Attempt {
    reason: String,
    tls_failed: bool,
    auth_refused: bool,
    /// A DNS name the certificate is valid for, when only the name did not match.
    presented_name: Option<String>,
}

/// Server errors that mean "wrong password or no such user":
/// ER_ACCESS_DENIED_ERROR and ER_ACCESS_DENIED_NO_PASSWORD_ERROR.
const ACCESS_DENIED: [u16; 2] = [1045, 1698];

impl Connector {
    pub(crate) fn new(options: MysqlOptions) -> Connector {
        Connector {
            options,
            roots: OnceLock::new(),
        }
    }

    pub(crate) fn options(&self) -> &MysqlOptions {
        &self.options
    }

    fn roots(&self) -> Result<Arc<Vec<Vec<u8>>>, MysqlError> {
        self.roots
            .get_or_init(|| tls::load_roots(self.options.ca_file.as_deref()))
            .clone()
            .map_err(MysqlError::TlsConfig)
    }

    /// The mode for `secret`: the options' override, else the secret's `ssl` key.
    pub(crate) fn mode_for(&self, secret: &MysqlSecret) -> TlsMode {
        self.options.tls.unwrap_or_else(|| secret.tls_mode())
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
    ) -> Result<Conn, MysqlError> {
        let mode = self.mode_for(secret);
        let result = match mode {
            TlsMode::Disable => self.attempt(Self::builder(secret)).await,
            TlsMode::VerifyFull => self.with_tls(secret, None).await?,
            TlsMode::Require => match self.with_tls(secret, None).await? {
                // Chain verified, name not: check the chain again against a name the
                // certificate holds. (mysql_async's own "skip domain validation" does not
                // recognise rustls' current name-mismatch error.)
                Err(Attempt {
                    presented_name: Some(name),
                    ..
                }) => self.with_tls(secret, Some(&name)).await?,
                other => other,
            },
            TlsMode::Prefer => match self.with_tls(secret, None).await? {
                Err(a) if a.tls_failed => {
                    tracing::warn!(
                        host = %secret.host,
                        port = secret.port,
                        reason = %a.reason,
                        "TLS to the database failed; ssl mode is prefer, so reconnecting WITHOUT TLS \
                         (set \"ssl\": true in the secret or ROTATION_TLS_MODE=verify-full to refuse this)"
                    );
                    self.attempt(Self::builder(secret)).await
                }
                other => other,
            },
        };
        match result {
            Ok(conn) => {
                tracing::debug!(
                    %credential,
                    user = %secret.username,
                    host = %secret.host,
                    tls = %mode,
                    "logged in"
                );
                Ok(conn)
            }
            Err(a) => Err(LoginError {
                credential,
                user: secret.username.clone(),
                host: secret.host.clone(),
                port: secret.port,
                reason: a.reason,
                auth_refused: a.auth_refused,
            }
            .into()),
        }
    }

    async fn with_tls(
        &self,
        secret: &MysqlSecret,
        name: Option<&str>,
    ) -> Result<Result<Conn, Attempt>, MysqlError> {
        let roots = self.roots()?;
        tls::install_provider();
        let builder = Self::builder(secret).ssl_opts(tls::ssl_opts(&roots, name));
        Ok(self.attempt(builder).await)
    }

    async fn attempt(&self, builder: OptsBuilder) -> Result<Conn, Attempt> {
        let timeout = self.options.connect_timeout;
        match tokio::time::timeout(timeout, Conn::new(builder)).await {
            Err(_) => Err(Attempt {
                reason: format!("timed out after {}", fmt_duration(timeout)),
                tls_failed: false,
                auth_refused: false,
                presented_name: None,
            }),
            Ok(Err(e)) => Err(classify(&e)),
            Ok(Ok(conn)) => Ok(conn),
        }
    }
}

/// Run `SELECT 1` and close the connection.
pub(crate) async fn probe_and_close(mut conn: Conn) -> Result<(), mysql_async::Error> {
    conn.query_drop("SELECT 1").await?;
    let _ = conn.disconnect().await;
    Ok(())
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn classify(e: &mysql_async::Error) -> Attempt {
    let auth_refused =
        matches!(e, mysql_async::Error::Server(s) if ACCESS_DENIED.contains(&s.code));
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
    let reason = match rustls_error {
        Some(r) => format!("TLS handshake failed: {r:?}: {r}"),
        None if tls_failed => format!("TLS: {}", chain(e)),
        None => chain(e),
    };
    Attempt {
        reason,
        tls_failed,
        auth_refused,
        presented_name: rustls_error.and_then(tls::presented_dns_name),
    }
}
