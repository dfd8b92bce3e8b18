//! PostgreSQL's [`Dialect`]: logins, `ALTER ROLE … PASSWORD` with a SCRAM verifier, and the
//! alternating pair made equivalent in one transaction. The strategies themselves are
//! [`rotwise_db::DbRotator`]'s.

use async_trait::async_trait;
use rotwise_core::plan::ChangeKind;
use rotwise_core::{ErrorKind, Strategy};
use rotwise_db::fault;
use rotwise_db::names::{Pair, check_name};
use rotwise_db::{Changes, Credential, DbError, DbOptions, DbRotator, Dialect, Holder, NameLimit};
use tokio_postgres::Client;

use crate::connect::{Connector, sql};
use crate::row::column;
use crate::secret::{PgSecret, Postgres};
use crate::sql::{
    CLONE_MARKER_PREFIX, NAME_LIMIT, adopt_clone_sql, alter_password_shown, alter_password_sql,
    clone_marker, create_role_shown, create_role_sql, quote_ident, quote_literal,
};

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

    async fn change_own_password(
        &self,
        client: Client,
        pending: &PgSecret,
        changes: &mut Changes,
    ) -> Result<(), DbError> {
        fault::check("write:password")?;
        if !changes.admit(&pending.username, ChangeKind::SetPassword, || {
            alter_password_shown(&pending.username)
        }) {
            return Ok(());
        }
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

    async fn ensure_pair(
        &self,
        client: Client,
        pending: &PgSecret,
        pair: &Pair,
        _: (),
        _: &Holder<'_, '_, Postgres>,
        changes: &mut Changes,
    ) -> Result<(), DbError> {
        // The marker decides: an unmarked role is never adopted, even one the secret's
        // holder can log in as (adopting is an operator's decision).
        ensure_pair(&client, pending, pair, changes).await
    }

    async fn test_pending(
        &self,
        client: Client,
        pending: &PgSecret,
        strategy: Strategy,
    ) -> Result<(), DbError> {
        const QUERY: &str = "SELECT current_user::text, \
             (SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = session_user)";
        let row = client
            .query_one(QUERY, &[])
            .await
            .map_err(|e| sql("SELECT current_user", &e))?;
        let effective: String = column(&row, 0, "SELECT current_user")?;
        let comment: Option<String> = column(&row, 1, "SELECT current_user")?;
        if strategy == Strategy::Single {
            return Ok(());
        }
        // Alternating users: both logins must act as the base role (the clone through its
        // `role` setting), or objects they create would not be shared. Which role is the
        // base comes from the server: a clone rotwise made carries the marker naming it.
        let user = &pending.username;
        let acts_right = match comment.as_deref() {
            Some(marker) if marker.starts_with(CLONE_MARKER_PREFIX) => {
                &effective != user && marker == clone_marker(&effective)
            }
            _ => &effective == user,
        };
        if !acts_right {
            return Err(DbError::rejected(
                ErrorKind::Conflict,
                format!(
                    "the pending user {user:?} logs in but acts as {effective:?}, not as the base \
                     role of its pair: its `role` setting is missing or wrong (setSecret repairs it)"
                ),
            ));
        }
        Ok(())
    }
}

/// Why an existing role named like the clone is not used: rotwise did not create it.
fn not_adopted(pair: &Pair, has_comment: bool) -> DbError {
    let found = if has_comment {
        "has another comment than the marker rotwise sets on the clones it creates"
    } else {
        "has no comment: rotwise marks the clones it creates with one"
    };
    DbError::rejected(
        ErrorKind::Conflict,
        format!(
            "the role {clone:?} exists but was not created by rotwise as the alternating-users clone of \
             {base:?} (it {found}; a user name ending in _clone is read as the clone of the name without \
             it): refusing to reset its password or grant it {base:?}, nothing was changed. If {clone:?} \
             is meant to be that clone (e.g. made by AWS's rotation function), adopt it on purpose: run \
             `{adopt}` as a role with CREATEROLE, then retry. Otherwise rename one of the roles, or \
             rotate this secret with the single-user strategy",
            clone = pair.clone,
            base = pair.base,
            adopt = adopt_clone_sql(&pair.base, &pair.clone),
        ),
    )
}

/// As master, in one transaction: read and check everything first (the base role exists;
/// an existing clone carries rotwise's marker; the base role's attributes), then create
/// the clone on first use (with the marker) or set the pending user's password, and repair
/// what makes the clone equivalent to the base user. A refused check changes nothing. A
/// dry run's transaction is `READ ONLY` and every change is recorded instead of run.
async fn ensure_pair(
    client: &Client,
    pending: &PgSecret,
    pair: &Pair,
    changes: &mut Changes,
) -> Result<(), DbError> {
    let base = pair.base.clone();
    let clone = pair.clone.clone();
    check_name(&base, NAME_LIMIT)?;
    check_name(&clone, NAME_LIMIT)?;
    let ctx = |what: &str| format!("{what} (alternating users {base:?} / {clone:?})");
    let begin = if changes.is_dry_run() {
        "BEGIN READ ONLY"
    } else {
        "BEGIN"
    };
    client
        .batch_execute(begin)
        .await
        .map_err(|e| sql(ctx("starting a transaction"), &e))?;
    let result = async {
        let reads = read_pair(client, pair, &ctx).await?;
        let create = pending.username == clone && !reads.clone_exists;
        if create {
            changes.note(|| format!("the clone role {clone:?} does not exist yet: setSecret creates it"));
        }
        let q_clone = quote_ident(&clone);
        fault::check("write:password")?;
        if create {
            if changes.admit(&clone, ChangeKind::CreateUser, || {
                format!("{}; {}", create_role_shown(&clone), adopt_clone_sql(&base, &clone))
            }) {
                client
                    .batch_execute(&format!(
                        "{}; {}",
                        create_role_sql(&clone, &pending.password),
                        adopt_clone_sql(&base, &clone),
                    ))
                    .await
                    .map_err(|e| sql(ctx("creating the clone role"), &e))?;
                tracing::info!(role = %clone, of = %base, "clone role created (marked with a comment)");
            }
        } else if changes.admit(&pending.username, ChangeKind::SetPassword, || {
            alter_password_shown(&pending.username)
        }) {
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
        if pending.username == clone || reads.clone_exists {
            let options = if reads.version >= 160_000 {
                " WITH INHERIT TRUE, SET TRUE"
            } else {
                ""
            };
            let statement = format!(
                "GRANT {} TO {q_clone}{options}; \
                 ALTER ROLE {q_clone} SET role = {}; \
                 ALTER ROLE {q_clone} CONNECTION LIMIT {} VALID UNTIL {}",
                quote_ident(&base),
                quote_literal(&base),
                reads.base_connlimit,
                quote_literal(reads.base_valid_until.as_deref().unwrap_or("infinity")),
            );
            fault::check("write:grants")?;
            if changes.admit(&clone, ChangeKind::MatchBaseUser, || statement.clone()) {
                client
                    .batch_execute(&statement)
                    .await
                    .map_err(|e| sql(ctx("making the clone equivalent to the base role"), &e))?;
            }
        }
        Ok::<(), DbError>(())
    }
    .await;
    match result {
        Ok(()) if !changes.is_dry_run() => client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| sql(ctx("committing"), &e)),
        Ok(()) => client
            .batch_execute("ROLLBACK")
            .await
            .map_err(|e| sql(ctx("ending the read-only transaction"), &e)),
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

/// What [`ensure_pair`] reads before its first change.
struct PairReads {
    /// `server_version_num`.
    version: i32,
    /// The clone exists (and carries rotwise's marker: otherwise the read fails).
    clone_exists: bool,
    /// The base role's `rolconnlimit` and `rolvaliduntil`, copied to the clone.
    base_connlimit: i32,
    base_valid_until: Option<String>,
}

async fn read_pair(
    client: &Client,
    pair: &Pair,
    ctx: &impl Fn(&str) -> String,
) -> Result<PairReads, DbError> {
    let (base, clone) = (&pair.base, &pair.clone);
    fault::check("read:version")?;
    let row = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(|e| sql(ctx("reading the server version"), &e))?;
    let version: i32 = column(&row, 0, &ctx("reading the server version"))?;
    fault::check(&format!("read:base:{base}"))?;
    let attrs = client
        .query_opt(
            "SELECT rolconnlimit, rolvaliduntil::text FROM pg_roles WHERE rolname = $1",
            &[base],
        )
        .await
        .map_err(|e| sql(ctx("looking up the base role"), &e))?;
    let Some(attrs) = attrs else {
        return Err(DbError::rejected(
            ErrorKind::Conflict,
            format!(
                "the base role {base:?} of the alternating pair {base:?} / {clone:?} does not exist; \
                 nothing was changed"
            ),
        ));
    };
    let base_connlimit: i32 = column(&attrs, 0, &ctx("reading the base role"))?;
    let base_valid_until: Option<String> = column(&attrs, 1, &ctx("reading the base role"))?;
    // The clone and its comment (the marker), read before anything changes.
    fault::check(&format!("read:clone:{clone}"))?;
    let clone_row = client
        .query_opt(
            "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1",
            &[clone],
        )
        .await
        .map_err(|e| sql(ctx("looking up the clone role"), &e))?;
    let clone_exists = match &clone_row {
        None => false,
        Some(row) => {
            let comment: Option<String> = column(row, 0, &ctx("reading the clone's comment"))?;
            if comment.as_deref() != Some(clone_marker(base).as_str()) {
                tracing::warn!(role = %clone, of = %base, "existing role not adopted as the clone: no rotwise marker");
                return Err(not_adopted(pair, comment.is_some()));
            }
            true
        }
    };
    Ok(PairReads {
        version,
        clone_exists,
        base_connlimit,
        base_valid_until,
    })
}
