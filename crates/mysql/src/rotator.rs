//! The two strategies.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use rotwise_core::store::SecretVersion;
use rotwise_core::{BoxError, ExposeSecret, Rotator, SecretPayload, Versions};

use crate::connect::{Connector, probe_and_close};
use crate::error::{Credential, MysqlError, chain, sql};
use crate::grants::{Grants, plugin_of};
use crate::secret::{MysqlSecret, SecretError};
use crate::sql::{
    AccountLimits, Literals, NATIVE, PasswordSql, Server, Whose, account, alt_username,
    base_username, check_username, copy_limits_sql, create_user_sql, engine_username_limit,
    native_hash, password_sql,
};
use crate::tls::TlsMode;

/// The default connect timeout (TCP, TLS and authentication together), as AWS's functions.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How the credential is rotated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MysqlStrategy {
    /// One user; its password changes in place (AWS's `…SingleUser`).
    Single,
    /// Two users (`<user>` and `<user>_clone`) take turns, changed by the master user
    /// (AWS's `…MultiUser`).
    Alternating,
}

impl FromStr for MysqlStrategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "single" => Ok(MysqlStrategy::Single),
            "alternating" => Ok(MysqlStrategy::Alternating),
            _ => Err(format!(
                "unknown rotation strategy {s:?}: use single or alternating"
            )),
        }
    }
}

impl fmt::Display for MysqlStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MysqlStrategy::Single => "single",
            MysqlStrategy::Alternating => "alternating",
        })
    }
}

/// Settings the caller reads from its environment (`ROTATION_TLS_MODE`,
/// `ROTATION_CA_FILE`, `ROTATION_STRATEGY`, `USERNAME_CHARACTER_LIMIT`, ...). This crate
/// reads no environment variable except `SSL_CERT_FILE` (the system CA bundle).
#[derive(Clone, Debug)]
pub struct MysqlOptions {
    /// Overrides every secret's `ssl` key. `None`: `ssl` true → verify-full, false →
    /// disable, absent → prefer.
    pub tls: Option<TlsMode>,
    /// Trusted in addition to the system bundle (e.g. the RDS CA bundle).
    pub ca_file: Option<PathBuf>,
    /// Limit for one login (TCP connect, TLS handshake and authentication).
    pub connect_timeout: Duration,
    /// `None`: alternating when the current secret has `masterarn` (with a warning on
    /// every step), else single.
    pub strategy: Option<MysqlStrategy>,
    /// The clone name limit createSecret checks (AWS's `USERNAME_CHARACTER_LIMIT`).
    /// `None`: the documented limit for the secret's `engine` (MySQL and Aurora MySQL 32,
    /// MariaDB 128). setSecret checks the server's own limit as well.
    pub username_limit: Option<usize>,
}

impl Default for MysqlOptions {
    fn default() -> Self {
        MysqlOptions {
            tls: None,
            ca_file: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            strategy: None,
            username_limit: None,
        }
    }
}

/// The MySQL / Aurora MySQL / MariaDB rotator, for both strategies. See the
/// [crate docs](crate).
pub struct MysqlRotator {
    connector: Connector,
    name: &'static str,
}

fn parse(version: &SecretVersion, credential: Credential) -> Result<MysqlSecret, MysqlError> {
    MysqlSecret::parse(&version.payload).map_err(|error| MysqlError::Secret { credential, error })
}

/// Names are only checked for emptiness and NUL where no limit applies.
const NO_LIMIT: usize = usize::MAX;

impl MysqlRotator {
    /// A rotator with these options.
    pub fn new(options: MysqlOptions) -> MysqlRotator {
        let name = match options.strategy {
            Some(MysqlStrategy::Single) => "mysql-single",
            Some(MysqlStrategy::Alternating) => "mysql-alternating",
            None => "mysql",
        };
        MysqlRotator {
            connector: Connector::new(options),
            name,
        }
    }

    /// The options.
    pub fn options(&self) -> &MysqlOptions {
        self.connector.options()
    }

    /// Log in with `secret` as this rotator would (TLS mode, trust roots, timeout, TCP).
    pub async fn connect(&self, secret: &MysqlSecret) -> Result<Conn, MysqlError> {
        self.connector.connect(secret, Credential::Given).await
    }

    /// Whether `value` logs in (fresh connection, `SELECT 1`): `Ok(false)` when the server
    /// refuses the credentials, `Err` when the check could not run.
    pub async fn login_works(&self, value: &SecretPayload) -> Result<bool, MysqlError> {
        let secret = MysqlSecret::parse(value).map_err(|error| MysqlError::Secret {
            credential: Credential::Given,
            error,
        })?;
        match self.connector.connect(&secret, Credential::Given).await {
            Ok(conn) => {
                probe_and_close(conn)
                    .await
                    .map_err(|e| sql("SELECT 1", &e))?;
                Ok(true)
            }
            Err(e) if e.is_auth_refused() => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn strategy(&self, current: &MysqlSecret) -> MysqlStrategy {
        match self.options().strategy {
            Some(s) => s,
            None if current.masterarn.is_some() => {
                tracing::warn!(
                    "no rotation strategy configured and the secret has masterarn: using alternating users \
                     (set ROTATION_STRATEGY=single|alternating to silence this)"
                );
                MysqlStrategy::Alternating
            }
            None => MysqlStrategy::Single,
        }
    }

    async fn set_single(
        &self,
        versions: &Versions<'_>,
        current: &MysqlSecret,
        pending: &MysqlSecret,
    ) -> Result<(), MysqlError> {
        if pending.username != current.username || pending.host != current.host {
            return Err(MysqlError::Refused(format!(
                "Attempting to modify user {} other than current user {}",
                pending.username, current.username
            )));
        }
        check_username(&pending.username, NO_LIMIT)?;
        // Current first: on the normal path it is the one that works, so a rotation leaves
        // no failed login (Access_denied_errors) on the server (DESIGN section 4).
        let mut failures = Vec::new();
        match self.connector.connect(current, Credential::Current).await {
            Ok(conn) => return change_own_password(conn, pending).await,
            Err(e) => failures.push(e.to_string()),
        }
        // A retry after the password already changed.
        match self.connector.connect(pending, Credential::Pending).await {
            Ok(conn) => {
                let _ = conn.disconnect().await;
                tracing::info!(user = %pending.username, "the pending credentials already log in: nothing to change");
                return Ok(());
            }
            Err(e) => failures.push(e.to_string()),
        }
        if let Some(prev) = versions.previous().await? {
            let mut prev = parse(prev, Credential::Previous)?;
            // As AWS: the previous secret is used with the current `ssl`, and must be
            // the same user on the same host.
            prev.ssl = current.ssl;
            if prev.username == current.username && prev.host == current.host {
                match self.connector.connect(&prev, Credential::Previous).await {
                    Ok(conn) => return change_own_password(conn, pending).await,
                    Err(e) => failures.push(e.to_string()),
                }
            }
        }
        Err(MysqlError::Refused(format!(
            "Unable to log into database with previous, current, or pending secret of secret arn {}: {}",
            versions.arn(),
            failures.join("; ")
        )))
    }

    async fn set_alternating(
        &self,
        versions: &Versions<'_>,
        current: &MysqlSecret,
        pending: &MysqlSecret,
    ) -> Result<(), MysqlError> {
        let masterarn = current.masterarn.clone().ok_or(MysqlError::Secret {
            credential: Credential::Current,
            error: SecretError::Missing("masterarn"),
        })?;
        let expected = alt_username(&current.username, NO_LIMIT)?;
        if pending.username != expected || pending.host != current.host {
            return Err(MysqlError::Refused(format!(
                "Attempting to modify user {} other than current user or clone {}",
                pending.username, current.username
            )));
        }
        // Current first: whoever can write this secret must also hold a working
        // credential before the master acts for them. Its session also tells which
        // account (user@host) the server matched: the clone gets that host.
        let mut conn = self
            .connector
            .connect(current, Credential::Current)
            .await
            .map_err(|e| {
                MysqlError::step(
                    format!(
                        "Unable to log into database using current credentials for secret {}",
                        versions.arn()
                    ),
                    e,
                )
            })?;
        let info = session_info(&mut conn).await?;
        let _ = conn.disconnect().await;
        let (matched_user, host) = info.current_user;
        if matched_user != current.username {
            return Err(MysqlError::Refused(format!(
                "the current credentials for user {:?} log in as the account {}: the server matched \
                 another account (an anonymous user?); drop it or give {:?} its own account for this host",
                current.username,
                account(&matched_user, &host),
                current.username
            )));
        }

        let master_version = versions.other_secret(&masterarn).await?;
        let mut master = MysqlSecret::parse(&master_version.payload).map_err(|error| {
            let hint = match error {
                SecretError::Missing(_) | SecretError::Engine { .. } => {
                    "; an RDS-managed master secret holds only username and password: add host, port and engine keys to it"
                }
                _ => "",
            };
            MysqlError::Refused(format!(
                "the master secret {masterarn} is not usable: {error}{hint}"
            ))
        })?;
        master.dbname = current.dbname.clone();
        if master.host != current.host {
            return Err(MysqlError::Refused(format!(
                "Current database host {} is not the same host as/rds replica of master {}",
                current.host, master.host
            )));
        }
        let mut conn = self
            .connector
            .connect(&master, Credential::Master)
            .await
            .map_err(|e| {
                MysqlError::step(
                    format!(
                        "Unable to log into database using credentials in master secret {masterarn}"
                    ),
                    e,
                )
            })?;
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

async fn session_info(conn: &mut Conn) -> Result<SessionInfo, MysqlError> {
    let row: Option<(String, String, String)> = conn
        .query_first("SELECT VERSION(), @@SESSION.sql_mode, CURRENT_USER()")
        .await
        .map_err(|e| sql("reading the server version and sql_mode", &e))?;
    let (version, sql_mode, current_user) = row.ok_or_else(|| MysqlError::Sql {
        context: "reading the server version and sql_mode".into(),
        reason: "no row".into(),
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
) -> Result<(), MysqlError> {
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
        MysqlError::Sql { context, reason }
    })
}

/// The auth plugin of an account (`None`: the session's own).
async fn plugin(conn: &mut Conn, whose: Whose<'_>) -> Result<String, MysqlError> {
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

async fn change_own_password(mut conn: Conn, pending: &MysqlSecret) -> Result<(), MysqlError> {
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

async fn hosts_of(conn: &mut Conn, user: &str) -> Result<Vec<String>, MysqlError> {
    conn.exec("SELECT Host FROM mysql.user WHERE User = ?", (user,))
        .await
        .map_err(|e| sql(format!("looking up the accounts of user {user:?}"), &e))
}

async fn show_grants(conn: &mut Conn, user: &str, host: &str) -> Result<Grants, MysqlError> {
    let rows: Vec<String> = conn
        .query(format!("SHOW GRANTS FOR {}", account(user, host)))
        .await
        .map_err(|e| sql(format!("reading the grants of {}", account(user, host)), &e))?;
    Ok(Grants::parse(&rows)?)
}

async fn limits_of(conn: &mut Conn, user: &str, host: &str) -> Result<AccountLimits, MysqlError> {
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
    let (ssl_type, ssl_cipher, x509_issuer, x509_subject, a, b, c, d) =
        row.ok_or_else(|| MysqlError::Refused(format!("{} vanished", account(user, host))))?;
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
async fn ensure_pair(conn: &mut Conn, pending: &MysqlSecret, host: &str) -> Result<(), MysqlError> {
    let info = session_info(conn).await?;
    let base = base_username(&pending.username).to_owned();
    let clone = format!("{base}{}", crate::sql::CLONE_SUFFIX);
    // The server's own limit, before anything changes.
    let limit = server_username_limit(conn, &info.server).await;
    check_username(&base, limit)?;
    if clone.chars().count() > limit {
        return Err(crate::sql::NameError::CloneTooLong {
            chars: base.chars().count(),
            name: base,
            limit,
        }
        .into());
    }
    let base_hosts = hosts_of(conn, &base).await?;
    if !base_hosts.iter().any(|h| h == host) {
        return Err(MysqlError::Refused(format!(
            "the base user {} does not exist",
            account(&base, host)
        )));
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

#[async_trait]
impl Rotator for MysqlRotator {
    fn name(&self) -> &str {
        self.name
    }

    async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, BoxError> {
        let current = parse(versions.current().await?, Credential::Current)?;
        let next = match self.strategy(&current) {
            MysqlStrategy::Single => {
                check_username(&current.username, NO_LIMIT).map_err(MysqlError::from)?;
                current.clone()
            }
            MysqlStrategy::Alternating => {
                if current.masterarn.is_none() {
                    return Err(MysqlError::Secret {
                        credential: Credential::Current,
                        error: SecretError::Missing("masterarn"),
                    }
                    .into());
                }
                // No database session here: the configured or documented limit.
                let limit = self
                    .options()
                    .username_limit
                    .unwrap_or_else(|| engine_username_limit(&current.engine));
                let alt = alt_username(&current.username, limit).map_err(MysqlError::from)?;
                current.with_username(&alt)
            }
        };
        Ok(next
            .with_password(versions.new_password().await?)
            .to_payload())
    }

    async fn set(&self, versions: &Versions<'_>) -> Result<(), BoxError> {
        let current = parse(versions.current().await?, Credential::Current)?;
        let pending = parse(versions.pending().await?, Credential::Pending)?;
        match self.strategy(&current) {
            MysqlStrategy::Single => self.set_single(versions, &current, &pending).await?,
            MysqlStrategy::Alternating => {
                self.set_alternating(versions, &current, &pending).await?
            }
        }
        Ok(())
    }

    async fn test(&self, versions: &Versions<'_>) -> Result<(), BoxError> {
        let pending = parse(versions.pending().await?, Credential::Pending)?;
        let message = || {
            format!(
                "Unable to log into database with pending secret of secret ARN {}",
                versions.arn()
            )
        };
        let conn = self
            .connector
            .connect(&pending, Credential::Pending)
            .await
            .map_err(|e| MysqlError::step(message(), e))?;
        probe_and_close(conn)
            .await
            .map_err(|e| MysqlError::step(message(), sql("SELECT 1", &e)))?;
        Ok(())
    }
}
