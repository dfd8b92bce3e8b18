//! The template's Lambda entry point: the `bootstrap` of its zip (`scripts/package`), the
//! same few lines as an engine's `main` (`lambdas/postgres/src/main.rs`).
//!
//! [`rotwise_lambda::run`] reads the environment once, sets up Lambda's logs, builds the
//! rotator once per process with no network call, and serves each invocation with the
//! driver over the AWS SDK store. A bad variable stops the function at init with a message
//! naming it.

use std::process::ExitCode;
use std::sync::Arc;

use rotwise_core::config::{ConfigError, Env};
use rotwise_example_template::{FakeService, TemplateRotator};
use rotwise_lambda::Function;

/// The fake service's account key when the process starts (the in-process stand-in has no
/// state of its own). YOUR CODE: read your client's settings instead (an API URL, say).
const SERVICE_KEY: &str = "TEMPLATE_SERVICE_KEY";

/// The rotator, from the function's environment.
fn rotator(env: &Env) -> Result<TemplateRotator, ConfigError> {
    let key = env.get_set(SERVICE_KEY).ok_or_else(|| ConfigError {
        var: SERVICE_KEY.to_string(),
        message: format!("environment variable {SERVICE_KEY} is not set: the service's key"),
    })?;
    Ok(TemplateRotator::new(FakeService::with_key(key)))
}

fn main() -> ExitCode {
    let function = Function {
        name: "template",
        default_exclude_characters: "", // EXCLUDE_CHARACTERS when unset
        capped_log_targets: &[],        // your client library's log targets, if it logs secrets
    };
    rotwise_lambda::run(function, |env| Ok(Arc::new(rotator(env)?)))
}
