//! Logging in: one TCP connection per login, TLS per [`TlsMode`], a timeout over the
//! whole startup (TCP, TLS, authentication), and errors that name the credential.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rotwise_core::ExposeSecret;
use rustls::RootCertStore;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::PgOptions;
use crate::error::{Credential, LoginError, PgError, chain};
use crate::secret::PgSecret;
use crate::tls::{self, TlsMode};

/// Opens connections for one rotator; the trust roots are loaded once per process.
pub(crate) struct Connector {
    options: PgOptions,
    roots: OnceLock<Result<Arc<RootCertStore>, String>>,
}

/// Why one connection attempt failed.
struct Attempt {
    reason: String,
    tls_failed: bool,
    auth_refused: bool,
}

impl Connector {
    pub(crate) fn new(options: PgOptions) -> Connector {
        Connector {
            options,
            roots: OnceLock::new(),
        }
    }

    pub(crate) fn options(&self) -> &PgOptions {
        &self.options
    }

    fn tls(&self, mode: TlsMode) -> Result<MakeRustlsConnect, PgError> {
        let roots = self
            .roots
            .get_or_init(|| tls::load_roots(self.options.ca_file.as_deref()))
            .clone()
            .map_err(PgError::TlsConfig)?;
        let config = tls::client_config(roots, mode).map_err(PgError::TlsConfig)?;
        Ok(MakeRustlsConnect::new(config))
    }

    /// The mode for `secret`: the options' override, else the secret's `ssl` key.
    pub(crate) fn mode_for(&self, secret: &PgSecret) -> TlsMode {
        self.options.tls.unwrap_or_else(|| secret.tls_mode())
    }

    /// Log in with `secret`. The connection task runs until the client is dropped.
    pub(crate) async fn connect(
        &self,
        secret: &PgSecret,
        credential: Credential,
    ) -> Result<Client, PgError> {
        let mut config = Config::new();
        config
            .host(&secret.host)
            .port(secret.port)
            .user(&secret.username)
            .password(secret.password.expose_secret().as_bytes())
            .dbname(&secret.dbname)
            .application_name("rotwise")
            .connect_timeout(self.options.connect_timeout);
        let login_error = |a: Attempt| LoginError {
            credential,
            user: secret.username.clone(),
            host: secret.host.clone(),
            port: secret.port,
            reason: a.reason,
            auth_refused: a.auth_refused,
        };
        let mode = self.mode_for(secret);
        let result = match mode {
            TlsMode::Disable => self.plain(&mut config).await,
            TlsMode::Require | TlsMode::VerifyFull => {
                self.with_tls(&mut config, self.tls(mode)?).await
            }
            TlsMode::Prefer => {
                match self
                    .with_tls(&mut config, self.tls(TlsMode::VerifyFull)?)
                    .await
                {
                    Err(a) if a.tls_failed => {
                        tracing::warn!(
                            host = %secret.host,
                            port = secret.port,
                            reason = %a.reason,
                            "TLS to the database failed; ssl mode is prefer, so reconnecting WITHOUT TLS \
                             (set \"ssl\": true in the secret or ROTATION_TLS_MODE=verify-full to refuse this)"
                        );
                        self.plain(&mut config).await
                    }
                    other => other,
                }
            }
        };
        match result {
            Ok(client) => {
                tracing::debug!(
                    %credential,
                    user = %secret.username,
                    host = %secret.host,
                    tls = %mode,
                    "logged in"
                );
                Ok(client)
            }
            Err(a) => Err(login_error(a).into()),
        }
    }

    async fn plain(&self, config: &mut Config) -> Result<Client, Attempt> {
        config.ssl_mode(SslMode::Disable);
        self.finish(config.connect(NoTls)).await
    }

    async fn with_tls(
        &self,
        config: &mut Config,
        tls: MakeRustlsConnect,
    ) -> Result<Client, Attempt> {
        config.ssl_mode(SslMode::Require);
        self.finish(config.connect(tls)).await
    }

    async fn finish<S, F>(&self, connecting: F) -> Result<Client, Attempt>
    where
        F: Future<
            Output = Result<
                (
                    Client,
                    tokio_postgres::Connection<tokio_postgres::Socket, S>,
                ),
                tokio_postgres::Error,
            >,
        >,
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let timeout = self.options.connect_timeout;
        let (client, connection) = match tokio::time::timeout(timeout, connecting).await {
            Err(_) => {
                return Err(Attempt {
                    reason: format!("timed out after {}", fmt_duration(timeout)),
                    tls_failed: false,
                    auth_refused: false,
                });
            }
            Ok(Err(e)) => return Err(attempt(&e)),
            Ok(Ok(pair)) => pair,
        };
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %chain(&e), "database connection ended with an error");
            }
        });
        Ok(client)
    }
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn attempt(e: &tokio_postgres::Error) -> Attempt {
    let auth_refused = e
        .as_db_error()
        .is_some_and(|db| db.code().code().starts_with("28"));
    Attempt {
        reason: chain(e),
        // tokio-postgres' TLS error kind (a failed handshake, or "server does not support
        // TLS") is not public; its text is fixed.
        tls_failed: e.to_string() == "error performing TLS handshake",
        auth_refused,
    }
}
