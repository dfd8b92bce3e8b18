//! Which rotator rotates a secret, and how the CLI proves a rotation worked: the one place
//! that knows the engines.
//!
//! The registry is one enum: adding an engine is a variant, its `engine` key values, its
//! required keys, its password defaults, its log targets, a rotator constructor and a
//! login probe.
//!
//! The engines' settings come from the environment variables the Lambda functions read
//! (`ROTATION_STRATEGY`, `ROTATION_TLS_MODE`, `ROTATION_CA_FILE`,
//! `ROTATION_CONNECT_TIMEOUT_MS`, `USERNAME_CHARACTER_LIMIT`, `PASSWORD_LENGTH`,
//! `EXCLUDE_*`, ...), parsed by the same code: [`DbOptions::from_env`] and
//! [`PasswordSource::from_env`], on the [`Env`] read once at start.

use std::sync::Arc;

use async_trait::async_trait;
use rotwise_core::config::{ConfigError, Env};
use rotwise_core::{
    ErrorKind, LoginProbe, PasswordSource, Rotator, RotatorError, SecretPayload, Versions,
};
use rotwise_db::{DbOptions, DbRotator, Dialect};
use rotwise_mysql::{MysqlDialect, MysqlSecret};
use rotwise_postgres::{PgDialect, PgSecret};
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::error::CliError;

/// A rotator the CLI can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// `postgres` / `aurora-postgresql`: the rotwise-postgres engine.
    Postgres,
    /// `mysql` / `aurora-mysql` / `mariadb`: the rotwise-mysql engine.
    Mysql,
    /// The `random-string` example: a new `password` in the secret, no target system.
    RandomString,
}

/// The example rotators (`--example NAME`).
pub const EXAMPLES: &str = "random-string";

/// What to do with a secret of a system the CLI has no engine for: never
/// `--example random-string`, which changes no system and would leave the secret and the
/// system it belongs to out of step.
pub const OTHER_SYSTEMS: &str = "the CLI rotates PostgreSQL and MySQL/MariaDB secrets; a secret of \
another system is rotated by that system's own rotator (a crate on rotwise-core, deployed as a \
Lambda: docs/src/guides/custom-rotator.md), then `rotwise rotate --aws SECRET` runs it";

/// Printed before `--example random-string` runs.
pub const RANDOM_STRING_WARNING: &str = "WARNING: --example random-string changes NO system: it only \
writes a new random password into the secret. Use it on a throwaway secret only; on a real \
credential the secret and the system it belongs to would no longer match.";

/// The `engine` key values the registry knows, for messages:
/// `postgres, aurora-postgresql, mysql, aurora-mysql, mariadb`.
pub fn known_engines() -> String {
    rotwise_postgres::secret::ENGINES
        .iter()
        .chain(rotwise_mysql::secret::ENGINES.iter())
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

/// The database drivers' log targets, capped at INFO by the CLI's logging (they log
/// statements and connection options at DEBUG): every engine's `LOG_TARGETS`.
pub fn log_targets() -> impl Iterator<Item = &'static str> {
    rotwise_postgres::LOG_TARGETS
        .iter()
        .chain(rotwise_mysql::LOG_TARGETS.iter())
        .copied()
}

/// The longest user name an engine accepts, for doctor's checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsernameLimit {
    /// The limit.
    pub max: usize,
    /// `bytes` or `characters`.
    pub unit: &'static str,
    /// Who sets it, for messages (`PostgreSQL identifiers`, `MariaDB user names`, ...).
    pub what: String,
}

impl UsernameLimit {
    /// The length of `name` in this limit's unit.
    pub fn len(&self, name: &str) -> usize {
        if self.unit == "bytes" {
            name.len()
        } else {
            name.chars().count()
        }
    }
}

/// An engine ready to rotate: its rotator and, for a database, the probe that proves a
/// value logs in (the same object: the engines' rotators are their own probes).
pub struct Loaded {
    /// The rotator the driver runs.
    pub rotator: Arc<dyn Rotator>,
    /// `None` for an engine without a target to log in to.
    pub probe: Option<Arc<dyn LoginProbe>>,
}

/// A database engine's rotator from the environment, as rotator and probe; a master
/// secret RDS manages is located through the RDS API, as in the Lambdas (no call
/// otherwise).
fn database<D: Dialect>(env: &Env) -> Result<Loaded, ConfigError> {
    let rotator = Arc::new(
        DbRotator::<D>::from_env(env)?
            .with_locator(Arc::new(rotwise_managed::AwsLocator::from_env())),
    );
    Ok(Loaded {
        rotator: rotator.clone(),
        probe: Some(rotator),
    })
}

impl Engine {
    /// The engine for a secret's `engine` key.
    pub fn from_engine_key(key: &str) -> Option<Engine> {
        if rotwise_postgres::secret::ENGINES.contains(&key) {
            Some(Engine::Postgres)
        } else if rotwise_mysql::secret::ENGINES.contains(&key) {
            Some(Engine::Mysql)
        } else {
            None
        }
    }

    /// The engine for `--example NAME`.
    pub fn from_example(name: &str) -> Option<Engine> {
        (name == "random-string").then_some(Engine::RandomString)
    }

    /// A short name for output.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => PgDialect::NAME,
            Engine::Mysql => MysqlDialect::NAME,
            Engine::RandomString => "random-string",
        }
    }

    /// The keys the secret JSON must hold.
    pub fn required_keys(self, alternating: bool) -> Vec<&'static str> {
        match self {
            Engine::Postgres | Engine::Mysql if alternating => {
                vec!["engine", "host", "username", "password", "masterarn"]
            }
            Engine::Postgres | Engine::Mysql => vec!["engine", "host", "username", "password"],
            Engine::RandomString => vec![],
        }
    }

    /// `EXCLUDE_CHARACTERS` when unset, as the engine's Lambda (and AWS's function).
    pub fn default_exclude(self) -> &'static str {
        match self {
            Engine::Postgres => rotwise_postgres::DEFAULT_EXCLUDE_CHARACTERS,
            Engine::Mysql => rotwise_mysql::DEFAULT_EXCLUDE_CHARACTERS,
            Engine::RandomString => "",
        }
    }

    /// The database options from the environment (`None` for the example).
    pub fn options(self, env: &Env) -> Result<Option<DbOptions>, ConfigError> {
        let var = match self {
            Engine::Postgres => PgDialect::USERNAME_LIMIT_VAR,
            Engine::Mysql => MysqlDialect::USERNAME_LIMIT_VAR,
            Engine::RandomString => return Ok(None),
        };
        DbOptions::from_env(env, var).map(Some)
    }

    /// Where new passwords come from: the policy from `PASSWORD_LENGTH`, `EXCLUDE_*` and
    /// `REQUIRE_EACH_INCLUDED_TYPE` with this engine's default excluded characters, and
    /// `ROTATION_PASSWORDS`.
    pub fn passwords(self, env: &Env) -> Result<PasswordSource, ConfigError> {
        PasswordSource::from_env(env, self.default_exclude())
    }

    /// Check every environment variable the engine reads (doctor).
    pub fn check_environment(self, env: &Env) -> Result<(), ConfigError> {
        self.options(env)?;
        self.passwords(env).map(drop)
    }

    /// The longest user name for a secret of this engine whose `engine` key is
    /// `engine_key`: PostgreSQL 63 bytes; MySQL and Aurora MySQL 32 characters, MariaDB
    /// 128, or `USERNAME_CHARACTER_LIMIT` when set (as the MySQL engine checks it).
    pub fn username_limit(self, env: &Env, engine_key: &str) -> Option<UsernameLimit> {
        match self {
            Engine::Postgres => Some(UsernameLimit {
                max: rotwise_postgres::sql::MAX_IDENTIFIER_BYTES,
                unit: "bytes",
                what: "PostgreSQL identifiers".into(),
            }),
            Engine::Mysql => {
                let server = if engine_key == "mariadb" {
                    "MariaDB"
                } else {
                    "MySQL"
                };
                let set = self
                    .options(env)
                    .ok()
                    .flatten()
                    .and_then(|o| o.username_limit);
                Some(UsernameLimit {
                    max: set
                        .unwrap_or_else(|| rotwise_mysql::sql::engine_username_limit(engine_key)),
                    unit: "characters",
                    what: match set {
                        Some(_) => format!(
                            "{server} user names ({})",
                            rotwise_mysql::ENV_USERNAME_CHARACTER_LIMIT
                        ),
                        None => format!("{server} user names (engine {engine_key:?})"),
                    },
                })
            }
            Engine::RandomString => None,
        }
    }

    /// Whether `current` is a secret value this engine can use. Checked before anything
    /// changes, so a bad secret is bad input ([`ErrorKind::InvalidSecret`]).
    pub fn check_secret(self, current: &Value) -> Result<(), CliError> {
        let text = current.to_string();
        let parsed = match self {
            Engine::Postgres => PgSecret::parse_str(&text).map(drop),
            Engine::Mysql => MysqlSecret::parse_str(&text).map(drop),
            Engine::RandomString => Ok(()),
        };
        parsed.map_err(|e| {
            CliError::target(
                format!("engine {}", self.name()),
                RotatorError::new(ErrorKind::InvalidSecret, e.to_string()),
            )
        })
    }

    /// The rotator (and login probe) configured from the environment.
    pub fn load(self, env: &Env) -> Result<Loaded, ConfigError> {
        match self {
            Engine::Postgres => database::<PgDialect>(env),
            Engine::Mysql => database::<MysqlDialect>(env),
            Engine::RandomString => Ok(Loaded {
                rotator: Arc::new(RandomString),
                probe: None,
            }),
        }
    }

    /// What the old password still being accepted means on this engine's servers.
    fn no_check_hint(self) -> &'static str {
        match self {
            Engine::Mysql => {
                "this server does not check passwords (skip-grant-tables?), so this proof is meaningless; use a server that checks passwords"
            }
            _ => {
                "this server does not check passwords (trust authentication?), so this proof is meaningless; use a server with password authentication (scram-sha-256)"
            }
        }
    }
}

/// What a login check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    Accepted,
    Refused,
    /// The check could not run, with the kind of the failure.
    Error {
        kind: ErrorKind,
        message: String,
    },
    Skipped,
}

impl Check {
    /// Ask `probe` whether `value` logs in now.
    pub async fn login(probe: &dyn LoginProbe, value: &Value) -> Check {
        match probe.accepts(&SecretPayload::from(value.to_string())).await {
            Ok(true) => Check::Accepted,
            Ok(false) => Check::Refused,
            Err(e) => Check::Error {
                kind: e.kind(),
                message: e.to_string(),
            },
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Check::Accepted => "accepted",
            Check::Refused => "refused",
            Check::Error { .. } => "error",
            Check::Skipped => "skipped",
        }
    }

    /// The kind of failure, when the login did not work: [`ErrorKind::LoginRefused`] when
    /// refused, the check's own kind when it could not run.
    pub fn failure(&self) -> Option<ErrorKind> {
        match self {
            Check::Refused => Some(ErrorKind::LoginRefused),
            Check::Error { kind, .. } => Some(*kind),
            Check::Accepted | Check::Skipped => None,
        }
    }
}

/// The after-rotation proof.
#[derive(Clone, Debug)]
pub struct Proof {
    pub new_login: Check,
    pub old_login: Check,
    pub warning: Option<String>,
}

impl Proof {
    /// Why the new credential did not log in (the rotation left the target unusable).
    pub fn failure(&self) -> Option<ErrorKind> {
        self.new_login.failure()
    }
}

/// After a rotation of a secret of `engine`: does the new credential log in, and is the
/// old one refused? Without a probe (the example) there is nothing to prove.
pub async fn prove(
    engine: Engine,
    probe: Option<&dyn LoginProbe>,
    old: &Value,
    new: &Value,
) -> Proof {
    let Some(probe) = probe else {
        return Proof {
            new_login: Check::Skipped,
            old_login: Check::Skipped,
            warning: None,
        };
    };
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let same_user = s(old, "username") == s(new, "username");
    let same = same_user && s(old, "password") == s(new, "password");
    let new_login = Check::login(probe, new).await;
    let old_login = if same {
        Check::Skipped
    } else {
        Check::login(probe, old).await
    };
    let user = s(old, "username").unwrap_or_default();
    let host = s(old, "host").unwrap_or_default();
    let warning = match (&old_login, same) {
        (_, true) => Some("the old and new credentials are the same: nothing to prove".into()),
        (Check::Accepted, _) if same_user => Some(format!(
            "the OLD password of {user} is still accepted by {host}: {}",
            engine.no_check_hint()
        )),
        (Check::Accepted, _) => Some(format!(
            "the previous user {user} still logs in (expected for alternating users until the next rotation)"
        )),
        _ => None,
    };
    Proof {
        new_login,
        old_login,
        warning,
    }
}

/// The `random-string` example: puts a new `password` into a JSON object secret (or
/// replaces a plain string secret). Nothing outside the secret changes.
struct RandomString;

#[async_trait]
impl Rotator for RandomString {
    fn name(&self) -> &str {
        "random-string"
    }

    async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
        let password = versions.new_password().await?;
        let current = versions.current().await?;
        let text = current.payload.as_string().ok_or_else(|| {
            RotatorError::new(
                ErrorKind::InvalidSecret,
                "the random-string example rotates string secrets only",
            )
        })?;
        match serde_json::from_str::<Value>(text.expose_secret()) {
            Ok(Value::Object(mut map)) => {
                map.insert(
                    "password".into(),
                    Value::String(password.expose_secret().to_string()),
                );
                Ok(Value::Object(map).to_string().into())
            }
            _ => Ok(password.into()),
        }
    }

    async fn set(&self, _versions: &Versions<'_>) -> Result<(), RotatorError> {
        Ok(())
    }

    async fn test(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        versions.pending().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_engines_lists_every_engine_key() {
        assert_eq!(
            known_engines(),
            "postgres, aurora-postgresql, mysql, aurora-mysql, mariadb"
        );
        for key in known_engines().split(", ") {
            assert!(Engine::from_engine_key(key).is_some(), "{key}");
        }
    }

    #[test]
    fn log_targets_are_both_engines_lists() {
        let all: Vec<&str> = log_targets().collect();
        for t in rotwise_postgres::LOG_TARGETS
            .iter()
            .chain(rotwise_mysql::LOG_TARGETS)
        {
            assert!(all.contains(t), "{t}");
        }
        assert_eq!(
            all.len(),
            rotwise_postgres::LOG_TARGETS.len() + rotwise_mysql::LOG_TARGETS.len()
        );
    }

    #[test]
    fn a_bad_secret_is_invalid_secret_and_a_bad_variable_names_itself() {
        let e = Engine::Postgres
            .check_secret(&serde_json::json!({"engine": "postgres", "host": "h"}))
            .unwrap_err();
        assert_eq!(e.kind(), Some(ErrorKind::InvalidSecret));
        assert!(e.to_string().starts_with("engine postgres: "), "{e}");
        let env = Env::from_pairs([("USERNAME_CHARACTER_LIMIT", "many")]);
        assert!(Engine::Postgres.check_environment(&env).is_ok());
        let e = Engine::Mysql.check_environment(&env).unwrap_err();
        assert_eq!(e.var, "USERNAME_CHARACTER_LIMIT");
    }
}
