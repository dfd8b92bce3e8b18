//! Benchmark of the PostgreSQL Lambda zips against DESIGN 5.1's targets.
//!
//! ```sh
//! scripts/services up && eval "$(scripts/services env)"
//! scripts/dist postgres
//! cargo run --release -p rotwise-lambda-postgres --example bench [-- ZIP... ] [--rotations N]
//! ```
//!
//! The program is [`rotwise_lambda::bench::main`] (shared with the MySQL Lambda): for each
//! zip (default: `dist/postgres/bootstrap.zip`) and each strategy, the zip's `bootstrap`
//! runs under the local Lambda Runtime API against the private PostgreSQL, and one table
//! is printed. This file is the [`Fixture`] for that server: SCRAM-verifier roles, an
//! RDS-like `CREATEROLE` master, the statement log. A program, not a test: nothing fails
//! on timing.

use std::time::Duration;

use rotwise_core::{BoxError, SecretString};
use rotwise_lambda::harness::{Fixture, async_trait};
use rotwise_postgres::sql::{quote_ident, quote_literal, scram_verifier};
use rotwise_test_services::{LogCursor, PgService, require_pg, unique_name};
use serde_json::json;

struct Pg(PgService);

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
            .unwrap_or(0);
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

    async fn create_user(&self, name: &str, password: &str) -> Result<(), BoxError> {
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

    async fn create_master(&self, name: &str, password: &str, user: &str) -> Result<(), BoxError> {
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

    async fn login(&self, user: &str, password: &str) -> Result<(), BoxError> {
        drop(self.0.connect_as(user, password).await?);
        Ok(())
    }

    fn log_mark(&self) -> LogCursor {
        self.0.log_cursor()
    }

    async fn log_since(&self, mark: &LogCursor) -> Result<String, BoxError> {
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
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let Some(pg) = require_pg() else {
        return Err("the private PostgreSQL is not running: scripts/services up".into());
    };
    rotwise_lambda::bench::main(Pg(pg)).await
}
