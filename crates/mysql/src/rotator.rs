//! MySQL's and MariaDB's [`Dialect`]: logins, password statements per server and auth
//! plugin, and the clone kept equal to its base user. The strategies themselves are
//! [`rotwise_db::DbRotator`]'s.

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use rotwise_core::Strategy;
use rotwise_core::plan::ChangeKind;
use rotwise_core::{ErrorKind, ExposeSecret};
use rotwise_db::error::chain;
use rotwise_db::names::{Pair, check_name, clone_username};
use rotwise_db::{Changes, Credential, DbError, DbOptions, DbRotator, Dialect, Holder, NameLimit};

use crate::connect::{Connector, probe_and_close, sql, statement_kind};
use crate::grants::{GrantParseError, Grants, plugin_of};
use crate::row::column;
use crate::secret::{Mysql, MysqlSecret};
use crate::session::{self, SessionInfo};
use crate::sql::{
    AccountLimits, DISCARD_OLD_PASSWORD_SQL, Flavor, NATIVE, PasswordSql, Server, Whose, account,
    adopt_clone_sql, copy_limits_sql, create_user_sql, dual_password_refusal, dual_password_sql,
    engine_username_limit, is_marked_clone_of, name_limit, native_hash, password_sql,
    plugin_supported,
};
use rotwise_db::fault;

/// `EXCLUDE_CHARACTERS` default of AWS's MySQL rotation functions.
pub const DEFAULT_EXCLUDE_CHARACTERS: &str = "/@\"'\\";

/// The log targets of the MySQL driver: capped at INFO by every binary (mysql_async's
/// connection options carry the password in their `Debug` form).
pub const LOG_TARGETS: &[&str] = &["mysql_async", "mysql_common"];

/// AWS's MySQL variable: the longest user name the server accepts.
pub const ENV_USERNAME_CHARACTER_LIMIT: &str = "USERNAME_CHARACTER_LIMIT";

/// The MySQL / Aurora MySQL / MariaDB rotator, for both strategies. See the
/// [crate docs](crate).
pub type MysqlRotator = DbRotator<MysqlDialect>;

/// MySQL's and MariaDB's side of [`DbRotator`].
pub struct MysqlDialect {
    connector: Connector,
    /// `ROTATION_MYSQL_DUAL_PASSWORD` ([`DbOptions::mysql_dual_password`]).
    dual_password: bool,
}

impl From<GrantParseError> for DbError {
    fn from(e: GrantParseError) -> Self {
        DbError::rejected(ErrorKind::Target, e.to_string())
    }
}

#[async_trait]
impl Dialect for MysqlDialect {
    type Engine = Mysql;
    type Session = Conn;
    /// The host of the account the current login matched: the clone gets that host.
    type Account = String;

    const NAME: &'static str = "mysql";
    const DEFAULT_EXCLUDE_CHARACTERS: &'static str = DEFAULT_EXCLUDE_CHARACTERS;
    const LOG_TARGETS: &'static [&'static str] = LOG_TARGETS;
    const USERNAME_LIMIT_VAR: Option<&'static str> = Some(ENV_USERNAME_CHARACTER_LIMIT);

    fn new(options: &DbOptions) -> Self {
        MysqlDialect {
            connector: Connector::new(options),
            dual_password: options.mysql_dual_password,
        }
    }

    /// Without a session only emptiness and NUL are checked; setSecret checks the
    /// server's own limit before anything changes.
    fn name_limit(&self, _secret: &MysqlSecret) -> NameLimit {
        name_limit(usize::MAX)
    }

    /// The configured limit (AWS's `USERNAME_CHARACTER_LIMIT`), else the documented one
    /// for the secret's `engine`: no database session in createSecret.
    fn clone_limit(&self, secret: &MysqlSecret, options: &DbOptions) -> NameLimit {
        name_limit(
            options
                .username_limit
                .unwrap_or_else(|| engine_username_limit(&secret.engine)),
        )
    }

    async fn connect(&self, secret: &MysqlSecret, credential: Credential) -> Result<Conn, DbError> {
        self.connector.connect(secret, credential).await
    }

    async fn probe(&self, conn: Conn) -> Result<(), DbError> {
        probe_and_close(conn).await
    }

    async fn close(&self, conn: Conn) {
        let _ = conn.disconnect().await;
    }

    async fn change_own_password(
        &self,
        conn: Conn,
        pending: &MysqlSecret,
        changes: &mut Changes,
    ) -> Result<(), DbError> {
        change_own_password(self, conn, pending, changes).await
    }

    fn needs_after_finish(&self) -> bool {
        self.dual_password
    }

    /// Dual passwords, single user: log in with the new AWSCURRENT and discard the old
    /// (secondary) password.
    async fn after_finish(&self, current: &MysqlSecret, strategy: Strategy) -> Result<(), DbError> {
        if strategy != Strategy::Single {
            return Ok(());
        }
        let mut conn = self.connect(current, Credential::Current).await?;
        let result = async {
            let info = session::read(&mut conn).await?;
            if let Some(refusal) = dual_password_refusal(&info.server) {
                return Err(DbError::rejected(ErrorKind::Configuration, refusal));
            }
            conn.query_drop(DISCARD_OLD_PASSWORD_SQL)
                .await
                .map_err(|e| {
                    sql(
                        format!("discarding the old password of user {:?}", current.username),
                        &e,
                    )
                })?;
            tracing::info!(user = %current.username, "old (secondary) password discarded");
            Ok(())
        }
        .await;
        let _ = conn.disconnect().await;
        result
    }

    async fn current_account(
        &self,
        mut conn: Conn,
        current: &MysqlSecret,
    ) -> Result<String, DbError> {
        // The session tells which account (user@host) the server matched.
        let info = session::read(&mut conn).await;
        let _ = conn.disconnect().await;
        let (matched_user, host) = info?.current_user;
        if matched_user != current.username {
            return Err(DbError::rejected(
                ErrorKind::Conflict,
                format!(
                    "the current credentials for user {:?} log in as the account {}: the server matched \
                     another account (an anonymous user?); drop it or give {:?} its own account for this host",
                    current.username,
                    account(&matched_user, &host),
                    current.username
                ),
            ));
        }
        Ok(host)
    }

    async fn ensure_pair(
        &self,
        mut conn: Conn,
        pending: &MysqlSecret,
        pair: &Pair,
        host: String,
        holder: &Holder<'_, '_, Mysql>,
        changes: &mut Changes,
    ) -> Result<(), DbError> {
        let result = ensure_pair(self, &mut conn, pending, pair, &host, holder, changes).await;
        let _ = conn.disconnect().await;
        result
    }
}

/// Run a statement that may hold a password or its hash. The server's syntax errors quote
/// the statement, so on failure only the error code and state are kept, plus the message
/// when it contains neither the password nor the hash.
async fn run_secret_sql(
    conn: &mut Conn,
    stmt: &PasswordSql,
    context: String,
    password: &rotwise_core::SecretString,
) -> Result<(), DbError> {
    if stmt.plaintext {
        tracing::warn!(
            "{context}: the account's auth plugin takes no pre-computed hash, so the statement holds the \
             plaintext password (MySQL rewrites it in its logs; MariaDB's general log does not)"
        );
    }
    conn.query_drop(stmt.text()).await.map_err(|e| {
        let reason = match &e {
            mysql_async::Error::Server(s) => {
                let pw = password.expose_secret();
                let hash = native_hash(password);
                if s.code == 1064 || s.message.contains(pw) || s.message.contains(&hash) {
                    format!(
                        "ERROR {} ({}) (message withheld: it quotes the statement)",
                        s.code, s.state
                    )
                } else {
                    format!("ERROR {} ({}): {}", s.code, s.state, s.message)
                }
            }
            other => chain(other),
        };
        DbError::Sql {
            context,
            reason,
            kind: statement_kind(&e),
        }
    })
}

/// An account's `SHOW CREATE USER` line (`Whose::Own`: the session's own account), read
/// for its auth plugin and (MySQL 8) its default roles. `None` on servers before
/// `SHOW CREATE USER` (MySQL < 5.7.6, MariaDB < 10.2): mysql_native_password, no roles.
/// The line holds the account's password hash: it goes to the parsers only, and a row
/// that does not read as text gives an error without its content.
async fn show_create_user(conn: &mut Conn, whose: Whose<'_>) -> Result<Option<String>, DbError> {
    let query = match whose {
        Whose::Own => "SHOW CREATE USER CURRENT_USER()".to_owned(),
        Whose::Account(u, h) => format!("SHOW CREATE USER {}", account(u, h)),
    };
    let context = "reading the account's auth plugin (SHOW CREATE USER)";
    match conn.query_first::<Row, _>(query).await {
        Ok(Some(mut row)) => Ok(Some(column::<String>(&mut row, 0, context)?)),
        Ok(None) => Ok(None),
        Err(mysql_async::Error::Server(s)) if s.code == 1064 => Ok(None),
        Err(e) => Err(sql(context, &e)),
    }
}

/// The auth plugin of a `SHOW CREATE USER` line, refused before any change when rotwise
/// cannot set its password ([`plugin_supported`]).
fn known_plugin(line: Option<&str>, server: &Server, who: &str) -> Result<String, DbError> {
    let plugin = line.map_or_else(|| NATIVE.to_owned(), plugin_of);
    if !plugin_supported(server, &plugin) {
        return Err(DbError::rejected(
            ErrorKind::Conflict,
            format!(
                "{who} authenticates with the {plugin} plugin, which keeps no password in the \
                 server that rotwise could set; nothing was changed. Rotate it with the system \
                 that plugin checks passwords against, or switch the account to \
                 caching_sha2_password (MySQL) / mysql_native_password or ed25519 (MariaDB)"
            ),
        ));
    }
    Ok(plugin)
}

async fn change_own_password(
    dialect: &MysqlDialect,
    mut conn: Conn,
    pending: &MysqlSecret,
    changes: &mut Changes,
) -> Result<(), DbError> {
    // The password this session logged in with (current, or previous): with dual
    // passwords it is the one kept as the secondary password.
    let login = conn
        .opts()
        .pass()
        .map(|p| rotwise_core::SecretString::from(p.to_owned()));
    let result = async {
        fault::check("read:session")?;
        let info = session::read(&mut conn).await?;
        if dialect.dual_password
            && let Some(refusal) = dual_password_refusal(&info.server)
        {
            return Err(DbError::rejected(ErrorKind::Configuration, refusal));
        }
        fault::check("read:plugin")?;
        let line = show_create_user(&mut conn, Whose::Own).await?;
        let plugin = known_plugin(
            line.as_deref(),
            &info.server,
            &format!("user {:?}", pending.username),
        )?;
        let context = format!("changing the password of user {:?}", pending.username);
        fault::check("write:password")?;
        if dialect.dual_password {
            let login = login.ok_or_else(|| {
                DbError::rejected(ErrorKind::Internal, "the session has no login password")
            })?;
            let stmt = dual_password_sql(&pending.password, &login, info.lit);
            if !changes.admit(&pending.username, ChangeKind::SetPassword, || {
                stmt.shown().to_owned()
            }) {
                changes.note(|| {
                    format!(
                        "dual passwords: the old password keeps working until finishSecret, which then \
                         logs in with the new one and runs `{DISCARD_OLD_PASSWORD_SQL}`"
                    )
                });
                return Ok(());
            }
            match run_secret_sql(&mut conn, &stmt, context, &pending.password).await {
                Ok(()) => {
                    tracing::info!(
                        user = %pending.username,
                        %plugin,
                        "password changed; the old one is kept as the secondary password until finishSecret"
                    );
                    Ok(())
                }
                // REPLACE did not match: the primary password is no longer the one this
                // session logged in with (a retry after the change). Done if the pending
                // password logs in.
                Err(e @ DbError::Sql { .. }) if e.to_string().contains("ERROR 3891 ") => {
                    match dialect.connect(pending, Credential::Pending).await {
                        Ok(c) => {
                            dialect.close(c).await;
                            tracing::info!(user = %pending.username, "the pending password is already the primary one: nothing to change");
                            Ok(())
                        }
                        Err(_) => Err(e),
                    }
                }
                Err(e) => Err(e),
            }
        } else {
            let stmt = password_sql(
                &info.server,
                &plugin,
                Whose::Own,
                &pending.password,
                info.lit,
            );
            if !changes.admit(&pending.username, ChangeKind::SetPassword, || {
                stmt.shown().to_owned()
            }) {
                return Ok(());
            }
            run_secret_sql(&mut conn, &stmt, context, &pending.password).await?;
            tracing::info!(
                user = %pending.username,
                %plugin,
                hashed = !stmt.plaintext,
                "password changed"
            );
            Ok(())
        }
    }
    .await;
    let _ = conn.disconnect().await;
    result
}

async fn hosts_of(conn: &mut Conn, user: &str) -> Result<Vec<String>, DbError> {
    let context = format!("looking up the accounts of user {user:?}");
    fault::check(&format!("read:hosts:{user}"))?;
    let rows: Vec<Row> = conn
        .exec("SELECT Host FROM mysql.user WHERE User = ?", (user,))
        .await
        .map_err(|e| sql(context.as_str(), &e))?;
    rows.into_iter()
        .map(|mut row| column(&mut row, 0, &context))
        .collect()
}

async fn show_grants(conn: &mut Conn, user: &str, host: &str) -> Result<Grants, DbError> {
    let context = format!("reading the grants of {}", account(user, host));
    fault::check(&format!("read:grants:{user}"))?;
    // MariaDB's lines may hold the account's password hash: typed reads only.
    let rows: Vec<Row> = conn
        .query(format!("SHOW GRANTS FOR {}", account(user, host)))
        .await
        .map_err(|e| sql(context.as_str(), &e))?;
    let lines = rows
        .into_iter()
        .map(|mut row| column::<String>(&mut row, 0, &context))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Grants::parse(&lines)?)
}

async fn limits_of(conn: &mut Conn, user: &str, host: &str) -> Result<AccountLimits, DbError> {
    let context = format!("reading the TLS requirement of {}", account(user, host));
    fault::check(&format!("read:limits:{user}"))?;
    let row: Option<Row> = conn
        .exec_first(
            "SELECT CAST(ssl_type AS CHAR), CAST(ssl_cipher AS CHAR), CAST(x509_issuer AS CHAR), \
             CAST(x509_subject AS CHAR), CAST(max_questions AS SIGNED), CAST(max_updates AS SIGNED), \
             CAST(max_connections AS SIGNED), CAST(max_user_connections AS SIGNED) \
             FROM mysql.user WHERE User = ? AND Host = ?",
            (user, host),
        )
        .await
        .map_err(|e| sql(context.as_str(), &e))?;
    let mut row = row.ok_or_else(|| {
        DbError::rejected(
            ErrorKind::Conflict,
            format!("{} vanished", account(user, host)),
        )
    })?;
    let text = |row: &mut Row, i| {
        column::<Option<String>>(row, i, &context).map(Option::unwrap_or_default)
    };
    let number =
        |row: &mut Row, i| column::<Option<i64>>(row, i, &context).map(Option::unwrap_or_default);
    Ok(AccountLimits {
        ssl_type: text(&mut row, 0)?,
        ssl_cipher: text(&mut row, 1)?,
        x509_issuer: text(&mut row, 2)?,
        x509_subject: text(&mut row, 3)?,
        limits: [
            number(&mut row, 4)?,
            number(&mut row, 5)?,
            number(&mut row, 6)?,
            number(&mut row, 7)?,
        ],
    })
}

/// The server's username limit: the width of `mysql.user.User`, else the version's
/// documented limit.
async fn server_username_limit(conn: &mut Conn, server: &Server) -> usize {
    let row: Result<Option<Row>, _> = conn
        .query_first(
            "SELECT CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = 'user' AND COLUMN_NAME = 'User'",
        )
        .await;
    let width = match row {
        Ok(Some(mut row)) => column::<Option<u64>>(&mut row, 0, "reading the username limit")
            .ok()
            .flatten(),
        _ => None,
    };
    match width {
        Some(w) if w > 0 => usize::try_from(w).unwrap_or(usize::MAX),
        _ => server.documented_username_limit(),
    }
}

/// The user attributes of an account (MySQL 8.0.21+), `None` when it has none.
async fn attributes_of(conn: &mut Conn, user: &str, host: &str) -> Result<Option<String>, DbError> {
    let context = format!("reading the user attributes of {}", account(user, host));
    fault::check(&format!("read:attributes:{user}"))?;
    let row: Option<Row> = conn
        .exec_first(
            "SELECT ATTRIBUTE FROM INFORMATION_SCHEMA.USER_ATTRIBUTES WHERE USER = ? AND HOST = ?",
            (user, host),
        )
        .await
        .map_err(|e| sql(context.as_str(), &e))?;
    match row {
        Some(mut row) => column(&mut row, 0, &context),
        None => Ok(None),
    }
}

/// An existing account named like the clone is used only if rotwise made it: on MySQL
/// 8.0.21+ it carries rotwise's user attribute naming the base user; on MariaDB and older
/// MySQL (no place for a mark) it holds no privilege, grant option, role or proxy grant
/// beyond the base user's. Otherwise the rotation stops here, before any change, with the
/// statements that adopt the account on purpose.
///
/// Without a mark, a clone rotwise made can differ from the base user too (the base lost
/// a privilege since the last rotation): it is accepted when the secret proves its holder
/// already has the clone's credentials (the current login was the clone's, or AWSPREVIOUS
/// is the clone's and logs in).
async fn check_adoptable(
    dialect: &MysqlDialect,
    conn: &mut Conn,
    info: &SessionInfo,
    pair: &Pair,
    host: &str,
    holder: &Holder<'_, '_, Mysql>,
) -> Result<(), DbError> {
    let clone_account = account(&pair.clone, host);
    let refuse = |why: String, adopt: String| {
        tracing::warn!(user = %pair.clone, %host, of = %pair.base, "existing account not adopted as the clone");
        DbError::rejected(
            ErrorKind::Conflict,
            format!(
                "the account {clone_account} exists but was not created by rotwise as the alternating-users \
                 clone of {base:?} ({why}; a user name ending in _clone is read as the clone of the name \
                 without it): refusing to reset its password or change its grants, nothing was changed. \
                 If it is meant to be that clone (e.g. made by AWS's rotation function), adopt it on \
                 purpose: {adopt}, then retry. Otherwise rename one of the users, or rotate this secret \
                 with the single-user strategy",
                base = pair.base,
            ),
        )
    };
    if info.server.has_user_attributes() {
        let attributes = attributes_of(conn, &pair.clone, host).await?;
        if is_marked_clone_of(attributes.as_deref(), &pair.base) {
            return Ok(());
        }
        return Err(refuse(
            "it has no rotwise_clone_of user attribute naming the base user".into(),
            format!(
                "run `{}` as a user with CREATE USER",
                adopt_clone_sql(&pair.base, &pair.clone, host, info.lit)
            ),
        ));
    }
    if holder.current_is_clone() {
        // The current login, made before the master acted, was the clone's.
        return Ok(());
    }
    let base_grants = full_grants(conn, info, &pair.base, host).await?;
    let clone_grants = full_grants(conn, info, &pair.clone, host).await?;
    let revokes = clone_grants.revocations_to_fit(&base_grants, &clone_account);
    if !revokes.is_empty() && holds_previous_clone(dialect, holder).await? {
        tracing::info!(user = %pair.clone, %host, "the clone holds grants the base user lost; AWSPREVIOUS logs in as the clone, so it is this secret's");
        return Ok(());
    }
    if !revokes.is_empty() {
        return Err(refuse(
            format!(
                "it holds {} privilege(s), grant option(s), role(s) or proxy grant(s) the base user \
                 does not, and this server has no user attributes to mark the clones rotwise creates",
                revokes.len()
            ),
            format!("run `{}` as the master user", revokes.join("; ")),
        ));
    }
    Ok(())
}

/// An account's grants: `SHOW GRANTS`, plus on MySQL its default roles from
/// `SHOW CREATE USER` (MariaDB prints them in `SHOW GRANTS`).
async fn full_grants(
    conn: &mut Conn,
    info: &SessionInfo,
    user: &str,
    host: &str,
) -> Result<Grants, DbError> {
    let mut grants = show_grants(conn, user, host).await?;
    if info.server.flavor == Flavor::Mysql && info.server.version >= (8, 0, 0) {
        fault::check(&format!("read:create_user:{user}"))?;
        if let Some(line) = show_create_user(conn, Whose::Account(user, host)).await? {
            grants.add_default_roles(&line)?;
        }
    }
    Ok(grants)
}

/// Whether AWSPREVIOUS is the clone's credential and logs in (a refused login is `false`).
async fn holds_previous_clone(
    dialect: &MysqlDialect,
    holder: &Holder<'_, '_, Mysql>,
) -> Result<bool, DbError> {
    let Some(previous) = holder.previous_clone().await? else {
        return Ok(false);
    };
    match dialect.connect(&previous, Credential::Previous).await {
        Ok(conn) => {
            dialect.close(conn).await;
            Ok(true)
        }
        Err(e) if e.is_auth_refused() => Ok(false),
        Err(e) => Err(e),
    }
}

/// As master: read and check everything first (the server's name limit, the accounts,
/// the clone's provenance, the auth plugins, both grant sets and limits, the statements
/// to run), then change: create the clone on first use or set the pending user's
/// password, then make the clone's grants, TLS requirement and resource limits equal to
/// the base user's. A failure in the reads leaves the database untouched, so a retry
/// starts from the same state (before, the grants were read after the password changed,
/// and an unreadable grant line left the pending password set on every retry).
/// MySQL DDL commits implicitly, so each change is idempotent instead of one transaction:
/// a retry after a failed change converges.
async fn ensure_pair(
    dialect: &MysqlDialect,
    conn: &mut Conn,
    pending: &MysqlSecret,
    pair: &Pair,
    host: &str,
    holder: &Holder<'_, '_, Mysql>,
    changes: &mut Changes,
) -> Result<(), DbError> {
    fault::check("read:session")?;
    let info = session::read(conn).await?;
    let base = pair.base.clone();
    let clone = pair.clone.clone();
    // The server's own limit.
    let limit = name_limit(server_username_limit(conn, &info.server).await);
    check_name(&base, limit)?;
    // `Pair::of` made the clone `<base>_clone`: the clone's own text for a name too long.
    clone_username(&base, limit)?;
    let base_hosts = hosts_of(conn, &base).await?;
    if !base_hosts.iter().any(|h| h == host) {
        return Err(DbError::rejected(
            ErrorKind::Conflict,
            format!("the base user {} does not exist", account(&base, host)),
        ));
    }
    if base_hosts.len() > 1 {
        tracing::info!(
            user = %base,
            %host,
            hosts = ?base_hosts,
            "the user is defined on several hosts; only the account the current login matched is rotated and cloned"
        );
    }
    let clone_exists = hosts_of(conn, &clone).await?.iter().any(|h| h == host);
    if clone_exists {
        check_adoptable(dialect, conn, &info, pair, host, holder).await?;
    }
    // The plugins: the base account's for a new clone, else the pending account's own.
    let create = pending.username == clone && !clone_exists;
    fault::check("read:plugin")?;
    let pending_line = show_create_user(
        conn,
        Whose::Account(if create { &base } else { &pending.username }, host),
    )
    .await?;
    let plugin = known_plugin(
        pending_line.as_deref(),
        &info.server,
        &account(if create { &base } else { &pending.username }, host),
    )?;
    // The grants, parsed, and the statements that make the clone's equal to the base's. A
    // clone about to be created holds nothing yet.
    let base_grants = full_grants(conn, &info, &base, host).await?;
    let clone_grants = if clone_exists {
        full_grants(conn, &info, &clone, host).await?
    } else {
        Grants::default()
    };
    let clone_account = account(&clone, host);
    let statements = clone_grants.statements_to_match(&base_grants, &clone_account);
    let base_limits = limits_of(conn, &base, host).await?;
    let clone_limits = if clone_exists {
        limits_of(conn, &clone, host).await?
    } else {
        AccountLimits::default()
    };

    // Changes, from here on (a dry run records them instead).
    let pw = &pending.password;
    if create {
        changes
            .note(|| format!("the clone {clone_account} does not exist yet: setSecret creates it"));
    }
    fault::check("write:password")?;
    if create {
        let stmt = create_user_sql(&info.server, &plugin, &base, &clone, host, pw, info.lit);
        if changes.admit(&clone, ChangeKind::CreateUser, || stmt.shown().to_owned()) {
            run_secret_sql(
                conn,
                &stmt,
                format!("creating the clone {}", account(&clone, host)),
                pw,
            )
            .await?;
            tracing::info!(user = %clone, %host, of = %base, %plugin, "clone user created");
        }
    } else {
        let whose = Whose::Account(&pending.username, host);
        let stmt = password_sql(&info.server, &plugin, whose, pw, info.lit);
        if changes.admit(&pending.username, ChangeKind::SetPassword, || {
            stmt.shown().to_owned()
        }) {
            run_secret_sql(
                conn,
                &stmt,
                format!(
                    "changing the password of {}",
                    account(&pending.username, host)
                ),
                pw,
            )
            .await?;
            tracing::info!(user = %pending.username, %host, %plugin, hashed = !stmt.plaintext, "password changed");
        }
    }

    fault::check("write:grants")?;
    for stmt in &statements {
        if !changes.admit(&clone, ChangeKind::MatchBaseUser, || stmt.clone()) {
            continue;
        }
        conn.query_drop(stmt.as_str()).await.map_err(|e| {
            sql(
                format!("making the grants of {clone_account} equal to the base user's ({stmt})"),
                &e,
            )
        })?;
    }
    if !statements.is_empty() && !changes.is_dry_run() {
        tracing::info!(user = %clone, %host, changes = statements.len(), "clone grants made equal to the base user's");
    }
    if clone_limits != base_limits {
        let stmt = copy_limits_sql(&clone, host, &base_limits, info.lit);
        if changes.admit(&clone, ChangeKind::MatchBaseUser, || stmt.clone()) {
            conn.query_drop(stmt.as_str()).await.map_err(|e| {
                sql(
                    format!("copying the TLS requirement and limits to {clone_account}"),
                    &e,
                )
            })?;
            tracing::info!(user = %clone, %host, "TLS requirement and resource limits copied from the base user");
        }
    }
    Ok(())
}
