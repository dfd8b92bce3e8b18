//! The MySQL/MariaDB admin login and demo user of `init-demo --engine mysql`.
//!
//! The admin URL is turned into the secret JSON the engine reads, so the login goes
//! through the engine's own connector: TCP only, TLS per `ROTATION_TLS_MODE` / the `ssl`
//! key (absent: TLS when it works, else plaintext with a warning), trust roots from
//! `ROTATION_CA_FILE`, the connect timeout.

use rotwise_core::{ErrorKind, RotatorError, SecretString};
use rotwise_mysql::mysql_async::prelude::Queryable;
use rotwise_mysql::mysql_async::{self, Conn};
use rotwise_mysql::sql::{self, Flavor, Literals, Server};
use rotwise_mysql::{MysqlRotator, MysqlSecret};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::error::CliError;

/// Where and as whom the admin logs in.
pub struct Admin {
    pub host: String,
    pub port: u16,
    pub user: String,
    password: SecretString,
}

impl Admin {
    /// From a `mysql://user:password@host:port` URL (errors never quote it).
    pub fn from_url(url: &str) -> Result<Admin, String> {
        let opts = mysql_async::Opts::from_url(url)
            .map_err(|_| "not a valid mysql://USER:PASSWORD@HOST:PORT URL".to_string())?;
        Ok(Admin {
            host: opts.ip_or_hostname().to_string(),
            port: opts.tcp_port(),
            user: opts.user().ok_or("the URL has no user")?.to_string(),
            password: SecretString::from(opts.pass().ok_or("the URL has no password")?),
        })
    }

    fn secret(&self) -> Result<MysqlSecret, RotatorError> {
        let v = json!({
            "engine": "mysql",
            "host": self.host,
            "port": self.port,
            "username": self.user,
            "password": self.password.expose_secret(),
        });
        MysqlSecret::parse_str(&v.to_string())
            .map_err(|e| RotatorError::new(ErrorKind::InvalidSecret, e.to_string()))
    }

    /// Log in as the admin.
    pub async fn connect(&self, rotator: &MysqlRotator) -> Result<Conn, RotatorError> {
        Ok(rotator.connect(&self.secret()?).await?)
    }
}

/// A statement's error without the statement: a server error keeps its code and state
/// only, because the server's message may quote the statement (and the password hash).
/// The kind is the engine's classification ([`rotwise_mysql::statement_kind`]).
fn failed(context: String, e: &mysql_async::Error) -> CliError {
    let reason = match e {
        mysql_async::Error::Server(s) => format!("server error {} (SQLSTATE {})", s.code, s.state),
        other => other.to_string(),
    };
    CliError::target(
        context,
        RotatorError::new(rotwise_mysql::statement_kind(e), reason),
    )
}

/// The demo user that was created.
pub struct Demo {
    /// The secret's `engine`: `mariadb` or `mysql`, from `SELECT VERSION()`.
    pub engine: &'static str,
    /// The account's host part.
    pub account_host: &'static str,
}

/// Create `user`@`%` with `password` on the server `conn` is logged in to. On MariaDB
/// (and MySQL before 8.0) the account uses `mysql_native_password` and the statement holds
/// only its hash, computed here; MySQL 8 gets `caching_sha2_password`, whose statement
/// holds the plaintext (MySQL rewrites it in its logs).
pub async fn create_user(
    conn: &mut Conn,
    user: &str,
    password: &SecretString,
) -> Result<Demo, CliError> {
    let version: String = conn
        .query_first("SELECT VERSION()")
        .await
        .map_err(|e| failed("SELECT VERSION()".into(), &e))?
        .unwrap_or_default();
    let sql_mode: String = conn
        .query_first("SELECT @@SESSION.sql_mode")
        .await
        .map_err(|e| failed("SELECT @@SESSION.sql_mode".into(), &e))?
        .unwrap_or_default();
    let server = Server::parse(&version);
    let plugin = match server.flavor {
        Flavor::Mysql if server.version >= (8, 0, 0) => "caching_sha2_password",
        _ => sql::NATIVE,
    };
    // '%': the account matches wherever the CLI and the engine connect from.
    let account_host = "%";
    // create_user_sql marks a clone of its `base` on MySQL 8.0.21+; the demo user is no
    // clone, and `is_marked_clone_of` only ever looks at `<base>_clone`, so naming the user
    // itself as the base is harmless (an unmarked public variant would be cleaner).
    let statement = sql::create_user_sql(
        &server,
        plugin,
        user,
        user,
        account_host,
        password,
        Literals::from_sql_mode(&sql_mode),
    );
    conn.query_drop(statement.text())
        .await
        .map_err(|e| failed(format!("cannot create user {user}"), &e))?;
    Ok(Demo {
        engine: match server.flavor {
            Flavor::Mariadb => "mariadb",
            Flavor::Mysql => "mysql",
        },
        account_host,
    })
}

/// The demo secret: AWS's MySQL keys.
pub fn demo_secret(admin: &Admin, demo: &Demo, user: &str, password: &SecretString) -> Value {
    json!({
        "engine": demo.engine,
        "host": admin.host,
        "port": admin.port,
        "username": user,
        "password": password.expose_secret(),
    })
}
