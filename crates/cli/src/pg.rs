//! The PostgreSQL admin login of `init-demo`: a `postgres://` URL turned into the secret
//! JSON the engine reads, so the login goes through the engine's own connector (TLS per
//! `ROTATION_TLS_MODE` / the `ssl` key, trust roots from `ROTATION_CA_FILE`, timeout).

use std::str::FromStr;

use rotwise_core::RotatorError;
use rotwise_postgres::sql::{quote_ident, quote_literal};
use rotwise_postgres::tokio_postgres::{Client, Config};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::error::CliError;

/// Where and as whom to log in.
pub struct Target {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: SecretString,
    pub dbname: String,
}

impl Target {
    /// From a `postgres://user:password@host:port/db` URL (errors never quote it).
    pub fn from_url(url: &str) -> Result<Target, String> {
        let config =
            Config::from_str(url).map_err(|_| "not a valid postgres:// URL".to_string())?;
        let host = match config.get_hosts().first() {
            Some(rotwise_postgres::tokio_postgres::config::Host::Tcp(h)) => h.clone(),
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
        })
    }

    /// The secret JSON of this login (`engine` postgres, no `ssl` key: TLS when it works).
    pub fn to_secret(&self) -> Value {
        json!({
            "engine": "postgres",
            "host": self.host,
            "port": self.port,
            "username": self.user,
            "password": self.password.expose_secret(),
            "dbname": self.dbname,
        })
    }
}

/// `CREATE ROLE role LOGIN PASSWORD …` on the server `client` is logged in to. The server
/// only ever sees a SCRAM verifier, so the statement log holds no password. A missing
/// privilege (SQLSTATE 42501) is [`rotwise_core::ErrorKind::Permission`].
pub async fn create_role(
    client: &Client,
    role: &str,
    password: &SecretString,
) -> Result<(), CliError> {
    let verifier = rotwise_postgres::sql::scram_verifier(password);
    let sql = format!(
        "CREATE ROLE {} LOGIN PASSWORD {}",
        quote_ident(role),
        quote_literal(&verifier)
    );
    client.batch_execute(&sql).await.map_err(|e| {
        CliError::target(
            format!("cannot create role {role}"),
            RotatorError::new(rotwise_postgres::statement_kind(&e), e.to_string()),
        )
    })
}
