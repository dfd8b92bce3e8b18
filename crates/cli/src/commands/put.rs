//! `put`: create a secret, or put a new AWSCURRENT version, from a JSON object.

use clap::Args;
use rotwise_core::store::AWSCURRENT;
use serde_json::{Value, json};

use super::output::print_json;
use super::{Ctx, put_value_with_key, read_json_object};
use crate::error::CliError;

#[derive(Args, Debug)]
pub struct PutArgs {
    /// The secret's name (or ARN).
    pub secret: String,
    /// A file holding the JSON object, or `-` for stdin.
    #[arg(long, value_name = "FILE")]
    pub from_json: String,
    /// With --aws or --endpoint: the KMS key (ARN, key id or `alias/…`) that encrypts the
    /// secret when put creates it (default: the account's `aws/secretsmanager` key).
    #[arg(long, value_name = "KEY")]
    pub kms_key_id: Option<String>,
}

impl PutArgs {
    /// Checked before the store is opened, so a refused option creates nothing.
    pub fn check_store(&self, on_service: bool) -> Result<(), CliError> {
        if let Some(key) = &self.kms_key_id {
            if !on_service {
                return Err(CliError::input(
                    "--kms-key-id is for Secrets Manager (--aws or --endpoint); the file store is not encrypted",
                ));
            }
            if key.trim().is_empty() || key.len() > 2048 {
                return Err(CliError::input(
                    "--kms-key-id: give a KMS key ARN, key id or alias/NAME",
                ));
            }
        }
        Ok(())
    }
}

pub async fn run(args: PutArgs, ctx: &Ctx) -> Result<(), CliError> {
    let PutArgs {
        secret,
        from_json,
        kms_key_id,
    } = args;
    let map = read_json_object(&from_json)?;
    let store = ctx.backend.store();
    let w = put_value_with_key(
        store.as_ref(),
        &secret,
        Value::Object(map).to_string(),
        kms_key_id.as_deref(),
    )
    .await?;
    if ctx.json {
        print_json(&json!({
            "secret": secret, "arn": w.arn, "version_id": w.version_id, "created": w.created,
            "stages": [AWSCURRENT],
        }));
    } else if w.created {
        println!(
            "created secret {secret} ({}); version {} is AWSCURRENT",
            w.arn, w.version_id
        );
    } else {
        println!("put version {} of {secret} as AWSCURRENT", w.version_id);
    }
    Ok(())
}
