//! MySQL's and MariaDB's [`Dialect`]: logins, password statements per server and auth
//! plugin, and the clone kept equal to its base user. The strategies themselves are
//! [`rotwise_db::DbRotator`]'s.

use async_trait::async_trait;
use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use rotwise_core::{ErrorKind, ExposeSecret};
use rotwise_db::error::chain;
use rotwise_db::names::{check_name, clone_username};
use rotwise_db::{Credential, DbError, DbOptions, DbRotator, Dialect, NameLimit};

use crate::connect::{Connector, probe_and_close, sql, statement_kind};
use crate::grants::{GrantParseError, Grants, plugin_of};
use crate::secret::{Mysql, MysqlSecret};
use crate::sql::{
    AccountLimits, Literals, NATIVE, PasswordSql, Server, Whose, account, base_username,
    copy_limits_sql, create_user_sql, engine_username_limit, name_limit, native_hash, password_sql,
};

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

    async fn change_own_password(&self, conn: Conn, pending: &MysqlSecret) -> Result<(), DbError> {
        change_own_password(conn, pending).await
    }

    async fn current_account(
        &self,
        mut conn: Conn,
        current: &MysqlSecret,
    ) -> Result<String, DbError> {
        // The session tells which account (user@host) the server matched.
        let info = session_info(&mut conn).await;
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
        host: String,
    ) -> Result<(), DbError> {
        let result = ensure_pair(&mut conn, pending, &host).await;
        let _ = conn.disconnect().await;
        result
    }
}

/// What a session says about the server and itself.
struct SessionInfo {
    server: Server,
    lit: Literals,
    /// `CURRENT_USER()`, split into user and host.
    current_user: (String, String),
}

async fn session_info(conn: &mut Conn) -> Result<SessionInfo, DbError> {
    let row: Option<(String, String, String)> = conn
        .query_first("SELECT VERSION(), @@SESSION.sql_mode, CURRENT_USER()")
        .await
        .map_err(|e| sql("reading the server version and sql_mode", &e))?;
    let (version, sql_mode, current_user) = row.ok_or_else(|| DbError::Sql {
        context: "reading the server version and sql_mode".into(),
        reason: "no row".into(),
        kind: ErrorKind::Target,
    })?;
    // Host names cannot contain '@'; user names can.
    let current_user = match current_user.rsplit_once('@') {
        Some((u, h)) => (u.to_owned(), h.to_owned()),
        None => (current_user, "%".to_owned()),
    };
    Ok(SessionInfo {
        server: Server::parse(&version),
        lit: Literals::from_sql_mode(&sql_mode),
        current_user,
    })
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

/// The auth plugin of an account (`None`: the session's own).
async fn plugin(conn: &mut Conn, whose: Whose<'_>) -> Result<String, DbError> {
    let query = match whose {
        Whose::Own => "SHOW CREATE USER CURRENT_USER()".to_owned(),
        Whose::Account(u, h) => format!("SHOW CREATE USER {}", account(u, h)),
    };
    // The row holds the account's password hash: it goes to the parser only.
    match conn.query_first::<String, _>(query).await {
        Ok(Some(text)) => Ok(plugin_of(&text)),
        Ok(None) => Ok(NATIVE.to_owned()),
        Err(mysql_async::Error::Server(s)) if s.code == 1064 => {
            // Servers before SHOW CREATE USER (MySQL < 5.7.6, MariaDB < 10.2).
            Ok(NATIVE.to_owned())
        }
        Err(e) => Err(sql(
            "reading the account's auth plugin (SHOW CREATE USER)",
            &e,
        )),
    }
}

async fn change_own_password(mut conn: Conn, pending: &MysqlSecret) -> Result<(), DbError> {
    let result = async {
        let info = session_info(&mut conn).await?;
        let plugin = plugin(&mut conn, Whose::Own).await?;
        let stmt = password_sql(
            &info.server,
            &plugin,
            Whose::Own,
            &pending.password,
            info.lit,
        );
        run_secret_sql(
            &mut conn,
            &stmt,
            format!("changing the password of user {:?}", pending.username),
            &pending.password,
        )
        .await?;
        tracing::info!(
            user = %pending.username,
            %plugin,
            hashed = !stmt.plaintext,
            "password changed"
        );
        Ok(())
    }
    .await;
    let _ = conn.disconnect().await;
    result
}

async fn hosts_of(conn: &mut Conn, user: &str) -> Result<Vec<String>, DbError> {
    conn.exec("SELECT Host FROM mysql.user WHERE User = ?", (user,))
        .await
        .map_err(|e| sql(format!("looking up the accounts of user {user:?}"), &e))
}

async fn show_grants(conn: &mut Conn, user: &str, host: &str) -> Result<Grants, DbError> {
    let rows: Vec<String> = conn
        .query(format!("SHOW GRANTS FOR {}", account(user, host)))
        .await
        .map_err(|e| sql(format!("reading the grants of {}", account(user, host)), &e))?;
    Ok(Grants::parse(&rows)?)
}

async fn limits_of(conn: &mut Conn, user: &str, host: &str) -> Result<AccountLimits, DbError> {
    type Row = (String, String, String, String, i64, i64, i64, i64);
    let row: Option<Row> = conn
        .exec_first(
            "SELECT CAST(ssl_type AS CHAR), CAST(ssl_cipher AS CHAR), CAST(x509_issuer AS CHAR), \
             CAST(x509_subject AS CHAR), CAST(max_questions AS SIGNED), CAST(max_updates AS SIGNED), \
             CAST(max_connections AS SIGNED), CAST(max_user_connections AS SIGNED) \
             FROM mysql.user WHERE User = ? AND Host = ?",
            (user, host),
        )
        .await
        .map_err(|e| {
            sql(
                format!("reading the TLS requirement of {}", account(user, host)),
                &e,
            )
        })?;
    let (ssl_type, ssl_cipher, x509_issuer, x509_subject, a, b, c, d) = row.ok_or_else(|| {
        DbError::rejected(
            ErrorKind::Conflict,
            format!("{} vanished", account(user, host)),
        )
    })?;
    Ok(AccountLimits {
        ssl_type,
        ssl_cipher,
        x509_issuer,
        x509_subject,
        limits: [a, b, c, d],
    })
}

/// The server's username limit: the width of `mysql.user.User`, else the version's
/// documented limit.
async fn server_username_limit(conn: &mut Conn, server: &Server) -> usize {
    let width: Result<Option<u64>, _> = conn
        .query_first(
            "SELECT CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = 'user' AND COLUMN_NAME = 'User'",
        )
        .await;
    match width {
        Ok(Some(w)) if w > 0 => usize::try_from(w).unwrap_or(usize::MAX),
        _ => server.documented_username_limit(),
    }
}

/// As master: create the clone on first use or set the pending user's password, then make
/// the clone's grants, TLS requirement and resource limits equal to the base user's.
/// MySQL DDL commits implicitly, so each statement is idempotent instead of one
/// transaction: a retry after any failure converges.
async fn ensure_pair(conn: &mut Conn, pending: &MysqlSecret, host: &str) -> Result<(), DbError> {
    let info = session_info(conn).await?;
    let base = base_username(&pending.username).to_owned();
    // The server's own limit, before anything changes.
    let limit = name_limit(server_username_limit(conn, &info.server).await);
    check_name(&base, limit)?;
    let clone = clone_username(&base, limit)?;
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
    let pw = &pending.password;
    if pending.username == clone && !clone_exists {
        let base_plugin = plugin(conn, Whose::Account(&base, host)).await?;
        let stmt = create_user_sql(&info.server, &base_plugin, &clone, host, pw, info.lit);
        run_secret_sql(
            conn,
            &stmt,
            format!("creating the clone {}", account(&clone, host)),
            pw,
        )
        .await?;
        tracing::info!(user = %clone, %host, of = %base, plugin = %base_plugin, "clone user created");
    } else {
        let whose = Whose::Account(&pending.username, host);
        let plugin = plugin(conn, whose).await?;
        let stmt = password_sql(&info.server, &plugin, whose, pw, info.lit);
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

    // Grants: the base user's are the source of truth.
    let base_grants = show_grants(conn, &base, host).await?;
    let clone_grants = show_grants(conn, &clone, host).await?;
    for what in &base_grants.unsupported {
        tracing::warn!(user = %base, %host, "not copied to the clone: {what}");
    }
    let clone_account = account(&clone, host);
    let statements = clone_grants.statements_to_match(&base_grants, &clone_account);
    for stmt in &statements {
        conn.query_drop(stmt.as_str()).await.map_err(|e| {
            sql(
                format!("making the grants of {clone_account} equal to the base user's ({stmt})"),
                &e,
            )
        })?;
    }
    if !statements.is_empty() {
        tracing::info!(user = %clone, %host, changes = statements.len(), "clone grants made equal to the base user's");
    }
    let base_limits = limits_of(conn, &base, host).await?;
    if limits_of(conn, &clone, host).await? != base_limits {
        let stmt = copy_limits_sql(&clone, host, &base_limits, info.lit);
        conn.query_drop(stmt.as_str()).await.map_err(|e| {
            sql(
                format!("copying the TLS requirement and limits to {clone_account}"),
                &e,
            )
        })?;
        tracing::info!(user = %clone, %host, "TLS requirement and resource limits copied from the base user");
    }
    Ok(())
}
