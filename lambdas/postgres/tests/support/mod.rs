//! The private PostgreSQL of `scripts/services up` as a [`Fixture`], shared by `tests/e2e.rs`
//! and `examples/bench.rs`: SCRAM-verifier roles (no plaintext in the statement log), an
//! RDS-like `CREATEROLE` master (not a superuser), the statement log.
#![allow(
    dead_code,
    reason = "shared by a test and an example; each uses a part"
)]

use std::path::PathBuf;
use std::time::Duration;

use rotwise_core::SecretString;
use rotwise_lambda_testkit::Error;
use rotwise_lambda_testkit::harness::{Fixture, async_trait};
use rotwise_postgres::sql::{quote_ident, quote_literal, scram_verifier};
use rotwise_test_services::{LogCursor, PgService, unique_name};
use serde_json::json;

/// The private PostgreSQL, as the end-to-end tests and the benchmark use it.
pub struct Pg(pub PgService);

#[async_trait]
impl Fixture for Pg {
    type LogMark = LogCursor;

    fn engine(&self) -> &'static str {
        "postgres"
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
        let mut v = json!({"engine": "postgres", "host": "127.0.0.1", "port": port,
            "username": user, "password": password, "dbname": "postgres", "ssl": true});
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
        self.0
            .admin()
            .await
            .batch_execute(&format!(
                "CREATE ROLE {} LOGIN PASSWORD {}",
                quote_ident(name),
                quote_literal(&scram_verifier(&SecretString::from(password)))
            ))
            .await?;
        Ok(())
    }

    async fn create_master(&self, name: &str, password: &str, user: &str) -> Result<(), Error> {
        self.create_user(name, password).await?;
        // CREATEROLE, not SUPERUSER (RDS's master); PostgreSQL 16+ needs ADMIN on the base role.
        self.0
            .admin()
            .await
            .batch_execute(&format!(
                "ALTER ROLE {m} CREATEROLE; GRANT {} TO {m} WITH ADMIN OPTION",
                quote_ident(user),
                m = quote_ident(name),
            ))
            .await?;
        Ok(())
    }

    async fn drop_users(&self, names: &[String]) {
        let admin = self.0.admin().await;
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
        drop(self.0.connect_as(user, password).await?);
        Ok(())
    }

    fn log_mark(&self) -> LogCursor {
        self.0.log_cursor()
    }

    async fn log_since(&self, mark: &LogCursor) -> Result<String, Error> {
        let marker = unique_name("bench_fence");
        self.0
            .admin()
            .await
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
