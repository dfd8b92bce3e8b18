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

use rotwise_core::{ExposeSecret, SecretString};
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

    /// MySQL with `ALTER USER … IDENTIFIED WITH … AS` and `IDENTIFIED BY` for oneself
    /// (5.7.6 and later).
    fn mysql_modern(&self) -> bool {
        self.flavor == Flavor::Mysql && self.version >= (5, 7, 6)
    }
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
    sql: SecretString,
    /// The statement holds the plaintext password (the plugin cannot take a hash
    /// computed here). MySQL rewrites such statements in its logs; MariaDB does not.
    pub plaintext: bool,
}

impl PasswordSql {
    fn hashed(sql: String) -> PasswordSql {
        PasswordSql {
            sql: SecretString::from(sql),
            plaintext: false,
        }
    }

    fn plain(sql: String) -> PasswordSql {
        PasswordSql {
            sql: SecretString::from(sql),
            plaintext: true,
        }
    }

    /// The statement text (secret when [`PasswordSql::plaintext`]).
    pub fn text(&self) -> &str {
        self.sql.expose_secret()
    }
}

impl std::fmt::Debug for PasswordSql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordSql")
            .field("sql", &"[REDACTED]")
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
/// | MySQL 5.7.6+ / 8 | caching_sha2_password, sha256_password | `ALTER USER CURRENT_USER() IDENTIFIED BY '…'` | `ALTER USER a IDENTIFIED BY '…'` |
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
    let plain = || lit.quote(password.expose_secret());
    let hash = || lit.quote(&native_hash(password));
    match (server.flavor, whose) {
        (Flavor::Mariadb, Whose::Own) if native => {
            PasswordSql::hashed(format!("SET PASSWORD = {}", hash()))
        }
        (Flavor::Mariadb, Whose::Own) => {
            PasswordSql::plain(format!("SET PASSWORD = PASSWORD({})", plain()))
        }
        (Flavor::Mariadb, Whose::Account(u, h)) if native => PasswordSql::hashed(format!(
            "ALTER USER {} IDENTIFIED BY PASSWORD {}",
            account(u, h),
            hash()
        )),
        (Flavor::Mariadb, Whose::Account(u, h)) => PasswordSql::plain(format!(
            "ALTER USER {} IDENTIFIED VIA {} USING PASSWORD({})",
            account(u, h),
            quote_ident(plugin),
            plain()
        )),
        (Flavor::Mysql, Whose::Own) if server.mysql_modern() => PasswordSql::plain(format!(
            "ALTER USER CURRENT_USER() IDENTIFIED BY {}",
            plain()
        )),
        (Flavor::Mysql, Whose::Own) => {
            PasswordSql::plain(format!("SET PASSWORD = PASSWORD({})", plain()))
        }
        (Flavor::Mysql, Whose::Account(u, h)) if native && server.mysql_modern() => {
            PasswordSql::hashed(format!(
                "ALTER USER {} IDENTIFIED WITH mysql_native_password AS {}",
                account(u, h),
                hash()
            ))
        }
        (Flavor::Mysql, Whose::Account(u, h)) if native => {
            PasswordSql::hashed(format!("SET PASSWORD FOR {} = {}", account(u, h), hash()))
        }
        (Flavor::Mysql, Whose::Account(u, h)) => PasswordSql::plain(format!(
            "ALTER USER {} IDENTIFIED BY {}",
            account(u, h),
            plain()
        )),
    }
}

/// `CREATE USER` for the clone, with the base account's auth `plugin` (same table as
/// [`password_sql`]: a hash where the plugin takes one).
pub fn create_user_sql(
    server: &Server,
    plugin: &str,
    user: &str,
    host: &str,
    password: &SecretString,
    lit: Literals,
) -> PasswordSql {
    let native = plugin.eq_ignore_ascii_case(NATIVE) || plugin.is_empty();
    let acct = account(user, host);
    let plain = || lit.quote(password.expose_secret());
    let hash = || lit.quote(&native_hash(password));
    match server.flavor {
        Flavor::Mariadb if native => PasswordSql::hashed(format!(
            "CREATE USER {acct} IDENTIFIED BY PASSWORD {}",
            hash()
        )),
        Flavor::Mariadb => PasswordSql::plain(format!(
            "CREATE USER {acct} IDENTIFIED VIA {} USING PASSWORD({})",
            quote_ident(plugin),
            plain()
        )),
        Flavor::Mysql if native && server.mysql_modern() => PasswordSql::hashed(format!(
            "CREATE USER {acct} IDENTIFIED WITH mysql_native_password AS {}",
            hash()
        )),
        Flavor::Mysql if native => PasswordSql::hashed(format!(
            "CREATE USER {acct} IDENTIFIED BY PASSWORD {}",
            hash()
        )),
        Flavor::Mysql => PasswordSql::plain(format!(
            "CREATE USER {acct} IDENTIFIED WITH {} BY {}",
            quote_ident(plugin),
            plain()
        )),
    }
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
                r"ALTER USER `a``b`@`%` IDENTIFIED BY 'canary''\\pw'".to_owned(),
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
            create_user_sql(&Server::parse(v), plugin, "u_clone", "10.%", &pw, DEFAULT)
                .text()
                .to_owned()
        };
        assert_eq!(
            c("10.11.6-MariaDB", NATIVE),
            format!("CREATE USER `u_clone`@`10.%` IDENTIFIED BY PASSWORD '{hash}'")
        );
        assert_eq!(
            c("8.0.36", NATIVE),
            format!(
                "CREATE USER `u_clone`@`10.%` IDENTIFIED WITH mysql_native_password AS '{hash}'"
            )
        );
        assert_eq!(
            c("8.0.36", "caching_sha2_password"),
            "CREATE USER `u_clone`@`10.%` IDENTIFIED WITH `caching_sha2_password` BY 'pw'"
        );
        assert_eq!(
            c("5.6.51", NATIVE),
            format!("CREATE USER `u_clone`@`10.%` IDENTIFIED BY PASSWORD '{hash}'")
        );
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
