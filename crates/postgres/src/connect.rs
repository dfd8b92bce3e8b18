//! Logging in: one TCP connection per login, TLS per [`TlsMode`], a timeout over the
//! whole startup (TCP, TLS, authentication), and errors that name the credential.
//!
//! The TCP connection is opened here and handed to `Config::connect_raw`, so that the
//! [`CleartextGuard`] sits on the plaintext socket, or inside TLS, and can refuse an
//! `AuthenticationCleartextPassword` request on a connection whose certificate was not
//! verified for the host name (`disable`, `require`, `prefer` after its fallback) unless
//! [`DbOptions::allow_cleartext_password`] is set.

use std::sync::OnceLock;

use rotwise_core::{ErrorKind, ExposeSecret};
use rotwise_db::error::{chain, fmt_duration};
use rotwise_db::login::{self, Attempt, CleartextRefused};
use rotwise_db::{Credential, DbError, DbOptions, LoginFailure};
use tokio::net::TcpStream;
use tokio_postgres::config::{ChannelBinding, SslMode};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Config, Connection, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::secret::PgSecret;
use crate::tls::{self, CleartextGuard, GuardedTls, TlsMode};

/// Opens connections for one rotator. The TLS client configuration (and the trust roots it
/// holds) is built once per process and mode, on the first connection that needs it: one for
/// `require`, one for `verify-full`, see [`rotwise_db::tls::root_store`].
pub(crate) struct Connector {
    options: DbOptions,
    require_tls: OnceLock<Result<rustls::ClientConfig, String>>,
    verify_tls: OnceLock<Result<rustls::ClientConfig, String>>,
}

impl Connector {
    pub(crate) fn new(options: &DbOptions) -> Connector {
        Connector {
            options: options.clone(),
            require_tls: OnceLock::new(),
            verify_tls: OnceLock::new(),
        }
    }

    fn tls(&self, mode: TlsMode) -> Result<MakeRustlsConnect, DbError> {
        let cell = if mode == TlsMode::Require {
            &self.require_tls
        } else {
            &self.verify_tls
        };
        // A clone shares the configuration's Arcs (roots, verifier, provider).
        let config = cell
            .get_or_init(|| {
                let roots = tls::root_store(self.options.ca_file.as_deref(), mode)?;
                tls::client_config(roots, mode)
            })
            .clone()
            .map_err(DbError::TlsConfig)?;
        Ok(MakeRustlsConnect::new(config))
    }

    /// What the guard refuses with on a connection `verified` or not.
    fn refusal(&self, secret: &PgSecret, verified: bool) -> Option<CleartextRefused> {
        (!verified && !self.options.allow_cleartext_password)
            .then(|| CleartextRefused::password(secret.host.clone()))
    }

    /// Log in with `secret`. The connection task runs until the client is dropped.
    pub(crate) async fn connect(
        &self,
        secret: &PgSecret,
        credential: Credential,
    ) -> Result<Client, DbError> {
        let mut config = Config::new();
        config
            .user(&secret.username)
            .password(secret.password.expose_secret().as_bytes())
            .dbname(&secret.dbname)
            .application_name("rotwise")
            // SCRAM-SHA-256-PLUS (tls-server-end-point) whenever the server offers it over
            // TLS; tokio-postgres-rustls provides the binding.
            .channel_binding(ChannelBinding::Prefer);
        let mode = self.options.tls.unwrap_or_else(|| secret.tls_mode());
        let result = match mode {
            TlsMode::Disable => self.plain(&config, secret).await,
            TlsMode::Require | TlsMode::VerifyFull => {
                let tls = self.tls(mode)?;
                self.with_tls(&config, secret, tls, mode == TlsMode::VerifyFull)
                    .await
            }
            TlsMode::Prefer => {
                let verified = self.tls(TlsMode::VerifyFull)?;
                login::prefer(
                    &secret.host,
                    secret.port,
                    self.with_tls(&config, secret, verified, true),
                    || self.plain(&config, secret),
                )
                .await
            }
        };
        login::finish(secret, credential, mode, result)
    }

    async fn plain(&self, config: &Config, secret: &PgSecret) -> Result<Client, Attempt> {
        let mut config = config.clone();
        config.ssl_mode(SslMode::Disable);
        let refusal = self.refusal(secret, false);
        self.finish(async move {
            let tcp = tcp(secret).await?;
            config
                .connect_raw(CleartextGuard::new(tcp, refusal), NoTls)
                .await
                .map_err(|e| attempt(&e))
        })
        .await
    }

    async fn with_tls(
        &self,
        config: &Config,
        secret: &PgSecret,
        mut tls: MakeRustlsConnect,
        verified: bool,
    ) -> Result<Client, Attempt> {
        let mut config = config.clone();
        config.ssl_mode(SslMode::Require);
        let refusal = self.refusal(secret, verified);
        self.finish(async move {
            let inner = MakeTlsConnect::<TcpStream>::make_tls_connect(&mut tls, &secret.host)
                .map_err(|e| Attempt::new(LoginFailure::Tls, format!("TLS: {e}")))?;
            let tcp = tcp(secret).await?;
            config
                .connect_raw(tcp, GuardedTls { inner, refusal })
                .await
                .map_err(|e| attempt(&e))
        })
        .await
    }

    async fn finish<S, T, F>(&self, connecting: F) -> Result<Client, Attempt>
    where
        F: Future<Output = Result<(Client, Connection<S, T>), Attempt>>,
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let timeout = self.options.connect_timeout;
        let (client, connection) = match tokio::time::timeout(timeout, connecting).await {
            Err(_) => {
                return Err(Attempt::new(
                    LoginFailure::Unreachable,
                    format!("timed out after {}", fmt_duration(timeout)),
                ));
            }
            Ok(Err(a)) => return Err(a),
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

/// The TCP connection to the secret's host and port (every address the name resolves to,
/// in order, as tokio tries them).
async fn tcp(secret: &PgSecret) -> Result<TcpStream, Attempt> {
    let stream = TcpStream::connect((secret.host.as_str(), secret.port))
        .await
        .map_err(|e| {
            Attempt::new(
                LoginFailure::Unreachable,
                format!("error connecting to server: {e}"),
            )
        })?;
    // As tokio-postgres does: startup messages are small and sent one at a time.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

fn attempt(e: &tokio_postgres::Error) -> Attempt {
    if let Some(refused) = tls::refused(e) {
        return refused.attempt();
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The TLS stream (tokio-postgres-rustls inside the [`CleartextGuard`]) provides
    /// `tls-server-end-point`, so `channel_binding=require` logs in over verify-full and
    /// require (SCRAM-SHA-256-PLUS); without TLS it cannot (the control).
    #[tokio::test]
    async fn channel_binding_over_tls() {
        let Some(pg) = rotwise_test_services::require_pg() else {
            return;
        };
        let admin = pg.admin_config();
        let secret = PgSecret::parse_str(
            &serde_json::json!({
                "engine": "postgres",
                "host": "127.0.0.1",
                "port": admin.get_ports().first().copied().unwrap_or_default(),
                "username": admin.get_user().unwrap_or_default(),
                "password": String::from_utf8_lossy(admin.get_password().unwrap_or_default()),
                "dbname": "postgres",
            })
            .to_string(),
        )
        .unwrap();
        let connector = Connector::new(&DbOptions {
            ca_file: Some(pg.ca.clone()),
            ..DbOptions::default()
        });
        let mut config = Config::new();
        config
            .user(&secret.username)
            .password(secret.password.expose_secret().as_bytes())
            .dbname("postgres")
            .channel_binding(ChannelBinding::Require);
        for mode in [TlsMode::VerifyFull, TlsMode::Require] {
            let tls = connector.tls(mode).unwrap();
            let client = connector
                .with_tls(&config, &secret, tls, mode == TlsMode::VerifyFull)
                .await
                .unwrap_or_else(|a| panic!("{mode}: {}", a.reason));
            let row = client
                .query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .await
                .unwrap();
            assert!(row.get::<_, bool>(0));
        }
        let err = connector.plain(&config, &secret).await.unwrap_err();
        assert!(err.reason.contains("channel binding"), "{}", err.reason);
    }
}
