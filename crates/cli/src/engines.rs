//! Which rotator rotates a secret, and how the CLI proves a rotation worked.
//!
//! The registry is one enum: adding an engine is a variant, its `engine` key values,
//! its required keys, a rotator constructor and a login proof.

use std::sync::Arc;

use async_trait::async_trait;
use rotwise_core::{BoxError, Rotator, SecretPayload, Versions};
use rotwise_postgres::{PgOptions, PgRotator, PgSecret, PgStrategy, TlsMode};
use secrecy::ExposeSecret;
use serde_json::Value;

/// A rotator the CLI can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// `postgres` / `aurora-postgresql`: the rotwise-postgres engine.
    Postgres,
    /// The `random-string` example: a new `password` in the secret, no target system.
    RandomString,
}

/// The `engine` key values the registry knows (for messages).
pub const KNOWN_ENGINES: &str = "postgres, aurora-postgresql";
/// The example rotators (`--example NAME`).
pub const EXAMPLES: &str = "random-string";

/// PostgreSQL's identifier limit, for the `_clone` user of alternating rotation.
pub const PG_MAX_IDENTIFIER_BYTES: usize = 63;

impl Engine {
    /// The engine for a secret's `engine` key.
    pub fn from_engine_key(key: &str) -> Option<Engine> {
        match key {
            "postgres" | "aurora-postgresql" => Some(Engine::Postgres),
            _ => None,
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
            Engine::RandomString => "random-string",
        }
    }

    /// The keys the secret JSON must hold.
    pub fn required_keys(self, alternating: bool) -> Vec<&'static str> {
        match self {
            Engine::Postgres if alternating => {
                vec!["engine", "host", "username", "password", "masterarn"]
            }
            Engine::Postgres => vec!["engine", "host", "username", "password"],
            Engine::RandomString => vec![],
        }
    }

    /// The rotator for a secret whose current value is `current`.
    pub fn rotator(self, current: &Value) -> Result<Arc<dyn Rotator>, String> {
        match self {
            Engine::Postgres => postgres_rotator(current),
            Engine::RandomString => Ok(Arc::new(RandomString)),
        }
    }

    /// After a rotation: does the new credential log in, and is the old one refused?
    pub async fn prove(self, old: &Value, new: &Value) -> Proof {
        match self {
            Engine::Postgres => prove_postgres(old, new).await,
            Engine::RandomString => Proof {
                new_login: Check::Skipped,
                old_login: Check::Skipped,
                warning: None,
            },
        }
    }
}

/// The engine's options from the same environment variables the Lambda reads
/// (`ROTATION_STRATEGY`, `ROTATION_TLS_MODE`, `ROTATION_CA_FILE`).
fn pg_options() -> Result<PgOptions, String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    Ok(PgOptions {
        strategy: var("ROTATION_STRATEGY")
            .map(|s| s.parse::<PgStrategy>())
            .transpose()
            .map_err(|e| format!("ROTATION_STRATEGY: {e}"))?,
        tls: var("ROTATION_TLS_MODE")
            .map(|s| s.parse::<TlsMode>())
            .transpose()
            .map_err(|e| format!("ROTATION_TLS_MODE: {e}"))?,
        ca_file: var("ROTATION_CA_FILE").map(Into::into),
        ..PgOptions::default()
    })
}

fn postgres_rotator(current: &Value) -> Result<Arc<dyn Rotator>, String> {
    // Parse up front so a bad secret is bad input before anything changes.
    PgSecret::parse_str(&current.to_string()).map_err(|e| e.to_string())?;
    Ok(Arc::new(PgRotator::new(pg_options()?)))
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

async fn login(rotator: &PgRotator, value: &Value) -> Check {
    match rotator
        .login_works(&SecretPayload::from(value.to_string()))
        .await
    {
        Ok(true) => Check::Accepted,
        Ok(false) => Check::Refused,
        Err(e) => Check::Error(e.to_string()),
    }
}

async fn prove_postgres(old: &Value, new: &Value) -> Proof {
    let rotator = match pg_options() {
        Ok(o) => PgRotator::new(o),
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
    let new_login = login(&rotator, new).await;
    let old_login = if same {
        Check::Skipped
    } else {
        login(&rotator, old).await
    };
    let user = s(old, "username").unwrap_or_default();
    let host = s(old, "host").unwrap_or_default();
    let warning = match (&old_login, same) {
        (_, true) => Some("the old and new credentials are the same: nothing to prove".into()),
        (Check::Accepted, _) if same_user => Some(format!(
            "the OLD password of {user} is still accepted by {host}: this server does not check passwords (trust authentication?), so this proof is meaningless; use a server with password authentication (scram-sha-256)"
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
