//! The subcommands, one module each: a clap `Args` struct and a `run` function. What they
//! share: the [`Ctx`] they run in, reading JSON input, and writing a secret's value.

pub mod bulk;
pub mod debug;
pub mod doctor;
pub mod get;
pub mod init_demo;
pub mod output;
pub mod put;
pub mod rotate;
pub mod status;

use std::io::Read;

use rotwise_core::config::Env;
use rotwise_core::store::{
    AWSCURRENT, CreateSecret, PutSecretValue, SecretDescription, SecretStore,
};
use serde_json::{Map, Value};

use crate::backend::Backend;
use crate::error::CliError;

/// What every command runs with.
pub struct Ctx {
    /// The store.
    pub backend: Backend,
    /// The environment, read once at start.
    pub env: Env,
    /// `--json`: one JSON object on stdout instead of text.
    pub json: bool,
}

/// Read a JSON object from FILE or stdin (`-`). Errors never quote the input.
pub fn read_json_object(source: &str) -> Result<Map<String, Value>, CliError> {
    let text = if source == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| CliError::Io {
                context: "cannot read stdin".into(),
                source: e,
            })?;
        s
    } else {
        std::fs::read_to_string(source).map_err(|e| CliError::Io {
            context: format!("cannot read {source}"),
            source: e,
        })?
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(CliError::input(format!(
            "{source}: the secret must be a JSON object, not {}",
            kind_of(&other)
        ))),
        Err(e) => Err(CliError::input(format!(
            "{source}: malformed JSON ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))),
    }
}

/// `text` as a JSON object; `what` names it in the error, which never quotes it.
pub fn parse_object(text: &str, what: &str) -> Result<Value, CliError> {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(CliError::input(format!(
            "{what} is {}, not a JSON object",
            kind_of(&other)
        ))),
        Err(e) => Err(CliError::input(format!(
            "{what} is not valid JSON ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))),
    }
}

/// "a string", "an array", ... for messages.
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `DescribeSecret`; an unknown secret is bad input.
pub async fn describe(
    store: &dyn SecretStore,
    secret: &str,
) -> Result<SecretDescription, CliError> {
    store
        .describe_secret(secret)
        .await
        .map_err(|e| CliError::store(secret, e))
}

/// What [`put_value`] did.
pub struct Written {
    /// The secret did not exist and was created.
    pub created: bool,
    pub arn: String,
    pub version_id: String,
}

/// Create `secret` with `value`, or put `value` as a new AWSCURRENT version.
pub async fn put_value(
    store: &dyn SecretStore,
    secret: &str,
    value: String,
) -> Result<Written, CliError> {
    put_value_with_key(store, secret, value, None).await
}

/// [`put_value`], creating the secret with `kms_key_id` when it does not exist yet. An
/// existing secret keeps the key it was created with: asked for another, this changes
/// nothing and says how to change the key.
pub async fn put_value_with_key(
    store: &dyn SecretStore,
    secret: &str,
    value: String,
    kms_key_id: Option<&str>,
) -> Result<Written, CliError> {
    match store.describe_secret(secret).await {
        Ok(d) => {
            if let Some(key) = kms_key_id
                && d.kms_key_id.as_deref() != Some(key)
            {
                return Err(CliError::input(format!(
                    "{secret} exists and is encrypted with {}: --kms-key-id applies only when put \
                     creates the secret (change an existing secret's key with `aws secretsmanager \
                     update-secret --secret-id {secret} --kms-key-id {key}`); nothing was written",
                    d.kms_key_id
                        .as_deref()
                        .unwrap_or("the account's default key (aws/secretsmanager)")
                )));
            }
            let out = store
                .put_secret_value(PutSecretValue {
                    secret_id: d.arn.clone(),
                    token: uuid::Uuid::new_v4().to_string(),
                    payload: value.into(),
                    stages: vec![AWSCURRENT.to_string()],
                    rotation_token: None,
                })
                .await
                .map_err(|e| CliError::store(secret, e))?;
            Ok(Written {
                created: false,
                arn: out.arn,
                version_id: out.version_id,
            })
        }
        Err(e) if e.is_not_found() => {
            let out = store
                .create_secret(CreateSecret {
                    name: secret.to_string(),
                    payload: Some(value.into()),
                    token: Some(uuid::Uuid::new_v4().to_string()),
                    description: None,
                    kms_key_id: kms_key_id.map(str::to_owned),
                })
                .await
                .map_err(|e| CliError::store(secret, e))?;
            Ok(Written {
                created: true,
                arn: out.arn,
                version_id: out.version_id,
            })
        }
        Err(e) => Err(CliError::store(secret, e)),
    }
}
