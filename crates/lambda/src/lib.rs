//! What every rotwise Lambda binary shares, so an engine's `main` is a few lines. It knows
//! no engine: the binary names its own defaults and builds its own rotator.
//!
//! - [`LambdaConfig`]: the neutral part of the environment, read **once** at start
//!   (`SECRETS_MANAGER_ENDPOINT`, AWS's password variables `PASSWORD_LENGTH`,
//!   `EXCLUDE_CHARACTERS`, the `EXCLUDE_*` flags, `REQUIRE_EACH_INCLUDED_TYPE`, and
//!   `ROTATION_PASSWORDS=local|service`). The rotator reads its own variables from the
//!   same [`Env`] snapshot (the database engines: `rotwise_db::DbOptions::from_env`). A
//!   bad value is a [`ConfigError`] naming the variable, and the function stops at init.
//! - [`logging`]: JSON logs when Lambda's log format is JSON, the level from
//!   `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`, then INFO; below INFO only rotwise's own
//!   targets, never a dependency's nor one the binary names, whatever the filter says.
//! - [`metrics`]: one CloudWatch Embedded Metric Format line per step and per completed
//!   rotation on stdout (duration, success, Secrets Manager calls, database logins).
//! - [`guard`]: with `ROTATION_MASTER_SECRET_ARN`, the function reads only the secret it
//!   rotates and that master secret, whatever a secret's `masterarn` says.
//! - [`run`]: the process — configuration, store and rotator built once with no network
//!   call, then [`rotwise_core::Driver::handle_json`] per invocation, errors reported as
//!   [`lambda_runtime::Diagnostic`] whose `errorType` is the error's kind
//!   ([`rotwise_core::RotationError::error_type`]; the table is in `lambdas/README.md`).
//!
//! A binary:
//!
//! ```no_run
//! use std::sync::Arc;
//! use rotwise_core::{Rotator, config::{ConfigError, Env}};
//! # fn my_rotator(_: &Env) -> Result<Arc<dyn Rotator>, ConfigError> { unimplemented!() }
//!
//! fn main() -> std::process::ExitCode {
//!     rotwise_lambda::run(
//!         rotwise_lambda::Function {
//!             name: "my-system",
//!             default_exclude_characters: "",  // EXCLUDE_CHARACTERS when unset
//!             capped_log_targets: &["my_client_library"],
//!         },
//!         my_rotator, // reads its own variables from the environment snapshot
//!     )
//! }
//! ```

pub mod config;
pub mod guard;
pub mod logging;
pub mod metrics;
mod runtime;

pub use config::LambdaConfig;
pub use logging::LogConfig;
pub use rotwise_core::config::{ConfigError, Env};
pub use runtime::{CONFIG_ERROR_TYPE, ENV_RUNTIME_API, Function, diagnostic, handle, run};
