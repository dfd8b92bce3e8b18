//! The MySQL / Aurora MySQL / MariaDB rotation Lambda: `bootstrap` for `provided.al2023`.
//!
//! Everything is in [`rotwise_lambda::run`] and [`rotwise_mysql::MysqlRotator`]; this file
//! names the engine's defaults. See `lambdas/README.md` for the variables and the packaging.

use std::process::ExitCode;
use std::sync::Arc;

use rotwise_lambda::Function;
use rotwise_managed::AwsLocator;
use rotwise_mysql::{DEFAULT_EXCLUDE_CHARACTERS, LOG_TARGETS, MysqlRotator};

fn main() -> ExitCode {
    let function = Function {
        name: "mysql",
        default_exclude_characters: DEFAULT_EXCLUDE_CHARACTERS,
        capped_log_targets: LOG_TARGETS,
    };
    rotwise_lambda::run(function, |env| {
        Ok(Arc::new(
            MysqlRotator::from_env(env)?.with_locator(Arc::new(AwsLocator::from_env())),
        ))
    })
}
