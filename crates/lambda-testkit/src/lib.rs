//! Dev-only: what the end-to-end tests and the benchmark of rotwise's Lambda binaries
//! (`lambdas/*`) share. Only tests, benches and examples depend on this crate; the shipped
//! `rotwise-lambda` has no test code and does not depend on it.
//!
//! - [`emulator`]: a local Lambda Runtime API ([`emulator::RuntimeApi`]) and the built
//!   binary as a real process against it ([`emulator::LambdaProcess`]), its outcomes
//!   ([`emulator::Outcome`], [`emulator::ErrorReport`] with the `errorType`).
//! - [`harness`]: the binary under the emulator with Secrets Manager served by the test
//!   kit's local endpoint over a `MemoryStore` ([`harness::Harness`]), rotations through the
//!   four steps, and the engine-independent end-to-end checks (invalid events, bad
//!   environment, offline init, the `errorType` of each failure class). An engine supplies a
//!   [`harness::Fixture`] for its private test server.
//! - [`managed`]: an RDS-managed master secret end to end (moto's RDS, the binary in a
//!   private mount namespace whose `/etc/hosts` resolves moto's RDS host names).
//! - [`bench`](mod@bench): the benchmark program behind `scripts/bench`, a table per engine
//!   against the targets in `docs/src/performance.md`, and its model of Lambda in a region:
//!   [`cgroup`] (a CPU quota equal to a function's share of a core, and the CPU time it
//!   used) and [`delay`] (a TCP proxy that delays the database's traffic).
//!
//! An engine's end-to-end test (`lambdas/<engine>/tests/e2e.rs`), with its `Fixture` in
//! `tests/support/mod.rs` (shared with `examples/bench.rs`):
//!
//! ```ignore
//! mod support;
//!
//! use rotwise_lambda_testkit::harness::{assert_error_types, assert_invalid_events_change_nothing};
//! use rotwise_test_services::require_pg;
//!
//! const BIN: &str = env!("CARGO_BIN_EXE_rotwise-lambda-postgres");
//!
//! #[tokio::test]
//! async fn each_failure_class_has_its_error_type() {
//!     let Some(pg) = require_pg() else { return };
//!     assert_error_types(&support::Pg(pg), BIN.as_ref()).await;
//! }
//! ```
//!
//! and its benchmark (`examples/bench.rs`) is `rotwise_lambda_testkit::bench::main(fixture)`.

pub mod bench;
pub mod cgroup;
pub mod delay;
pub mod emulator;
pub mod harness;
pub mod managed;

/// The error of the test infrastructure: any error, boxed (a test reports it and stops).
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;
