//! `debug`: development helpers for tests (hidden).

use clap::{Args, Subcommand};
use rotwise_core::store::{AWSPENDING, PutSecretValue};
use serde_json::Value;

use super::{Ctx, read_json_object};
use crate::error::CliError;

#[derive(Subcommand, Debug)]
pub enum DebugCommand {
    /// What RotateSecret does first: add a value-less AWSPENDING version (file store).
    BeginRotation(SecretArg),
    /// PutSecretValue with VersionStages=[AWSPENDING] (any store).
    PutPending(PutPendingArgs),
    /// Set RotationEnabled (file store).
    SetRotation(SetRotationArgs),
}

#[derive(Args, Debug)]
pub struct SecretArg {
    pub secret: String,
}

#[derive(Args, Debug)]
pub struct PutPendingArgs {
    pub secret: String,
    #[arg(long, value_name = "FILE")]
    pub from_json: String,
}

#[derive(Args, Debug)]
pub struct SetRotationArgs {
    pub secret: String,
    #[arg(long)]
    pub enabled: bool,
}

pub async fn run(command: DebugCommand, ctx: &Ctx) -> Result<(), CliError> {
    match command {
        DebugCommand::BeginRotation(a) => begin_rotation(ctx, &a.secret),
        DebugCommand::PutPending(a) => put_pending(ctx, &a.secret, &a.from_json).await,
        DebugCommand::SetRotation(a) => set_rotation(ctx, &a.secret, a.enabled),
    }
}

fn begin_rotation(ctx: &Ctx, secret: &str) -> Result<(), CliError> {
    let file = ctx
        .backend
        .file()
        .ok_or_else(|| CliError::input("debug begin-rotation needs the file store"))?;
    let token = file
        .begin_rotation(secret)
        .map_err(|e| CliError::store(secret, e))?;
    println!("{token}");
    Ok(())
}

async fn put_pending(ctx: &Ctx, secret: &str, source: &str) -> Result<(), CliError> {
    let map = read_json_object(source)?;
    let token = uuid::Uuid::new_v4().to_string();
    ctx.backend
        .store()
        .put_secret_value(PutSecretValue {
            secret_id: secret.to_string(),
            token: token.clone(),
            payload: Value::Object(map).to_string().into(),
            stages: vec![AWSPENDING.to_string()],
            rotation_token: None,
        })
        .await
        .map_err(|e| CliError::store(secret, e))?;
    println!("{token}");
    Ok(())
}

fn set_rotation(ctx: &Ctx, secret: &str, enabled: bool) -> Result<(), CliError> {
    let file = ctx
        .backend
        .file()
        .ok_or_else(|| CliError::input("debug set-rotation needs the file store"))?;
    file.configure_rotation(secret, Some(enabled), None, None)
        .map_err(|e| CliError::store(secret, e))
}
