//! Benchmark of the MySQL / MariaDB Lambda zips against the performance targets
//! (the target column of `docs/src/performance.md`, which `scripts/bench` writes).
//!
//! ```sh
//! scripts/services up && eval "$(scripts/services env)"
//! scripts/dist mysql
//! cargo run --release -p rotwise-lambda-mysql --example bench-mysql [-- ZIP... ] [--rotations N]
//! ```
//!
//! The program is [`rotwise_lambda_testkit::bench::main`] (shared with the PostgreSQL
//! Lambda): for each zip (default: `dist/mysql/bootstrap.zip`) and each strategy, the zip's
//! `bootstrap` runs under the local Lambda Runtime API against the private MariaDB (the
//! fixture of `tests/support`, shared with the end-to-end tests), and one table is printed.
//! A program, not a test: nothing fails on timing.

#[path = "../tests/support/mod.rs"]
mod support;

use rotwise_lambda_testkit::Error;
use rotwise_test_services::require_mysql;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let Some(my) = require_mysql() else {
        return Err("the private MariaDB is not running: scripts/services up".into());
    };
    rotwise_lambda_testkit::bench::main(support::Mysql::new(my, "mariadb")).await
}
