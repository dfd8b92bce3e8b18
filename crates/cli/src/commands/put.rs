//! `put`: create a secret, or put a new AWSCURRENT version, from a JSON object.

use clap::Args;
use rotwise_core::store::AWSCURRENT;
use serde_json::{Value, json};

use super::output::print_json;
use super::{Ctx, put_value, read_json_object};
use crate::error::CliError;

#[derive(Args, Debug)]
pub struct PutArgs {
    /// The secret's name (or ARN).
    pub secret: String,
    /// A file holding the JSON object, or `-` for stdin.
    #[arg(long, value_name = "FILE")]
    pub from_json: String,
}

pub async fn run(args: PutArgs, ctx: &Ctx) -> Result<(), CliError> {
    let PutArgs { secret, from_json } = args;
    let map = read_json_object(&from_json)?;
    let store = ctx.backend.store();
    let w = put_value(store.as_ref(), &secret, Value::Object(map).to_string()).await?;
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
