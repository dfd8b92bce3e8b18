//! PostgreSQL's [`Dialect`]: logins, `ALTER ROLE … PASSWORD` with a SCRAM verifier, and the
//! alternating pair made equivalent in one transaction. The strategies themselves are
//! [`rotwise_db::DbRotator`]'s.

use async_trait::async_trait;
use rotwise_core::{ErrorKind, Strategy};
use rotwise_db::names::{base_username, clone_username};
use rotwise_db::{Credential, DbError, DbOptions, DbRotator, Dialect, NameLimit};
use tokio_postgres::Client;

use crate::connect::{Connector, sql};
use crate::secret::{PgSecret, Postgres};
use crate::sql::{NAME_LIMIT, alter_password_sql, quote_ident, quote_literal, scram_verifier};

/// `EXCLUDE_CHARACTERS` default of AWS's PostgreSQL rotation functions.
pub const DEFAULT_EXCLUDE_CHARACTERS: &str = ":/@\"'\\";

/// The log targets of the PostgreSQL driver: capped at INFO by every binary
/// (tokio-postgres logs statements with their parameters at DEBUG).
pub const LOG_TARGETS: &[&str] = &["tokio_postgres", "postgres_protocol"];

/// The PostgreSQL rotator, for both strategies. See the [crate docs](crate).
pub type PgRotator = DbRotator<PgDialect>;

/// PostgreSQL's side of [`DbRotator`].
pub struct PgDialect {
    connector: Connector,
}

#[async_trait]
impl Dialect for PgDialect {
    type Engine = Postgres;
    type Session = Client;
    type Account = ();

    const NAME: &'static str = "postgres";
    const DEFAULT_EXCLUDE_CHARACTERS: &'static str = DEFAULT_EXCLUDE_CHARACTERS;
    const LOG_TARGETS: &'static [&'static str] = LOG_TARGETS;
    const USERNAME_LIMIT_VAR: Option<&'static str> = None;

    fn new(options: &DbOptions) -> Self {
        PgDialect {
            connector: Connector::new(options),
        }
    }

    fn name_limit(&self, _secret: &PgSecret) -> NameLimit {
        NAME_LIMIT
    }

    async fn connect(&self, secret: &PgSecret, credential: Credential) -> Result<Client, DbError> {
        self.connector.connect(secret, credential).await
    }

    async fn probe(&self, client: Client) -> Result<(), DbError> {
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| sql("SELECT 1", &e))?;
        Ok(())
    }

    async fn close(&self, client: Client) {
        drop(client);
    }

    async fn change_own_password(&self, client: Client, pending: &PgSecret) -> Result<(), DbError> {
        client
            .batch_execute(&alter_password_sql(&pending.username, &pending.password))
            .await
            .map_err(|e| {
                sql(
                    format!("changing the password of role {:?}", pending.username),
                    &e,
                )
            })?;
        tracing::info!(role = %pending.username, "password changed (SCRAM-SHA-256 verifier)");
        Ok(())
    }

    async fn current_account(&self, client: Client, _current: &PgSecret) -> Result<(), DbError> {
        drop(client);
        Ok(())
    }

    async fn ensure_pair(&self, client: Client, pending: &PgSecret, _: ()) -> Result<(), DbError> {
        ensure_pair(&client, pending).await
    }

    async fn test_pending(
        &self,
        client: Client,
        pending: &PgSecret,
        strategy: Strategy,
    ) -> Result<(), DbError> {
        let row = client
            .query_one("SELECT current_user::text", &[])
            .await
            .map_err(|e| sql("SELECT current_user", &e))?;
        let effective: String = row.get(0);
        // Alternating users: both logins must act as the base role (the clone through
        // its `role` setting), or objects they create would not be shared.
        if strategy == Strategy::Alternating {
            let base = base_username(&pending.username);
            if effective != base {
                return Err(DbError::rejected(
                    ErrorKind::Conflict,
                    format!(
                        "the pending user {:?} logs in but acts as {effective:?}, not as {base:?}: \
                         its `role` setting is missing (setSecret repairs it)",
                        pending.username
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// As master, in one transaction: create the clone on first use, set the pending user's
/// password, and repair what makes the clone equivalent to the base user.
async fn ensure_pair(client: &Client, pending: &PgSecret) -> Result<(), DbError> {
    let base = base_username(&pending.username).to_owned();
    let clone = clone_username(&base, NAME_LIMIT)?;
    let ctx = |what: &str| format!("{what} (alternating users {base:?} / {clone:?})");
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|e| sql(ctx("starting a transaction"), &e))?;
    let result = async {
        let version: i32 = client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .map_err(|e| sql(ctx("reading the server version"), &e))?
            .get(0);
        let clone_exists = client
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&clone])
            .await
            .map_err(|e| sql(ctx("looking up the clone role"), &e))?
            .is_some();
        if pending.username == clone && !clone_exists {
            client
                .batch_execute(&format!(
                    "CREATE ROLE {} LOGIN PASSWORD {}",
                    quote_ident(&clone),
                    quote_literal(&scram_verifier(&pending.password))
                ))
                .await
                .map_err(|e| sql(ctx("creating the clone role"), &e))?;
            tracing::info!(role = %clone, of = %base, "clone role created");
        } else {
            client
                .batch_execute(&alter_password_sql(&pending.username, &pending.password))
                .await
                .map_err(|e| {
                    sql(
                        ctx(&format!(
                            "changing the password of role {:?}",
                            pending.username
                        )),
                        &e,
                    )
                })?;
            tracing::info!(role = %pending.username, "password changed (SCRAM-SHA-256 verifier)");
        }
        if pending.username == clone || clone_exists {
            let options = if version >= 160_000 {
                " WITH INHERIT TRUE, SET TRUE"
            } else {
                ""
            };
            let attrs = client
                .query_one(
                    "SELECT rolconnlimit, rolvaliduntil::text FROM pg_roles WHERE rolname = $1",
                    &[&base],
                )
                .await
                .map_err(|e| sql(ctx("reading the base role"), &e))?;
            let connlimit: i32 = attrs.get(0);
            let valid_until: Option<String> = attrs.get(1);
            let q_base = quote_ident(&base);
            let q_clone = quote_ident(&clone);
            client
                .batch_execute(&format!(
                    "GRANT {q_base} TO {q_clone}{options}; \
                     ALTER ROLE {q_clone} SET role = {}; \
                     ALTER ROLE {q_clone} CONNECTION LIMIT {connlimit} VALID UNTIL {}",
                    quote_literal(&base),
                    quote_literal(valid_until.as_deref().unwrap_or("infinity")),
                ))
                .await
                .map_err(|e| sql(ctx("making the clone equivalent to the base role"), &e))?;
        }
        Ok::<(), DbError>(())
    }
    .await;
    match result {
        Ok(()) => client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| sql(ctx("committing"), &e)),
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}
