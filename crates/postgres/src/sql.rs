//! Local, correct quoting of identifiers and literals, and the password verifier.
//!
//! `ALTER ROLE ... PASSWORD` takes no bind parameter, so the statement is built here. The
//! password itself never goes into SQL: only its SCRAM-SHA-256 verifier does.

use rotwise_core::{ExposeSecret, SecretString};

/// PostgreSQL's identifier limit in bytes (`NAMEDATALEN - 1`); longer names are silently
/// truncated by the server, so they are refused here before anything changes.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// The suffix of the alternating strategy's second user.
pub const CLONE_SUFFIX: &str = "_clone";

/// Why a role name cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty.
    #[error("the username is empty")]
    Empty,
    /// Contains a NUL character, which PostgreSQL cannot store.
    #[error("the username {0:?} contains a NUL character")]
    Nul(String),
    /// Over 63 bytes.
    #[error("the username {name:?} is {bytes} bytes long; PostgreSQL names are at most 63 bytes")]
    TooLong {
        /// The name.
        name: String,
        /// Its length in bytes.
        bytes: usize,
    },
    /// Appending `_clone` would exceed the limit (AWS's text, with "bytes" made explicit).
    #[error(
        "Unable to clone user, username length with _clone appended would exceed 63 characters (bytes): {name:?} is {bytes} bytes"
    )]
    CloneTooLong {
        /// The base name.
        name: String,
        /// Its length in bytes.
        bytes: usize,
    },
}

/// Check that `name` is a usable role name: non-empty, no NUL, at most 63 bytes.
pub fn check_role_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.contains('\0') {
        return Err(NameError::Nul(name.to_owned()));
    }
    if name.len() > MAX_IDENTIFIER_BYTES {
        return Err(NameError::TooLong {
            name: name.to_owned(),
            bytes: name.len(),
        });
    }
    Ok(())
}

/// The other user of the alternating pair: `name` without `_clone`, or `name_clone`.
pub fn alt_username(name: &str) -> Result<String, NameError> {
    check_role_name(name)?;
    if let Some(base) = name.strip_suffix(CLONE_SUFFIX)
        && !base.is_empty()
    {
        return Ok(base.to_owned());
    }
    let alt = format!("{name}{CLONE_SUFFIX}");
    if alt.len() > MAX_IDENTIFIER_BYTES {
        return Err(NameError::CloneTooLong {
            name: name.to_owned(),
            bytes: name.len(),
        });
    }
    Ok(alt)
}

/// The base (non-clone) name of an alternating pair member.
pub fn base_username(name: &str) -> &str {
    match name.strip_suffix(CLONE_SUFFIX) {
        Some(base) if !base.is_empty() => base,
        _ => name,
    }
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
    postgres_protocol::password::scram_sha_256(password.expose_secret().as_bytes())
}

/// `ALTER ROLE <role> PASSWORD '<verifier>'`.
pub fn alter_password_sql(role: &str, password: &SecretString) -> String {
    format!(
        "ALTER ROLE {} PASSWORD {}",
        quote_ident(role),
        quote_literal(&scram_verifier(password))
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
    fn names() {
        assert!(check_role_name(&"a".repeat(63)).is_ok());
        assert!(matches!(
            check_role_name(&"a".repeat(64)),
            Err(NameError::TooLong { bytes: 64, .. })
        ));
        // 32 two-byte characters: 64 bytes although 32 characters.
        assert!(check_role_name(&"ü".repeat(32)).is_err());
        assert!(check_role_name("").is_err());
        assert!(check_role_name("a\0b").is_err());
        assert_eq!(alt_username("app").unwrap(), "app_clone");
        assert_eq!(alt_username("app_clone").unwrap(), "app");
        assert_eq!(alt_username(&"a".repeat(57)).unwrap().len(), 63);
        let e = alt_username(&"a".repeat(58)).unwrap_err();
        assert!(e.to_string().contains("would exceed 63 characters"), "{e}");
        assert_eq!(base_username("x_clone"), "x");
        assert_eq!(base_username("x"), "x");
        assert_eq!(base_username("_clone"), "_clone");
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
