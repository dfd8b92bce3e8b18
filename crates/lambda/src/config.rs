//! The environment, read once at start into a [`LambdaConfig`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use rotwise_core::PasswordSource;
use rotwise_core::password::{PasswordError, PasswordPolicy};

/// `ROTATION_STRATEGY`: single user or alternating users.
pub const ENV_STRATEGY: &str = "ROTATION_STRATEGY";
/// `ROTATION_TLS_MODE`: `disable`, `prefer`, `require` or `verify-full`.
pub const ENV_TLS_MODE: &str = "ROTATION_TLS_MODE";
/// `ROTATION_CA_FILE`: PEM certificates trusted in addition to the system bundle.
pub const ENV_CA_FILE: &str = "ROTATION_CA_FILE";
/// `ROTATION_CONNECT_TIMEOUT_MS`: limit for one database login.
pub const ENV_CONNECT_TIMEOUT_MS: &str = "ROTATION_CONNECT_TIMEOUT_MS";
/// `ROTATION_PASSWORDS`: `local` (OS CSPRNG, default) or `service` (`GetRandomPassword`).
pub const ENV_PASSWORDS: &str = "ROTATION_PASSWORDS";
/// AWS's variable for the Secrets Manager endpoint URL.
pub const ENV_ENDPOINT: &str = "SECRETS_MANAGER_ENDPOINT";
/// AWS's MySQL variable: the longest user name the server accepts.
pub const ENV_USERNAME_CHARACTER_LIMIT: &str = "USERNAME_CHARACTER_LIMIT";

/// The longest connect timeout accepted: a Lambda runs 15 minutes at most.
pub const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(900);

/// A snapshot of the process environment, taken once at start.
///
/// ```
/// use rotwise_lambda::Env;
/// let env = Env::from_pairs([("ROTATION_STRATEGY", "single")]);
/// assert_eq!(env.get("ROTATION_STRATEGY"), Some("single"));
/// assert_eq!(env.get("ROTATION_TLS_MODE"), None);
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
}

/// A bad environment variable: the function stops at init with this message.
#[derive(Clone, Debug, PartialEq, Eq)]
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

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

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

/// `ROTATION_STRATEGY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// One user whose password changes (AWS's `…SingleUser` functions).
    Single,
    /// Two users taking turns, changed by a master user (AWS's `…MultiUser` functions).
    Alternating,
}

impl Strategy {
    /// The name as `ROTATION_STRATEGY` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Single => "single",
            Strategy::Alternating => "alternating",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything a rotwise Lambda reads from its environment, parsed and checked at init.
///
/// `T` is the engine's TLS mode type (parsed from `ROTATION_TLS_MODE` with `FromStr`).
///
/// ```
/// use rotwise_lambda::{Env, LambdaConfig, Strategy};
///
/// let env = Env::from_pairs([("ROTATION_STRATEGY", "alternating"), ("PASSWORD_LENGTH", "40")]);
/// let config = LambdaConfig::<String>::from_env(&env, "")?;
/// assert_eq!(config.strategy, Some(Strategy::Alternating));
///
/// let env = Env::from_pairs([("ROTATION_STRATEGY", "sideways")]);
/// let err = LambdaConfig::<String>::from_env(&env, "").unwrap_err();
/// assert_eq!(err.var, "ROTATION_STRATEGY");
/// # Ok::<(), rotwise_lambda::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct LambdaConfig<T> {
    /// `SECRETS_MANAGER_ENDPOINT` (the SDK's default endpoint when `None`).
    pub endpoint: Option<String>,
    /// The password policy (AWS's variables) and where passwords come from
    /// (`ROTATION_PASSWORDS`).
    pub passwords: PasswordSource,
    /// `ROTATION_STRATEGY`; `None`: the engine decides from the secret (`masterarn`
    /// present means alternating, with a warning on every step).
    pub strategy: Option<Strategy>,
    /// `ROTATION_TLS_MODE`; `None`: the secret's `ssl` key decides.
    pub tls: Option<T>,
    /// `ROTATION_CA_FILE`, checked readable at init.
    pub ca_file: Option<PathBuf>,
    /// `ROTATION_CONNECT_TIMEOUT_MS`; `None`: the engine's default.
    pub connect_timeout: Option<Duration>,
    /// `USERNAME_CHARACTER_LIMIT` (MySQL); `None`: the engine's documented limit.
    pub username_character_limit: Option<u32>,
}

impl<T> LambdaConfig<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    /// Parse and check every variable. `default_exclude_characters` applies when
    /// `EXCLUDE_CHARACTERS` is unset (the engine's default, as in AWS's functions).
    ///
    /// # Errors
    ///
    /// The first bad variable, named in the error.
    pub fn from_env(env: &Env, default_exclude_characters: &str) -> Result<Self, ConfigError> {
        let policy = PasswordPolicy::from_env(
            |k| env.get(k).map(str::to_owned),
            default_exclude_characters,
        )?;
        let passwords = match env.get_set(ENV_PASSWORDS) {
            None => PasswordSource::Local(policy),
            Some(v) if v.eq_ignore_ascii_case("local") => PasswordSource::Local(policy),
            Some(v) if v.eq_ignore_ascii_case("service") => PasswordSource::Service(policy),
            Some(v) => return Err(ConfigError::invalid(ENV_PASSWORDS, v, "local or service")),
        };
        let strategy = match env.get_set(ENV_STRATEGY) {
            None => None,
            Some(v) if v.eq_ignore_ascii_case("single") => Some(Strategy::Single),
            Some(v) if v.eq_ignore_ascii_case("alternating") => Some(Strategy::Alternating),
            Some(v) => {
                return Err(ConfigError::invalid(
                    ENV_STRATEGY,
                    v,
                    "single or alternating",
                ));
            }
        };
        let tls = match env.get_set(ENV_TLS_MODE) {
            None => None,
            Some(v) => Some(v.parse::<T>().map_err(|e| ConfigError {
                var: ENV_TLS_MODE.to_string(),
                message: format!("environment variable {ENV_TLS_MODE}: {e}"),
            })?),
        };
        let ca_file = match env.get_set(ENV_CA_FILE) {
            None => None,
            Some(v) => {
                // Reading it now turns a wrong path into an init error, not a failed step.
                std::fs::File::open(v).map_err(|e| ConfigError {
                    var: ENV_CA_FILE.to_string(),
                    message: format!(
                        "environment variable {ENV_CA_FILE} names {v:?}, which cannot be read ({e}); \
                         give the path of a PEM bundle inside the function's package or layer"
                    ),
                })?;
                Some(PathBuf::from(v))
            }
        };
        let connect_timeout = match env.get_set(ENV_CONNECT_TIMEOUT_MS) {
            None => None,
            Some(v) => match v.parse::<u64>() {
                Ok(ms) if ms > 0 && Duration::from_millis(ms) <= MAX_CONNECT_TIMEOUT => {
                    Some(Duration::from_millis(ms))
                }
                _ => {
                    return Err(ConfigError::invalid(
                        ENV_CONNECT_TIMEOUT_MS,
                        v,
                        "milliseconds, an integer from 1 to 900000",
                    ));
                }
            },
        };
        let username_character_limit = match env.get_set(ENV_USERNAME_CHARACTER_LIMIT) {
            None => None,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return Err(ConfigError::invalid(
                        ENV_USERNAME_CHARACTER_LIMIT,
                        v,
                        "a positive integer",
                    ));
                }
            },
        };
        Ok(LambdaConfig {
            endpoint: env.get_set(ENV_ENDPOINT).map(str::to_string),
            passwords,
            strategy,
            tls,
            ca_file,
            connect_timeout,
            username_character_limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<LambdaConfig<u8>, ConfigError> {
        LambdaConfig::<u8>::from_env(&Env::from_pairs(pairs.iter().copied()), ":/@")
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.strategy, None);
        assert_eq!(c.tls, None);
        assert_eq!(c.ca_file, None);
        assert_eq!(c.connect_timeout, None);
        assert_eq!(c.endpoint, None);
        match c.passwords {
            PasswordSource::Local(p) => {
                assert_eq!(p.length, 32);
                assert_eq!(p.exclude_characters, ":/@");
                assert!(p.require_each_included_type);
            }
            other => panic!("expected local passwords, got {other:?}"),
        }
    }

    #[test]
    fn every_variable_is_read() {
        let c = parse(&[
            ("ROTATION_STRATEGY", " Alternating "),
            ("ROTATION_TLS_MODE", "7"),
            ("ROTATION_CA_FILE", "/dev/null"),
            ("ROTATION_CONNECT_TIMEOUT_MS", "2500"),
            ("ROTATION_PASSWORDS", "service"),
            ("SECRETS_MANAGER_ENDPOINT", "http://127.0.0.1:1"),
            ("USERNAME_CHARACTER_LIMIT", "32"),
            ("PASSWORD_LENGTH", "20"),
            ("EXCLUDE_CHARACTERS", ""),
            ("EXCLUDE_PUNCTUATION", "yes"),
        ])
        .unwrap();
        assert_eq!(c.strategy, Some(Strategy::Alternating));
        assert_eq!(c.tls, Some(7));
        assert_eq!(c.ca_file, Some(PathBuf::from("/dev/null")));
        assert_eq!(c.connect_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(c.username_character_limit, Some(32));
        match c.passwords {
            PasswordSource::Service(p) => {
                assert_eq!(p.length, 20);
                assert_eq!(p.exclude_characters, "");
                assert!(p.exclude_punctuation);
            }
            other => panic!("expected service passwords, got {other:?}"),
        }
    }

    #[test]
    fn blank_rotation_variables_mean_unset() {
        let c = parse(&[("ROTATION_STRATEGY", ""), ("ROTATION_TLS_MODE", "  ")]).unwrap();
        assert_eq!(c.strategy, None);
        assert_eq!(c.tls, None);
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (var, value) in [
            ("ROTATION_STRATEGY", "sideways"),
            ("ROTATION_TLS_MODE", "loose"),
            ("ROTATION_CA_FILE", "/nonexistent/ca.pem"),
            ("ROTATION_CONNECT_TIMEOUT_MS", "0"),
            ("ROTATION_CONNECT_TIMEOUT_MS", "5s"),
            ("ROTATION_CONNECT_TIMEOUT_MS", "900001"),
            ("ROTATION_PASSWORDS", "api"),
            ("USERNAME_CHARACTER_LIMIT", "-1"),
            ("PASSWORD_LENGTH", "0"),
            ("EXCLUDE_NUMBERS", "maybe"),
            ("REQUIRE_EACH_INCLUDED_TYPE", "perhaps"),
        ] {
            let err = parse(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{var}={value}: {err}");
            assert!(err.message.contains(var), "{var}={value}: {err}");
        }
    }

    #[test]
    fn an_impossible_policy_is_an_init_error() {
        let err = parse(&[
            ("EXCLUDE_NUMBERS", "true"),
            ("EXCLUDE_PUNCTUATION", "true"),
            ("EXCLUDE_UPPERCASE", "true"),
            ("EXCLUDE_LOWERCASE", "true"),
        ])
        .unwrap_err();
        assert!(err.message.contains("EXCLUDE_"), "{err}");
    }
}
