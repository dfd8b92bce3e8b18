//! `get`: a secret's value as an application reads it (`GetSecretValue`), by stage
//! (default AWSCURRENT) or version id. It prints the value: that is its job, so it writes
//! it to stdout only, never to a log or an error.

use std::io::Write;

use base64::Engine as _;
use clap::Args;
use rotwise_core::store::{AWSCURRENT, SecretPayload};
use secrecy::ExposeSecret;
use serde_json::json;

use super::Ctx;
use super::output::{date, print_json};
use crate::error::CliError;

#[derive(Args, Debug)]
pub struct GetArgs {
    /// The secret's name (or ARN).
    pub secret: String,
    /// The stage whose version to read (AWSCURRENT, AWSPENDING, AWSPREVIOUS or a label of
    /// your own). Default: AWSCURRENT, unless --version-id is given.
    #[arg(long, value_name = "STAGE")]
    pub version_stage: Option<String>,
    /// The version to read.
    #[arg(long, value_name = "ID")]
    pub version_id: Option<String>,
}

pub async fn run(args: GetArgs, ctx: &Ctx) -> Result<(), CliError> {
    let stage = match (&args.version_stage, &args.version_id) {
        (None, None) => Some(AWSCURRENT),
        (stage, _) => stage.as_deref(),
    };
    let v = ctx
        .backend
        .store()
        .get_secret_value(&args.secret, args.version_id.as_deref(), stage)
        .await
        .map_err(|e| CliError::store(&args.secret, e))?;
    if ctx.json {
        let mut out = json!({
            "name": v.name,
            "arn": v.arn,
            "version_id": v.version_id,
            "stages": v.stages,
            "created": date(v.created),
        });
        match &v.payload {
            SecretPayload::String(s) => out["secret_string"] = s.expose_secret().into(),
            SecretPayload::Binary(b) => {
                out["secret_binary"] = base64::engine::general_purpose::STANDARD
                    .encode(b.expose_secret())
                    .into()
            }
        }
        print_json(&out);
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    let written = match &v.payload {
        SecretPayload::String(s) => writeln!(stdout, "{}", s.expose_secret()),
        SecretPayload::Binary(b) => {
            eprintln!(
                "note: {} is binary; printed as standard base64",
                args.secret
            );
            writeln!(
                stdout,
                "{}",
                base64::engine::general_purpose::STANDARD.encode(b.expose_secret())
            )
        }
    };
    written.map_err(|e| CliError::Io {
        context: "cannot write to stdout".into(),
        source: e,
    })
}
