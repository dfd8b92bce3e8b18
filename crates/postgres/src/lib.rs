//! PostgreSQL rotators for AWS Secrets Manager: single user and alternating users, on
//! AWS's secret JSON, fixing what AWS's sample functions get wrong.
//!
//! [`PgRotator`] is [`rotwise_db::DbRotator`] over this crate's [`PgDialect`]: it
//! implements [`rotwise_core::Rotator`] (give it to a [`rotwise_core::Driver`], or a
//! Lambda built on one) and [`rotwise_core::LoginProbe`]. The strategies, AWS's checks and
//! the login order are the shared database layer's; what is PostgreSQL's is here: the
//! connection, SCRAM verifiers, quoting, the clone's equivalence, [`LOG_TARGETS`] and
//! [`DEFAULT_EXCLUDE_CHARACTERS`].
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use rotwise_core::{Driver, store::MemoryStore};
//! use rotwise_postgres::{DbOptions, PgRotator, Strategy, TlsMode};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let store = Arc::new(MemoryStore::new());
//! let arn = store.insert_secret(
//!     "app/db",
//!     r#"{"engine": "postgres", "host": "db.example.com", "port": 5432,
//!         "username": "app", "password": "initial", "dbname": "app", "ssl": true}"#,
//! )?;
//! let rotator = PgRotator::new(DbOptions {
//!     strategy: Some(Strategy::Single),
//!     tls: Some(TlsMode::VerifyFull),          // e.g. from ROTATION_TLS_MODE
//!     ca_file: Some("/opt/rds-global-bundle.pem".into()), // e.g. from ROTATION_CA_FILE
//!     connect_timeout: Duration::from_secs(5),
//!     ..DbOptions::default()
//! });
//! // Or every setting from the environment, as the Lambda reads it:
//! // DbOptions::from_env(&rotwise_core::config::Env::from_process(), None)?
//! let driver = Driver::new(store.clone(), Arc::new(rotator));
//! let token = store.begin_rotation(&arn)?;
//! for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
//!     let event = serde_json::json!({"Step": step, "SecretId": arn, "ClientRequestToken": token});
//!     driver.handle_json(&event).await?;
//! }
//! # Ok(()) }
//! ```
//!
//! Reading a secret and building the SQL needs no database (this example runs):
//!
//! ```
//! use rotwise_core::ExposeSecret;
//! use rotwise_postgres::{PgSecret, TlsMode, sql};
//!
//! let secret = PgSecret::parse_str(
//!     r#"{"engine": "postgres", "host": "db", "username": "O'Neil", "password": "pw",
//!         "ssl": "true", "team": "payments"}"#,
//! ).unwrap();
//! assert_eq!(secret.tls_mode(), TlsMode::VerifyFull); // AWS's "ssl": true
//! assert_eq!(sql::quote_ident("a\"b"), "\"a\"\"b\"");
//! // The server only ever sees a SCRAM-SHA-256 verifier, never the password.
//! let verifier = sql::scram_verifier(&rotwise_core::SecretString::from("new-password"));
//! assert!(verifier.starts_with("SCRAM-SHA-256$4096:"));
//! assert!(!verifier.contains("new-password"));
//! // Unknown keys survive a password change.
//! let next = secret.with_password("new-password".into()).to_payload();
//! assert!(next.as_string().unwrap().expose_secret().contains(r#""team":"payments""#));
//!
//! let err = PgSecret::parse_str(r#"{"engine": "postgres", "username": "u", "password": "p"}"#)
//!     .unwrap_err();
//! assert_eq!(err.to_string(), "host key is missing from secret JSON");
//! ```
//!
//! # Secret JSON
//! AWS's keys, unchanged ([`PgSecret`]): `engine` (`postgres` or `aurora-postgresql`),
//! `host`, `username`, `password` required; `port` (number or string, default 5432),
//! `dbname` (default `postgres`), `ssl` (bool or `"true"`/`"false"`), `masterarn`.
//! Other keys are kept, with their JSON types. Errors use AWS's texts
//! (`host key is missing from secret JSON`, `Database engine must be set to 'postgres' in
//! order to use this rotation lambda`) and never quote a value.
//!
//! # Single user
//! setSecret logs in with the **current** credentials first, then pending (a retry after
//! the password already changed: nothing to do), then previous — so a normal rotation
//! leaves no failed login in the server's log (AWS tries pending first). Current and pending
//! must be the same user on the same host. Then `ALTER ROLE "<user>" PASSWORD
//! 'SCRAM-SHA-256$…'`: the verifier is computed here ([`sql::scram_verifier`]), so the
//! plaintext never reaches the server, its statement log or `pg_stat_activity`.
//! Identifiers are quoted locally ([`sql::quote_ident`]) and names over 63 bytes are
//! refused before anything changes (the server would truncate them silently).
//!
//! # Alternating users
//! The secret alternates between `<user>` and `<user>_clone`, the pair
//! [`rotwise_db::names::Pair::of`] the current user (for `a_clone_clone`: `a_clone` and
//! `a_clone_clone`). setSecret logs in as the
//! current user (no confused deputy), then as the master from `masterarn` (its AWSCURRENT,
//! with the child's `dbname`; same host required), and in one transaction:
//! - checks the pair before anything changes: the base role exists, and an existing clone
//!   carries the comment rotwise puts on the clones it creates ([`sql::clone_marker`],
//!   `rotwise: clone of "<base>"`). A role named like the clone without it (made by AWS's
//!   function, or unrelated) is refused, naming the statement that adopts it on purpose
//!   ([`sql::adopt_clone_sql`]);
//! - creates the clone on first use (`CREATE ROLE … LOGIN PASSWORD '<verifier>'` and its
//!   `COMMENT ON ROLE`), or else sets the pending user's password;
//! - repairs, on every rotation, what makes the clone equivalent to the base user:
//!   `GRANT <base> TO <clone>` (on PostgreSQL 16+ `WITH INHERIT TRUE, SET TRUE`),
//!   `ALTER ROLE <clone> SET role = <base>`, and the base's `CONNECTION LIMIT` and
//!   `VALID UNTIL`. SUPERUSER, CREATEROLE, CREATEDB, REPLICATION and BYPASSRLS are never
//!   copied.
//!
//! With `role = <base>`, a session of the clone acts as the base role: objects either user
//! creates are owned by the base role and fully usable by both, including objects created
//! after the clone was made (AWS's one-time `GRANT` leaves clone-owned tables the base
//! cannot use). testSecret checks that the pending login acts as the base role.
//!
//! **What breaks the equivalence**: the clone's session reverting to itself —
//! `RESET ROLE`, `SET ROLE NONE`, `RESET ALL`/`DISCARD ALL` (which poolers such as PgBouncer
//! run between clients as `server_reset_query`), or a `SET role` in the application.
//! Objects created after that are owned by the clone. Poolers in transaction mode that reset
//! session state should connect as the base user, or re-issue `SET ROLE <base>`.
//!
//! # Privileges the master needs
//! The master is an ordinary (RDS-like) user, not a superuser:
//! - `LOGIN` and `CREATEROLE` (creates the clone, sets passwords, connection limit, valid
//!   until and the `role` setting);
//! - on PostgreSQL 15 and older, `CREATEROLE` is enough to `GRANT <base> TO <clone>` and to
//!   alter the base's password; on PostgreSQL 16+, the master also needs `ADMIN OPTION` on
//!   the base role (`GRANT <base> TO <master> WITH ADMIN OPTION`, or have the master create
//!   the base role — its creator gets it) and on the clone (automatic: the master creates it);
//! - `CONNECT` on the child's `dbname`.
//!
//! A master secret RDS manages (only `username` and `password`) is located through its
//! system tag and the RDS API when the rotator has a locator
//! ([`rotwise_db::DbRotator::with_locator`]; the Lambda and the CLI attach
//! `rotwise_managed::AwsLocator`); the master then needs nothing more than above. See
//! `docs/src/guides/managed-masters.md`.
//!
//! # TLS
//! rustls with aws-lc-rs ([`TlsMode`]): `disable`; `prefer` (verify-full, and when the
//! server refuses TLS or the handshake fails, a plaintext reconnect with a WARN naming the
//! host and the reason — never silent); `require` (chain verified, host name not);
//! `verify-full`. AWS's `ssl` key: true → verify-full, false → disable, absent → prefer;
//! [`DbOptions::tls`] overrides it. Trust: `SSL_CERT_FILE`, else `/etc/pki/tls/cert.pem`,
//! else `/etc/ssl/certs/ca-certificates.crt`, plus [`DbOptions::ca_file`] (for RDS, the RDS
//! CA bundle); with `require`, [`DbOptions::ca_file`] alone. Each login is limited by
//! [`DbOptions::connect_timeout`] (5 s default) over TCP connect, TLS and authentication
//! together.
//!
//! On a connection not verified for the host name (`disable`, `require`, `prefer` after its
//! fallback), an `AuthenticationCleartextPassword` request is refused before the password
//! is sent, unless [`DbOptions::allow_cleartext_password`]; SCRAM and MD5 are always
//! answered. Over TLS, SCRAM uses channel binding (`SCRAM-SHA-256-PLUS`,
//! `tls-server-end-point`) whenever the server offers it.
//!
//! # Logs and errors
//! Errors name the credential that failed (current, pending, previous, master), the user
//! and the host, with the server's reason; no error or log event of this crate contains a
//! password or secret value. Rows are read with [`row::column()`], which never panics and
//! never quotes a value. tokio-postgres logs statements at debug: cap the targets in
//! [`LOG_TARGETS`] at INFO (the Lambda and the CLI do).

mod connect;
pub use rotwise_db::fault;
pub mod redshift;
mod rotator;
pub mod row;
pub mod scram;

pub use connect::statement_kind;
pub mod secret;
pub mod sql;
pub mod tls;

pub use rotator::{DEFAULT_EXCLUDE_CHARACTERS, LOG_TARGETS, PgDialect, PgRotator};
pub use rotwise_core::Strategy;
pub use rotwise_db::{
    Credential, DEFAULT_CONNECT_TIMEOUT, DbError, DbOptions, LoginError, LoginFailure,
};
pub use secret::{PgSecret, SecretError};
pub use tls::TlsMode;
pub use tokio_postgres;
