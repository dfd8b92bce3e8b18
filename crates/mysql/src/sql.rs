//! Statements, built locally: account names and literals quoted correctly under any
//! `sql_mode`, the password statement for each server and auth plugin, and name limits.
//!
//! Account-management statements (`CREATE USER`, `ALTER USER`, `SET PASSWORD`, `GRANT`)
//! take no bind parameter in MySQL or MariaDB, so they are built here:
//! - user and host names go in backticks (`` `O'Neil`@`%` ``), inner backticks doubled.
//!   Inside backticks a backslash is an ordinary character in every `sql_mode`, and
//!   backticks work with `ANSI_QUOTES` too;
//! - string literals (hashes, passwords) use single quotes with `'` doubled, and `\`
//!   doubled only when the session does not have `NO_BACKSLASH_ESCAPES` ([`Literals`],
//!   read from the session before quoting).

use rotwise_core::plan::{REDACTED_HASH, REDACTED_PASSWORD};
use rotwise_core::{ExposeSecret, SecretString};
use rotwise_db::SecretSql;
pub use rotwise_db::names::base_username;
use rotwise_db::names::{self, NameError, NameLimit, Unit, check_name};
use sha1::{Digest, Sha1};

/// MySQL's documented username limit in characters (5.7.8 and later).
pub const MYSQL_USERNAME_LIMIT: usize = 32;

/// MariaDB's username limit in characters (10.6 and later; 10.11 accepts 128, refuses 129).
pub const MARIADB_USERNAME_LIMIT: usize = 128;

/// The mysql_native_password plugin, whose stored hash (`*HEX`) can be computed here.
pub const NATIVE: &str = "mysql_native_password";

/// A limit of `max` characters (MySQL and MariaDB count characters), for
/// [`rotwise_db::names`].
pub fn name_limit(max: usize) -> NameLimit {
    NameLimit {
        max,
        unit: Unit::Chars,
        product: None,
    }
}

/// Check that `name` is a usable username: non-empty, no NUL, at most `limit` characters.
pub fn check_username(name: &str, limit: usize) -> Result<(), NameError> {
    check_name(name, name_limit(limit))
}

/// The other user of the alternating pair: `name` without `_clone`, or `name_clone`
/// (at most `limit` characters).
pub fn alt_username(name: &str, limit: usize) -> Result<String, NameError> {
    names::alt_username(name, name_limit(limit))
}

/// The documented username limit for a secret's `engine`: MariaDB 128, MySQL and Aurora
/// MySQL 32.
pub fn engine_username_limit(engine: &str) -> usize {
    if engine == "mariadb" {
        MARIADB_USERNAME_LIMIT
    } else {
        MYSQL_USERNAME_LIMIT
    }
}

/// `name` in backticks, inner backticks doubled.
///
/// ```
/// assert_eq!(rotwise_mysql::sql::quote_ident("a`b"), "`a``b`");
/// assert_eq!(rotwise_mysql::sql::quote_ident(r"O'Neil\"), r"`O'Neil\`");
/// ```
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// An account, `` `user`@`host` ``.
pub fn account(user: &str, host: &str) -> String {
    format!("{}@{}", quote_ident(user), quote_ident(host))
}

/// How the session reads string literals: with `NO_BACKSLASH_ESCAPES` a backslash is an
/// ordinary character, without it an escape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Literals {
    /// The session's `sql_mode` lacks `NO_BACKSLASH_ESCAPES`.
    pub backslash_escapes: bool,
}

impl Literals {
    /// From the session's `@@sql_mode`.
    pub fn from_sql_mode(sql_mode: &str) -> Literals {
        Literals {
            backslash_escapes: !sql_mode
                .split(',')
                .any(|m| m.trim().eq_ignore_ascii_case("NO_BACKSLASH_ESCAPES")),
        }
    }

    /// `value` as a single-quoted literal that reads back as exactly `value`.
    ///
    /// ```
    /// use rotwise_mysql::sql::Literals;
    /// let default = Literals { backslash_escapes: true };
    /// let nbe = Literals { backslash_escapes: false };
    /// assert_eq!(default.quote(r"O'N\x"), r"'O''N\\x'");
    /// assert_eq!(nbe.quote(r"O'N\x"), r"'O''N\x'");
    /// ```
    pub fn quote(self, value: &str) -> String {
        let mut out = String::with_capacity(value.len() + 2);
        out.push('\'');
        for c in value.chars() {
            match c {
                '\'' => out.push_str("''"),
                '\\' if self.backslash_escapes => out.push_str("\\\\"),
                '\0' if self.backslash_escapes => out.push_str("\\0"),
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    }
}

/// The mysql_native_password hash of `password`: `*` and the upper-case hex of
/// SHA1(SHA1(password)), what `PASSWORD('…')` returns and `mysql.user` stores.
///
/// ```
/// use rotwise_core::SecretString;
/// assert_eq!(
///     rotwise_mysql::sql::native_hash(&SecretString::from("x1")),
///     "*6891F9D51EB5A38D1BB310DDBC6379A189A4F575"
/// );
/// ```
pub fn native_hash(password: &SecretString) -> String {
    let inner = Sha1::digest(password.expose_secret().as_bytes());
    let outer = Sha1::digest(inner);
    let mut out = String::with_capacity(41);
    out.push('*');
    for b in outer {
        out.push_str(&format!("{b:02X}"));
    }
    out
}

/// The kind of server, from `SELECT VERSION()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// MySQL or Aurora MySQL.
    Mysql,
    /// MariaDB.
    Mariadb,
}

/// The server's flavor and version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Server {
    /// MySQL or MariaDB.
    pub flavor: Flavor,
    /// `(major, minor, patch)`.
    pub version: (u32, u32, u32),
}

impl Server {
    /// From `SELECT VERSION()`, e.g. `8.0.36`, `5.7.44-log`, `10.11.6-MariaDB-log`,
    /// `5.5.5-10.11.6-MariaDB` (the replication-compatible prefix is skipped).
    pub fn parse(version: &str) -> Server {
        let flavor = if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::Mariadb
        } else {
            Flavor::Mysql
        };
        let text = match (flavor, version.strip_prefix("5.5.5-")) {
            (Flavor::Mariadb, Some(rest)) => rest,
            _ => version,
        };
        let mut nums = text
            .split(|c: char| !c.is_ascii_digit())
            .take(3)
            .map(|n| n.parse::<u32>().unwrap_or(0));
        let version = (
            nums.next().unwrap_or(0),
            nums.next().unwrap_or(0),
            nums.next().unwrap_or(0),
        );
        Server { flavor, version }
    }

    /// The username limit this version documents when the server cannot be asked:
    /// MariaDB 10.6+ 128 (older: 80), MySQL 5.7.8+ 32 (older: 16).
    pub fn documented_username_limit(&self) -> usize {
        match self.flavor {
            Flavor::Mariadb if self.version >= (10, 6, 0) => MARIADB_USERNAME_LIMIT,
            Flavor::Mariadb => 80,
            Flavor::Mysql if self.version >= (5, 7, 8) => MYSQL_USERNAME_LIMIT,
            Flavor::Mysql => 16,
        }
    }

    /// MySQL with user attributes (`CREATE USER … ATTRIBUTE '{…}'`,
    /// `INFORMATION_SCHEMA.USER_ATTRIBUTES`): 8.0.21 and later. rotwise marks the clones it
    /// creates there; MariaDB and older MySQL have no place for a mark.
    pub fn has_user_attributes(&self) -> bool {
        self.flavor == Flavor::Mysql && self.version >= (8, 0, 21)
    }

    /// MySQL with dual passwords (`RETAIN CURRENT PASSWORD`, `DISCARD OLD PASSWORD`): 8.0.14
    /// and later. MariaDB has none.
    pub fn has_dual_password(&self) -> bool {
        self.flavor == Flavor::Mysql && self.version >= (8, 0, 14)
    }

    /// The server as a message names it: `MySQL 8.0.13`, `MariaDB 10.11.6`.
    pub fn describe(&self) -> String {
        let (a, b, c) = self.version;
        match self.flavor {
            Flavor::Mysql => format!("MySQL {a}.{b}.{c}"),
            Flavor::Mariadb => format!("MariaDB {a}.{b}.{c}"),
        }
    }

    /// MySQL with `ALTER USER … IDENTIFIED WITH … AS` and `IDENTIFIED BY` for oneself
    /// (5.7.6 and later).
    fn mysql_modern(&self) -> bool {
        self.flavor == Flavor::Mysql && self.version >= (5, 7, 6)
    }
}

/// Whether rotwise can set a password for an account authenticating with `plugin` on
/// `server`: the plugins that keep the password (or its hash) in the server. MySQL:
/// `mysql_native_password`, `caching_sha2_password`, `sha256_password`; MariaDB:
/// `mysql_native_password`, `ed25519`, `parsec`. Others (`auth_socket`, `unix_socket`,
/// PAM, LDAP, Kerberos, ...) check passwords elsewhere: setSecret refuses them before any
/// change rather than run a statement that would switch the account's plugin.
///
/// ```
/// use rotwise_mysql::sql::{Server, plugin_supported};
/// let my8 = Server::parse("8.4.3");
/// assert!(plugin_supported(&my8, "caching_sha2_password"));
/// assert!(!plugin_supported(&my8, "auth_socket"));
/// assert!(plugin_supported(&Server::parse("10.11.6-MariaDB"), "ed25519"));
/// ```
pub fn plugin_supported(server: &Server, plugin: &str) -> bool {
    let plugin = plugin.to_ascii_lowercase();
    let known: &[&str] = match server.flavor {
        Flavor::Mysql => &[NATIVE, "caching_sha2_password", "sha256_password"],
        Flavor::Mariadb => &[NATIVE, "ed25519", "parsec"],
    };
    plugin.is_empty() || known.contains(&plugin.as_str())
}

/// Whose password a statement changes.
#[derive(Clone, Copy, Debug)]
pub enum Whose<'a> {
    /// The session's own account (single user: the user changes its own password).
    Own,
    /// An account, changed by the master (`user`, `host`).
    Account(&'a str, &'a str),
}

/// A password statement. It may hold a plaintext password (see [`PasswordSql::plaintext`]),
/// so `Debug` shows only the shape, and it must never be logged.
pub struct PasswordSql {
    sql: SecretSql,
    /// The statement holds the plaintext password (the plugin cannot take a hash
    /// computed here). MySQL rewrites such statements in its logs; MariaDB does not.
    pub plaintext: bool,
}

impl PasswordSql {
    /// Build a statement twice with `build(password literal, hash literal)`: once with the
    /// real ones, once with the placeholders, so the shown text differs only there.
    /// `build` answers the text and whether it used the plaintext.
    fn build(
        password: &SecretString,
        lit: Literals,
        build: impl Fn(&str, &str) -> (String, bool),
    ) -> PasswordSql {
        let (text, plaintext) = build(
            &lit.quote(password.expose_secret()),
            &lit.quote(&native_hash(password)),
        );
        let (shown, _) = build(&lit.quote(REDACTED_PASSWORD), &lit.quote(REDACTED_HASH));
        PasswordSql {
            sql: SecretSql::new(text, shown),
            plaintext,
        }
    }

    /// The statement text (secret when [`PasswordSql::plaintext`]).
    pub fn text(&self) -> &str {
        self.sql.text()
    }

    /// The statement as shown: the password or hash redacted.
    pub fn shown(&self) -> &str {
        self.sql.shown()
    }
}

impl std::fmt::Debug for PasswordSql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordSql")
            .field("sql", &self.shown())
            .field("plaintext", &self.plaintext)
            .finish()
    }
}

/// The statement that sets `whose` password, for this server and the account's auth
/// `plugin`:
///
/// | server | plugin | own account | another account (as master) |
/// |---|---|---|---|
/// | MariaDB | mysql_native_password | `SET PASSWORD = '*HEX'` | `ALTER USER a IDENTIFIED BY PASSWORD '*HEX'` |
/// | MariaDB | other (ed25519, ...) | `SET PASSWORD = PASSWORD('…')` | `ALTER USER a IDENTIFIED VIA p USING PASSWORD('…')` |
/// | MySQL 5.7.6+ / 8 | mysql_native_password | `ALTER USER CURRENT_USER() IDENTIFIED BY '…'` | `ALTER USER a IDENTIFIED WITH mysql_native_password AS '*HEX'` |
/// | MySQL 5.7.6+ / 8 | caching_sha2_password, sha256_password | `ALTER USER CURRENT_USER() IDENTIFIED BY '…'` (the plugin is kept) | `ALTER USER a IDENTIFIED WITH <plugin> BY '…'` |
/// | MySQL before 5.7.6 | mysql_native_password | `SET PASSWORD = PASSWORD('…')` | `SET PASSWORD FOR a = '*HEX'` |
///
/// MySQL lets an account without `CREATE USER` change only its own password, and only
/// with the plaintext form; MySQL rewrites `IDENTIFIED BY` and `SET PASSWORD` statements
/// in its general, slow and binary logs. caching_sha2_password's stored form is salted
/// and computed by the server, so it takes the plaintext too.
pub fn password_sql(
    server: &Server,
    plugin: &str,
    whose: Whose<'_>,
    password: &SecretString,
    lit: Literals,
) -> PasswordSql {
    let native = plugin.eq_ignore_ascii_case(NATIVE) || plugin.is_empty();
    PasswordSql::build(password, lit, |plain, hash| match (server.flavor, whose) {
        (Flavor::Mariadb, Whose::Own) if native => (format!("SET PASSWORD = {hash}"), false),
        (Flavor::Mariadb, Whose::Own) => (format!("SET PASSWORD = PASSWORD({plain})"), true),
        (Flavor::Mariadb, Whose::Account(u, h)) if native => (
            format!("ALTER USER {} IDENTIFIED BY PASSWORD {hash}", account(u, h)),
            false,
        ),
        (Flavor::Mariadb, Whose::Account(u, h)) => (
            format!(
                "ALTER USER {} IDENTIFIED VIA {} USING PASSWORD({plain})",
                account(u, h),
                quote_ident(plugin),
            ),
            true,
        ),
        (Flavor::Mysql, Whose::Own) if server.mysql_modern() => (
            format!("ALTER USER CURRENT_USER() IDENTIFIED BY {plain}"),
            true,
        ),
        (Flavor::Mysql, Whose::Own) => (format!("SET PASSWORD = PASSWORD({plain})"), true),
        (Flavor::Mysql, Whose::Account(u, h)) if native && server.mysql_modern() => (
            format!(
                "ALTER USER {} IDENTIFIED WITH mysql_native_password AS {hash}",
                account(u, h),
            ),
            false,
        ),
        (Flavor::Mysql, Whose::Account(u, h)) if native => (
            format!("SET PASSWORD FOR {} = {hash}", account(u, h)),
            false,
        ),
        // The plugin named, so the account keeps it whatever the server's default
        // (MySQL 8.4 disables mysql_native_password by default; 8.0 may default to it).
        (Flavor::Mysql, Whose::Account(u, h)) => (
            format!(
                "ALTER USER {} IDENTIFIED WITH {} BY {plain}",
                account(u, h),
                quote_ident(plugin),
            ),
            true,
        ),
    })
}

/// Why `ROTATION_MYSQL_DUAL_PASSWORD=true` cannot work on `server`, or `None` when it can
/// (MySQL 8.0.14+). Checked before any change.
///
/// ```
/// use rotwise_mysql::sql::{Server, dual_password_refusal};
/// assert!(dual_password_refusal(&Server::parse("8.0.14")).is_none());
/// assert!(dual_password_refusal(&Server::parse("8.0.13")).unwrap().contains("MySQL 8.0.13"));
/// assert!(dual_password_refusal(&Server::parse("10.11.6-MariaDB")).unwrap().contains("MariaDB 10.11.6"));
/// ```
pub fn dual_password_refusal(server: &Server) -> Option<String> {
    if server.has_dual_password() {
        return None;
    }
    Some(format!(
        "ROTATION_MYSQL_DUAL_PASSWORD=true needs MySQL 8.0.14 or later (RETAIN CURRENT PASSWORD); \
         this server is {}, which has no dual passwords: nothing was changed. Unset \
         ROTATION_MYSQL_DUAL_PASSWORD, or use the alternating-users strategy",
        server.describe()
    ))
}

/// Single user with MySQL 8 dual passwords: the session's own account gets `password` as
/// its primary password and keeps `login` (the password this session logged in with) as
/// the secondary one, until [`DISCARD_OLD_PASSWORD_SQL`]. `REPLACE` makes the statement
/// fail (ER_INCORRECT_CURRENT_PASSWORD, 3891) when the primary password is no longer
/// `login`: on a retry after the change, the session logged in with the secondary
/// password, and running `RETAIN CURRENT PASSWORD` again would discard the old password
/// that clients still hold. Both passwords are plaintext here (the `caching_sha2_password`
/// form is salted by the server; an account changing its own password must use
/// `IDENTIFIED BY`); MySQL rewrites both in its logs.
///
/// ```
/// use rotwise_core::SecretString;
/// use rotwise_mysql::sql::{Literals, dual_password_sql};
/// let lit = Literals { backslash_escapes: true };
/// let stmt = dual_password_sql(&SecretString::from("n'ew"), &SecretString::from(r"o\ld"), lit);
/// assert_eq!(
///     stmt.text(),
///     r"ALTER USER CURRENT_USER() IDENTIFIED BY 'n''ew' REPLACE 'o\\ld' RETAIN CURRENT PASSWORD"
/// );
/// assert!(stmt.plaintext);
/// ```
pub fn dual_password_sql(
    password: &SecretString,
    login: &SecretString,
    lit: Literals,
) -> PasswordSql {
    let text = |new: &str, old: &str| {
        format!(
            "ALTER USER CURRENT_USER() IDENTIFIED BY {new} REPLACE {old} RETAIN CURRENT PASSWORD"
        )
    };
    let redacted = lit.quote(REDACTED_PASSWORD);
    PasswordSql {
        sql: SecretSql::new(
            text(
                &lit.quote(password.expose_secret()),
                &lit.quote(login.expose_secret()),
            ),
            text(&redacted, &redacted),
        ),
        plaintext: true,
    }
}

/// After finishSecret, with dual passwords: the old (secondary) password stops working.
pub const DISCARD_OLD_PASSWORD_SQL: &str = "ALTER USER CURRENT_USER() DISCARD OLD PASSWORD";

/// The key of the user attribute (MySQL 8.0.21+) rotwise sets on the clones it creates;
/// its value is the base user's name.
pub const CLONE_ATTRIBUTE: &str = "rotwise_clone_of";

/// The JSON object of the clone's user attribute: `{"rotwise_clone_of":"<base>"}`.
pub fn clone_attribute(base: &str) -> String {
    serde_json::json!({ CLONE_ATTRIBUTE: base }).to_string()
}

/// Whether an account's user attributes (`INFORMATION_SCHEMA.USER_ATTRIBUTES.ATTRIBUTE`,
/// a JSON object, `None` when the account has none) mark it as rotwise's clone of `base`.
///
/// ```
/// use rotwise_mysql::sql::is_marked_clone_of;
/// assert!(is_marked_clone_of(Some(r#"{"comment": "x", "rotwise_clone_of": "app"}"#), "app"));
/// assert!(!is_marked_clone_of(Some(r#"{"rotwise_clone_of": "other"}"#), "app"));
/// assert!(!is_marked_clone_of(Some("not json"), "app"));
/// assert!(!is_marked_clone_of(None, "app"));
/// ```
pub fn is_marked_clone_of(attributes: Option<&str>, base: &str) -> bool {
    attributes
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .and_then(|v| v.get(CLONE_ATTRIBUTE).cloned())
        .is_some_and(|v| v.as_str() == Some(base))
}

/// `ALTER USER <clone> ATTRIBUTE '{"rotwise_clone_of":"<base>"}'` (MySQL 8.0.21+): what an
/// operator runs to adopt an existing account as the clone on purpose, e.g. one made by
/// AWS's rotation function. The attribute is merged with the account's others.
///
/// ```
/// use rotwise_mysql::sql::{Literals, adopt_clone_sql};
/// let lit = Literals { backslash_escapes: true };
/// assert_eq!(
///     adopt_clone_sql("app", "app_clone", "%", lit),
///     r#"ALTER USER `app_clone`@`%` ATTRIBUTE '{"rotwise_clone_of":"app"}'"#
/// );
/// ```
pub fn adopt_clone_sql(base: &str, clone: &str, host: &str, lit: Literals) -> String {
    format!(
        "ALTER USER {} ATTRIBUTE {}",
        account(clone, host),
        lit.quote(&clone_attribute(base))
    )
}

/// `CREATE USER` for the clone of `base`, with the base account's auth `plugin` (same
/// table as [`password_sql`]: a hash where the plugin takes one). On MySQL 8.0.21+ the
/// statement also sets rotwise's mark ([`clone_attribute`]), in the same statement.
pub fn create_user_sql(
    server: &Server,
    plugin: &str,
    base: &str,
    user: &str,
    host: &str,
    password: &SecretString,
    lit: Literals,
) -> PasswordSql {
    let native = plugin.eq_ignore_ascii_case(NATIVE) || plugin.is_empty();
    let acct = account(user, host);
    let mark = if server.has_user_attributes() {
        format!(" ATTRIBUTE {}", lit.quote(&clone_attribute(base)))
    } else {
        String::new()
    };
    PasswordSql::build(password, lit, |plain, hash| {
        let (text, plaintext) = match server.flavor {
            Flavor::Mariadb if native => (
                format!("CREATE USER {acct} IDENTIFIED BY PASSWORD {hash}"),
                false,
            ),
            Flavor::Mariadb => (
                format!(
                    "CREATE USER {acct} IDENTIFIED VIA {} USING PASSWORD({plain})",
                    quote_ident(plugin)
                ),
                true,
            ),
            Flavor::Mysql if native && server.mysql_modern() => (
                format!("CREATE USER {acct} IDENTIFIED WITH mysql_native_password AS {hash}"),
                false,
            ),
            Flavor::Mysql if native => (
                format!("CREATE USER {acct} IDENTIFIED BY PASSWORD {hash}"),
                false,
            ),
            Flavor::Mysql => (
                format!(
                    "CREATE USER {acct} IDENTIFIED WITH {} BY {plain}",
                    quote_ident(plugin)
                ),
                true,
            ),
        };
        (text + &mark, plaintext)
    })
}

/// An account's TLS requirement and resource limits, as `mysql.user` stores them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountLimits {
    /// `ssl_type`: `''` (NONE), `ANY` (SSL), `X509`, `SPECIFIED`.
    pub ssl_type: String,
    /// `ssl_cipher`.
    pub ssl_cipher: String,
    /// `x509_issuer`.
    pub x509_issuer: String,
    /// `x509_subject`.
    pub x509_subject: String,
    /// `max_questions`, `max_updates`, `max_connections`, `max_user_connections`.
    pub limits: [i64; 4],
}

/// `ALTER USER <account> REQUIRE … WITH MAX_…`: the TLS requirement and resource limits
/// of `from`, applied to an account.
pub fn copy_limits_sql(user: &str, host: &str, from: &AccountLimits, lit: Literals) -> String {
    let require = match from.ssl_type.to_ascii_uppercase().as_str() {
        "ANY" => "SSL".to_owned(),
        "X509" => "X509".to_owned(),
        "SPECIFIED" => {
            let mut parts = Vec::new();
            if !from.ssl_cipher.is_empty() {
                parts.push(format!("CIPHER {}", lit.quote(&from.ssl_cipher)));
            }
            if !from.x509_issuer.is_empty() {
                parts.push(format!("ISSUER {}", lit.quote(&from.x509_issuer)));
            }
            if !from.x509_subject.is_empty() {
                parts.push(format!("SUBJECT {}", lit.quote(&from.x509_subject)));
            }
            if parts.is_empty() {
                "SSL".to_owned()
            } else {
                parts.join(" AND ")
            }
        }
        _ => "NONE".to_owned(),
    };
    let [q, u, c, uc] = from.limits.map(|n| n.max(0));
    format!(
        "ALTER USER {} REQUIRE {require} WITH MAX_QUERIES_PER_HOUR {q} MAX_UPDATES_PER_HOUR {u} \
         MAX_CONNECTIONS_PER_HOUR {c} MAX_USER_CONNECTIONS {uc}",
        account(user, host)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: Literals = Literals {
        backslash_escapes: true,
    };
    const NBE: Literals = Literals {
        backslash_escapes: false,
    };

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a"), "`a`");
        assert_eq!(quote_ident("``"), "``````");
        assert_eq!(account("O'Neil", "%"), "`O'Neil`@`%`");
        assert_eq!(account("a`b", "local`host"), "`a``b`@`local``host`");
        assert_eq!(DEFAULT.quote("it's\\ \0"), "'it''s\\\\ \\0'");
        assert_eq!(NBE.quote("it's\\"), "'it''s\\'");
        assert!(Literals::from_sql_mode("STRICT_TRANS_TABLES").backslash_escapes);
        assert!(
            !Literals::from_sql_mode("ANSI_QUOTES,NO_BACKSLASH_ESCAPES,STRICT_ALL_TABLES")
                .backslash_escapes
        );
    }

    #[test]
    fn names_and_limits() {
        assert_eq!(alt_username("app", 32).unwrap(), "app_clone");
        assert_eq!(alt_username("app_clone", 32).unwrap(), "app");
        assert_eq!(alt_username(&"a".repeat(26), 32).unwrap().len(), 32);
        let e = alt_username(&"a".repeat(27), 32).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Unable to clone user, username length with _clone appended would exceed 32 characters"),
            "{e}"
        );
        // Characters, not bytes: 122 two-byte characters + _clone = 128 characters.
        assert!(alt_username(&"ü".repeat(122), 128).is_ok());
        assert!(alt_username(&"ü".repeat(123), 128).is_err());
        assert!(check_username("", 32).is_err());
        assert!(check_username("a\0", 32).is_err());
        assert_eq!(base_username("x_clone"), "x");
        assert_eq!(base_username("_clone"), "_clone");
        assert_eq!(engine_username_limit("mariadb"), 128);
        assert_eq!(engine_username_limit("mysql"), 32);
        assert_eq!(engine_username_limit("aurora-mysql"), 32);
    }

    #[test]
    fn native_hash_matches_password_function() {
        // SELECT PASSWORD('x1') on MariaDB 10.11.
        assert_eq!(
            native_hash(&SecretString::from("x1")),
            "*6891F9D51EB5A38D1BB310DDBC6379A189A4F575"
        );
    }

    #[test]
    fn versions() {
        let s = Server::parse("10.11.19-MariaDB-0+deb12u1-log");
        assert_eq!((s.flavor, s.version), (Flavor::Mariadb, (10, 11, 19)));
        assert_eq!(s.documented_username_limit(), 128);
        let s = Server::parse("5.5.5-10.5.9-MariaDB");
        assert_eq!((s.flavor, s.version), (Flavor::Mariadb, (10, 5, 9)));
        assert_eq!(s.documented_username_limit(), 80);
        let s = Server::parse("8.0.36");
        assert_eq!((s.flavor, s.version), (Flavor::Mysql, (8, 0, 36)));
        assert_eq!(s.documented_username_limit(), 32);
        let s = Server::parse("5.7.44-log");
        assert_eq!(s.version, (5, 7, 44));
        assert_eq!(Server::parse("5.6.51").documented_username_limit(), 16);
    }

    /// MySQL 8 and 5.7 cannot run on this machine: their statements are checked here.
    #[test]
    fn password_statements_per_server_and_plugin() {
        let pw = SecretString::from("canary'\\pw");
        let hash = native_hash(&pw);
        let maria = Server::parse("10.11.6-MariaDB");
        let my8 = Server::parse("8.0.36");
        let my57 = Server::parse("5.7.44");
        let my56 = Server::parse("5.6.51");
        let t = |s: &Server, plugin: &str, whose: Whose<'_>| {
            let p = password_sql(s, plugin, whose, &pw, DEFAULT);
            (p.text().to_owned(), p.plaintext)
        };
        let acct = Whose::Account("a`b", "%");
        assert_eq!(
            t(&maria, NATIVE, Whose::Own),
            (format!("SET PASSWORD = '{hash}'"), false)
        );
        assert_eq!(
            t(&maria, NATIVE, acct),
            (
                format!("ALTER USER `a``b`@`%` IDENTIFIED BY PASSWORD '{hash}'"),
                false
            )
        );
        assert_eq!(
            t(&maria, "ed25519", acct),
            (
                r"ALTER USER `a``b`@`%` IDENTIFIED VIA `ed25519` USING PASSWORD('canary''\\pw')"
                    .to_owned(),
                true
            )
        );
        assert_eq!(
            t(&my8, "caching_sha2_password", Whose::Own),
            (
                r"ALTER USER CURRENT_USER() IDENTIFIED BY 'canary''\\pw'".to_owned(),
                true
            )
        );
        assert_eq!(
            t(&my8, "caching_sha2_password", acct),
            (
                r"ALTER USER `a``b`@`%` IDENTIFIED WITH `caching_sha2_password` BY 'canary''\\pw'"
                    .to_owned(),
                true
            )
        );
        assert_eq!(
            t(&my8, NATIVE, acct),
            (
                format!("ALTER USER `a``b`@`%` IDENTIFIED WITH mysql_native_password AS '{hash}'"),
                false
            )
        );
        assert_eq!(
            t(&my57, NATIVE, acct),
            t(&my8, NATIVE, acct),
            "5.7.6+ takes the same form"
        );
        assert_eq!(
            t(&my57, NATIVE, Whose::Own).0,
            r"ALTER USER CURRENT_USER() IDENTIFIED BY 'canary''\\pw'"
        );
        assert_eq!(
            t(&my56, NATIVE, acct),
            (format!("SET PASSWORD FOR `a``b`@`%` = '{hash}'"), false)
        );
        assert_eq!(
            t(&my56, NATIVE, Whose::Own).0,
            r"SET PASSWORD = PASSWORD('canary''\\pw')"
        );
        // Debug never shows the statement.
        let p = password_sql(&my8, "caching_sha2_password", Whose::Own, &pw, NBE);
        assert!(p.text().contains(r"'canary''\pw'"));
        assert!(!format!("{p:?}").contains("canary"));
    }

    #[test]
    fn create_statements() {
        let pw = SecretString::from("pw");
        let hash = native_hash(&pw);
        let c = |v: &str, plugin: &str| {
            create_user_sql(
                &Server::parse(v),
                plugin,
                "u",
                "u_clone",
                "10.%",
                &pw,
                DEFAULT,
            )
            .text()
            .to_owned()
        };
        assert_eq!(
            c("10.11.6-MariaDB", NATIVE),
            format!("CREATE USER `u_clone`@`10.%` IDENTIFIED BY PASSWORD '{hash}'")
        );
        // MySQL 8.0.21+: the clone is marked in the statement that creates it.
        assert_eq!(
            c("8.0.36", NATIVE),
            format!(
                "CREATE USER `u_clone`@`10.%` IDENTIFIED WITH mysql_native_password AS '{hash}' \
                 ATTRIBUTE '{{\"rotwise_clone_of\":\"u\"}}'"
            )
        );
        assert_eq!(
            c("8.0.36", "caching_sha2_password"),
            "CREATE USER `u_clone`@`10.%` IDENTIFIED WITH `caching_sha2_password` BY 'pw' \
             ATTRIBUTE '{\"rotwise_clone_of\":\"u\"}'"
        );
        assert_eq!(
            c("8.0.20", NATIVE),
            format!(
                "CREATE USER `u_clone`@`10.%` IDENTIFIED WITH mysql_native_password AS '{hash}'"
            ),
            "no user attributes before 8.0.21"
        );
        assert_eq!(
            c("5.6.51", NATIVE),
            format!("CREATE USER `u_clone`@`10.%` IDENTIFIED BY PASSWORD '{hash}'")
        );
    }

    /// The mark and the adoption statement quote any base name: JSON escaping, then the
    /// literal's (under both `sql_mode`s), and read back exactly.
    #[test]
    fn clone_mark_round_trips_nasty_names() {
        assert!(!Server::parse("10.11.6-MariaDB").has_user_attributes());
        assert!(Server::parse("8.0.21").has_user_attributes());
        assert!(Server::parse("8.4.0").has_user_attributes());
        for base in [r#"a"b"#, r"O'N\x", "ünï", "a`b"] {
            let json = clone_attribute(base);
            assert!(is_marked_clone_of(Some(&json), base), "{json}");
            assert!(!is_marked_clone_of(Some(&json), "other"));
            for lit in [DEFAULT, NBE] {
                let stmt = adopt_clone_sql(base, &format!("{base}_clone"), "%", lit);
                assert!(
                    stmt.ends_with(&format!(" ATTRIBUTE {}", lit.quote(&json))),
                    "{stmt}"
                );
            }
        }
        assert_eq!(
            adopt_clone_sql(r"O'N\x", r"O'N\x_clone", "10.%", DEFAULT),
            r#"ALTER USER `O'N\x_clone`@`10.%` ATTRIBUTE '{"rotwise_clone_of":"O''N\\\\x"}'"#
        );
        // A comment or another attribute does not count as the mark.
        assert!(!is_marked_clone_of(
            Some(r#"{"comment": "rotwise_clone_of app"}"#),
            "app"
        ));
        assert!(!is_marked_clone_of(
            Some(r#"{"rotwise_clone_of": ["app"]}"#),
            "app"
        ));
    }

    #[test]
    fn tls_requirement() {
        let mut l = AccountLimits::default();
        let sql = |l: &AccountLimits| copy_limits_sql("c", "%", l, DEFAULT);
        assert!(sql(&l).starts_with("ALTER USER `c`@`%` REQUIRE NONE WITH MAX_QUERIES_PER_HOUR 0"));
        l.ssl_type = "ANY".into();
        assert!(sql(&l).contains("REQUIRE SSL WITH"));
        l.ssl_type = "X509".into();
        assert!(sql(&l).contains("REQUIRE X509 WITH"));
        l.ssl_type = "SPECIFIED".into();
        l.ssl_cipher = "ECDHE-RSA-AES256-GCM-SHA384".into();
        l.x509_subject = "/CN=O'Neil".into();
        l.limits = [5, 0, 7, -1];
        assert_eq!(
            sql(&l),
            "ALTER USER `c`@`%` REQUIRE CIPHER 'ECDHE-RSA-AES256-GCM-SHA384' AND SUBJECT '/CN=O''Neil' \
             WITH MAX_QUERIES_PER_HOUR 5 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 7 MAX_USER_CONNECTIONS 0"
        );
    }
}
