//! Amazon Redshift (provisioned and Serverless), a flavour of the PostgreSQL engine for
//! secrets whose `engine` is `redshift`: the same driver, connection and TLS code as
//! [`PgDialect`](crate::PgDialect), with Redshift's SQL.
//!
//! [`RedshiftRotator`] is [`DbRotator`] over [`RedshiftDialect`]; the strategies, AWS's
//! checks and the login order are the shared database layer's.
//!
//! # Secret JSON
//! AWS's keys ([`RedshiftSecret`]): `engine` must be `redshift`; `host`, `username`,
//! `password` required; `port` defaults to 5439 and `dbname` to `dev` (as AWS's Redshift
//! functions); `ssl` and `masterarn` as for PostgreSQL. Other keys are kept.
//!
//! # Single user
//! The login order of the shared layer (current, pending, previous), then
//! `ALTER USER "<user>" PASSWORD 'md5…'`: the hash ([`sql::md5_hash`], MD5 of the password
//! followed by the user name, as <https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_USER.html>
//! documents) is computed here, so the plaintext never reaches Redshift's query and audit
//! logs. To MD5 authentication the hash is as good as the password (whoever reads the
//! statement can log in until the next rotation): it keeps a password that may be reused
//! elsewhere out of those logs, it does not make them safe to share. A hash hides the password from the server, which therefore cannot check its
//! rules: rotwise does first ([`sql::password_rules`]: 8 to 64 characters, an upper-case
//! letter, a lower-case letter and a digit, ASCII 33–126 except `' " \ / @`), and
//! [`rotator_from_env`] refuses password settings that could break them at start.
//!
//! # Alternating users
//! As the master (Redshift's admin user, a superuser), in one transaction: the clone is
//! created on first use with `CREATE USER "<user>_clone" PASSWORD 'md5…'` and put in the
//! group [`sql::CLONE_GROUP`] (the marker), or the pending user's password is set. An
//! existing user named like the clone but outside that group is adopted (and marked) only
//! when the secret proves its writer holds the clone's credential (the current login was
//! the clone's, or AWSPREVIOUS names the clone and logs in: e.g. a clone AWS's function
//! made); otherwise nothing changes and the error names the statement that adopts it. Then, on
//! every rotation, the clone is made to hold what the base user holds, both ways:
//! - group memberships (`ALTER GROUP … ADD USER` / `DROP USER`);
//! - `CREATE` and `TEMP` on databases, `CREATE` and `USAGE` on schemas, and `SELECT`,
//!   `INSERT`, `UPDATE`, `DELETE`, `REFERENCES` on the tables of the secret's database
//!   (AWS's list), each read with `has_*_privilege` for both users: what only the base
//!   holds is granted to the clone, what only the clone holds is revoked from it, so a
//!   revoke on the base reaches the clone at the next rotation. Objects the clone owns
//!   are left alone.
//!
//! Unlike the PostgreSQL flavour, the clone does not act as its base user (Redshift has no
//! `SET ROLE`): a table either user creates belongs to that user, as with AWS's function.
//!
//! # Names
//! User names are checked before anything changes: at most 127 bytes, no upper-case letter
//! (Redshift folds user names to lower case), no backslash.

pub mod sql;

use async_trait::async_trait;
use rotwise_core::ErrorKind;
use rotwise_core::PasswordSource;
use rotwise_core::config::{ConfigError, Env};
use rotwise_core::password::PasswordPolicy;
use rotwise_core::plan::ChangeKind;
use rotwise_db::names::Pair;
use rotwise_db::{
    Changes, Credential, DbError, DbOptions, DbRotator, DbSecret, Dialect, Engine, Holder,
    NameLimit,
};
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::connect::{Connector, sql as sql_error};
use crate::secret::PgSecret;
use sql::TextRow;

/// The `engine` value AWS's Redshift functions accept.
pub const ENGINES: [&str; 1] = ["redshift"];

/// The default port when the secret has none (Redshift's).
pub const DEFAULT_PORT: u16 = 5439;

/// The default database when the secret has none (AWS's Redshift functions use `dev`).
pub const DEFAULT_DBNAME: &str = "dev";

/// `EXCLUDE_CHARACTERS` default of AWS's Redshift rotation functions. With AWS's other
/// defaults (no space), generated passwords hold none of the characters Redshift refuses.
pub const DEFAULT_EXCLUDE_CHARACTERS: &str = "/@\"'\\:";

/// The driver's log targets, as PostgreSQL's (the same driver).
pub const LOG_TARGETS: &[&str] = crate::rotator::LOG_TARGETS;

/// Amazon Redshift, as [`RedshiftSecret`] reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Redshift;

impl Engine for Redshift {
    const ENGINES: &'static [&'static str] = &ENGINES;
    const AWS_NAME: &'static str = "redshift";
    const PRODUCT: &'static str = "Amazon Redshift";
    const SECRET_TYPE: &'static str = "RedshiftSecret";
    const DEFAULT_PORT: u16 = DEFAULT_PORT;
    const DEFAULT_DBNAME: Option<&'static str> = Some(DEFAULT_DBNAME);
    type Dbname = String;
}

/// A Redshift secret as AWS's functions store it (see the [module docs](self)).
pub type RedshiftSecret = DbSecret<Redshift>;

/// The Redshift rotator, for both strategies.
pub type RedshiftRotator = DbRotator<RedshiftDialect>;

/// Redshift's side of [`DbRotator`].
pub struct RedshiftDialect {
    connector: Connector,
}

/// A [`RedshiftRotator`] configured from the environment as the Lambda reads it, after
/// checking that the password settings (`PASSWORD_LENGTH`, `EXCLUDE_*`,
/// `REQUIRE_EACH_INCLUDED_TYPE`, with [`DEFAULT_EXCLUDE_CHARACTERS`]) can only produce
/// passwords Redshift accepts ([`check_password_policy`]).
pub fn rotator_from_env(env: &Env) -> Result<RedshiftRotator, ConfigError> {
    let source = PasswordSource::from_env(env, DEFAULT_EXCLUDE_CHARACTERS)?;
    check_password_policy(source.policy())?;
    RedshiftRotator::from_env(env)
}

fn config_error(var: &str, message: String) -> ConfigError {
    ConfigError {
        var: var.to_owned(),
        message: format!("{message} (Amazon Redshift's password rules)"),
    }
}

/// Whether every password `policy` generates meets Redshift's rules: a length of 8 to 64,
/// upper-case letters, lower-case letters and digits all included and required, and none
/// of `' " \ / @` or space in the alphabet. The error names the variable to change.
pub fn check_password_policy(policy: &PasswordPolicy) -> Result<(), ConfigError> {
    let len = policy.length as usize;
    if !(sql::MIN_PASSWORD_CHARS..=sql::MAX_PASSWORD_CHARS).contains(&len) {
        return Err(config_error(
            "PASSWORD_LENGTH",
            format!(
                "PASSWORD_LENGTH is {len}; Redshift passwords have {} to {} characters",
                sql::MIN_PASSWORD_CHARS,
                sql::MAX_PASSWORD_CHARS
            ),
        ));
    }
    for (set, var) in [
        (policy.exclude_uppercase, "EXCLUDE_UPPERCASE"),
        (policy.exclude_lowercase, "EXCLUDE_LOWERCASE"),
        (policy.exclude_numbers, "EXCLUDE_NUMBERS"),
    ] {
        if set {
            return Err(config_error(
                var,
                format!(
                    "{var} is true; a Redshift password needs an upper-case letter, a lower-case letter and a digit"
                ),
            ));
        }
    }
    if !policy.require_each_included_type {
        return Err(config_error(
            "REQUIRE_EACH_INCLUDED_TYPE",
            "REQUIRE_EACH_INCLUDED_TYPE is false, so a password could lack an upper-case letter, a \
             lower-case letter or a digit"
                .to_owned(),
        ));
    }
    let alphabet = policy.alphabet();
    if let Some(c) = alphabet
        .iter()
        .find(|c| **c == ' ' || sql::FORBIDDEN_PASSWORD_CHARS.contains(**c))
    {
        return Err(config_error(
            "EXCLUDE_CHARACTERS",
            format!(
                "EXCLUDE_CHARACTERS is {}, so passwords could contain {c:?}, which Redshift refuses: \
                 it must list each of {} (its default {DEFAULT_EXCLUDE_CHARACTERS} does)",
                policy.exclude_characters,
                sql::FORBIDDEN_PASSWORD_CHARS
            ),
        ));
    }
    for (class, test) in [
        (
            "upper-case letter",
            char::is_ascii_uppercase as fn(&char) -> bool,
        ),
        ("lower-case letter", char::is_ascii_lowercase),
        ("digit", char::is_ascii_digit),
    ] {
        if !alphabet.iter().any(test) {
            return Err(config_error(
                "EXCLUDE_CHARACTERS",
                format!(
                    "EXCLUDE_CHARACTERS is {} and excludes every {class}; a Redshift password needs one",
                    policy.exclude_characters
                ),
            ));
        }
    }
    Ok(())
}

/// The connection settings of `secret` as the PostgreSQL connector reads them (the same
/// protocol); the password is moved over as a secret, never through JSON text.
fn pg_secret(secret: &RedshiftSecret, credential: Credential) -> Result<PgSecret, DbError> {
    let mut value = serde_json::json!({
        "engine": "postgres",
        "host": secret.host,
        "port": secret.port,
        "username": secret.username,
        "password": "",
        "dbname": secret.dbname,
    });
    if let Some(ssl) = secret.ssl {
        value["ssl"] = serde_json::Value::Bool(ssl);
    }
    PgSecret::parse_str(&value.to_string())
        .map(|s| s.with_password(secret.password.clone()))
        .map_err(|e| DbError::secret(credential, e))
}

/// Run `query` with the simple query protocol; its rows as text.
async fn rows(client: &Client, query: &str, context: &str) -> Result<Vec<TextRow>, DbError> {
    let messages = client
        .simple_query(query)
        .await
        .map_err(|e| sql_error(context, &e))?;
    Ok(messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .collect())
}

/// Run `statements` as one batch (nothing when empty).
async fn run(client: &Client, statements: &[String], context: &str) -> Result<(), DbError> {
    if statements.is_empty() {
        return Ok(());
    }
    client
        .batch_execute(&statements.join("; "))
        .await
        .map_err(|e| sql_error(context, &e))
}

#[async_trait]
impl Dialect for RedshiftDialect {
    type Engine = Redshift;
    type Session = Client;
    type Account = ();

    const NAME: &'static str = "redshift";
    const DEFAULT_EXCLUDE_CHARACTERS: &'static str = DEFAULT_EXCLUDE_CHARACTERS;
    const LOG_TARGETS: &'static [&'static str] = LOG_TARGETS;
    const USERNAME_LIMIT_VAR: Option<&'static str> = None;

    fn new(options: &DbOptions) -> Self {
        RedshiftDialect {
            connector: Connector::new(options),
        }
    }

    fn name_limit(&self, _secret: &RedshiftSecret) -> NameLimit {
        sql::NAME_LIMIT
    }

    async fn connect(
        &self,
        secret: &RedshiftSecret,
        credential: Credential,
    ) -> Result<Client, DbError> {
        let pg = pg_secret(secret, credential)?;
        self.connector.connect(&pg, credential).await
    }

    async fn probe(&self, client: Client) -> Result<(), DbError> {
        rows(&client, "SELECT 1", "SELECT 1").await.map(|_| ())
    }

    async fn close(&self, client: Client) {
        drop(client);
    }

    async fn change_own_password(
        &self,
        client: Client,
        pending: &RedshiftSecret,
        changes: &mut Changes,
    ) -> Result<(), DbError> {
        sql::check_user_name(&pending.username)?;
        sql::check_password(&pending.username, &pending.password)?;
        if !changes.admit(&pending.username, ChangeKind::SetPassword, || {
            sql::user_password_shown("ALTER", &pending.username)
        }) {
            return Ok(());
        }
        client
            .batch_execute(&sql::alter_password_sql(
                &pending.username,
                &pending.password,
            ))
            .await
            .map_err(|e| {
                sql_error(
                    format!("changing the password of user {:?}", pending.username),
                    &e,
                )
            })?;
        tracing::info!(user = %pending.username, "password changed (MD5 hash)");
        Ok(())
    }

    async fn current_account(
        &self,
        client: Client,
        _current: &RedshiftSecret,
    ) -> Result<(), DbError> {
        drop(client);
        Ok(())
    }

    async fn ensure_pair(
        &self,
        client: Client,
        pending: &RedshiftSecret,
        pair: &Pair,
        _: (),
        holder: &Holder<'_, '_, Redshift>,
        changes: &mut Changes,
    ) -> Result<(), DbError> {
        for name in [&pair.base, &pair.clone, &pending.username] {
            sql::check_user_name(name)?;
        }
        sql::check_password(&pending.username, &pending.password)?;
        let ctx = |what: &str| {
            format!(
                "{what} (alternating users {:?} / {:?})",
                pair.base, pair.clone
            )
        };
        let (begin, end) = if changes.is_dry_run() {
            ("BEGIN READ ONLY", "ROLLBACK")
        } else {
            ("BEGIN", "COMMIT")
        };
        client
            .batch_execute(begin)
            .await
            .map_err(|e| sql_error(ctx("starting a transaction"), &e))?;
        match ensure_pair_in(self, &client, pending, pair, holder, &ctx, changes).await {
            Ok(()) => client
                .batch_execute(end)
                .await
                .map_err(|e| sql_error(ctx("ending the transaction"), &e)),
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
                Err(e)
            }
        }
    }
}

/// Why an existing user named like the clone is not used.
fn not_adopted(pair: &Pair, group_exists: bool) -> DbError {
    DbError::rejected(
        ErrorKind::Conflict,
        format!(
            "the user {clone:?} exists but is not in the group {group:?} that marks the clones rotwise \
             creates (a user name ending in _clone is read as the clone of the name without it): \
             refusing to reset its password or change its privileges, nothing was changed. If \
             {clone:?} is meant to be the clone of {base:?} (e.g. made by AWS's rotation function), \
             adopt it on purpose: run `{adopt}` as a superuser, then retry (a secret whose AWSCURRENT, \
             or an AWSPREVIOUS that logs in, holds the clone's credential adopts it by itself). \
             Otherwise rename one of the users, or rotate this secret with the single-user strategy",
            clone = pair.clone,
            base = pair.base,
            group = sql::CLONE_GROUP,
            adopt = sql::adopt_clone_sql(&pair.clone, group_exists),
        ),
    )
}

/// Whether the secret proves its writer holds the clone's credential: the current login
/// (already made) was the clone's, or AWSPREVIOUS names the clone and still logs in.
async fn holds_clone(
    dialect: &RedshiftDialect,
    holder: &Holder<'_, '_, Redshift>,
) -> Result<bool, DbError> {
    if holder.current_is_clone() {
        return Ok(true);
    }
    let Some(previous) = holder.previous_clone().await? else {
        return Ok(false);
    };
    match dialect.connect(&previous, Credential::Previous).await {
        Ok(session) => {
            dialect.close(session).await;
            Ok(true)
        }
        Err(e) if e.is_auth_refused() => Ok(false),
        Err(e) => Err(e),
    }
}

/// [`RedshiftDialect::ensure_pair`] inside its transaction: checks first (a refused check
/// changes nothing), then the password, then the clone made equal to the base user.
async fn ensure_pair_in(
    dialect: &RedshiftDialect,
    client: &Client,
    pending: &RedshiftSecret,
    pair: &Pair,
    holder: &Holder<'_, '_, Redshift>,
    ctx: &impl Fn(&str) -> String,
    changes: &mut Changes,
) -> Result<(), DbError> {
    let (base, clone) = (&pair.base, &pair.clone);
    if rows(
        client,
        &sql::user_exists_sql(base)?,
        &ctx("looking up the base user"),
    )
    .await?
    .is_empty()
    {
        return Err(DbError::rejected(
            ErrorKind::Conflict,
            format!(
                "the base user {base:?} of the alternating pair {base:?} / {clone:?} does not exist; \
                 nothing was changed"
            ),
        ));
    }
    let group_exists = !rows(
        client,
        &sql::clone_group_exists_sql(),
        &ctx("looking up the clone group"),
    )
    .await?
    .is_empty();
    let clone_exists = !rows(
        client,
        &sql::user_exists_sql(clone)?,
        &ctx("looking up the clone"),
    )
    .await?
    .is_empty();
    let clone_groups = if clone_exists {
        let groups = sql::parse_names(
            &rows(
                client,
                &sql::groups_sql(clone)?,
                &ctx("reading the clone's groups"),
            )
            .await?,
            "reading the clone's groups",
        )?;
        if !groups.contains(sql::CLONE_GROUP) {
            if !holds_clone(dialect, holder).await? {
                tracing::warn!(user = %clone, of = %base, "existing user not adopted as the clone: not in the marker group");
                return Err(not_adopted(pair, group_exists));
            }
            // Whoever writes the secret holds the clone's credential: a clone made by
            // AWS's function, or before the marker existed. Marked now.
            let adopt = sql::adopt_clone_sql(clone, group_exists);
            if changes.admit(clone, ChangeKind::MatchBaseUser, || adopt.clone()) {
                run(client, &[adopt], &ctx("marking the clone")).await?;
                tracing::info!(user = %clone, of = %base, "existing clone adopted: the secret holds its credential");
            }
        }
        groups
    } else {
        Default::default()
    };

    if pending.username == *clone && !clone_exists {
        let adopt = sql::adopt_clone_sql(clone, group_exists);
        if changes.admit(clone, ChangeKind::CreateUser, || {
            format!("{}; {adopt}", sql::user_password_shown("CREATE", clone))
        }) {
            let statements = [sql::create_user_sql(clone, &pending.password), adopt];
            run(client, &statements, &ctx("creating the clone user")).await?;
            tracing::info!(user = %clone, of = %base, "clone user created (MD5 hash; in the marker group)");
        }
    } else if changes.admit(&pending.username, ChangeKind::SetPassword, || {
        sql::user_password_shown("ALTER", &pending.username)
    }) {
        run(
            client,
            &[sql::alter_password_sql(
                &pending.username,
                &pending.password,
            )],
            &ctx(&format!(
                "changing the password of user {:?}",
                pending.username
            )),
        )
        .await?;
        tracing::info!(user = %pending.username, "password changed (MD5 hash)");
    }
    if pending.username != *clone && !clone_exists {
        return Ok(());
    }

    // Groups first: privileges held through a group then count for both users alike.
    let clone_groups = if clone_exists {
        clone_groups
    } else {
        std::iter::once(sql::CLONE_GROUP.to_owned()).collect()
    };
    let base_groups = sql::parse_names(
        &rows(
            client,
            &sql::groups_sql(base)?,
            &ctx("reading the base user's groups"),
        )
        .await?,
        "reading the base user's groups",
    )?;
    let groups = sql::group_statements(&base_groups, &clone_groups, clone);
    if !groups.is_empty() && changes.admit(clone, ChangeKind::MatchBaseUser, || groups.join("; ")) {
        run(
            client,
            &groups,
            &ctx("making the clone's groups the base user's"),
        )
        .await?;
    }
    if changes.is_dry_run() && !clone_exists {
        // has_*_privilege needs the user to exist: what the new clone is granted is
        // computed after CREATE USER.
        changes.note(|| {
            format!(
                "the clone {clone:?} does not exist yet: setSecret creates it, then grants it the \
                 database, schema and table privileges {base:?} holds (computed after CREATE USER)"
            )
        });
        return Ok(());
    }
    if changes.is_dry_run() && !groups.is_empty() {
        changes.note(|| {
            "the privilege statements below were computed before the group changes above; \
             setSecret computes them after, so privileges held through a group are not granted twice"
                .to_owned()
        });
    }

    let holdings = sql::parse_privileges(
        &rows(
            client,
            &sql::privileges_sql(base, clone)?,
            &ctx("reading the privileges of both users"),
        )
        .await?,
    )?;
    let privileges = sql::privilege_statements(&holdings, clone);
    if privileges.is_empty()
        || !changes.admit(clone, ChangeKind::MatchBaseUser, || privileges.join("; "))
    {
        return Ok(());
    }
    run(
        client,
        &privileges,
        &ctx("making the clone's privileges the base user's"),
    )
    .await?;
    tracing::info!(
        user = %clone,
        of = %base,
        group_changes = groups.len(),
        granted = holdings.to_grant.len(),
        revoked = holdings.to_revoke.len(),
        "clone made equivalent to the base user"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotwise_core::{ExposeSecret, SecretString};

    #[test]
    fn redshift_description() {
        let s = RedshiftSecret::parse_str(
            r#"{"engine":"redshift","host":"h","username":"u","password":"p","ssl":true}"#,
        )
        .unwrap();
        assert_eq!((s.port, s.dbname.as_str()), (5439, "dev"));
        assert!(format!("{s:?}").starts_with("RedshiftSecret {"));
        let e = RedshiftSecret::parse_str(
            r#"{"engine":"postgres","host":"h","username":"u","password":"p"}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Database engine must be set to 'redshift' in order to use this rotation lambda"
        );
        let pg = pg_secret(
            &s.with_password(SecretString::from("pw\"1")),
            Credential::Current,
        )
        .unwrap();
        assert_eq!(
            (pg.port, pg.dbname.as_str(), pg.ssl),
            (5439, "dev", Some(true))
        );
        assert_eq!(pg.password.expose_secret(), "pw\"1");
    }

    fn policy(f: impl Fn(&mut PasswordPolicy)) -> Result<(), String> {
        let mut p = PasswordPolicy {
            exclude_characters: DEFAULT_EXCLUDE_CHARACTERS.to_owned(),
            ..PasswordPolicy::default()
        };
        f(&mut p);
        check_password_policy(&p).map_err(|e| e.var)
    }

    #[test]
    fn password_settings_that_could_break_the_rules_are_refused() {
        assert_eq!(policy(|_| {}), Ok(()));
        assert_eq!(policy(|p| p.length = 64), Ok(()));
        assert_eq!(policy(|p| p.exclude_punctuation = true), Ok(()));
        assert_eq!(policy(|p| p.length = 65), Err("PASSWORD_LENGTH".into()));
        assert_eq!(policy(|p| p.length = 7), Err("PASSWORD_LENGTH".into()));
        assert_eq!(
            policy(|p| p.exclude_numbers = true),
            Err("EXCLUDE_NUMBERS".into())
        );
        assert_eq!(
            policy(|p| p.exclude_uppercase = true),
            Err("EXCLUDE_UPPERCASE".into())
        );
        assert_eq!(
            policy(|p| p.require_each_included_type = false),
            Err("REQUIRE_EACH_INCLUDED_TYPE".into())
        );
        // PostgreSQL's default lacks nothing Redshift needs, but "" lets ' " \ / @ in.
        assert_eq!(
            policy(|p| p.exclude_characters.clear()),
            Err("EXCLUDE_CHARACTERS".into())
        );
        assert_eq!(
            policy(|p| p.exclude_characters.push_str("0123456789")),
            Err("EXCLUDE_CHARACTERS".into())
        );
    }

    /// Every password the default settings generate meets Redshift's rules.
    #[test]
    fn generated_passwords_meet_the_rules() {
        let source = PasswordSource::from_env(
            &Env::from_pairs(std::iter::empty::<(&str, &str)>()),
            DEFAULT_EXCLUDE_CHARACTERS,
        )
        .unwrap();
        check_password_policy(source.policy()).unwrap();
        for _ in 0..2000 {
            let pw = source.policy().generate().unwrap();
            assert_eq!(sql::password_rules(&pw), Ok(()));
        }
        let short = PasswordPolicy {
            length: 8,
            exclude_characters: DEFAULT_EXCLUDE_CHARACTERS.to_owned(),
            ..PasswordPolicy::default()
        };
        for _ in 0..2000 {
            assert_eq!(sql::password_rules(&short.generate().unwrap()), Ok(()));
        }
    }
}
