//! Logging in: one TCP connection per login, TLS per [`TlsMode`], a timeout over the
//! whole startup (TCP, TLS, authentication), and errors that name the credential.

use std::sync::{Arc, OnceLock};

use rotwise_core::{ErrorKind, ExposeSecret};
use rotwise_db::error::{chain, fmt_duration};
use rotwise_db::login::{self, Attempt};
use rotwise_db::{Credential, DbError, DbOptions, LoginFailure};
use rustls::RootCertStore;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::secret::PgSecret;
use crate::tls::{self, TlsMode};

/// Opens connections for one rotator; the trust roots are loaded once per process.
pub(crate) struct Connector {
    options: DbOptions,
    roots: OnceLock<Result<Arc<RootCertStore>, String>>,
}

impl Connector {
    pub(crate) fn new(options: &DbOptions) -> Connector {
        Connector {
            options: options.clone(),
            roots: OnceLock::new(),
        }
    }

    fn tls(&self, mode: TlsMode) -> Result<MakeRustlsConnect, DbError> {
        let roots = self
            .roots
            .get_or_init(|| tls::root_store(self.options.ca_file.as_deref()))
            .clone()
            .map_err(DbError::TlsConfig)?;
        let config = tls::client_config(roots, mode).map_err(DbError::TlsConfig)?;
        Ok(MakeRustlsConnect::new(config))
    }

    /// Log in with `secret`. The connection task runs until the client is dropped.
    pub(crate) async fn connect(
        &self,
        secret: &PgSecret,
        credential: Credential,
    ) -> Result<Client, DbError> {
        let mut config = Config::new();
        config
            .host(&secret.host)
            .port(secret.port)
            .user(&secret.username)
            .password(secret.password.expose_secret().as_bytes())
            .dbname(&secret.dbname)
            .application_name("rotwise")
            .connect_timeout(self.options.connect_timeout);
        let mode = self.options.tls.unwrap_or_else(|| secret.tls_mode());
        let result = match mode {
            TlsMode::Disable => self.plain(config).await,
            TlsMode::Require | TlsMode::VerifyFull => self.with_tls(config, self.tls(mode)?).await,
            TlsMode::Prefer => {
                let verified = self.tls(TlsMode::VerifyFull)?;
                let plain_config = config.clone();
                login::prefer(
                    &secret.host,
                    secret.port,
                    self.with_tls(config, verified),
                    || self.plain(plain_config),
                )
                .await
            }
        };
        login::finish(secret, credential, mode, result)
    }

    async fn plain(&self, mut config: Config) -> Result<Client, Attempt> {
        config.ssl_mode(SslMode::Disable);
        self.finish(config.connect(NoTls)).await
    }

    async fn with_tls(
        &self,
        mut config: Config,
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
                return Err(Attempt::new(
                    LoginFailure::Unreachable,
                    format!("timed out after {}", fmt_duration(timeout)),
                ));
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

fn attempt(e: &tokio_postgres::Error) -> Attempt {
    let code = e.as_db_error().map(|db| db.code().code());
    let failure = match code {
        // invalid_authorization_specification, invalid_password
        Some(c) if c.starts_with("28") => LoginFailure::Refused,
        Some("42501") => LoginFailure::Permission,
        Some(_) => LoginFailure::Server,
        // tokio-postgres' TLS error kind (a failed handshake, or "server does not support
        // TLS") is not public; its text is fixed.
        None if e.to_string() == "error performing TLS handshake" => LoginFailure::Tls,
        None => LoginFailure::Unreachable,
    };
    Attempt::new(failure, chain(e))
}

/// The kind of a failed statement: [`ErrorKind::Permission`] for
/// `insufficient_privilege` (SQLSTATE 42501), else [`ErrorKind::Target`].
pub fn statement_kind(e: &tokio_postgres::Error) -> ErrorKind {
    if e.as_db_error()
        .is_some_and(|db| db.code().code() == "42501")
    {
        ErrorKind::Permission
    } else {
        ErrorKind::Target
    }
}

/// A statement error, with the server's message and its kind.
pub(crate) fn sql(context: impl Into<String>, e: &tokio_postgres::Error) -> DbError {
    DbError::Sql {
        context: context.into(),
        reason: chain(e),
        kind: statement_kind(e),
    }
}
