//! Benchmark of the Redshift Lambda zip against the performance targets, on the private
//! PostgreSQL's md5 database standing in for Redshift (see `tests/support`).
//!
//! ```sh
//! scripts/services up && eval "$(scripts/services env)"
//! scripts/dist redshift
//! cargo run --release -p rotwise-lambda-redshift --example bench-redshift [-- ZIP... ] [--rotations N]
//! ```
//!
//! The program is [`rotwise_lambda_testkit::bench::main`] (shared with the other Lambdas).
//! A program, not a test: nothing fails on timing.

#[path = "../tests/support/mod.rs"]
mod support;

use rotwise_lambda_testkit::Error;
use rotwise_test_services::require_pg;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let Some(pg) = require_pg() else {
        return Err("the private PostgreSQL is not running: scripts/services up".into());
    };
    rotwise_lambda_testkit::bench::main(support::Rs(pg)).await
}
