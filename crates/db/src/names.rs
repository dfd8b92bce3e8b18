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

/// The two users of an alternating pair, derived from the **current** user's name only,
/// one way everywhere: createSecret's next name, setSecret's check of the pending name,
/// the engine's [`Dialect::ensure_pair`](crate::Dialect::ensure_pair) and testSecret all
/// take the pair from [`Pair::of`] and never derive it again from the pending name (for a
/// current user `a_clone_clone`, the pending name `a_clone` would otherwise read as the
/// clone of `a`).
///
/// A name ending in `_clone` is the clone of the name without that suffix (once, as AWS's
/// functions read it); any other name is a base user whose clone is `name_clone`.
///
/// ```
/// use rotwise_db::names::{NameLimit, Pair};
/// let p = Pair::of("a_clone_clone", NameLimit::NONE).unwrap();
/// assert_eq!((p.base.as_str(), p.clone.as_str()), ("a_clone", "a_clone_clone"));
/// assert_eq!(p.other("a_clone_clone"), Some("a_clone"));
/// assert_eq!(p.other("a"), None);
/// let p = Pair::of("app", NameLimit::NONE).unwrap();
/// assert_eq!(p.other("app"), Some("app_clone"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// The base user: the one whose privileges the clone copies.
    pub base: String,
    /// The clone (`<base>_clone`), which rotwise creates and marks as its own.
    pub clone: String,
}

impl Pair {
    /// The pair the current user `current` belongs to (see the type's docs), with both
    /// names within `limit`.
    pub fn of(current: &str, limit: NameLimit) -> Result<Pair, NameError> {
        check_name(current, limit)?;
        let base = base_username(current);
        if base != current {
            return Ok(Pair {
                base: base.to_owned(),
                clone: current.to_owned(),
            });
        }
        Ok(Pair {
            base: current.to_owned(),
            clone: clone_username(current, limit)?,
        })
    }

    /// The other member of the pair, `None` when `name` is neither.
    pub fn other(&self, name: &str) -> Option<&str> {
        if name == self.base {
            Some(&self.clone)
        } else if name == self.clone {
            Some(&self.base)
        } else {
            None
        }
    }

    /// Whether `name` is the clone.
    pub fn is_clone(&self, name: &str) -> bool {
        name == self.clone
    }
}

/// The other user of the alternating pair: `name` without `_clone`, or `name_clone`
/// (within `limit`); the same as [`Pair::of`]`(name)`'s other member.
///
/// ```
/// use rotwise_db::names::{NameLimit, Unit, alt_username};
/// let pg = NameLimit { max: 63, unit: Unit::Bytes, product: Some("PostgreSQL") };
/// assert_eq!(alt_username("app", pg).unwrap(), "app_clone");
/// assert_eq!(alt_username("app_clone", pg).unwrap(), "app");
/// assert!(alt_username(&"x".repeat(60), pg).is_err());
/// ```
pub fn alt_username(name: &str, limit: NameLimit) -> Result<String, NameError> {
    let pair = Pair::of(name, limit)?;
    Ok(if pair.is_clone(name) {
        pair.base
    } else {
        pair.clone
    })
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

    /// One derivation: from either member of a pair whose base does not end in `_clone`,
    /// the same two users; `a_clone_clone` is the clone of `a_clone`, never of `a`.
    #[test]
    fn pair_is_derived_one_way() {
        let p = Pair::of("app", PG).unwrap();
        assert_eq!(Pair::of("app_clone", PG).unwrap(), p);
        assert_eq!(p.other("app_clone"), Some("app"));
        let p = Pair::of("a_clone_clone", PG).unwrap();
        assert_eq!(
            (p.base.as_str(), p.clone.as_str()),
            ("a_clone", "a_clone_clone")
        );
        assert_eq!(alt_username("a_clone_clone", PG).unwrap(), p.base);
        // The pending name of that pair is not re-read as a clone of `a`.
        assert_eq!(p.other("a_clone"), Some("a_clone_clone"));
        assert_eq!(p.other("a"), None);
        assert!(Pair::of(&"a".repeat(58), PG).is_err());
        // A clone name is within the limit already: its base is too.
        assert!(Pair::of(&format!("{}_clone", "a".repeat(57)), PG).is_ok());
    }
}
