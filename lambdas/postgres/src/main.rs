//! The PostgreSQL rotation Lambda: `bootstrap` for `provided.al2023`.
//!
//! Everything is in [`rotwise_lambda::run`]; this file maps the configuration onto
//! [`PgOptions`]. See `lambdas/README.md` for the variables and the packaging.

use std::process::ExitCode;
use std::sync::Arc;

use rotwise_core::password::POSTGRES_DEFAULT_EXCLUDE;
use rotwise_lambda::{LambdaConfig, Strategy};
use rotwise_postgres::{DEFAULT_CONNECT_TIMEOUT, PgOptions, PgRotator, PgStrategy, TlsMode};

fn options(config: &LambdaConfig<TlsMode>) -> PgOptions {
    PgOptions {
        tls: config.tls,
        ca_file: config.ca_file.clone(),
        connect_timeout: config.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        strategy: config.strategy.map(|s| match s {
            Strategy::Single => PgStrategy::Single,
            Strategy::Alternating => PgStrategy::Alternating,
        }),
    }
}

fn main() -> ExitCode {
    rotwise_lambda::run::<TlsMode, _>("postgres", POSTGRES_DEFAULT_EXCLUDE, |config| {
        Ok(Arc::new(PgRotator::new(options(config))))
    })
}
