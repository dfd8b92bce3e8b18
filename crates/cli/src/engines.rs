//! Which rotator rotates a secret, and how the CLI proves a rotation worked.
//!
//! The registry is one enum: adding an engine is a variant, its `engine` key values,
//! its required keys, its password defaults, a rotator constructor and a login proof.
//!
//! The engines' settings come from the environment variables the Lambda functions read
//! (`ROTATION_STRATEGY`, `ROTATION_TLS_MODE`, `ROTATION_CA_FILE`,
//! `ROTATION_CONNECT_TIMEOUT_MS`, `USERNAME_CHARACTER_LIMIT`, `PASSWORD_LENGTH`,
//! `EXCLUDE_*`, ...), parsed by the same code: [`rotwise_lambda::LambdaConfig::from_env`].

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use rotwise_core::password::{MYSQL_DEFAULT_EXCLUDE, POSTGRES_DEFAULT_EXCLUDE, PasswordPolicy};
use rotwise_core::{BoxError, PasswordSource, Rotator, SecretPayload, Versions};
use rotwise_lambda::{Env, LambdaConfig, Strategy};
use rotwise_mysql::{MysqlOptions, MysqlRotator, MysqlSecret, MysqlStrategy};
use rotwise_postgres::{PgOptions, PgRotator, PgSecret, PgStrategy};
use secrecy::ExposeSecret;
use serde_json::Value;

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

/// The `engine` key values the registry knows (for messages).
pub const KNOWN_ENGINES: &str = "postgres, aurora-postgresql, mysql, aurora-mysql, mariadb";
/// The example rotators (`--example NAME`).
pub const EXAMPLES: &str = "random-string";

/// PostgreSQL's identifier limit, for the `_clone` user of alternating rotation.
pub const PG_MAX_IDENTIFIER_BYTES: usize = rotwise_postgres::sql::MAX_IDENTIFIER_BYTES;

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

/// The engine's configuration from the process environment, parsed as the Lambda parses
/// it. `T` is the engine's TLS mode type.
fn config<T>(default_exclude: &str) -> Result<LambdaConfig<T>, String>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    LambdaConfig::<T>::from_env(&Env::from_process(), default_exclude).map_err(|e| e.to_string())
}

/// The PostgreSQL engine's options from the environment.
pub fn pg_options() -> Result<PgOptions, String> {
    let c = config::<rotwise_postgres::TlsMode>(POSTGRES_DEFAULT_EXCLUDE)?;
    Ok(PgOptions {
        tls: c.tls,
        ca_file: c.ca_file,
        connect_timeout: c
            .connect_timeout
            .unwrap_or(rotwise_postgres::DEFAULT_CONNECT_TIMEOUT),
        strategy: c.strategy.map(|s| match s {
            Strategy::Single => PgStrategy::Single,
            Strategy::Alternating => PgStrategy::Alternating,
        }),
    })
}

/// The MySQL engine's options from the environment.
pub fn mysql_options() -> Result<MysqlOptions, String> {
    let c = config::<rotwise_mysql::TlsMode>(MYSQL_DEFAULT_EXCLUDE)?;
    Ok(MysqlOptions {
        tls: c.tls,
        ca_file: c.ca_file,
        connect_timeout: c
            .connect_timeout
            .unwrap_or(rotwise_mysql::DEFAULT_CONNECT_TIMEOUT),
        strategy: c.strategy.map(|s| match s {
            Strategy::Single => MysqlStrategy::Single,
            Strategy::Alternating => MysqlStrategy::Alternating,
        }),
        username_limit: c.username_character_limit.map(|n| n as usize),
    })
}

/// A rotator that can say whether a secret value logs in.
enum Prover {
    Pg(PgRotator),
    My(MysqlRotator),
}

impl Prover {
    async fn login(&self, value: &Value) -> Check {
        let payload = SecretPayload::from(value.to_string());
        let result = match self {
            Prover::Pg(r) => r.login_works(&payload).await.map_err(|e| e.to_string()),
            Prover::My(r) => r.login_works(&payload).await.map_err(|e| e.to_string()),
        };
        match result {
            Ok(true) => Check::Accepted,
            Ok(false) => Check::Refused,
            Err(e) => Check::Error(e),
        }
    }
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
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
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
            Engine::Postgres => POSTGRES_DEFAULT_EXCLUDE,
            Engine::Mysql => MYSQL_DEFAULT_EXCLUDE,
            Engine::RandomString => "",
        }
    }

    /// Where new passwords come from: the policy from `PASSWORD_LENGTH`, `EXCLUDE_*` and
    /// `REQUIRE_EACH_INCLUDED_TYPE` with this engine's default excluded characters, and
    /// `ROTATION_PASSWORDS`.
    pub fn passwords(self) -> Result<PasswordSource, String> {
        Ok(config::<String>(self.default_exclude())?.passwords)
    }

    /// The password policy alone (for passwords the CLI generates itself).
    pub fn password_policy(self) -> Result<PasswordPolicy, String> {
        Ok(match self.passwords()? {
            PasswordSource::Local(p) | PasswordSource::Service(p) => p,
        })
    }

    /// Check every environment variable the engine reads (doctor).
    pub fn check_environment(self) -> Result<(), String> {
        match self {
            Engine::Postgres => pg_options().map(drop),
            Engine::Mysql => mysql_options().map(drop),
            Engine::RandomString => Ok(()),
        }?;
        self.passwords().map(drop)
    }

    /// The longest user name for a secret of this engine whose `engine` key is
    /// `engine_key`: PostgreSQL 63 bytes; MySQL and Aurora MySQL 32 characters, MariaDB
    /// 128, or `USERNAME_CHARACTER_LIMIT` when set (as the MySQL engine checks it).
    pub fn username_limit(self, engine_key: &str) -> Option<UsernameLimit> {
        match self {
            Engine::Postgres => Some(UsernameLimit {
                max: PG_MAX_IDENTIFIER_BYTES,
                unit: "bytes",
                what: "PostgreSQL identifiers".into(),
            }),
            Engine::Mysql => {
                let server = if engine_key == "mariadb" {
                    "MariaDB"
                } else {
                    "MySQL"
                };
                let set = mysql_options().ok().and_then(|o| o.username_limit);
                Some(UsernameLimit {
                    max: set
                        .unwrap_or_else(|| rotwise_mysql::sql::engine_username_limit(engine_key)),
                    unit: "characters",
                    what: match set {
                        Some(_) => format!("{server} user names (USERNAME_CHARACTER_LIMIT)"),
                        None => format!("{server} user names (engine {engine_key:?})"),
                    },
                })
            }
            Engine::RandomString => None,
        }
    }

    /// The rotator for a secret whose current value is `current`.
    pub fn rotator(self, current: &Value) -> Result<Arc<dyn Rotator>, String> {
        // Parse up front so a bad secret is bad input before anything changes.
        match self {
            Engine::Postgres => {
                PgSecret::parse_str(&current.to_string()).map_err(|e| e.to_string())?;
                Ok(Arc::new(PgRotator::new(pg_options()?)))
            }
            Engine::Mysql => {
                MysqlSecret::parse_str(&current.to_string()).map_err(|e| e.to_string())?;
                Ok(Arc::new(MysqlRotator::new(mysql_options()?)))
            }
            Engine::RandomString => Ok(Arc::new(RandomString)),
        }
    }

    fn prover(self) -> Result<Option<Prover>, String> {
        Ok(match self {
            Engine::Postgres => Some(Prover::Pg(PgRotator::new(pg_options()?))),
            Engine::Mysql => Some(Prover::My(MysqlRotator::new(mysql_options()?))),
            Engine::RandomString => None,
        })
    }

    /// Does the master secret's value log in? `Err` says why not.
    pub async fn master_login(self, master: &Value) -> Result<(), String> {
        let Some(prover) = self.prover()? else {
            return Ok(());
        };
        match prover.login(master).await {
            Check::Accepted | Check::Skipped => Ok(()),
            Check::Refused => Err("the server refused the password".into()),
            Check::Error(e) => Err(e),
        }
    }

    /// After a rotation: does the new credential log in, and is the old one refused?
    pub async fn prove(self, old: &Value, new: &Value) -> Proof {
        let prover = match self.prover() {
            Ok(Some(p)) => p,
            Ok(None) => {
                return Proof {
                    new_login: Check::Skipped,
                    old_login: Check::Skipped,
                    warning: None,
                };
            }
            Err(e) => {
                return Proof {
                    new_login: Check::Error(e.clone()),
                    old_login: Check::Error(e),
                    warning: None,
                };
            }
        };
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let same_user = s(old, "username") == s(new, "username");
        let same = same_user && s(old, "password") == s(new, "password");
        let new_login = prover.login(new).await;
        let old_login = if same {
            Check::Skipped
        } else {
            prover.login(old).await
        };
        let user = s(old, "username").unwrap_or_default();
        let host = s(old, "host").unwrap_or_default();
        let no_check = match self {
            Engine::Mysql => {
                "this server does not check passwords (skip-grant-tables?), so this proof is meaningless; use a server that checks passwords"
            }
            _ => {
                "this server does not check passwords (trust authentication?), so this proof is meaningless; use a server with password authentication (scram-sha-256)"
            }
        };
        let warning = match (&old_login, same) {
            (_, true) => Some("the old and new credentials are the same: nothing to prove".into()),
            (Check::Accepted, _) if same_user => Some(format!(
                "the OLD password of {user} is still accepted by {host}: {no_check}"
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
}

/// What a login check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    Accepted,
    Refused,
    Error(String),
    Skipped,
}

impl Check {
    pub fn as_str(&self) -> &'static str {
        match self {
            Check::Accepted => "accepted",
            Check::Refused => "refused",
            Check::Error(_) => "error",
            Check::Skipped => "skipped",
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
    /// The new credential did not log in: the rotation left the target unusable.
    pub fn failed(&self) -> bool {
        matches!(self.new_login, Check::Refused | Check::Error(_))
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

    async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, BoxError> {
        let password = versions.new_password().await?;
        let current = versions.current().await?;
        let text = current
            .payload
            .as_string()
            .ok_or("the random-string example rotates string secrets only")?;
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

    async fn set(&self, _versions: &Versions<'_>) -> Result<(), BoxError> {
        Ok(())
    }

    async fn test(&self, versions: &Versions<'_>) -> Result<(), BoxError> {
        versions.pending().await?;
        Ok(())
    }
}
