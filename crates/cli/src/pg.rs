//! PostgreSQL logins for `init-demo` and for the after-rotation proof.
//!
//! TLS follows the secret's `ssl` key as the engine does: `false` → plaintext;
//! `true` → TLS with the certificate verified, no fallback; absent → TLS when it
//! works, else plaintext with a warning on stderr (never silently). Trusted roots:
//! `ROTATION_CA_FILE`, `SSL_CERT_FILE`, else the system bundle.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};

/// Where and as whom to log in.
pub struct Target {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: SecretString,
    pub dbname: String,
    /// AWS's `ssl` key.
    pub ssl: Option<bool>,
}

/// The outcome of one login attempt.
pub enum Login {
    Accepted,
    /// The server refused the credential (wrong password or no such role).
    Refused,
    /// Something else went wrong (network, TLS): says nothing about the password.
    Error(String),
}

fn str_key<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

impl Target {
    /// From AWS's secret JSON (`host`, `port` number or string, `username`,
    /// `password`, `dbname`, `ssl`).
    pub fn from_secret(v: &Value) -> Result<Target, String> {
        let need = |k: &str| {
            str_key(v, k)
                .map(str::to_string)
                .ok_or_else(|| format!("the secret has no string `{k}`"))
        };
        let port = match v.get("port") {
            None | Some(Value::Null) => 5432,
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or("`port` is not a port number")?,
            Some(Value::String(s)) => s.parse().map_err(|_| "`port` is not a port number")?,
            Some(_) => return Err("`port` is not a port number".into()),
        };
        let ssl = match v.get("ssl") {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        };
        Ok(Target {
            host: need("host")?,
            port,
            user: need("username")?,
            password: SecretString::from(need("password")?),
            dbname: str_key(v, "dbname").unwrap_or("postgres").to_string(),
            ssl,
        })
    }

    /// From a `postgres://user:password@host:port/db` URL (errors never quote it).
    pub fn from_url(url: &str) -> Result<Target, String> {
        let config =
            Config::from_str(url).map_err(|_| "not a valid postgres:// URL".to_string())?;
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => return Err("the URL must name a TCP host".into()),
        };
        Ok(Target {
            host,
            port: config.get_ports().first().copied().unwrap_or(5432),
            user: config.get_user().ok_or("the URL has no user")?.to_string(),
            password: SecretString::from(
                String::from_utf8_lossy(config.get_password().ok_or("the URL has no password")?)
                    .into_owned(),
            ),
            dbname: config.get_dbname().unwrap_or("postgres").to_string(),
            ssl: None,
        })
    }

    fn config(&self) -> Config {
        let mut c = Config::new();
        c.host(&self.host)
            .port(self.port)
            .user(&self.user)
            .password(self.password.expose_secret())
            .dbname(&self.dbname)
            .application_name("rotwise-cli")
            .connect_timeout(Duration::from_secs(5));
        c
    }
}

fn roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let mut files = Vec::new();
    for var in ["ROTATION_CA_FILE", "SSL_CERT_FILE"] {
        if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
            files.push(std::path::PathBuf::from(p));
        }
    }
    files.push("/etc/pki/tls/cert.pem".into());
    files.push("/etc/ssl/certs/ca-certificates.crt".into());
    for f in files {
        if let Ok(iter) = CertificateDer::pem_file_iter(&f) {
            for cert in iter.flatten() {
                let _ = roots.add(cert);
            }
        }
    }
    roots
}

fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots())
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

fn is_auth_error(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::INVALID_PASSWORD || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    )
}

/// Why a connection failed; `auth` when the server refused the credential.
pub struct ConnectError {
    pub auth: bool,
    pub message: String,
}

impl From<tokio_postgres::Error> for ConnectError {
    fn from(e: tokio_postgres::Error) -> Self {
        ConnectError {
            auth: is_auth_error(&e),
            message: e.to_string(),
        }
    }
}

async fn connect_with<T>(config: &Config, tls: T) -> Result<Client, ConnectError>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    let (client, conn) = config.connect(tls).await?;
    tokio::spawn(async move {
        // A connection error surfaces on the client's next call.
        let _ = conn.await;
    });
    Ok(client)
}

/// Connect (a fresh session), following the TLS rule in the module docs.
pub async fn connect(t: &Target) -> Result<Client, ConnectError> {
    if t.ssl != Some(false) {
        let mut config = t.config();
        config.ssl_mode(tokio_postgres::config::SslMode::Require);
        let result = match tls() {
            Ok(tls) => connect_with(&config, tls).await,
            Err(message) => Err(ConnectError {
                auth: false,
                message: format!("cannot build a TLS configuration: {message}"),
            }),
        };
        match result {
            Ok(c) => return Ok(c),
            Err(e) if e.auth || t.ssl == Some(true) => return Err(e),
            Err(e) => eprintln!(
                "warning: TLS to {}:{} failed ({}); retrying without TLS (set \"ssl\": true in the secret to forbid this, or ROTATION_CA_FILE to trust its CA)",
                t.host, t.port, e.message
            ),
        }
    }
    let mut config = t.config();
    config.ssl_mode(tokio_postgres::config::SslMode::Disable);
    connect_with(&config, NoTls).await
}

/// Try one login and run `SELECT 1`.
pub async fn try_login(t: &Target) -> Login {
    match connect(t).await {
        Ok(client) => match client.simple_query("SELECT 1").await {
            Ok(_) => Login::Accepted,
            Err(e) => Login::Error(e.to_string()),
        },
        Err(e) if e.auth => Login::Refused,
        Err(e) => Login::Error(e.message),
    }
}

/// Quote an identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
