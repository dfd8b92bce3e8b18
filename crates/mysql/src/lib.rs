//! MySQL, Aurora MySQL and MariaDB rotators for AWS Secrets Manager: single user and
//! alternating users, on AWS's secret JSON, fixing what AWS's sample functions get wrong.
//!
//! [`MysqlRotator`] is [`rotwise_db::DbRotator`] over this crate's [`MysqlDialect`]: it
//! implements [`rotwise_core::Rotator`] (give it to a [`rotwise_core::Driver`], or a
//! Lambda built on one) and [`rotwise_core::LoginProbe`]. The strategies, AWS's checks and
//! the login order are the shared database layer's; what is MySQL's and MariaDB's is
//! here: the connection, password statements per server and plugin, grants, quoting,
//! [`LOG_TARGETS`], [`DEFAULT_EXCLUDE_CHARACTERS`] and the username limits.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use rotwise_core::{Driver, store::MemoryStore};
//! use rotwise_mysql::{DbOptions, MysqlRotator, Strategy, TlsMode};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let store = Arc::new(MemoryStore::new());
//! let arn = store.insert_secret(
//!     "app/db",
//!     r#"{"engine": "mariadb", "host": "db.example.com", "port": 3306,
//!         "username": "app", "password": "initial", "ssl": true}"#,
//! )?;
//! let rotator = MysqlRotator::new(DbOptions {
//!     strategy: Some(Strategy::Single),
//!     tls: Some(TlsMode::VerifyFull),                     // e.g. from ROTATION_TLS_MODE
//!     ca_file: Some("/opt/rds-global-bundle.pem".into()), // e.g. from ROTATION_CA_FILE
//!     connect_timeout: Duration::from_secs(5),
//!     username_limit: None,                               // USERNAME_CHARACTER_LIMIT
//!     ..DbOptions::default()
//! });
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
//! use rotwise_mysql::{MysqlSecret, TlsMode, sql};
//!
//! let secret = MysqlSecret::parse_str(
//!     r#"{"engine": "mariadb", "host": "db", "port": "3306", "username": "app", "password": "pw"}"#,
//! ).unwrap();
//! assert!(rotwise_mysql::secret::is_mariadb(&secret));
//! assert_eq!(secret.tls_mode(), TlsMode::Prefer); // no "ssl" key: AWS's default
//! assert_eq!(sql::quote_ident("we`ird"), "`we``ird`");
//! // The clone name is checked against the engine's limit before anything changes.
//! assert_eq!(sql::engine_username_limit("mysql"), 32);
//! assert!(sql::alt_username(&"u".repeat(27), 32).is_err());
//! assert_eq!(sql::alt_username("app", 32).unwrap(), "app_clone");
//! ```
//!
//! # Secret JSON
//! AWS's keys, unchanged ([`MysqlSecret`]): `engine` (`mysql`, `aurora-mysql` or
//! `mariadb`), `host`, `username`, `password` required; `port` (number or string, default
//! 3306), `dbname` (optional), `ssl` (bool or `"true"`/`"false"`), `masterarn`. Other keys
//! are kept, with their JSON types. Errors use AWS's texts (`host key is missing from
//! secret JSON`, `Database engine must be set to 'mysql' in order to use this rotation
//! lambda`) and never quote a value.
//!
//! # Single user
//! setSecret logs in with the **current** credentials first, then pending (a retry after
//! the password already changed: nothing to do), then previous — so a normal rotation
//! leaves no failed login on the server (AWS tries pending first). Current and pending
//! must be the same user on the same host. The password statement depends on the server
//! (`SELECT VERSION()`) and the account's auth plugin (`SHOW CREATE USER CURRENT_USER()`),
//! see [`sql::password_sql`]:
//! - MariaDB, `mysql_native_password`: `SET PASSWORD = '*HEX'` — the hash is computed
//!   here ([`sql::native_hash`]), so the plaintext never reaches the server or its logs;
//! - MySQL 5.7.6+ and 8: `ALTER USER CURRENT_USER() IDENTIFIED BY '…'`. MySQL lets an
//!   account without `CREATE USER` change its own password only with the plaintext form,
//!   and `caching_sha2_password` hashes are salted by the server; MySQL rewrites
//!   `IDENTIFIED BY` in its general, slow and binary logs (`IDENTIFIED BY <secret>`).
//! - other MariaDB plugins (ed25519, parsec): `SET PASSWORD = PASSWORD('…')`, which MariaDB
//!   does *not* rewrite in its general log; a WARN says so on every such rotation.
//!
//! The account's plugin is kept (a `caching_sha2_password` account never becomes
//! `mysql_native_password`); a plugin that keeps no password in the server (`auth_socket`,
//! PAM, LDAP, ...) is refused before any change ([`sql::plugin_supported`]).
//!
//! **Dual passwords** ([`DbOptions::mysql_dual_password`], `ROTATION_MYSQL_DUAL_PASSWORD`,
//! MySQL 8.0.14+): setSecret runs `ALTER USER CURRENT_USER() IDENTIFIED BY '…' REPLACE '…'
//! RETAIN CURRENT PASSWORD` ([`sql::dual_password_sql`]), so the old password keeps working
//! until finishSecret, after which the rotator logs in with the new AWSCURRENT and runs
//! `DISCARD OLD PASSWORD`. Refused before any change on MariaDB and older MySQL
//! ([`sql::dual_password_refusal`]).
//!
//! MySQL 8 and 5.7 cannot run on the machine this crate is tested on: their statements
//! are covered by unit tests of the generated SQL, and their `SHOW GRANTS` shapes by the
//! recorded fixtures of `tests/fixtures/mysql8_grants.txt`, only.
//!
//! # Alternating users
//! The secret alternates between `<user>` and `<user>_clone`, the pair
//! [`rotwise_db::names::Pair::of`] the current user (for `a_clone_clone`: `a_clone` and
//! `a_clone_clone`). setSecret logs in as the
//! current user (no confused deputy) and reads `CURRENT_USER()`: the account the server
//! matched gives the **host** (`'%'`, `localhost`, `10.0.%`, ...). A user defined on
//! several hosts is handled: only the account the current login matched is rotated and
//! cloned (an INFO event lists the others). If the server matched another user name (an
//! anonymous account), setSecret refuses. Then, as the master from `masterarn` (its
//! AWSCURRENT, with the child's `dbname`; same host required):
//! - an existing clone is used only if rotwise made it: on MySQL 8.0.21+ it carries the
//!   user attribute `{"rotwise_clone_of": "<base>"}` set by the `CREATE USER` that made it
//!   ([`sql::create_user_sql`]); on MariaDB and older MySQL (no user attributes) it holds
//!   no privilege, grant option, role or `PROXY` grant beyond the base user's, or the
//!   secret proves its holder has the clone's credentials (the current user is the clone,
//!   or `AWSPREVIOUS` is the clone's and logs in). Otherwise setSecret stops before any
//!   change, naming the statements that adopt it ([`sql::adopt_clone_sql`], or the
//!   `REVOKE`s);
//! - everything is read and checked before the first change (the server's name limit, the
//!   accounts, the clone's provenance, the plugins, both grant sets parsed, both TLS
//!   requirements and limits): a failure there leaves the database untouched and the step
//!   retryable;
//! - the clone is created on first use with the base account's host and auth plugin
//!   (`CREATE USER … IDENTIFIED BY PASSWORD '*HEX'` on MariaDB), or else the pending
//!   user's password is set (`ALTER USER … IDENTIFIED BY PASSWORD '*HEX'`);
//! - on every rotation, the clone's grants are made **equal** to the base user's: the two
//!   `SHOW GRANTS` outputs (and on MySQL 8 the `DEFAULT ROLE` clause of `SHOW CREATE
//!   USER`) are parsed structurally ([`grants`]) and the differences are revoked and
//!   granted (privileges per object and column, routines, `WITH GRANT OPTION`, MySQL 8's
//!   dynamic privileges with their own grant option, roles with `ADMIN OPTION`, default
//!   roles, `PROXY` grants, MySQL 8's partial revokes). The `IDENTIFIED BY PASSWORD` clause
//!   MariaDB prints is never replayed. The session pins `sql_quote_show_create=1` and
//!   removes `ANSI_QUOTES` from its `sql_mode` first ([`session::pin`]), so the server's
//!   globals cannot change what is parsed;
//! - the TLS requirement (`REQUIRE NONE | SSL | X509 | CIPHER/ISSUER/SUBJECT`) and the
//!   resource limits (`MAX_…_PER_HOUR`, `MAX_USER_CONNECTIONS`) are copied from
//!   `mysql.user`.
//!
//! The base user is the source of truth: manage grants on it, and the next rotation
//! carries them (grants and revocations) to the clone. **Not handled**: account locking
//! and password-expiry attributes; MySQL 8 mandatory roles (a server setting, not the
//! account's).
//!
//! **Username limits.** createSecret checks `<user>_clone` against
//! [`DbOptions::username_limit`] (AWS's `USERNAME_CHARACTER_LIMIT`) or the documented
//! limit for the secret's `engine` (MySQL 32, MariaDB 128 characters), with no database
//! session. setSecret checks again against the server (the width of `mysql.user.User`)
//! before anything changes.
//!
//! # Privileges the master needs
//! An ordinary (RDS-like) account, not SUPER: `CREATE USER`; `SELECT` on the `mysql`
//! schema (SHOW GRANTS / SHOW CREATE USER of other accounts, `mysql.user`); every
//! privilege the base user holds, `WITH GRANT OPTION`; `ADMIN OPTION` on roles the base
//! user holds; `PROXY … WITH GRANT OPTION` on the accounts the base user may proxy (only
//! when it has `PROXY` grants). With `ROTATION_MYSQL_DUAL_PASSWORD`, the single user itself
//! needs `APPLICATION_PASSWORD_ADMIN`.
//!
//! A master secret RDS manages (only `username` and `password`) is located through its
//! system tag and the RDS API when the rotator has a locator
//! ([`rotwise_db::DbRotator::with_locator`]; the Lambda and the CLI attach
//! `rotwise_managed::AwsLocator`); the master then needs nothing more than above. See
//! `docs/src/guides/managed-masters.md`.
//!
//! # Character sets
//! Names and literals are quoted for a UTF-8 session. After every login that runs such a
//! statement, [`session::read`] checks `character_set_client`, `character_set_connection`
//! and `character_set_results` and refuses anything but utf8 / utf8mb3 / utf8mb4 (a
//! server's `init_connect` can switch a session to gbk, sjis or big5, under which a quoted
//! value can be read differently).
//!
//! # Quoting
//! Account names go in backticks with backticks doubled; string literals are quoted for
//! the session's `sql_mode` (with or without `NO_BACKSLASH_ESCAPES`), see [`sql`]. Values in
//! `SELECT`s are bound parameters.
//!
//! # TLS
//! rustls with aws-lc-rs ([`TlsMode`]): `disable`; `prefer` (verify-full, and when the
//! server refuses TLS or the handshake fails, a plaintext reconnect with a WARN naming the
//! host and the reason — never silent); `require` (chain verified, host name not);
//! `verify-full`. AWS's `ssl` key: true → verify-full, false → disable, absent → prefer;
//! [`DbOptions::tls`] overrides it. Trust: `SSL_CERT_FILE`, else
//! `/etc/pki/tls/cert.pem`, else `/etc/ssl/certs/ca-certificates.crt`, plus
//! [`DbOptions::ca_file`] (for RDS, the RDS CA bundle), or with `require`
//! [`DbOptions::ca_file`] alone; mysql_async's built-in web roots are off. Connections are
//! TCP only (`prefer_socket(false)`), each login limited by [`DbOptions::connect_timeout`]
//! (5 s default). `prefer` retries without TLS only when the handshake itself failed.
//!
//! On a connection not verified for the host name (`disable`, `require`, `prefer` after its
//! fallback), `caching_sha2_password` full authentication and `mysql_clear_password` are
//! refused before the password is sent, unless [`DbOptions::allow_cleartext_password`]:
//! mysql_async then talks to a relay on a loopback port that watches the login (and, for
//! `require`, does the TLS itself); `verify-full` logins connect directly. A MySQL 8
//! `caching_sha2_password` account needs full authentication on its first login after a
//! password change, so without `verify-full` it needs the opt-in.
//!
//! # Logs and errors
//! Errors name the credential that failed (current, pending, previous, master), the user
//! and the host, with the server's reason; no error, panic or log event of this crate
//! contains a password, a hash or a secret value (rows are read with [`row::column()`], which
//! never panics and never quotes a value) (a failed password statement keeps only the error code when
//! the server's message quotes the statement). mysql_async's `Opts` derives `Debug` with
//! the password: this crate never formats it; cap the targets in [`LOG_TARGETS`] at INFO (the Lambda and the CLI do).

mod connect;
#[doc(hidden)]
pub use rotwise_db::fault;
pub mod grants;
mod rotator;
pub mod row;
pub mod secret;
pub mod session;
pub mod sql;
pub mod tls;

pub use connect::statement_kind;
pub use mysql_async;
pub use rotator::{
    DEFAULT_EXCLUDE_CHARACTERS, ENV_USERNAME_CHARACTER_LIMIT, LOG_TARGETS, MysqlDialect,
    MysqlRotator,
};
pub use rotwise_core::Strategy;
pub use rotwise_db::{
    Credential, DEFAULT_CONNECT_TIMEOUT, DbError, DbOptions, LoginError, LoginFailure,
};
pub use secret::{MysqlSecret, SecretError};
pub use tls::TlsMode;
