//! Benchmark of the PostgreSQL Lambda zips against the performance targets
//! (the target column of `docs/src/performance.md`, which `scripts/bench` writes).
//!
//! ```sh
//! scripts/services up && eval "$(scripts/services env)"
//! scripts/dist postgres
//! cargo run --release -p rotwise-lambda-postgres --example bench [-- ZIP... ] [--rotations N]
//! ```
//!
//! The program is [`rotwise_lambda_testkit::bench::main`] (shared with the MySQL Lambda):
//! for each zip (default: `dist/postgres/bootstrap.zip`) and each strategy, the zip's
//! `bootstrap` runs under the local Lambda Runtime API against the private PostgreSQL, and
//! one table is printed. The fixture for that server is `tests/support` (shared with the
//! end-to-end tests): SCRAM-verifier roles, an RDS-like `CREATEROLE` master, the statement
//! log. A program, not a test: nothing fails on timing.

#[path = "../tests/support/mod.rs"]
mod support;

use rotwise_lambda_testkit::Error;
use rotwise_test_services::require_pg;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let Some(pg) = require_pg() else {
        return Err("the private PostgreSQL is not running: scripts/services up".into());
    };
    rotwise_lambda_testkit::bench::main(support::Pg(pg)).await
}
