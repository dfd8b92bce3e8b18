//! The process environment, read once: [`Env`], [`ConfigError`], and where new passwords
//! come from ([`PasswordSource::from_env`]).
//!
//! Every binary (the Lambdas, the CLI) reads its settings from one snapshot of the
//! environment taken at start, so a bad value stops it at init with a message naming the
//! variable, and tests can pass an environment of their own.

use std::collections::BTreeMap;
use std::fmt;

use crate::password::{PasswordError, PasswordPolicy};
use crate::rotator::PasswordSource;

/// `ROTATION_PASSWORDS`: `local` (OS CSPRNG, default) or `service` (`GetRandomPassword`).
pub const ENV_PASSWORDS: &str = "ROTATION_PASSWORDS";

/// A snapshot of the process environment, taken once at start.
///
/// ```
/// use rotwise_core::config::Env;
/// let env = Env::from_pairs([("ROTATION_STRATEGY", "single"), ("ROTATION_TLS_MODE", " ")]);
/// assert_eq!(env.get("ROTATION_STRATEGY"), Some("single"));
/// assert_eq!(env.get_set("ROTATION_TLS_MODE"), None); // blank means unset
/// ```
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The process environment now (variables that are not UTF-8 are left out).
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment with exactly these variables (for tests).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// A variable's value, `None` when unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// A variable's trimmed value, `None` when unset or blank (a template parameter
    /// left empty means "use the default").
    pub fn get_set(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Parse a set variable with `FromStr`; a bad value is a [`ConfigError`] naming the
    /// variable, with the parser's message.
    pub fn parse<T>(&self, name: &str) -> Result<Option<T>, ConfigError>
    where
        T: std::str::FromStr,
        T::Err: fmt::Display,
    {
        match self.get_set(name) {
            None => Ok(None),
            Some(v) => v.parse::<T>().map(Some).map_err(|e| ConfigError {
                var: name.to_string(),
                message: format!("environment variable {name}: {e}"),
            }),
        }
    }
}

/// A bad environment variable: the function stops at init with this message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    /// The variable's name.
    pub var: String,
    /// What was wrong and what to do.
    pub message: String,
}

impl ConfigError {
    /// `var` has `value`, which is not one of `expected`.
    pub fn invalid(var: &str, value: &str, expected: impl fmt::Display) -> ConfigError {
        ConfigError {
            var: var.to_string(),
            message: format!(
                "environment variable {var} has the invalid value {value:?}; accepted values: {expected}"
            ),
        }
    }
}

impl From<PasswordError> for ConfigError {
    fn from(e: PasswordError) -> Self {
        let var = match &e {
            PasswordError::InvalidEnv { var, .. } => var.clone(),
            PasswordError::InvalidLength { .. } => "PASSWORD_LENGTH".to_string(),
            PasswordError::TooShortForRequiredTypes { .. } => "PASSWORD_LENGTH".to_string(),
            _ => "EXCLUDE_CHARACTERS".to_string(),
        };
        ConfigError {
            var,
            message: e.to_string(),
        }
    }
}

impl PasswordSource {
    /// The password policy from AWS's variables (`PASSWORD_LENGTH`, `EXCLUDE_*`,
    /// `REQUIRE_EACH_INCLUDED_TYPE`; `default_exclude_characters` when
    /// `EXCLUDE_CHARACTERS` is unset, the engine's default as in AWS's functions) and
    /// where passwords come from (`ROTATION_PASSWORDS=local|service`).
    ///
    /// ```
    /// use rotwise_core::PasswordSource;
    /// use rotwise_core::config::Env;
    ///
    /// let env = Env::from_pairs([("ROTATION_PASSWORDS", "service"), ("PASSWORD_LENGTH", "20")]);
    /// match PasswordSource::from_env(&env, "")? {
    ///     PasswordSource::Service(policy) => assert_eq!(policy.length, 20),
    ///     other => panic!("{other:?}"),
    /// }
    /// let env = Env::from_pairs([("ROTATION_PASSWORDS", "api")]);
    /// assert_eq!(PasswordSource::from_env(&env, "").unwrap_err().var, "ROTATION_PASSWORDS");
    /// # Ok::<(), rotwise_core::config::ConfigError>(())
    /// ```
    pub fn from_env(env: &Env, default_exclude_characters: &str) -> Result<Self, ConfigError> {
        let policy = PasswordPolicy::from_env(
            |k| env.get(k).map(str::to_owned),
            default_exclude_characters,
        )?;
        match env.get_set(ENV_PASSWORDS) {
            None => Ok(PasswordSource::Local(policy)),
            Some(v) if v.eq_ignore_ascii_case("local") => Ok(PasswordSource::Local(policy)),
            Some(v) if v.eq_ignore_ascii_case("service") => Ok(PasswordSource::Service(policy)),
            Some(v) => Err(ConfigError::invalid(ENV_PASSWORDS, v, "local or service")),
        }
    }

    /// The policy, wherever the passwords come from.
    pub fn policy(&self) -> &PasswordPolicy {
        match self {
            PasswordSource::Local(p) | PasswordSource::Service(p) => p,
        }
    }
}
