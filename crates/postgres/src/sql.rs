//! Local, correct quoting of identifiers and literals, and the password verifier.
//!
//! `ALTER ROLE ... PASSWORD` takes no bind parameter, so the statement is built here. The
//! password itself never goes into SQL: only its SCRAM-SHA-256 verifier does.

use rotwise_core::SecretString;
use rotwise_core::plan::REDACTED_HASH;
use rotwise_db::names::{NameError, NameLimit, Unit, check_name};

/// PostgreSQL's identifier limit in bytes (`NAMEDATALEN - 1`); longer names are silently
/// truncated by the server, so they are refused here before anything changes.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// PostgreSQL's name limit, for [`rotwise_db::names`].
pub const NAME_LIMIT: NameLimit = NameLimit {
    max: MAX_IDENTIFIER_BYTES,
    unit: Unit::Bytes,
    product: Some("PostgreSQL"),
};

/// Check that `name` is a usable role name: non-empty, no NUL, at most 63 bytes.
pub fn check_role_name(name: &str) -> Result<(), NameError> {
    check_name(name, NAME_LIMIT)
}

/// `name` as a quoted identifier: wrapped in double quotes, inner double quotes doubled.
/// Always quoted, so case, spaces, unicode and keywords are kept exactly.
///
/// ```
/// assert_eq!(rotwise_postgres::sql::quote_ident(r#"a"b"#), r#""a""b""#);
/// assert_eq!(rotwise_postgres::sql::quote_ident("Mixed Case"), r#""Mixed Case""#);
/// ```
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `value` as a string literal, as the server's `quote_literal` does: single quotes
/// doubled, and when there is a backslash, backslashes doubled in an `E''` literal (correct
/// whatever `standard_conforming_strings` is).
///
/// ```
/// assert_eq!(rotwise_postgres::sql::quote_literal("O'Neil"), "'O''Neil'");
/// assert_eq!(rotwise_postgres::sql::quote_literal(r"a\b"), r"E'a\\b'");
/// ```
pub fn quote_literal(value: &str) -> String {
    let doubled = value.replace('\'', "''");
    if value.contains('\\') {
        format!("E'{}'", doubled.replace('\\', "\\\\"))
    } else {
        format!("'{doubled}'")
    }
}

/// The SCRAM-SHA-256 verifier of `password` (random salt, 4096 iterations), what
/// `PASSWORD '<verifier>'` stores. The server cannot tell it from a plaintext it hashed
/// itself, and its statement log only ever sees the verifier.
pub fn scram_verifier(password: &SecretString) -> String {
    crate::scram::verifier(password)
}

/// `ALTER ROLE <role> PASSWORD '<verifier>'`.
pub fn alter_password_sql(role: &str, password: &SecretString) -> String {
    alter_password_with(role, &quote_literal(&scram_verifier(password)))
}

/// [`alter_password_sql`] as shown (logs, dry runs): the verifier redacted.
///
/// ```
/// assert_eq!(
///     rotwise_postgres::sql::alter_password_shown("app"),
///     r#"ALTER ROLE "app" PASSWORD '<redacted hash>'"#
/// );
/// ```
pub fn alter_password_shown(role: &str) -> String {
    alter_password_with(role, &quote_literal(REDACTED_HASH))
}

fn alter_password_with(role: &str, literal: &str) -> String {
    format!("ALTER ROLE {} PASSWORD {literal}", quote_ident(role))
}

/// `CREATE ROLE <role> LOGIN PASSWORD '<verifier>'`: a new clone, before its marker.
pub fn create_role_sql(role: &str, password: &SecretString) -> String {
    create_role_with(role, &quote_literal(&scram_verifier(password)))
}

/// [`create_role_sql`] as shown: the verifier redacted.
pub fn create_role_shown(role: &str) -> String {
    create_role_with(role, &quote_literal(REDACTED_HASH))
}

fn create_role_with(role: &str, literal: &str) -> String {
    format!("CREATE ROLE {} LOGIN PASSWORD {literal}", quote_ident(role))
}

/// The comment rotwise puts on a clone role it creates (`COMMENT ON ROLE`): the mark
/// that it may reset the role's password and grant it `base`. An existing role named
/// like the clone without this exact comment is never adopted.
///
/// ```
/// assert_eq!(rotwise_postgres::sql::clone_marker("app"), r#"rotwise: clone of "app""#);
/// ```
pub fn clone_marker(base: &str) -> String {
    format!("{CLONE_MARKER_PREFIX}{}", quote_ident(base))
}

/// How every [`clone_marker`] starts.
pub const CLONE_MARKER_PREFIX: &str = "rotwise: clone of ";

/// `COMMENT ON ROLE <clone> IS 'rotwise: clone of "<base>"'`: what rotwise runs when it
/// creates the clone, and what an operator runs (as a role with `CREATEROLE`) to adopt an
/// existing role as the clone on purpose, e.g. one made by AWS's rotation function.
///
/// ```
/// assert_eq!(
///     rotwise_postgres::sql::adopt_clone_sql("O'Neil", "O'Neil_clone"),
///     r#"COMMENT ON ROLE "O'Neil_clone" IS 'rotwise: clone of "O''Neil"'"#
/// );
/// ```
pub fn adopt_clone_sql(base: &str, clone: &str) -> String {
    format!(
        "COMMENT ON ROLE {} IS {}",
        quote_ident(clone),
        quote_literal(&clone_marker(base))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a"), "\"a\"");
        assert_eq!(
            quote_ident(r#""; DROP ROLE x; --"#),
            r#""""; DROP ROLE x; --""#
        );
        assert_eq!(quote_ident("ünï"), "\"ünï\"");
        assert_eq!(quote_literal("plain"), "'plain'");
        assert_eq!(quote_literal(r"it's\"), r"E'it''s\\'");
    }

    #[test]
    fn marker_statement_quotes_both_names() {
        assert_eq!(
            adopt_clone_sql(r#"a"b\c"#, r#"a"b\c_clone"#),
            r#"COMMENT ON ROLE "a""b\c_clone" IS E'rotwise: clone of "a""b\\c"'"#
        );
    }

    #[test]
    fn names() {
        assert!(check_role_name(&"a".repeat(63)).is_ok());
        assert!(matches!(
            check_role_name(&"a".repeat(64)),
            Err(NameError::TooLong { len: 64, .. })
        ));
        // 32 two-byte characters: 64 bytes although 32 characters.
        assert!(check_role_name(&"ü".repeat(32)).is_err());
        assert!(check_role_name("").is_err());
        assert!(check_role_name("a\0b").is_err());
        let alt = |n: &str| rotwise_db::names::alt_username(n, NAME_LIMIT);
        assert_eq!(alt("app").unwrap(), "app_clone");
        assert_eq!(alt("app_clone").unwrap(), "app");
        assert_eq!(alt(&"a".repeat(57)).unwrap().len(), 63);
        let e = alt(&"a".repeat(58)).unwrap_err();
        assert!(e.to_string().contains("would exceed 63 characters"), "{e}");
    }

    #[test]
    fn verifier_hides_password() {
        let pw = SecretString::from("canary-'\\\"-pw");
        let sql = alter_password_sql(r#"a"b"#, &pw);
        assert!(
            sql.starts_with(r#"ALTER ROLE "a""b" PASSWORD 'SCRAM-SHA-256$4096:"#),
            "{sql}"
        );
        assert!(!sql.contains("canary"));
        // Salted: two verifiers of one password differ.
        assert_ne!(scram_verifier(&pw), scram_verifier(&pw));
    }
}
