//! `status`: versions, labels, dates and rotation settings of a secret.

use clap::Args;
use rotwise_core::store::{SecretDescription, VersionSummary};
use serde_json::json;

use super::output::{date, print_json, rfc3339};
use super::{Ctx, describe};
use crate::error::CliError;

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The secret's name (or ARN).
    pub secret: String,
}

pub async fn run(args: StatusArgs, ctx: &Ctx) -> Result<(), CliError> {
    let secret = args.secret;
    let store = ctx.backend.store();
    let d = describe(store.as_ref(), &secret).await?;
    let mut versions = store
        .list_secret_version_ids(&d.arn)
        .await
        .map_err(|e| CliError::store(&secret, e))?;
    versions.sort_by_key(|v| v.created);
    if ctx.json {
        print_json(&status_json(&d, &versions));
    } else {
        print_status(&d, &versions);
    }
    Ok(())
}

fn status_json(d: &SecretDescription, versions: &[VersionSummary]) -> serde_json::Value {
    json!({
        "name": d.name,
        "arn": d.arn,
        "description": d.description,
        "rotation": {
            "enabled": d.rotation_enabled,
            "lambda_arn": d.rotation_lambda_arn,
            "automatically_after_days": d.rotation_days,
            "schedule_expression": d.rotation_schedule,
            "last_rotated": date(d.last_rotated),
        },
        "versions": versions.iter().map(|v| json!({
            "version_id": v.version_id,
            "stages": v.stages,
            "created": date(v.created),
            "deprecated": v.stages.is_empty(),
        })).collect::<Vec<_>>(),
    })
}

fn print_status(d: &SecretDescription, versions: &[VersionSummary]) {
    println!("{}  ({})", d.name, d.arn);
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    println!(
        "rotation: enabled={}  lambda={}  every={}  schedule={}  last rotated={}",
        opt(d.rotation_enabled.map(|b| b.to_string())),
        opt(d.rotation_lambda_arn.clone()),
        opt(d.rotation_days.map(|n| format!("{n} days"))),
        opt(d.rotation_schedule.clone()),
        opt(rfc3339(d.last_rotated)),
    );
    println!("versions ({}):", versions.len());
    for v in versions {
        let stages = if v.stages.is_empty() {
            "(deprecated)".to_string()
        } else {
            v.stages.join(", ")
        };
        println!(
            "  {}  {:<32}  created {}",
            v.version_id,
            stages,
            opt(rfc3339(v.created))
        );
    }
}
