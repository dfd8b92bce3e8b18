//! Password generation with the semantics of Secrets Manager `GetRandomPassword`.
//!
//! AWS's reference rotation functions (the Python Lambdas for PostgreSQL,
//! MySQL, …) generate the new password by calling `GetRandomPassword` with
//! parameters taken from Lambda environment variables. [`PasswordPolicy`]
//! reproduces that call locally, with the operating system's CSPRNG, so a
//! rotation needs no extra API call and the password never leaves the process
//! before it is stored.
//!
//! | Environment variable         | `GetRandomPassword` parameter | [`PasswordPolicy`] field      | Default                      |
//! |------------------------------|-------------------------------|-------------------------------|------------------------------|
//! | `PASSWORD_LENGTH`            | `PasswordLength` (1–4096)     | `length`                      | `32`                         |
//! | `EXCLUDE_CHARACTERS`         | `ExcludeCharacters`           | `exclude_characters`          | engine default (see below)   |
//! | `EXCLUDE_NUMBERS`            | `ExcludeNumbers`              | `exclude_numbers`             | `false`                      |
//! | `EXCLUDE_PUNCTUATION`        | `ExcludePunctuation`          | `exclude_punctuation`         | `false`                      |
//! | `EXCLUDE_UPPERCASE`          | `ExcludeUppercase`            | `exclude_uppercase`           | `false`                      |
//! | `EXCLUDE_LOWERCASE`          | `ExcludeLowercase`            | `exclude_lowercase`           | `false`                      |
//! | —                            | `IncludeSpace`                | `include_space`               | `false`                      |
//! | `REQUIRE_EACH_INCLUDED_TYPE` | `RequireEachIncludedType`     | `require_each_included_type`  | `true`                       |
//!
//! The default for `EXCLUDE_CHARACTERS` depends on the system being rotated, as in
//! AWS's functions: each engine crate names its own (PostgreSQL `` :/@"'\ ``, MySQL
//! `` /@"'\ ``) and passes it to [`PasswordPolicy::from_env`]. Setting the variable to
//! the empty string explicitly excludes nothing.
//!
//! Booleans accept `true`/`1`/`y`/`yes` and `false`/`0`/`n`/`no`
//! (case-insensitive, surrounding whitespace ignored). Unlike AWS's
//! functions, which treat any other value as `false`, anything else is
//! rejected with [`PasswordError::InvalidEnv`] so a typo cannot silently
//! weaken the policy.
//!
//! # Character classes
//!
//! * uppercase `A`–`Z`, lowercase `a`–`z`, digits `0`–`9`;
//! * punctuation: the 32 ASCII punctuation characters
//!   `` !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~ ``;
//! * the space character, only with `include_space`.
//!
//! `exclude_characters` removes individual characters from any class. A
//! class is *included* when its `exclude_*` flag is off and at least one of
//! its characters survives `exclude_characters`. With
//! `require_each_included_type`, every password contains at least one
//! character of every included class (space is never required).
//!
//! # Randomness
//!
//! Characters are drawn uniformly (no modulo bias) from the alphabet with
//! [`rand::rngs::OsRng`]. When every included class is required, whole
//! passwords are redrawn until one qualifies, so the result is uniform over
//! all qualifying passwords; after a bounded number of attempts (only
//! reachable with pathological policies) it falls back to one character per
//! required class plus uniform filler, shuffled with Fisher–Yates.
//!
//! # Example
//!
//! ```
//! use rotwise_core::password::PasswordPolicy;
//! use secrecy::ExposeSecret;
//!
//! let env = |name: &str| match name {
//!     "PASSWORD_LENGTH" => Some("24".to_owned()),
//!     "EXCLUDE_PUNCTUATION" => Some("true".to_owned()),
//!     _ => None,
//! };
//! // The second argument: EXCLUDE_CHARACTERS when unset (here PostgreSQL's default).
//! let policy = PasswordPolicy::from_env(env, ":/@\"'\\")?;
//! assert_eq!(policy.length, 24);
//! assert!(policy.exclude_punctuation);
//!
//! let password = policy.generate()?;
//! let password = password.expose_secret();
//! assert_eq!(password.chars().count(), 24);
//! assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
//! assert!(password.chars().any(|c| c.is_ascii_digit()));
//!
//! // Impossible settings fail at startup, with a message saying what to change.
//! let err = PasswordPolicy::from_env(
//!     |name: &str| (name == "PASSWORD_LENGTH").then(|| "0".to_owned()),
//!     "",
//! )
//! .unwrap_err();
//! assert!(err.to_string().contains("PASSWORD_LENGTH"));
//! # Ok::<(), rotwise_core::password::PasswordError>(())
//! ```

use rand::rngs::OsRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{CryptoRng, RngCore, TryRngCore};
use secrecy::SecretString;
use secrecy::zeroize::Zeroizing;

/// Smallest password length `GetRandomPassword` accepts.
pub const MIN_LENGTH: u32 = 1;
/// Largest password length `GetRandomPassword` accepts.
pub const MAX_LENGTH: u32 = 4096;
/// Default password length (AWS's rotation functions use 32).
pub const DEFAULT_LENGTH: u32 = 32;

/// The 32 ASCII punctuation characters used by `GetRandomPassword`.
pub const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// How many whole passwords are drawn before falling back to the
/// "one of each class, then shuffle" construction.
const MAX_REJECTION_ATTEMPTS: usize = 1000;

const ENV_PASSWORD_LENGTH: &str = "PASSWORD_LENGTH";
const ENV_EXCLUDE_CHARACTERS: &str = "EXCLUDE_CHARACTERS";
const ENV_EXCLUDE_NUMBERS: &str = "EXCLUDE_NUMBERS";
const ENV_EXCLUDE_PUNCTUATION: &str = "EXCLUDE_PUNCTUATION";
const ENV_EXCLUDE_UPPERCASE: &str = "EXCLUDE_UPPERCASE";
const ENV_EXCLUDE_LOWERCASE: &str = "EXCLUDE_LOWERCASE";
const ENV_REQUIRE_EACH_INCLUDED_TYPE: &str = "REQUIRE_EACH_INCLUDED_TYPE";

const EXPECTED_BOOL: &str = "true, 1, y or yes / false, 0, n or no (case-insensitive)";
const EXPECTED_LENGTH: &str = "an integer from 1 to 4096";

/// Why a [`PasswordPolicy`] cannot produce a password.
///
/// No variant ever carries a generated password.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    /// The length is outside `GetRandomPassword`'s range 1..=4096.
    #[error(
        "password length {length} is out of range: it must be from 1 to 4096 \
         (the range of Secrets Manager GetRandomPassword); set PASSWORD_LENGTH to a value in that range"
    )]
    InvalidLength {
        /// The rejected length.
        length: u32,
    },

    /// Every character was excluded.
    #[error(
        "no characters are left to build a password from: {reasons}; \
         turn off at least one EXCLUDE_* flag or remove characters from EXCLUDE_CHARACTERS"
    )]
    EmptyAlphabet {
        /// What removed each class, e.g. `digits excluded by EXCLUDE_NUMBERS`.
        reasons: String,
    },

    /// `require_each_included_type` needs more characters than `length`.
    #[error(
        "length {length} cannot hold one character from each of the {required} included types ({types}); \
         raise PASSWORD_LENGTH to at least {required}, set REQUIRE_EACH_INCLUDED_TYPE=false, \
         or exclude some types"
    )]
    TooShortForRequiredTypes {
        /// The configured length.
        length: u32,
        /// How many classes are required.
        required: usize,
        /// The required classes, comma separated.
        types: String,
    },

    /// An environment variable has a value that cannot be parsed.
    #[error(
        "environment variable {var} has the invalid value {value:?}; accepted values: {expected}"
    )]
    InvalidEnv {
        /// The variable name.
        var: String,
        /// The rejected value (configuration, never a password).
        value: String,
        /// The accepted forms.
        expected: &'static str,
    },

    /// The operating system's random number generator failed.
    #[error(
        "the operating system random number generator failed ({reason}); no password was generated, \
         check the host's entropy source and retry"
    )]
    Rng {
        /// The OS error description.
        reason: String,
    },
}

/// Parameters of a generated password, mirroring `GetRandomPassword`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Number of characters, 1..=4096.
    pub length: u32,
    /// Individual characters never to use.
    pub exclude_characters: String,
    /// Exclude the digits `0`–`9`.
    pub exclude_numbers: bool,
    /// Exclude the 32 ASCII punctuation characters.
    pub exclude_punctuation: bool,
    /// Exclude `A`–`Z`.
    pub exclude_uppercase: bool,
    /// Exclude `a`–`z`.
    pub exclude_lowercase: bool,
    /// Add the space character to the alphabet (never required).
    pub include_space: bool,
    /// Every included class must appear at least once.
    pub require_each_included_type: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            length: DEFAULT_LENGTH,
            exclude_characters: String::new(),
            exclude_numbers: false,
            exclude_punctuation: false,
            exclude_uppercase: false,
            exclude_lowercase: false,
            include_space: false,
            require_each_included_type: true,
        }
    }
}

/// One character class after applying the policy.
struct Class {
    name: &'static str,
    /// Surviving characters (ASCII).
    chars: Vec<u8>,
    /// Whether the class counts for `require_each_included_type`.
    requirable: bool,
}

/// The alphabet split into classes, computed from a policy.
struct Classes {
    /// Only classes with at least one surviving character.
    included: Vec<Class>,
    /// Why the excluded classes are gone (for error messages).
    removed: Vec<String>,
}

impl Classes {
    fn alphabet(&self) -> Vec<u8> {
        let mut all: Vec<u8> = self
            .included
            .iter()
            .flat_map(|c| c.chars.iter().copied())
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    fn required(&self) -> impl Iterator<Item = &Class> {
        self.included.iter().filter(|c| c.requirable)
    }
}

impl PasswordPolicy {
    fn classes(&self) -> Classes {
        let excluded = |b: &u8| self.exclude_characters.contains(char::from(*b));
        let specs = [
            (
                "uppercase letters",
                (b'A'..=b'Z').collect(),
                self.exclude_uppercase,
                Some(ENV_EXCLUDE_UPPERCASE),
                true,
            ),
            (
                "lowercase letters",
                (b'a'..=b'z').collect(),
                self.exclude_lowercase,
                Some(ENV_EXCLUDE_LOWERCASE),
                true,
            ),
            (
                "digits",
                (b'0'..=b'9').collect(),
                self.exclude_numbers,
                Some(ENV_EXCLUDE_NUMBERS),
                true,
            ),
            (
                "punctuation",
                PUNCTUATION.bytes().collect(),
                self.exclude_punctuation,
                Some(ENV_EXCLUDE_PUNCTUATION),
                true,
            ),
            ("space", vec![b' '], !self.include_space, None, false),
        ];
        let mut included = Vec::new();
        let mut removed = Vec::new();
        for (name, chars, flag_excluded, flag, requirable) in specs {
            if flag_excluded {
                match flag {
                    Some(var) => removed.push(format!("{name} excluded by {var}")),
                    None => removed.push("space not included (include_space is false)".to_owned()),
                }
                continue;
            }
            let chars: Vec<u8> = chars.into_iter().filter(|b| !excluded(b)).collect();
            if chars.is_empty() {
                removed.push(format!(
                    "every one of the {name} is listed in {ENV_EXCLUDE_CHARACTERS}"
                ));
                continue;
            }
            included.push(Class {
                name,
                chars,
                requirable,
            });
        }
        Classes { included, removed }
    }

    /// The characters a password may contain, sorted and deduplicated.
    pub fn alphabet(&self) -> Vec<char> {
        self.classes()
            .alphabet()
            .into_iter()
            .map(char::from)
            .collect()
    }

    /// Checks that the policy can produce a password.
    ///
    /// # Errors
    ///
    /// [`PasswordError::InvalidLength`] when `length` is not in 1..=4096,
    /// [`PasswordError::EmptyAlphabet`] when every character is excluded,
    /// [`PasswordError::TooShortForRequiredTypes`] when
    /// `require_each_included_type` is set and `length` is smaller than the
    /// number of included classes.
    pub fn validate(&self) -> Result<(), PasswordError> {
        self.validated_classes().map(|_| ())
    }

    fn validated_classes(&self) -> Result<Classes, PasswordError> {
        if !(MIN_LENGTH..=MAX_LENGTH).contains(&self.length) {
            return Err(PasswordError::InvalidLength {
                length: self.length,
            });
        }
        let classes = self.classes();
        if classes.included.is_empty() {
            return Err(PasswordError::EmptyAlphabet {
                reasons: classes.removed.join(", "),
            });
        }
        if self.require_each_included_type {
            let required: Vec<&str> = classes.required().map(|c| c.name).collect();
            if usize::try_from(self.length).is_ok_and(|len| len < required.len()) {
                return Err(PasswordError::TooShortForRequiredTypes {
                    length: self.length,
                    required: required.len(),
                    types: required.join(", "),
                });
            }
        }
        Ok(classes)
    }

    /// Generates a password with the operating system's CSPRNG.
    ///
    /// # Errors
    ///
    /// Whatever [`validate`](Self::validate) returns, or
    /// [`PasswordError::Rng`] if the OS random number generator fails.
    pub fn generate(&self) -> Result<SecretString, PasswordError> {
        let classes = self.validated_classes()?;
        let mut rng = FallibleOsRng::default();
        let bytes = generate_bytes(self, &classes, &mut rng)?;
        rng.check()?;
        let mut password = String::with_capacity(bytes.len());
        password.extend(bytes.iter().map(|&b| char::from(b)));
        Ok(SecretString::from(password))
    }

    /// Reads the policy from the environment variables of AWS's rotation
    /// functions (see the [module documentation](self)), then validates it.
    ///
    /// `lookup` returns a variable's value, `None` when it is unset (pass
    /// `|k| std::env::var(k).ok()` in production). `default_exclude_characters`
    /// applies when `EXCLUDE_CHARACTERS` is unset: the engine's default, which the
    /// engine crates name (`rotwise_postgres::DEFAULT_EXCLUDE_CHARACTERS`, ...).
    ///
    /// # Errors
    ///
    /// [`PasswordError::InvalidEnv`] for an unparsable value or a length
    /// outside 1..=4096, otherwise whatever [`validate`](Self::validate)
    /// returns.
    pub fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
        default_exclude_characters: &str,
    ) -> Result<Self, PasswordError> {
        let bool_var = |var: &str, default: bool| -> Result<bool, PasswordError> {
            lookup(var).map_or(Ok(default), |value| parse_bool(var, value))
        };
        let length = match lookup(ENV_PASSWORD_LENGTH) {
            None => DEFAULT_LENGTH,
            Some(value) => parse_length(value)?,
        };
        let policy = Self {
            length,
            exclude_characters: lookup(ENV_EXCLUDE_CHARACTERS)
                .unwrap_or_else(|| default_exclude_characters.to_owned()),
            exclude_numbers: bool_var(ENV_EXCLUDE_NUMBERS, false)?,
            exclude_punctuation: bool_var(ENV_EXCLUDE_PUNCTUATION, false)?,
            exclude_uppercase: bool_var(ENV_EXCLUDE_UPPERCASE, false)?,
            exclude_lowercase: bool_var(ENV_EXCLUDE_LOWERCASE, false)?,
            include_space: false,
            require_each_included_type: bool_var(ENV_REQUIRE_EACH_INCLUDED_TYPE, true)?,
        };
        policy.validate()?;
        Ok(policy)
    }
}

fn parse_bool(var: &str, value: String) -> Result<bool, PasswordError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "y" | "yes" => Ok(true),
        "false" | "0" | "n" | "no" => Ok(false),
        _ => Err(PasswordError::InvalidEnv {
            var: var.to_owned(),
            value,
            expected: EXPECTED_BOOL,
        }),
    }
}

fn parse_length(value: String) -> Result<u32, PasswordError> {
    match value.trim().parse::<u32>() {
        Ok(length) if (MIN_LENGTH..=MAX_LENGTH).contains(&length) => Ok(length),
        _ => Err(PasswordError::InvalidEnv {
            var: ENV_PASSWORD_LENGTH.to_owned(),
            value,
            expected: EXPECTED_LENGTH,
        }),
    }
}

/// Draws a password from a validated policy.
fn generate_bytes(
    policy: &PasswordPolicy,
    classes: &Classes,
    rng: &mut FallibleOsRng,
) -> Result<Zeroizing<Vec<u8>>, PasswordError> {
    let alphabet = classes.alphabet();
    let length = usize::try_from(policy.length).map_err(|_| PasswordError::InvalidLength {
        length: policy.length,
    })?;
    let mut buf = Zeroizing::new(Vec::with_capacity(length));

    let required: Vec<&Class> = if policy.require_each_included_type {
        classes.required().collect()
    } else {
        Vec::new()
    };
    // class_of[b] = bit of the required class containing byte b (classes are disjoint).
    let mut class_of = [0u32; 128];
    for (i, class) in required.iter().enumerate() {
        for &b in &class.chars {
            class_of[usize::from(b & 0x7f)] |= 1 << i;
        }
    }
    let all_required: u32 = (1u32 << required.len()) - 1;

    for _ in 0..MAX_REJECTION_ATTEMPTS {
        buf.clear();
        let mut seen = 0u32;
        for _ in 0..length {
            let b = *choose(&alphabet, rng)?;
            seen |= class_of[usize::from(b & 0x7f)];
            buf.push(b);
        }
        rng.check()?;
        if seen == all_required {
            return Ok(buf);
        }
    }

    fallback_bytes(length, &alphabet, &required, rng)
}

/// Fallback for policies where a qualifying draw is very unlikely: one
/// character per required class, uniform filler, then a Fisher-Yates shuffle.
fn fallback_bytes(
    length: usize,
    alphabet: &[u8],
    required: &[&Class],
    rng: &mut FallibleOsRng,
) -> Result<Zeroizing<Vec<u8>>, PasswordError> {
    let mut buf = Zeroizing::new(Vec::with_capacity(length));
    for class in required {
        buf.push(*choose(&class.chars, rng)?);
    }
    while buf.len() < length {
        buf.push(*choose(alphabet, rng)?);
    }
    buf.shuffle(rng);
    rng.check()?;
    Ok(buf)
}

fn choose<'a>(chars: &'a [u8], rng: &mut FallibleOsRng) -> Result<&'a u8, PasswordError> {
    chars
        .choose(rng)
        .ok_or_else(|| PasswordError::EmptyAlphabet {
            reasons: "internal error: a character class is empty".to_owned(),
        })
}

/// [`OsRng`] as an infallible [`RngCore`] that remembers the first OS error
/// instead of panicking. Output produced after an error is meaningless and
/// is discarded by [`FallibleOsRng::check`].
#[derive(Default)]
struct FallibleOsRng {
    error: Option<rand::rand_core::OsError>,
}

impl FallibleOsRng {
    fn check(&self) -> Result<(), PasswordError> {
        match self.error {
            None => Ok(()),
            Some(err) => Err(PasswordError::Rng {
                reason: err.to_string(),
            }),
        }
    }

    fn record<T: Default>(&mut self, result: Result<T, rand::rand_core::OsError>) -> T {
        result.unwrap_or_else(|err| {
            self.error.get_or_insert(err);
            T::default()
        })
    }
}

impl RngCore for FallibleOsRng {
    fn next_u32(&mut self) -> u32 {
        let r = OsRng.try_next_u32();
        self.record(r)
    }

    fn next_u64(&mut self) -> u64 {
        let r = OsRng.try_next_u64();
        self.record(r)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        let r = OsRng.try_fill_bytes(dst);
        self.record(r);
    }
}

// The output is OsRng's whenever `check` passes.
impl CryptoRng for FallibleOsRng {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// AWS's PostgreSQL and MySQL `EXCLUDE_CHARACTERS` defaults, as test data (the engine
    /// crates own the real constants).
    const POSTGRES_DEFAULT_EXCLUDE: &str = ":/@\"'\\";
    const MYSQL_DEFAULT_EXCLUDE: &str = "/@\"'\\";
    use secrecy::ExposeSecret;
    use std::collections::{BTreeMap, HashMap};

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn default_policy_matches_aws_defaults() {
        let p = PasswordPolicy::default();
        assert_eq!(p.length, 32);
        assert_eq!(p.exclude_characters, "");
        assert!(!p.exclude_numbers);
        assert!(!p.exclude_punctuation);
        assert!(!p.exclude_uppercase);
        assert!(!p.exclude_lowercase);
        assert!(!p.include_space);
        assert!(p.require_each_included_type);
        assert_eq!(p.validate(), Ok(()));
        let alphabet = p.alphabet();
        assert_eq!(alphabet.len(), 94);
        assert!(alphabet.windows(2).all(|w| w[0] < w[1]));
        assert!(alphabet.iter().all(|c| c.is_ascii_graphic()));
    }

    #[test]
    fn punctuation_is_the_32_ascii_punctuation_characters() {
        let expected: Vec<char> = (0u8..128)
            .map(char::from)
            .filter(char::is_ascii_punctuation)
            .collect();
        let mut ours: Vec<char> = PUNCTUATION.chars().collect();
        ours.sort_unstable();
        assert_eq!(ours, expected);
        assert_eq!(ours.len(), 32);
    }

    #[test]
    fn alphabet_applies_flags_and_exclusions() {
        let p = PasswordPolicy {
            exclude_characters: "abc0 ".to_owned(),
            exclude_punctuation: true,
            exclude_uppercase: true,
            include_space: true,
            ..PasswordPolicy::default()
        };
        let expected: Vec<char> = ('1'..='9').chain('d'..='z').collect();
        assert_eq!(p.alphabet(), expected);

        let with_space = PasswordPolicy {
            include_space: true,
            ..PasswordPolicy::default()
        };
        assert_eq!(with_space.alphabet().len(), 95);
        assert_eq!(with_space.alphabet()[0], ' ');
    }

    #[test]
    fn length_zero_and_above_4096_are_rejected() {
        for length in [0, 4097, u32::MAX] {
            let p = PasswordPolicy {
                length,
                ..PasswordPolicy::default()
            };
            let err = p.validate().unwrap_err();
            assert_eq!(err, PasswordError::InvalidLength { length });
            let msg = err.to_string();
            assert!(msg.contains(&length.to_string()), "{msg}");
            assert!(msg.contains("1 to 4096"), "{msg}");
            assert!(msg.contains("PASSWORD_LENGTH"), "{msg}");
            assert_eq!(p.generate().unwrap_err(), err);
        }
        for length in [1, 4096] {
            let p = PasswordPolicy {
                length,
                require_each_included_type: false,
                ..PasswordPolicy::default()
            };
            let pw = p.generate().unwrap();
            assert_eq!(pw.expose_secret().len(), length as usize);
        }
    }

    #[test]
    fn empty_alphabet_names_the_flags_and_exclude_characters() {
        let p = PasswordPolicy {
            exclude_numbers: true,
            exclude_punctuation: true,
            exclude_uppercase: true,
            exclude_characters: ('a'..='z').collect(),
            ..PasswordPolicy::default()
        };
        let err = p.validate().unwrap_err();
        assert!(
            matches!(err, PasswordError::EmptyAlphabet { .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        for needle in [
            "EXCLUDE_NUMBERS",
            "EXCLUDE_PUNCTUATION",
            "EXCLUDE_UPPERCASE",
            "lowercase letters is listed in EXCLUDE_CHARACTERS",
            "space not included",
        ] {
            assert!(msg.contains(needle), "missing {needle:?} in {msg}");
        }
        assert!(!msg.contains("EXCLUDE_LOWERCASE"), "{msg}");
        assert_eq!(p.generate().unwrap_err(), err);

        let all_flags = PasswordPolicy {
            exclude_numbers: true,
            exclude_punctuation: true,
            exclude_uppercase: true,
            exclude_lowercase: true,
            ..PasswordPolicy::default()
        };
        let msg = all_flags.validate().unwrap_err().to_string();
        assert!(msg.contains("EXCLUDE_LOWERCASE"), "{msg}");
        assert!(all_flags.alphabet().is_empty());
    }

    #[test]
    fn space_alone_keeps_the_alphabet_non_empty() {
        let p = PasswordPolicy {
            exclude_numbers: true,
            exclude_punctuation: true,
            exclude_uppercase: true,
            exclude_lowercase: true,
            include_space: true,
            length: 3,
            ..PasswordPolicy::default()
        };
        assert_eq!(p.validate(), Ok(()));
        assert_eq!(p.generate().unwrap().expose_secret(), "   ");
    }

    #[test]
    fn too_short_for_required_types_names_types_and_fix() {
        let p = PasswordPolicy {
            length: 2,
            ..PasswordPolicy::default()
        };
        let err = p.validate().unwrap_err();
        assert_eq!(
            err,
            PasswordError::TooShortForRequiredTypes {
                length: 2,
                required: 4,
                types: "uppercase letters, lowercase letters, digits, punctuation".to_owned(),
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("length 2"), "{msg}");
        assert!(msg.contains("4 included types"), "{msg}");
        assert!(msg.contains("PASSWORD_LENGTH"), "{msg}");
        assert!(msg.contains("REQUIRE_EACH_INCLUDED_TYPE=false"), "{msg}");
        assert_eq!(p.generate().unwrap_err(), err);

        // Space is never required; a class emptied by EXCLUDE_CHARACTERS is not included.
        let p = PasswordPolicy {
            length: 3,
            include_space: true,
            exclude_characters: PUNCTUATION.to_owned(),
            ..PasswordPolicy::default()
        };
        assert_eq!(p.validate(), Ok(()));
        // Without the requirement, short lengths are fine.
        let p = PasswordPolicy {
            length: 1,
            require_each_included_type: false,
            ..PasswordPolicy::default()
        };
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn invalid_env_message_names_variable_value_and_forms() {
        let err = PasswordPolicy::from_env(env(&[("EXCLUDE_NUMBERS", "maybe")]), "").unwrap_err();
        assert_eq!(
            err,
            PasswordError::InvalidEnv {
                var: "EXCLUDE_NUMBERS".to_owned(),
                value: "maybe".to_owned(),
                expected: EXPECTED_BOOL,
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("EXCLUDE_NUMBERS"), "{msg}");
        assert!(msg.contains("\"maybe\""), "{msg}");
        assert!(msg.contains("true, 1, y or yes"), "{msg}");
        assert!(msg.contains("false, 0, n or no"), "{msg}");

        let err = PasswordPolicy::from_env(env(&[("PASSWORD_LENGTH", "thirty")]), "").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("PASSWORD_LENGTH"), "{msg}");
        assert!(msg.contains("\"thirty\""), "{msg}");
        assert!(msg.contains("integer from 1 to 4096"), "{msg}");
    }

    #[test]
    fn env_boolean_table() {
        let cases: &[(&str, Option<bool>)] = &[
            ("true", Some(true)),
            ("TRUE", Some(true)),
            ("True", Some(true)),
            ("1", Some(true)),
            ("y", Some(true)),
            ("Y", Some(true)),
            ("yes", Some(true)),
            ("YES", Some(true)),
            (" yes\n", Some(true)),
            ("false", Some(false)),
            ("FALSE", Some(false)),
            ("0", Some(false)),
            ("n", Some(false)),
            ("no", Some(false)),
            ("No", Some(false)),
            ("\tfalse ", Some(false)),
            ("", None),
            ("   ", None),
            ("maybe", None),
            ("on", None),
            ("off", None),
            ("2", None),
            ("truee", None),
            ("t rue", None),
        ];
        let vars = [
            "EXCLUDE_NUMBERS",
            "EXCLUDE_PUNCTUATION",
            "EXCLUDE_UPPERCASE",
            "EXCLUDE_LOWERCASE",
            "REQUIRE_EACH_INCLUDED_TYPE",
        ];
        for var in vars {
            for &(value, expected) in cases {
                let result = PasswordPolicy::from_env(env(&[(var, value)]), "");
                match expected {
                    Some(b) => {
                        let p = result.unwrap_or_else(|e| panic!("{var}={value:?}: {e}"));
                        let got = match var {
                            "EXCLUDE_NUMBERS" => p.exclude_numbers,
                            "EXCLUDE_PUNCTUATION" => p.exclude_punctuation,
                            "EXCLUDE_UPPERCASE" => p.exclude_uppercase,
                            "EXCLUDE_LOWERCASE" => p.exclude_lowercase,
                            _ => p.require_each_included_type,
                        };
                        assert_eq!(got, b, "{var}={value:?}");
                    }
                    None => assert_eq!(
                        result,
                        Err(PasswordError::InvalidEnv {
                            var: var.to_owned(),
                            value: value.to_owned(),
                            expected: EXPECTED_BOOL,
                        }),
                        "{var}={value:?}"
                    ),
                }
            }
        }
    }

    #[test]
    fn env_defaults_when_unset() {
        let p = PasswordPolicy::from_env(|_| None, POSTGRES_DEFAULT_EXCLUDE).unwrap();
        assert_eq!(
            p,
            PasswordPolicy {
                exclude_characters: POSTGRES_DEFAULT_EXCLUDE.to_owned(),
                ..PasswordPolicy::default()
            }
        );
        let p = PasswordPolicy::from_env(|_| None, MYSQL_DEFAULT_EXCLUDE).unwrap();
        assert_eq!(p.exclude_characters, MYSQL_DEFAULT_EXCLUDE);
    }

    #[test]
    fn env_explicit_empty_exclude_characters_excludes_nothing() {
        let p =
            PasswordPolicy::from_env(env(&[("EXCLUDE_CHARACTERS", "")]), POSTGRES_DEFAULT_EXCLUDE)
                .unwrap();
        assert_eq!(p.exclude_characters, "");
        assert_eq!(p.alphabet().len(), 94);

        let p = PasswordPolicy::from_env(|_| None, POSTGRES_DEFAULT_EXCLUDE).unwrap();
        assert_eq!(p.alphabet().len(), 88);
        assert!(!p.alphabet().contains(&':'));

        let p = PasswordPolicy::from_env(
            env(&[("EXCLUDE_CHARACTERS", "xyz")]),
            POSTGRES_DEFAULT_EXCLUDE,
        )
        .unwrap();
        assert_eq!(p.exclude_characters, "xyz");
        assert!(p.alphabet().contains(&':'));
        assert!(!p.alphabet().contains(&'x'));
    }

    #[test]
    fn env_length_table() {
        let ok: &[(&str, u32)] = &[
            ("1", 1),
            ("32", 32),
            (" 64 ", 64),
            ("\t4096\n", 4096),
            ("0008", 8),
        ];
        for &(value, expected) in ok {
            let p = PasswordPolicy::from_env(
                env(&[
                    ("PASSWORD_LENGTH", value),
                    ("REQUIRE_EACH_INCLUDED_TYPE", "no"),
                ]),
                "",
            )
            .unwrap_or_else(|e| panic!("{value:?}: {e}"));
            assert_eq!(p.length, expected, "{value:?}");
        }
        for value in [
            "",
            " ",
            "0",
            "4097",
            "-1",
            "abc",
            "32.0",
            "1e3",
            "99999999999",
            "3 2",
        ] {
            assert_eq!(
                PasswordPolicy::from_env(env(&[("PASSWORD_LENGTH", value)]), ""),
                Err(PasswordError::InvalidEnv {
                    var: "PASSWORD_LENGTH".to_owned(),
                    value: value.to_owned(),
                    expected: EXPECTED_LENGTH,
                }),
                "{value:?}"
            );
        }
    }

    #[test]
    fn env_validates_after_parsing() {
        let err = PasswordPolicy::from_env(env(&[("PASSWORD_LENGTH", "3")]), "").unwrap_err();
        assert!(
            matches!(
                err,
                PasswordError::TooShortForRequiredTypes {
                    length: 3,
                    required: 4,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = PasswordPolicy::from_env(
            env(&[
                ("EXCLUDE_NUMBERS", "1"),
                ("EXCLUDE_PUNCTUATION", "1"),
                ("EXCLUDE_UPPERCASE", "1"),
                ("EXCLUDE_LOWERCASE", "1"),
            ]),
            "",
        )
        .unwrap_err();
        assert!(
            matches!(err, PasswordError::EmptyAlphabet { .. }),
            "{err:?}"
        );
        // Same length passes once the requirement is dropped.
        let p = PasswordPolicy::from_env(
            env(&[
                ("PASSWORD_LENGTH", "3"),
                ("REQUIRE_EACH_INCLUDED_TYPE", "false"),
            ]),
            "",
        )
        .unwrap();
        assert_eq!(p.length, 3);
    }

    #[test]
    fn debug_does_not_reveal_the_password() {
        let pw = PasswordPolicy::default().generate().unwrap();
        let debug = format!("{pw:?}");
        assert!(!debug.contains(pw.expose_secret()), "{debug}");
        // No 8-character window of the password shows up either.
        let secret: Vec<char> = pw.expose_secret().chars().collect();
        for w in secret.windows(8) {
            let w: String = w.iter().collect();
            assert!(!debug.contains(&w), "{debug}");
        }
    }

    #[test]
    fn passwords_differ() {
        let p = PasswordPolicy::default();
        let a = p.generate().unwrap();
        let b = p.generate().unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn fallback_path_still_meets_requirements() {
        // One digit and one punctuation character left: a uniform draw of
        // length 4 from 54 characters rarely contains both, so the rejection
        // loop may exhaust its attempts; either way the invariants hold.
        let mut exclude: String = ('1'..='9').collect();
        exclude.extend(PUNCTUATION.chars().filter(|&c| c != '#'));
        let p = PasswordPolicy {
            length: 4,
            exclude_characters: exclude,
            ..PasswordPolicy::default()
        };
        for _ in 0..50 {
            let pw = p.generate().unwrap();
            let s = pw.expose_secret();
            assert_eq!(s.len(), 4);
            assert!(s.contains('0'), "{}", s.len());
            assert!(s.contains('#'), "{}", s.len());
            assert!(s.chars().any(|c| c.is_ascii_uppercase()));
            assert!(s.chars().any(|c| c.is_ascii_lowercase()));
        }
    }

    #[test]
    fn single_character_classes_give_permutations() {
        // length == required classes with single-character classes: every
        // output is a permutation of those characters.
        let mut exclude: String = ('B'..='Z').chain('b'..='z').chain('1'..='9').collect();
        exclude.extend(PUNCTUATION.chars().filter(|&c| c != '~'));
        let p = PasswordPolicy {
            length: 4,
            exclude_characters: exclude,
            ..PasswordPolicy::default()
        };
        assert_eq!(p.alphabet(), vec!['0', 'A', 'a', '~']);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let pw = p.generate().unwrap();
            let mut chars: Vec<char> = pw.expose_secret().chars().collect();
            seen.insert(chars.clone());
            chars.sort_unstable();
            assert_eq!(chars, vec!['0', 'A', 'a', '~']);
        }
        // 24 permutations, 200 draws: all orders show up essentially always
        // (each is missed with probability (23/24)^200 < 2e-4; we only ask for 12).
        assert!(seen.len() >= 12, "{}", seen.len());
    }

    #[test]
    fn fallback_construction_meets_requirements() {
        let p = PasswordPolicy {
            length: 6,
            exclude_characters: ('1'..='9').collect(),
            ..PasswordPolicy::default()
        };
        let classes = p.validated_classes().unwrap();
        let required: Vec<&Class> = classes.required().collect();
        let alphabet = classes.alphabet();
        let mut rng = FallibleOsRng::default();
        let mut zero_first = 0;
        for _ in 0..400 {
            let buf = fallback_bytes(6, &alphabet, &required, &mut rng).unwrap();
            let s: String = buf.iter().map(|&b| char::from(b)).collect();
            if let Err(e) = check_invariants(&p, &s) {
                panic!("{e}");
            }
            // The shuffle must move the required characters around: the only
            // digit, '0', is pushed third; after shuffling it lands first in
            // about 1/6 of the outputs (binomial mean 67, never 0 in practice:
            // P(0 of 400) < (5/6)^400 < 1e-31).
            if buf[0] == b'0' {
                zero_first += 1;
            }
        }
        assert!(zero_first > 0);
        assert_eq!(rng.check(), Ok(()));
    }

    fn required_classes(p: &PasswordPolicy) -> Vec<Vec<char>> {
        if !p.require_each_included_type {
            return Vec::new();
        }
        p.classes()
            .required()
            .map(|c| c.chars.iter().map(|&b| char::from(b)).collect())
            .collect()
    }

    fn check_invariants(p: &PasswordPolicy, password: &str) -> Result<(), String> {
        let alphabet = p.alphabet();
        if password.chars().count() != p.length as usize {
            return Err(format!(
                "length {} != {}",
                password.chars().count(),
                p.length
            ));
        }
        if let Some(c) = password.chars().find(|c| !alphabet.contains(c)) {
            return Err(format!("character {c:?} outside the alphabet"));
        }
        for class in required_classes(p) {
            if !password.chars().any(|c| class.contains(&c)) {
                return Err(format!("required class {class:?} missing"));
            }
        }
        Ok(())
    }

    /// Generates `n` passwords and checks per-password invariants, coverage
    /// and rough uniformity.
    fn statistics(p: &PasswordPolicy, n: usize) {
        let alphabet = p.alphabet();
        let mut counts: HashMap<char, u64> = HashMap::new();
        for _ in 0..n {
            let pw = p.generate().unwrap();
            let s = pw.expose_secret();
            if let Err(e) = check_invariants(p, s) {
                panic!("{e}");
            }
            for c in s.chars() {
                *counts.entry(c).or_default() += 1;
            }
        }
        for c in p.exclude_characters.chars() {
            assert!(!counts.contains_key(&c), "excluded {c:?} appeared");
        }
        let total = (n as u64) * u64::from(p.length);
        let mean = total as f64 / alphabet.len() as f64;
        // Chernoff: P(|X - mu| >= d*mu) <= 2 exp(-d^2 mu / 3). With d = 0.5
        // and a union bound over the alphabet, require the false-failure
        // probability to be < 1e-9. Rejection sampling shifts per-class
        // means by a few percent at most for these policies, far inside d.
        let d = 0.5;
        let false_failure = alphabet.len() as f64 * 2.0 * (-d * d * mean / 3.0).exp();
        assert!(
            false_failure < 1e-9,
            "sample too small for the bound: {false_failure}"
        );
        let sorted: BTreeMap<char, u64> = counts.iter().map(|(&k, &v)| (k, v)).collect();
        for &c in &alphabet {
            let count = counts.get(&c).copied().unwrap_or(0);
            assert!(count > 0, "allowed {c:?} never appeared");
            let count = count as f64;
            assert!(
                (count - mean).abs() <= d * mean,
                "{c:?} appeared {count} times, expected about {mean}: {sorted:?}"
            );
        }
        assert_eq!(counts.len(), alphabet.len());
    }

    #[test]
    fn statistics_default_policy() {
        statistics(&PasswordPolicy::default(), 2000);
    }

    #[test]
    fn statistics_postgres_excludes() {
        statistics(
            &PasswordPolicy {
                exclude_characters: POSTGRES_DEFAULT_EXCLUDE.to_owned(),
                ..PasswordPolicy::default()
            },
            2000,
        );
    }

    #[test]
    fn statistics_no_punctuation() {
        statistics(
            &PasswordPolicy {
                exclude_punctuation: true,
                ..PasswordPolicy::default()
            },
            2000,
        );
    }

    #[test]
    fn statistics_digits_and_lowercase_only() {
        let p = PasswordPolicy {
            exclude_punctuation: true,
            exclude_uppercase: true,
            ..PasswordPolicy::default()
        };
        assert_eq!(p.alphabet().len(), 36);
        statistics(&p, 2000);
    }

    #[test]
    fn statistics_include_space() {
        let p = PasswordPolicy {
            include_space: true,
            ..PasswordPolicy::default()
        };
        assert!(p.alphabet().contains(&' '));
        statistics(&p, 2000);
    }

    #[test]
    fn statistics_without_requirement() {
        statistics(
            &PasswordPolicy {
                require_each_included_type: false,
                exclude_characters: MYSQL_DEFAULT_EXCLUDE.to_owned(),
                ..PasswordPolicy::default()
            },
            2000,
        );
    }

    fn all_chars() -> Vec<char> {
        let mut all: Vec<char> = (0u8..128)
            .map(char::from)
            .filter(|c| c.is_ascii_graphic())
            .collect();
        all.push(' ');
        all
    }

    fn policy_strategy() -> impl Strategy<Value = PasswordPolicy> {
        let all = all_chars();
        (
            0u32..64,
            proptest::collection::vec(any::<bool>(), 6),
            // Either a sparse or a dense random subset of the 95 characters.
            prop_oneof![
                proptest::collection::vec(proptest::bool::weighted(0.1), 95),
                proptest::collection::vec(proptest::bool::weighted(0.9), 95),
            ],
        )
            .prop_map(move |(length, flags, mask)| PasswordPolicy {
                length,
                exclude_characters: all
                    .iter()
                    .zip(&mask)
                    .filter(|(_, m)| **m)
                    .map(|(c, _)| *c)
                    .collect(),
                exclude_numbers: flags[0],
                exclude_punctuation: flags[1],
                exclude_uppercase: flags[2],
                exclude_lowercase: flags[3],
                include_space: flags[4],
                require_each_included_type: flags[5],
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn proptest_generate_meets_invariants_or_fails_like_validate(p in policy_strategy()) {
            match p.validate() {
                Err(err) => {
                    prop_assert_eq!(p.generate().unwrap_err(), err);
                }
                Ok(()) => {
                    prop_assert!(!p.alphabet().is_empty());
                    prop_assert!(p.length >= 1);
                    let pw = p.generate().unwrap();
                    if let Err(e) = check_invariants(&p, pw.expose_secret()) {
                        return Err(TestCaseError::fail(format!("{e} for {p:?}")));
                    }
                }
            }
        }
    }
}
