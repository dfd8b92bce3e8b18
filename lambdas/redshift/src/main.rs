//! The Amazon Redshift rotation Lambda: `bootstrap` for `provided.al2023`.
//!
//! Everything is in [`rotwise_lambda::run`] and [`rotwise_postgres::redshift`] (the
//! Redshift flavour of the PostgreSQL engine); this file names the engine's defaults. The
//! password settings are checked at start against Redshift's password rules
//! ([`rotwise_postgres::redshift::rotator_from_env`]). See `lambdas/README.md` and
//! `docs/src/guides/redshift.md`.

use std::process::ExitCode;
use std::sync::Arc;

use rotwise_lambda::Function;
use rotwise_managed::AwsLocator;
use rotwise_postgres::redshift::{DEFAULT_EXCLUDE_CHARACTERS, LOG_TARGETS, rotator_from_env};

fn main() -> ExitCode {
    let function = Function {
        name: "redshift",
        default_exclude_characters: DEFAULT_EXCLUDE_CHARACTERS,
        capped_log_targets: LOG_TARGETS,
    };
    rotwise_lambda::run(function, |env| {
        Ok(Arc::new(
            rotator_from_env(env)?.with_locator(Arc::new(AwsLocator::from_env())),
        ))
    })
}
