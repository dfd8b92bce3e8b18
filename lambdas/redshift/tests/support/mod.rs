//! The private PostgreSQL of `scripts/services up`, database `rotwise_md5` (TCP logins by
//! `md5`), as a [`Fixture`] for the Redshift Lambda: users with MD5-hash passwords (as
//! Redshift keeps them; never a plaintext in the statement log), a superuser master (as
//! Redshift's admin user), the statement log. Shared by `tests/e2e.rs` and
//! `examples/bench.rs`.
#![allow(
    dead_code,
    reason = "shared by a test and an example; each uses a part"
)]

use std::path::PathBuf;
use std::time::Duration;

use rotwise_core::SecretString;
use rotwise_lambda_testkit::Error;
use rotwise_lambda_testkit::harness::{Fixture, async_trait};
use rotwise_postgres::redshift::sql::md5_hash;
use rotwise_postgres::sql::{quote_ident, quote_literal};
use rotwise_test_services::{LogCursor, PgService, pg_connect, unique_name};
use serde_json::json;

/// The database whose logins use `md5` (scripts/services).
pub const DB: &str = "rotwise_md5";

/// The private PostgreSQL's md5 database, standing in for Redshift.
pub struct Rs(pub PgService);

impl Rs {
    /// The superuser, connected to the md5 database.
    pub async fn admin(&self) -> Result<rotwise_postgres::tokio_postgres::Client, Error> {
        let mut config = self.0.admin_config();
        config.dbname(DB);
        Ok(pg_connect(&config, self.0.tls()).await?)
    }

    /// The user's stored password (an MD5 hash here).
    pub async fn stored_password(&self, user: &str) -> Result<Option<String>, Error> {
        Ok(self
            .admin()
            .await?
            .query_opt(
                "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
                &[&user],
            )
            .await?
            .and_then(|r| r.get(0)))
    }
}

#[async_trait]
impl Fixture for Rs {
    type LogMark = LogCursor;

    fn engine(&self) -> &'static str {
        "redshift"
    }

    fn unique_name(&self, prefix: &str) -> String {
        unique_name(prefix)
    }

    fn secret_json(&self, user: &str, password: &str, masterarn: Option<&str>) -> String {
        let port = self
            .0
            .admin_config()
            .get_ports()
            .first()
            .copied()
            // Never fall back to the system server: it trusts every login.
            .expect("ROTATION_TEST_PG_URL names the private server's port");
        let mut v = json!({"engine": "redshift", "host": "127.0.0.1", "port": port,
            "username": user, "password": password, "dbname": DB, "ssl": true});
        if let Some(arn) = masterarn {
            v["masterarn"] = json!(arn);
        }
        v.to_string()
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ROTATION_TLS_MODE", "verify-full".to_string()),
            ("ROTATION_CA_FILE", self.0.ca.display().to_string()),
        ]
    }

    fn untrusted_ca(&self) -> PathBuf {
        self.0.other_ca.clone()
    }

    async fn create_user(&self, name: &str, password: &str) -> Result<(), Error> {
        self.admin()
            .await?
            .batch_execute(&format!(
                "CREATE USER {} PASSWORD '{}'",
                quote_ident(name),
                md5_hash(&SecretString::from(password), name)
            ))
            .await?;
        Ok(())
    }

    async fn create_master(&self, name: &str, password: &str, _user: &str) -> Result<(), Error> {
        self.create_user(name, password).await?;
        // Redshift's admin user is a superuser.
        self.admin()
            .await?
            .batch_execute(&format!("ALTER USER {} SUPERUSER", quote_ident(name)))
            .await?;
        Ok(())
    }

    async fn drop_users(&self, names: &[String]) {
        let Ok(admin) = self.admin().await else {
            return;
        };
        for name in names {
            let q = quote_ident(name);
            let _ = admin
                .batch_execute(&format!(
                    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {}) THEN \
                     EXECUTE 'DROP OWNED BY {q}'; EXECUTE 'DROP ROLE {q}'; END IF; END $$",
                    quote_literal(name)
                ))
                .await;
        }
    }

    async fn login(&self, user: &str, password: &str) -> Result<(), Error> {
        let mut config = self.0.config_for(user, password);
        config.dbname(DB);
        drop(pg_connect(&config, self.0.tls()).await?);
        Ok(())
    }

    fn log_mark(&self) -> LogCursor {
        self.0.log_cursor()
    }

    async fn log_since(&self, mark: &LogCursor) -> Result<String, Error> {
        let marker = unique_name("e2e_fence");
        self.admin()
            .await?
            .batch_execute(&format!("SELECT '{marker}'"))
            .await?;
        Ok(mark.wait_for(&marker, Duration::from_secs(5)).await)
    }

    fn failed_logins(&self, log: &str, user: &str) -> usize {
        log.matches(&format!(
            "password authentication failed for user \"{user}\""
        ))
        .count()
    }

    fn connections(&self, log: &str, user: &str) -> usize {
        log.matches(&format!("connection authorized: user={user} "))
            .count()
    }
}
