//! What every rotwise Lambda binary shares, so an engine's `main` is a few lines.
//!
//! - [`Env`] and [`LambdaConfig`]: the environment read **once** at start — AWS's
//!   variables (`SECRETS_MANAGER_ENDPOINT`, `EXCLUDE_CHARACTERS`, `PASSWORD_LENGTH`, the
//!   `EXCLUDE_*` flags, `REQUIRE_EACH_INCLUDED_TYPE`, `USERNAME_CHARACTER_LIMIT`) and ours
//!   (`ROTATION_STRATEGY=single|alternating`, `ROTATION_TLS_MODE`, `ROTATION_CA_FILE`,
//!   `ROTATION_CONNECT_TIMEOUT_MS`, `ROTATION_PASSWORDS=local|service`). A bad value is a
//!   [`ConfigError`] naming the variable, and the function stops at init.
//! - [`logging`]: JSON logs when Lambda's log format is JSON, the level from
//!   `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`, then INFO; the database drivers' targets
//!   capped at INFO always.
//! - [`run`]: the process — configuration, store and rotator built once with no network
//!   call, then [`rotwise_core::Driver::handle_json`] per invocation, errors reported as
//!   [`lambda_runtime::Diagnostic`] with [`rotwise_core::RotationError::error_type`].
//! - `emulator` (feature `test-support`): a local Lambda Runtime API and a harness that runs
//!   the built binary as a real process, for end-to-end tests and benchmarks.
//! - `harness` and `bench` (feature `test-support`): what the engines' end-to-end tests and
//!   benchmarks share — the binary under the emulator with Secrets Manager served by the test
//!   kit's local endpoint, the engine-independent checks, and DESIGN 5.1's benchmark table;
//!   an engine supplies a `harness::Fixture` for its private test server.
//!
//! An engine's binary:
//!
//! ```no_run
//! use std::sync::Arc;
//! use rotwise_core::Rotator;
//! # struct MyTls; impl std::str::FromStr for MyTls { type Err = String; fn from_str(_: &str) -> Result<Self, String> { Ok(MyTls) } }
//! # impl std::fmt::Debug for MyTls { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("tls") } }
//! # fn my_rotator(_: &rotwise_lambda::LambdaConfig<MyTls>) -> Arc<dyn Rotator> { unimplemented!() }
//! fn main() -> std::process::ExitCode {
//!     rotwise_lambda::run::<MyTls, _>("my-engine", ":/@\"'\\", |config| Ok(my_rotator(config)))
//! }
//! ```

#[cfg(feature = "test-support")]
pub mod bench;
pub mod config;
#[cfg(feature = "test-support")]
pub mod emulator;
#[cfg(feature = "test-support")]
pub mod harness;
mod lazy_store;
pub mod logging;
mod runtime;

pub use config::{ConfigError, Env, LambdaConfig, Strategy};
pub use lazy_store::LazyAwsStore;
pub use logging::LogConfig;
pub use runtime::{CONFIG_ERROR_TYPE, ENV_RUNTIME_API, diagnostic, handle, run};
