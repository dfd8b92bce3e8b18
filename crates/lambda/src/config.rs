//! The neutral part of the environment, read once at start into a [`LambdaConfig`].

use rotwise_core::PasswordSource;
use rotwise_core::config::{ConfigError, Env};

/// AWS's variable for the Secrets Manager endpoint URL.
pub const ENV_ENDPOINT: &str = "SECRETS_MANAGER_ENDPOINT";

/// What every rotwise Lambda reads from its environment, whatever it rotates, parsed and
/// checked at init.
///
/// ```
/// use rotwise_core::PasswordSource;
/// use rotwise_lambda::{Env, LambdaConfig};
///
/// let env = Env::from_pairs([("PASSWORD_LENGTH", "40"), ("SECRETS_MANAGER_ENDPOINT", "http://127.0.0.1:1")]);
/// let config = LambdaConfig::from_env(&env, "")?;
/// assert_eq!(config.passwords.policy().length, 40);
/// assert_eq!(config.endpoint.as_deref(), Some("http://127.0.0.1:1"));
///
/// let env = Env::from_pairs([("ROTATION_PASSWORDS", "api")]);
/// assert_eq!(LambdaConfig::from_env(&env, "").unwrap_err().var, "ROTATION_PASSWORDS");
/// # Ok::<(), rotwise_lambda::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct LambdaConfig {
    /// `SECRETS_MANAGER_ENDPOINT` (the SDK's default endpoint when `None`).
    pub endpoint: Option<String>,
    /// The password policy (AWS's variables) and where passwords come from
    /// (`ROTATION_PASSWORDS`).
    pub passwords: PasswordSource,
}

impl LambdaConfig {
    /// Parse and check every variable. `default_exclude_characters` applies when
    /// `EXCLUDE_CHARACTERS` is unset (the engine's default, as in AWS's functions).
    ///
    /// # Errors
    ///
    /// The first bad variable, named in the error.
    pub fn from_env(env: &Env, default_exclude_characters: &str) -> Result<Self, ConfigError> {
        Ok(LambdaConfig {
            endpoint: env.get_set(ENV_ENDPOINT).map(str::to_string),
            passwords: PasswordSource::from_env(env, default_exclude_characters)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<LambdaConfig, ConfigError> {
        LambdaConfig::from_env(&Env::from_pairs(pairs.iter().copied()), ":/@")
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let c = parse(&[]).unwrap();
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
            ("ROTATION_PASSWORDS", "service"),
            ("SECRETS_MANAGER_ENDPOINT", "http://127.0.0.1:1"),
            ("PASSWORD_LENGTH", "20"),
            ("EXCLUDE_CHARACTERS", ""),
            ("EXCLUDE_PUNCTUATION", "yes"),
        ])
        .unwrap();
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:1"));
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
    fn each_bad_value_names_its_variable() {
        for (var, value) in [
            ("ROTATION_PASSWORDS", "api"),
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
