//! The Redshift flavour's SQL, built and read without a server: the MD5 password hash,
//! Redshift's name and password rules, the catalog queries the alternating pair reads,
//! and the plan that makes the clone hold what its base user holds.
//!
//! Every statement here is also valid PostgreSQL 15 (`CREATE GROUP`, `ALTER GROUP … ADD
//! USER`, `pg_user`, `pg_group` and the `has_*_privilege` functions exist there for
//! compatibility), which is what lets the flavour run end to end on the test server; what
//! only Redshift shows (its catalog's answers) is tested on recorded rows in
//! `crates/postgres/tests/redshift_sql.rs`.
//!
//! All queries go through the simple query protocol and return text, so nothing depends
//! on how Redshift describes parameter or column types to an extended-protocol client.

use std::collections::BTreeSet;
use std::fmt;

use rotwise_core::{ErrorKind, ExposeSecret, SecretString};
use rotwise_db::DbError;
use rotwise_db::names::{NameLimit, Unit, check_name};

use crate::sql::quote_ident;

/// Redshift's user-name limit: 127 bytes (longer names are refused, not truncated).
pub const MAX_USER_NAME_BYTES: usize = 127;

/// Redshift's name limit, for [`rotwise_db::names`].
pub const NAME_LIMIT: NameLimit = NameLimit {
    max: MAX_USER_NAME_BYTES,
    unit: Unit::Bytes,
    product: Some("Amazon Redshift"),
};

/// Shortest password Redshift accepts.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password Redshift accepts.
pub const MAX_PASSWORD_CHARS: usize = 64;
/// The printable ASCII characters Redshift refuses in a password (besides space and
/// control characters): `'`, `"`, `\`, `/`, `@`.
pub const FORBIDDEN_PASSWORD_CHARS: &str = "'\"\\/@";

/// The group that marks the clones rotwise made. Redshift has no comment on users (the
/// PostgreSQL flavour's marker), so a clone is recognised by its membership in this group,
/// which is granted nothing. An existing user named like the clone but outside it is
/// never adopted.
pub const CLONE_GROUP: &str = "rotwise_clones";

/// The privileges on databases that are copied (as AWS's Redshift function).
pub const DATABASE_PRIVILEGES: [&str; 2] = ["CREATE", "TEMP"];
/// The privileges on schemas that are copied.
pub const SCHEMA_PRIVILEGES: [&str; 2] = ["CREATE", "USAGE"];
/// The privileges on tables that are copied (AWS's list).
pub const TABLE_PRIVILEGES: [&str; 5] = ["SELECT", "INSERT", "UPDATE", "DELETE", "REFERENCES"];

/// The MD5 hash Redshift (and PostgreSQL) accept in place of a password: `md5` followed by
/// the hex MD5 of the password followed by the user name. The user name must be the one
/// the server stores (Redshift: lower case), or the login fails.
///
/// ```
/// use rotwise_core::SecretString;
/// use rotwise_postgres::redshift::sql::md5_hash;
/// // The example of https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_USER.html
/// let hash = md5_hash(&SecretString::from("ez"), "user1");
/// assert_eq!(hash, "md5153c434b4b77c89e6b94f12c5393af5b");
/// ```
pub fn md5_hash(password: &SecretString, user: &str) -> String {
    postgres_protocol::password::md5(password.expose_secret().as_bytes(), user)
}

/// A string literal for a user name. Quotes are doubled; a backslash is refused (an
/// escape in Redshift's literals, a plain character in PostgreSQL's with
/// `standard_conforming_strings`), as is a NUL.
pub fn user_literal(name: &str) -> Result<String, DbError> {
    if name.contains('\\') || name.contains('\0') {
        return Err(DbError::rejected(
            ErrorKind::InvalidSecret,
            format!(
                "the username {name:?} contains a backslash or a NUL character, which the Redshift \
                 flavour does not put in a SQL literal; use a user name without one"
            ),
        ));
    }
    Ok(format!("'{}'", name.replace('\'', "''")))
}

/// Check a user name as Redshift stores it: 1 to 127 bytes, no upper-case letter (Redshift
/// folds user names to lower case, so `App` would be created as `app` and the secret's name
/// would not be the stored one), no backslash or NUL.
pub fn check_user_name(name: &str) -> Result<(), DbError> {
    check_name(name, NAME_LIMIT)?;
    if name.chars().any(char::is_uppercase) {
        return Err(DbError::rejected(
            ErrorKind::InvalidSecret,
            format!(
                "the username {name:?} has upper-case letters: Amazon Redshift stores user names in \
                 lower case, so the secret must name the user as Redshift stores it ({:?}); nothing \
                 was changed",
                name.to_lowercase()
            ),
        ));
    }
    user_literal(name).map(|_| ())
}

/// Why a password breaks Redshift's rules (never the password itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordRule {
    /// Not 8 to 64 characters.
    Length(usize),
    /// No upper-case letter.
    NoUppercase,
    /// No lower-case letter.
    NoLowercase,
    /// No digit.
    NoDigit,
    /// A character outside ASCII 33–126, or one of [`FORBIDDEN_PASSWORD_CHARS`]; the
    /// position (1-based), not the character.
    Character(usize),
}

impl fmt::Display for PasswordRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordRule::Length(n) => write!(
                f,
                "it has {n} characters, Redshift takes {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS}"
            ),
            PasswordRule::NoUppercase => f.write_str("it has no upper-case letter"),
            PasswordRule::NoLowercase => f.write_str("it has no lower-case letter"),
            PasswordRule::NoDigit => f.write_str("it has no digit"),
            PasswordRule::Character(i) => write!(
                f,
                "its character {i} is not one Redshift accepts (ASCII 33 to 126 except ' \" \\ / @)"
            ),
        }
    }
}

/// The rules of <https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_USER.html> for a
/// clear-text password. A hash hides the password from the server, so the server cannot
/// check them: rotwise does, before it sends the hash.
pub fn password_rules(password: &SecretString) -> Result<(), PasswordRule> {
    let pw = password.expose_secret();
    let n = pw.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(PasswordRule::Length(n));
    }
    if let Some(i) = pw
        .chars()
        .position(|c| !('!'..='~').contains(&c) || FORBIDDEN_PASSWORD_CHARS.contains(c))
    {
        return Err(PasswordRule::Character(i + 1));
    }
    if !pw.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(PasswordRule::NoUppercase);
    }
    if !pw.chars().any(|c| c.is_ascii_lowercase()) {
        return Err(PasswordRule::NoLowercase);
    }
    if !pw.chars().any(|c| c.is_ascii_digit()) {
        return Err(PasswordRule::NoDigit);
    }
    Ok(())
}

/// [`password_rules`] as the error setSecret fails with, before any change.
pub fn check_password(user: &str, password: &SecretString) -> Result<(), DbError> {
    password_rules(password).map_err(|rule| {
        DbError::rejected(
            ErrorKind::InvalidSecret,
            format!(
                "the pending password of user {user:?} does not meet Amazon Redshift's password rules \
                 ({rule}); nothing was changed. Check PASSWORD_LENGTH and the EXCLUDE_* variables"
            ),
        )
    })
}

/// `ALTER USER <user> PASSWORD 'md5…'`.
pub fn alter_password_sql(user: &str, password: &SecretString) -> String {
    user_password_sql("ALTER", user, &md5_hash(password, user))
}

/// `CREATE USER <user> PASSWORD 'md5…'` (no other attribute: CREATEDB, CREATEUSER and
/// SYSLOG ACCESS are never given).
pub fn create_user_sql(user: &str, password: &SecretString) -> String {
    user_password_sql("CREATE", user, &md5_hash(password, user))
}

/// [`alter_password_sql`] (`verb` `ALTER`) or [`create_user_sql`] (`CREATE`) as shown: the
/// hash redacted.
///
/// ```
/// use rotwise_postgres::redshift::sql::user_password_shown;
/// assert_eq!(user_password_shown("ALTER", "app"), r#"ALTER USER "app" PASSWORD '<redacted hash>'"#);
/// ```
pub fn user_password_shown(verb: &str, user: &str) -> String {
    user_password_sql(verb, user, rotwise_core::plan::REDACTED_HASH)
}

fn user_password_sql(verb: &str, user: &str, hash: &str) -> String {
    format!("{verb} USER {} PASSWORD '{hash}'", quote_ident(user))
}

/// The statements that mark `clone` as a clone rotwise made, creating the marker group when
/// `group_exists` is false: what rotwise runs when it creates the clone, and what an
/// operator runs (as a superuser) to adopt an existing user on purpose.
///
/// ```
/// use rotwise_postgres::redshift::sql::adopt_clone_sql;
/// assert_eq!(
///     adopt_clone_sql("app_clone", false),
///     r#"CREATE GROUP "rotwise_clones"; ALTER GROUP "rotwise_clones" ADD USER "app_clone""#
/// );
/// ```
pub fn adopt_clone_sql(clone: &str, group_exists: bool) -> String {
    let add = format!(
        "ALTER GROUP {} ADD USER {}",
        quote_ident(CLONE_GROUP),
        quote_ident(clone)
    );
    if group_exists {
        add
    } else {
        format!("CREATE GROUP {}; {add}", quote_ident(CLONE_GROUP))
    }
}

/// `SELECT usename FROM pg_user WHERE usename = '<user>'`: one row if the user exists.
pub fn user_exists_sql(user: &str) -> Result<String, DbError> {
    Ok(format!(
        "SELECT usename FROM pg_user WHERE usename = {}",
        user_literal(user)?
    ))
}

/// `SELECT groname FROM pg_group WHERE groname = 'rotwise_clones'`.
pub fn clone_group_exists_sql() -> String {
    format!("SELECT groname FROM pg_group WHERE groname = '{CLONE_GROUP}'")
}

/// The groups `user` belongs to: one row (`groname`) per group.
pub fn groups_sql(user: &str) -> Result<String, DbError> {
    Ok(format!(
        "SELECT g.groname FROM pg_group g, pg_user u \
         WHERE u.usename = {} AND u.usesysid = ANY(g.grolist) ORDER BY 1",
        user_literal(user)?
    ))
}

fn privilege_list(privileges: &[&str]) -> String {
    privileges
        .iter()
        .map(|p| format!("SELECT '{p}' AS priv"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// What `base` and `clone` hold on databases, schemas and tables, one row per object and
/// privilege: `kind` (`database`, `schema`, `table`), the schema (tables only, else
/// NULL), the object's name, the privilege, then `t`/`f` for the base and for the clone.
/// Objects the clone owns are left out (its own objects stay its own), as are the system
/// schemas (`pg_*`, `information_schema`, `catalog_history`).
pub fn privileges_sql(base: &str, clone: &str) -> Result<String, DbError> {
    let b = user_literal(base)?;
    let c = user_literal(clone)?;
    // substr, not LIKE 'pg\_%': a backslash in a literal means different things to
    // Redshift and to PostgreSQL.
    let not_system = |col: &str| {
        format!(
            "substr({col}, 1, 3) <> 'pg_' AND {col} <> 'information_schema' \
             AND {col} <> 'catalog_history'"
        )
    };
    Ok(format!(
        "SELECT 'database', NULL, d.datname, p.priv, \
         has_database_privilege({b}, d.datname, p.priv), has_database_privilege({c}, d.datname, p.priv) \
         FROM pg_database d, ({dbp}) p \
         WHERE pg_get_userbyid(d.datdba) <> {c} \
         UNION ALL \
         SELECT 'schema', NULL, n.nspname, p.priv, \
         has_schema_privilege({b}, n.nspname, p.priv), has_schema_privilege({c}, n.nspname, p.priv) \
         FROM pg_namespace n, ({sp}) p \
         WHERE {ns} AND pg_get_userbyid(n.nspowner) <> {c} \
         UNION ALL \
         SELECT 'table', t.schemaname, t.tablename, p.priv, \
         has_table_privilege({b}, quote_ident(t.schemaname) || '.' || quote_ident(t.tablename), p.priv), \
         has_table_privilege({c}, quote_ident(t.schemaname) || '.' || quote_ident(t.tablename), p.priv) \
         FROM pg_tables t, ({tp}) p \
         WHERE {ts} AND t.tableowner <> {c} \
         ORDER BY 1, 2, 3, 4",
        dbp = privilege_list(&DATABASE_PRIVILEGES),
        sp = privilege_list(&SCHEMA_PRIVILEGES),
        tp = privilege_list(&TABLE_PRIVILEGES),
        ns = not_system("n.nspname"),
        ts = not_system("t.schemaname"),
    ))
}

/// A text row of a simple query: one `Option<String>` per column (NULL is `None`).
pub type TextRow = Vec<Option<String>>;

/// An object a privilege is on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Object {
    /// A database.
    Database(String),
    /// A schema.
    Schema(String),
    /// A table, with its schema.
    Table(String, String),
}

impl Object {
    /// `DATABASE "d"`, `SCHEMA "s"`, `TABLE "s"."t"`.
    pub fn sql(&self) -> String {
        match self {
            Object::Database(d) => format!("DATABASE {}", quote_ident(d)),
            Object::Schema(s) => format!("SCHEMA {}", quote_ident(s)),
            Object::Table(s, t) => format!("TABLE {}.{}", quote_ident(s), quote_ident(t)),
        }
    }
}

/// What the pair holds, read from the catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holdings {
    /// `(object, privilege)` the base user holds and the clone does not.
    pub to_grant: BTreeSet<(Object, String)>,
    /// `(object, privilege)` the clone holds and the base user does not.
    pub to_revoke: BTreeSet<(Object, String)>,
}

fn malformed(what: &str, row: usize, why: &str) -> DbError {
    DbError::rejected(
        ErrorKind::Target,
        format!("unexpected answer while {what}: row {row} {why}"),
    )
}

fn flag(value: Option<&str>, what: &str, row: usize) -> Result<bool, DbError> {
    match value {
        Some("t" | "true") => Ok(true),
        Some("f" | "false") => Ok(false),
        Some(_) => Err(malformed(
            what,
            row,
            "has a privilege flag that is not t or f",
        )),
        None => Err(malformed(what, row, "has a NULL privilege flag")),
    }
}

/// Read the rows of [`privileges_sql`]. Errors name the row and what was wrong, never a
/// value.
pub fn parse_privileges(rows: &[TextRow]) -> Result<Holdings, DbError> {
    let what = "reading the privileges of the alternating pair";
    let mut holdings = Holdings::default();
    for (i, row) in rows.iter().enumerate() {
        let n = i + 1;
        if row.len() != 6 {
            return Err(malformed(
                what,
                n,
                &format!("has {} columns, not 6", row.len()),
            ));
        }
        let text = |c: usize| row[c].as_deref();
        let name = text(2).ok_or_else(|| malformed(what, n, "has a NULL object name"))?;
        let privilege = text(3).ok_or_else(|| malformed(what, n, "has a NULL privilege"))?;
        let allowed: &[&str] = match text(0) {
            Some("database") => &DATABASE_PRIVILEGES,
            Some("schema") => &SCHEMA_PRIVILEGES,
            Some("table") => &TABLE_PRIVILEGES,
            _ => return Err(malformed(what, n, "has an unknown object kind")),
        };
        if !allowed.contains(&privilege) {
            return Err(malformed(what, n, "has an unknown privilege"));
        }
        let object = match text(0) {
            Some("database") => Object::Database(name.to_owned()),
            Some("schema") => Object::Schema(name.to_owned()),
            _ => Object::Table(
                text(1)
                    .ok_or_else(|| malformed(what, n, "is a table without a schema"))?
                    .to_owned(),
                name.to_owned(),
            ),
        };
        let (base, clone) = (flag(text(4), what, n)?, flag(text(5), what, n)?);
        let entry = (object, privilege.to_owned());
        match (base, clone) {
            (true, false) => {
                holdings.to_grant.insert(entry);
            }
            (false, true) => {
                holdings.to_revoke.insert(entry);
            }
            _ => {}
        }
    }
    Ok(holdings)
}

/// Read the rows of [`groups_sql`] (or [`user_exists_sql`]): the first column of each row.
pub fn parse_names(rows: &[TextRow], what: &str) -> Result<BTreeSet<String>, DbError> {
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            row.first()
                .cloned()
                .flatten()
                .ok_or_else(|| malformed(what, i + 1, "has no name"))
        })
        .collect()
}

/// The statements that make `clone`'s groups those of `base` (the marker group
/// [`CLONE_GROUP`] aside): `ALTER GROUP … ADD USER` for each group only the base is in,
/// `ALTER GROUP … DROP USER` for each group only the clone is in.
pub fn group_statements(
    base_groups: &BTreeSet<String>,
    clone_groups: &BTreeSet<String>,
    clone: &str,
) -> Vec<String> {
    let q_clone = quote_ident(clone);
    let add = base_groups
        .difference(clone_groups)
        .filter(|g| g.as_str() != CLONE_GROUP)
        .map(|g| format!("ALTER GROUP {} ADD USER {q_clone}", quote_ident(g)));
    let drop = clone_groups
        .difference(base_groups)
        .filter(|g| g.as_str() != CLONE_GROUP)
        .map(|g| format!("ALTER GROUP {} DROP USER {q_clone}", quote_ident(g)));
    add.chain(drop).collect()
}

/// The statements that make `clone`'s privileges those of `base`: one `GRANT` per object
/// for what only the base holds, one `REVOKE` per object for what only the clone holds.
pub fn privilege_statements(holdings: &Holdings, clone: &str) -> Vec<String> {
    let q_clone = quote_ident(clone);
    let mut out = Vec::new();
    for (set, verb, prep) in [
        (&holdings.to_grant, "GRANT", "TO"),
        (&holdings.to_revoke, "REVOKE", "FROM"),
    ] {
        let mut current: Option<(&Object, Vec<&str>)> = None;
        for (object, privilege) in set {
            match &mut current {
                Some((o, privs)) if *o == object => privs.push(privilege),
                _ => {
                    if let Some((o, privs)) = current.take() {
                        out.push(format!(
                            "{verb} {} ON {} {prep} {q_clone}",
                            privs.join(", "),
                            o.sql()
                        ));
                    }
                    current = Some((object, vec![privilege]));
                }
            }
        }
        if let Some((o, privs)) = current {
            out.push(format!(
                "{verb} {} ON {} {prep} {q_clone}",
                privs.join(", "),
                o.sql()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[Option<&str>]) -> TextRow {
        cells.iter().map(|c| c.map(str::to_owned)).collect()
    }

    #[test]
    fn md5_is_password_then_user() {
        // md5("Secret1x" || "rw_md5probe"), as the test server stored it for the same input.
        assert_eq!(
            md5_hash(&SecretString::from("Secret1x"), "rw_md5probe"),
            "md5b9efb5d9b6ae803f0761c8f0778479c6"
        );
        let sql = alter_password_sql("a\"b", &SecretString::from("Canary-pw-1"));
        assert!(
            sql.starts_with(r#"ALTER USER "a""b" PASSWORD 'md5"#),
            "{sql}"
        );
        assert!(!sql.contains("Canary"));
        assert_eq!(sql.len(), r#"ALTER USER "a""b" PASSWORD ''"#.len() + 35);
    }

    #[test]
    fn names() {
        assert!(check_user_name(&"a".repeat(127)).is_ok());
        let e = check_user_name(&"a".repeat(128)).unwrap_err().to_string();
        assert!(
            e.contains("Amazon Redshift names are at most 127 bytes"),
            "{e}"
        );
        let e = check_user_name("App").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSecret);
        assert!(e.to_string().contains("\"app\""), "{e}");
        assert!(check_user_name("a\\b").is_err());
        assert!(check_user_name("").is_err());
        assert_eq!(user_literal("o'neil").unwrap(), "'o''neil'");
        assert!(check_user_name("ünïcode_ok").is_ok());
        let alt = |n: &str| rotwise_db::names::alt_username(n, NAME_LIMIT);
        assert_eq!(alt(&"a".repeat(121)).unwrap().len(), 127);
        assert!(alt(&"a".repeat(122)).is_err());
    }

    #[test]
    fn password_rules_hold() {
        let r = |p: &str| password_rules(&SecretString::from(p));
        assert_eq!(r("Abcdefg1"), Ok(()));
        assert_eq!(r(&format!("Ab1{}", "x".repeat(61))), Ok(()));
        assert_eq!(r("Abcdef1"), Err(PasswordRule::Length(7)));
        assert_eq!(
            r(&format!("Ab1{}", "x".repeat(62))),
            Err(PasswordRule::Length(65))
        );
        assert_eq!(r("abcdefg1"), Err(PasswordRule::NoUppercase));
        assert_eq!(r("ABCDEFG1"), Err(PasswordRule::NoLowercase));
        assert_eq!(r("Abcdefgh"), Err(PasswordRule::NoDigit));
        for bad in ['\'', '"', '\\', '/', '@', ' ', 'é'] {
            assert_eq!(
                r(&format!("Abc1{bad}xyz")),
                Err(PasswordRule::Character(5)),
                "{bad}"
            );
        }
        // The error names the rule, never the password.
        let e = check_password("u", &SecretString::from("Canary-x/1")).unwrap_err();
        assert!(!e.to_string().contains("Canary"), "{e}");
        assert!(e.to_string().contains("character 9"), "{e}");
    }

    #[test]
    fn plan_grants_and_revokes_both_ways() {
        let rows = vec![
            row(&[
                Some("database"),
                None,
                Some("dev"),
                Some("CREATE"),
                Some("t"),
                Some("f"),
            ]),
            row(&[
                Some("database"),
                None,
                Some("dev"),
                Some("TEMP"),
                Some("t"),
                Some("t"),
            ]),
            row(&[
                Some("schema"),
                None,
                Some("Sales"),
                Some("USAGE"),
                Some("f"),
                Some("t"),
            ]),
            row(&[
                Some("table"),
                Some("Sales"),
                Some("o\"rders"),
                Some("SELECT"),
                Some("t"),
                Some("f"),
            ]),
            row(&[
                Some("table"),
                Some("Sales"),
                Some("o\"rders"),
                Some("INSERT"),
                Some("t"),
                Some("f"),
            ]),
            row(&[
                Some("table"),
                Some("Sales"),
                Some("x"),
                Some("DELETE"),
                Some("f"),
                Some("t"),
            ]),
        ];
        let h = parse_privileges(&rows).unwrap();
        assert_eq!(
            privilege_statements(&h, "app_clone"),
            vec![
                r#"GRANT CREATE ON DATABASE "dev" TO "app_clone""#,
                r#"GRANT INSERT, SELECT ON TABLE "Sales"."o""rders" TO "app_clone""#,
                r#"REVOKE USAGE ON SCHEMA "Sales" FROM "app_clone""#,
                r#"REVOKE DELETE ON TABLE "Sales"."x" FROM "app_clone""#,
            ]
        );
        assert!(privilege_statements(&Holdings::default(), "c").is_empty());
    }

    #[test]
    fn malformed_rows_are_errors_without_values() {
        let bad = [
            row(&[
                Some("database"),
                None,
                Some("dev"),
                Some("CREATE"),
                Some("yes"),
                Some("f"),
            ]),
            row(&[
                Some("database"),
                None,
                Some("dev"),
                Some("DROP"),
                Some("t"),
                Some("f"),
            ]),
            row(&[
                Some("view"),
                None,
                Some("dev"),
                Some("SELECT"),
                Some("t"),
                Some("f"),
            ]),
            row(&[
                Some("table"),
                None,
                Some("secret_tbl"),
                Some("SELECT"),
                Some("t"),
                Some("f"),
            ]),
            row(&[Some("table"), Some("s")]),
            row(&[
                Some("schema"),
                None,
                None,
                Some("USAGE"),
                Some("t"),
                Some("f"),
            ]),
        ];
        for r in bad {
            let e = parse_privileges(&[r]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Target);
            assert!(!e.to_string().contains("secret_tbl"), "{e}");
        }
        assert!(parse_names(&[vec![None]], "reading groups").is_err());
    }

    #[test]
    fn groups_both_ways_and_the_marker_is_left_alone() {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(
            group_statements(
                &set(&["readers", "Writers"]),
                &set(&["readers", "old", CLONE_GROUP]),
                "app_clone"
            ),
            vec![
                r#"ALTER GROUP "Writers" ADD USER "app_clone""#,
                r#"ALTER GROUP "old" DROP USER "app_clone""#,
            ]
        );
    }

    #[test]
    fn queries_quote_the_user_names() {
        let q = privileges_sql("o'neil", "o'neil_clone").unwrap();
        assert!(q.contains("has_table_privilege('o''neil', "), "{q}");
        assert!(q.contains("t.tableowner <> 'o''neil_clone'"), "{q}");
        assert!(groups_sql("a\\b").is_err());
        assert_eq!(
            user_exists_sql("o'neil").unwrap(),
            "SELECT usename FROM pg_user WHERE usename = 'o''neil'"
        );
    }
}
