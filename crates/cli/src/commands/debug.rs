//! `debug`: development helpers for tests (hidden).

use clap::{Args, Subcommand};
use rotwise_core::store::{AWSCURRENT, AWSPENDING, PutSecretValue};
use rotwise_core::{Driver, RotationEvent, Step};
use secrecy::ExposeSecret;
use serde_json::Value;

use super::{Ctx, parse_object, read_json_object};
use crate::engines::Engine;
use crate::error::CliError;

#[derive(Subcommand, Debug)]
pub enum DebugCommand {
    /// What RotateSecret does first: add a value-less AWSPENDING version (file store).
    BeginRotation(SecretArg),
    /// PutSecretValue with VersionStages=[AWSPENDING] (any store).
    PutPending(PutPendingArgs),
    /// Set RotationEnabled (file store).
    SetRotation(SetRotationArgs),
    /// Run one rotation step locally with the secret's engine, as the rotation function
    /// would (any store; RotationEnabled is not checked): how tests stop a rotation
    /// halfway.
    Step(StepArgs),
}

#[derive(Args, Debug)]
pub struct StepArgs {
    pub secret: String,
    /// createSecret, setSecret, testSecret or finishSecret.
    pub step: String,
    /// The AWSPENDING version's id.
    #[arg(long)]
    pub token: String,
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
        DebugCommand::Step(a) => step(ctx, &a).await,
    }
}

async fn step(ctx: &Ctx, a: &StepArgs) -> Result<(), CliError> {
    let step: Step = a
        .step
        .parse()
        .map_err(|_| CliError::input(format!("unknown step {:?}", a.step)))?;
    let store = ctx.backend.store();
    let current = store
        .get_secret_value(&a.secret, None, Some(AWSCURRENT))
        .await
        .map_err(|e| CliError::store(&a.secret, e))?;
    let text = current
        .payload
        .as_string()
        .map(|s| s.expose_secret().to_string())
        .unwrap_or_default();
    let value = parse_object(&text, "the AWSCURRENT value")?;
    let key = value.get("engine").and_then(Value::as_str).unwrap_or("");
    let engine = Engine::from_engine_key(key)
        .ok_or_else(|| CliError::input(format!("unknown engine {key:?}")))?;
    let config = |e| CliError::config(Some(engine.name()), e);
    let loaded = engine.load(&ctx.env).map_err(config)?;
    let passwords = engine.passwords(&ctx.env).map_err(config)?;
    let outcome = Driver::new(store, loaded.rotator)
        .with_passwords(passwords)
        .finishing_by_hand()
        .handle(&RotationEvent::new(step, a.secret.clone(), a.token.clone()))
        .await
        .map_err(|e| CliError::Rotation {
            secret: a.secret.clone(),
            step,
            token: a.token.clone(),
            source: Box::new(e),
        })?;
    println!("{outcome:?}");
    Ok(())
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
