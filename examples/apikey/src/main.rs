//! The API key rotation Lambda: `bootstrap` for `provided.al2023`.
//!
//! Everything is in [`rotwise_lambda::run`] (environment read once, logs, `errorType` from
//! the error's kind) and [`ApiKeyRotator`]; this file names the function's defaults. Its own
//! variable, `ROTATION_HTTP_TIMEOUT_MS`, is read from the same environment snapshot.

use std::process::ExitCode;
use std::sync::Arc;

use rotwise_example_apikey::{ApiKeyRotator, DEFAULT_EXCLUDE_CHARACTERS, LOG_TARGETS};
use rotwise_lambda::Function;

fn main() -> ExitCode {
    let function = Function {
        name: "apikey",
        default_exclude_characters: DEFAULT_EXCLUDE_CHARACTERS,
        capped_log_targets: LOG_TARGETS,
    };
    rotwise_lambda::run(function, |env| Ok(Arc::new(ApiKeyRotator::from_env(env)?)))
}
