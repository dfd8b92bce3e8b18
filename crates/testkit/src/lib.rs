//! Prove a [`Rotator`](rotwise_core::Rotator) correct the way Secrets Manager will use it.
//!
//! # From zero to a passing conformance test
//!
//! 1. Implement [`Rotator`](rotwise_core::Rotator) for your system (see the trait's docs).
//! 2. Implement [`LoginProbe`](rotwise_core::LoginProbe) — "does this secret value work on
//!    the target?" — with a fresh login or request, never with state cached by the rotator.
//!    (An engine's rotator usually implements it already.)
//! 3. Add one test that gives both to [`Conformance`], with a secret value that works
//!    on the target now, and the [`Strategy`] your rotator implements:
//!
//! ```
//! use std::sync::Arc;
//! use rotwise_testkit::{Conformance, Strategy};
//! use rotwise_testkit::toy::{ToyRotator, ToyTarget};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // The system being rotated: here an in-process toy with one user.
//! let target = ToyTarget::with_user("app", "initial-password");
//! let rotator = Arc::new(ToyRotator::new(target.clone()));
//!
//! let report = Conformance::new(
//!     rotator,
//!     Arc::new(target),
//!     r#"{"username": "app", "password": "initial-password"}"#,
//!     Strategy::Single,
//! )
//! .run()
//! .await
//! .expect("the rotator conforms");
//! println!("{report}"); // e.g. "48 scenarios passed (35 rotations, 30 fault points)"
//! assert!(report.fault_points > 0);
//! # });
//! ```
//!
//! 4. Run it: `cargo test`. A broken rotator fails with a [`ConformanceFailure`] whose
//!    message names the scenario and the broken [`Invariant`], for example
//!    ``conformance scenario `every step run twice` broke the invariant "a step run twice
//!    equals the step run once (idempotent)": setSecret failed when run again: ...``.
//!
//! # What the suite checks, including its own oracle
//!
//! - **The probe itself.** Every check against the target goes through your probe, so the
//!   suite first proves the probe can say no: it must refuse a value the target cannot
//!   accept ([`Invariant::ProbeRefuses`], the negative control). By default that is the
//!   initial value with its `password` (JSON key) replaced by a fresh random string, or a
//!   random string when the value is not JSON with a `password`; `Ok(false)` or an
//!   [`InvalidSecret`](rotwise_core::ErrorKind::InvalidSecret) error passes. If your
//!   values have another shape, give a well-formed value the target must refuse with
//!   [`Conformance::with_refused_value`] (otherwise the control only proves the probe
//!   rejects malformed input).
//! - **The strategy's promises.** [`Strategy::Single`]: AWSCURRENT works outside the
//!   setSecret..finishSecret window, and after each rotation AWSPREVIOUS is refused
//!   ([`Invariant::PreviousRefused`]; when a fault made the rotation skip
//!   [`after_finish`](rotwise_core::Rotator::after_finish), by the next rotation at the
//!   latest). [`Conformance::previous_unverifiable`] turns that one check off for a target
//!   that cannot tell; never the default. [`Strategy::Alternating`]: AWSCURRENT works at
//!   every moment, and AWSPREVIOUS keeps working until the next rotation's setSecret
//!   ([`Invariant::PreviousStillWorks`]).
//! - **The rotation itself**: labels, idempotent steps, stale tokens, a testSecret that
//!   tests, every fault point and retry, concurrent invocations (see [`conformance`]).
//!
//! Against a real system (a database), the probe and the rotator talk to that system;
//! the suite rotates the same secret dozens of times, so use a throwaway user.
//!
//! # What else is here
//! - [`LocalService`]: what the service does on `RotateSecret` (begin, the four steps in
//!   order through a [`StepHandler`], stop at the first failure, retry).
//! - [`faults`]: a store layer and a rotator wrapper that fail any call before or after
//!   it takes effect, and count calls.
//! - [`contract`]: the store contract suite, run against every [`SecretStore`](rotwise_core::SecretStore).
//! - [`endpoint`]: a local Secrets Manager endpoint (the service's JSON protocol over
//!   HTTP) serving a [`MemoryStore`](rotwise_core::store::MemoryStore), for binaries that
//!   only speak HTTP, such as the Lambdas.

pub mod conformance;
pub mod contract;
pub mod endpoint;
pub mod faults;
pub mod service;
pub mod toy;

pub use conformance::{Conformance, ConformanceFailure, ConformanceReport, Invariant, Recorded};
/// The strategy a rotator implements (re-exported from `rotwise-core`, for the suite).
pub use rotwise_core::Strategy;
pub use service::{LocalService, RotationFailed, RotationRun, StepHandler};
