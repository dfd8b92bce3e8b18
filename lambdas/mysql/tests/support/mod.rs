//! The private MariaDB of `scripts/services up` as a [`Fixture`], shared by `tests/e2e.rs`
//! and `examples/bench.rs`. Never the system server on 3306. Users are created on host
//! `'%'` with their `mysql_native_password` hash (no plaintext in the general log); the
//! master is RDS-like: `CREATE USER` and common privileges `WITH GRANT OPTION`, not SUPER.
#![allow(
    dead_code,
    reason = "shared by a test and an example; each uses a part"
)]

use std::path::PathBuf;
use std::time::Duration;

use rotwise_lambda_testkit::Error;
use rotwise_lambda_testkit::harness::{Fixture, async_trait};
use rotwise_mysql::mysql_async::Conn;
use rotwise_mysql::mysql_async::prelude::Queryable;
use rotwise_mysql::sql::{account, native_hash};
use rotwise_test_services::{LogCursor, MysqlService, unique_name};
use secrecy::SecretString;
use serde_json::{Value, json};

/// What the RDS-like master holds on `*.*`, `WITH GRANT OPTION` (no SUPER, no ALL).
pub const MASTER_PRIVILEGES: &str = "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, \
    PROCESS, REFERENCES, INDEX, ALTER, SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, \
    EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER";

/// The private MariaDB, with the `engine` value the secrets name (`mysql`, `aurora-mysql`
/// or `mariadb`: the function accepts each).
pub struct Mysql {
    pub my: MysqlService,
    pub engine: &'static str,
}

impl Mysql {
    pub fn new(my: MysqlService, engine: &'static str) -> Mysql {
        Mysql { my, engine }
    }

    /// The private server's port (never 3306).
    pub fn port(&self) -> u16 {
        let port = rotwise_mysql::mysql_async::Opts::from_url(&self.my.url)
            .map(|o| o.tcp_port())
            .unwrap_or(0);
        assert!(
            port != 0 && port != 3306,
            "ROTATION_TEST_MYSQL_URL must name the private server, never the system one on 3306"
        );
        port
    }

    /// Run statements as root.
    pub async fn admin(&self, statements: &[String]) -> Result<(), Error> {
        let mut admin = self.my.admin().await;
        for sql in statements {
            admin
                .query_drop(sql)
                .await
                .map_err(|e| format!("{sql}: {e}"))?;
        }
        admin.disconnect().await?;
        Ok(())
    }

    /// `SHOW GRANTS` for `user@'%'`.
    pub async fn grants(&self, user: &str) -> Vec<String> {
        let mut admin = self.my.admin().await;
        let rows = admin
            .query(format!("SHOW GRANTS FOR {}", account(user, "%")))
            .await
            .unwrap();
        let _ = admin.disconnect().await;
        rows
    }

    /// MariaDB's server-wide failed-login counter (`Access_denied_errors`).
    pub async fn access_denied(&self) -> u64 {
        let mut admin = self.my.admin().await;
        let row: Option<(String, String)> = admin
            .query_first("SHOW GLOBAL STATUS LIKE 'Access_denied_errors'")
            .await
            .unwrap();
        let _ = admin.disconnect().await;
        row.unwrap().1.parse().unwrap()
    }

    async fn connect(&self, user: &str, password: &str) -> Result<Conn, Error> {
        Ok(self.my.connect_as(user, password).await?)
    }
}

#[async_trait]
impl Fixture for Mysql {
    type LogMark = LogCursor;

    fn engine(&self) -> &'static str {
        "mysql"
    }

    fn unique_name(&self, prefix: &str) -> String {
        unique_name(prefix)
    }

    fn secret_json(&self, user: &str, password: &str, masterarn: Option<&str>) -> String {
        let mut v = json!({
            "engine": self.engine,
            "host": "127.0.0.1",
            "port": self.port(),
            "username": user,
            "password": password,
            "ssl": true,
        });
        if let Some(arn) = masterarn {
            v["masterarn"] = Value::String(arn.to_string());
        }
        v.to_string()
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ROTATION_TLS_MODE", "verify-full".to_string()),
            ("ROTATION_CA_FILE", self.my.ca.display().to_string()),
        ]
    }

    fn untrusted_ca(&self) -> PathBuf {
        self.my.other_ca.clone()
    }

    async fn create_user(&self, name: &str, password: &str) -> Result<(), Error> {
        let hash = native_hash(&SecretString::from(password));
        self.admin(&[format!(
            "CREATE USER {} IDENTIFIED BY PASSWORD '{hash}'",
            account(name, "%")
        )])
        .await
    }

    async fn create_master(&self, name: &str, password: &str, _user: &str) -> Result<(), Error> {
        assert_ne!(name, "root");
        self.create_user(name, password).await?;
        self.admin(&[format!(
            "GRANT {MASTER_PRIVILEGES} ON *.* TO {} WITH GRANT OPTION",
            account(name, "%")
        )])
        .await?;
        let grants = self.grants(name).await.join("\n");
        assert!(
            !grants.contains("SUPER") && !grants.contains("ALL PRIVILEGES"),
            "the master must not be a superuser: {grants}"
        );
        Ok(())
    }

    async fn drop_users(&self, names: &[String]) {
        let mut admin = self.my.admin().await;
        for name in names {
            let _ = admin
                .query_drop(format!("DROP USER IF EXISTS {}", account(name, "%")))
                .await;
        }
        let _ = admin.disconnect().await;
    }

    async fn login(&self, user: &str, password: &str) -> Result<(), Error> {
        self.connect(user, password).await?.disconnect().await?;
        Ok(())
    }

    fn log_mark(&self) -> LogCursor {
        self.my.log_cursor()
    }

    async fn log_since(&self, mark: &LogCursor) -> Result<String, Error> {
        let marker = unique_name("fence");
        self.admin(&[format!("SELECT '{marker}'")]).await?;
        Ok(mark.wait_for(&marker, Duration::from_secs(5)).await)
    }

    fn failed_logins(&self, log: &str, user: &str) -> usize {
        log.matches(&format!("Access denied for user '{user}'@"))
            .count()
    }

    fn connections(&self, log: &str, user: &str) -> usize {
        log.matches(&format!("Connect\t{user}@")).count()
    }
}
