//! The alternating pair's names: `<user>` and `<user>_clone`, derived one way everywhere,
//! and the name limits each engine enforces.

use std::fmt;

/// The suffix of the alternating strategy's second user.
pub const CLONE_SUFFIX: &str = "_clone";

/// How an engine measures a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Bytes (PostgreSQL identifiers).
    Bytes,
    /// Characters (MySQL and MariaDB user names).
    Chars,
}

/// The longest user name a server accepts, and how to say it in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameLimit {
    /// The limit.
    pub max: usize,
    /// What it counts.
    pub unit: Unit,
    /// The product whose limit it is, e.g. `PostgreSQL`; `None`: "this server".
    pub product: Option<&'static str>,
}

impl NameLimit {
    /// No length limit (only emptiness and NUL are checked).
    pub const NONE: NameLimit = NameLimit {
        max: usize::MAX,
        unit: Unit::Chars,
        product: None,
    };

    /// The length of `name` in this limit's unit.
    pub fn len(&self, name: &str) -> usize {
        match self.unit {
            Unit::Bytes => name.len(),
            Unit::Chars => name.chars().count(),
        }
    }

    /// `bytes` or `characters`.
    pub fn unit_name(&self) -> &'static str {
        match self.unit {
            Unit::Bytes => "bytes",
            Unit::Chars => "characters",
        }
    }
}

/// Why a user name cannot be used. The texts keep AWS's words where AWS has some.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty.
    #[error("the username is empty")]
    Empty,
    /// Contains a NUL character, which no engine can store.
    #[error("the username {0:?} contains a NUL character")]
    Nul(String),
    /// Over the limit.
    #[error("{}", too_long(.name, .len, .limit))]
    TooLong {
        /// The name.
        name: String,
        /// Its length in the limit's unit.
        len: usize,
        /// The limit.
        limit: NameLimit,
    },
    /// Appending `_clone` would exceed the limit (AWS's text, with the name).
    #[error("{}", clone_too_long(.name, .len, .limit))]
    CloneTooLong {
        /// The base name.
        name: String,
        /// Its length in the limit's unit.
        len: usize,
        /// The limit.
        limit: NameLimit,
    },
}

fn too_long(name: &str, len: &usize, limit: &NameLimit) -> String {
    match (limit.unit, limit.product) {
        (Unit::Bytes, Some(product)) => format!(
            "the username {name:?} is {len} bytes long; {product} names are at most {} bytes",
            limit.max
        ),
        _ => format!(
            "the username {name:?} is {len} {} long; this server allows at most {}",
            limit.unit_name(),
            limit.max
        ),
    }
}

fn clone_too_long(name: &str, len: &usize, limit: &NameLimit) -> String {
    match limit.unit {
        Unit::Bytes => format!(
            "Unable to clone user, username length with _clone appended would exceed {} characters (bytes): {name:?} is {len} bytes",
            limit.max
        ),
        Unit::Chars => format!(
            "Unable to clone user, username length with _clone appended would exceed {} characters ({name:?} is {len} characters)",
            limit.max
        ),
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unit::Bytes => "bytes",
            Unit::Chars => "characters",
        })
    }
}

/// Check that `name` is usable: non-empty, no NUL, within `limit`.
pub fn check_name(name: &str, limit: NameLimit) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.contains('\0') {
        return Err(NameError::Nul(name.to_owned()));
    }
    let len = limit.len(name);
    if len > limit.max {
        return Err(NameError::TooLong {
            name: name.to_owned(),
            len,
            limit,
        });
    }
    Ok(())
}

/// The base (non-clone) name of an alternating pair member.
///
/// ```
/// use rotwise_db::names::base_username;
/// assert_eq!(base_username("app_clone"), "app");
/// assert_eq!(base_username("app"), "app");
/// assert_eq!(base_username("_clone"), "_clone");
/// ```
pub fn base_username(name: &str) -> &str {
    match name.strip_suffix(CLONE_SUFFIX) {
        Some(base) if !base.is_empty() => base,
        _ => name,
    }
}

/// The clone of base user `base`: `base_clone`, within `limit`.
pub fn clone_username(base: &str, limit: NameLimit) -> Result<String, NameError> {
    check_name(base, limit)?;
    let clone = format!("{base}{CLONE_SUFFIX}");
    if limit.len(&clone) > limit.max {
        return Err(NameError::CloneTooLong {
            name: base.to_owned(),
            len: limit.len(base),
            limit,
        });
    }
    Ok(clone)
}

/// The other user of the alternating pair: `name` without `_clone`, or `name_clone`
/// (within `limit`).
///
/// ```
/// use rotwise_db::names::{NameLimit, Unit, alt_username};
/// let pg = NameLimit { max: 63, unit: Unit::Bytes, product: Some("PostgreSQL") };
/// assert_eq!(alt_username("app", pg).unwrap(), "app_clone");
/// assert_eq!(alt_username("app_clone", pg).unwrap(), "app");
/// assert!(alt_username(&"x".repeat(60), pg).is_err());
/// ```
pub fn alt_username(name: &str, limit: NameLimit) -> Result<String, NameError> {
    check_name(name, limit)?;
    let base = base_username(name);
    if base != name {
        return Ok(base.to_owned());
    }
    clone_username(name, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG: NameLimit = NameLimit {
        max: 63,
        unit: Unit::Bytes,
        product: Some("PostgreSQL"),
    };
    const MY: NameLimit = NameLimit {
        max: 32,
        unit: Unit::Chars,
        product: None,
    };

    #[test]
    fn texts_per_unit() {
        let e = check_name(&"é".repeat(32), PG).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "the username {:?} is 64 bytes long; PostgreSQL names are at most 63 bytes",
                "é".repeat(32)
            )
        );
        assert!(check_name(&"é".repeat(32), MY).is_ok());
        let e = alt_username(&"a".repeat(27), MY).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "Unable to clone user, username length with _clone appended would exceed 32 characters ({:?} is 27 characters)",
                "a".repeat(27)
            )
        );
        let e = alt_username(&"a".repeat(58), PG).unwrap_err();
        let tail = format!("(bytes): {:?} is 58 bytes", "a".repeat(58));
        assert!(e.to_string().ends_with(&tail), "{e}");
        assert_eq!(alt_username("", MY), Err(NameError::Empty));
        assert!(matches!(alt_username("a\0", MY), Err(NameError::Nul(_))));
        assert_eq!(alt_username("_clone", MY).unwrap(), "_clone_clone");
    }
}
