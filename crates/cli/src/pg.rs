//! The PostgreSQL admin login of `init-demo`: a `postgres://` URL turned into the secret
//! JSON the engine reads, so the login goes through the engine's own connector (TLS per
//! `ROTATION_TLS_MODE` / the `ssl` key, trust roots from `ROTATION_CA_FILE`, timeout).

use std::str::FromStr;

use rotwise_postgres::tokio_postgres::Config;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

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

/// Quote an identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
