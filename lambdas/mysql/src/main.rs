//! The MySQL / Aurora MySQL / MariaDB rotation Lambda: `bootstrap` for `provided.al2023`.
//!
//! Everything is in [`rotwise_lambda::run`]; this file maps the configuration onto
//! [`MysqlOptions`]. See `lambdas/README.md` for the variables and the packaging.

use std::process::ExitCode;
use std::sync::Arc;

use rotwise_core::password::MYSQL_DEFAULT_EXCLUDE;
use rotwise_lambda::{LambdaConfig, Strategy};
use rotwise_mysql::{DEFAULT_CONNECT_TIMEOUT, MysqlOptions, MysqlRotator, MysqlStrategy, TlsMode};

fn options(config: &LambdaConfig<TlsMode>) -> MysqlOptions {
    MysqlOptions {
        tls: config.tls,
        ca_file: config.ca_file.clone(),
        connect_timeout: config.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        strategy: config.strategy.map(|s| match s {
            Strategy::Single => MysqlStrategy::Single,
            Strategy::Alternating => MysqlStrategy::Alternating,
        }),
        username_limit: config.username_character_limit.map(|n| n as usize),
    }
}

fn main() -> ExitCode {
    rotwise_lambda::run::<TlsMode, _>("mysql", MYSQL_DEFAULT_EXCLUDE, |config| {
        Ok(Arc::new(MysqlRotator::new(options(config))))
    })
}
