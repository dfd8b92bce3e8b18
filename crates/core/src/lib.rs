//! The core of rotwise: the Secrets Manager rotation protocol, independent of what is
//! being rotated.
//!
//! Secrets Manager rotates a secret by invoking a function four times (createSecret,
//! setSecret, testSecret, finishSecret) while the AWSCURRENT / AWSPENDING /
//! AWSPREVIOUS labels say which version is live. This crate holds:
//!
//! - [`RotationEvent`] and [`Step`]: the invocation, with AWS's field names;
//! - [`Rotator`]: the trait a system-specific rotator implements (next value, set,
//!   test, an optional post-finish hook), seeing the versions through [`Versions`] and
//!   failing with a [`RotatorError`] of a neutral [`ErrorKind`];
//! - [`LoginProbe`]: "does this value work on the target?", the one check the test kit,
//!   the CLI's proof and `doctor` share; [`Strategy`]: single user or alternating users;
//! - [`Driver`]: AWS's pre-checks in AWS's order with AWS's messages, createSecret's
//!   reuse of a pending value on retry, and finishSecret's label move;
//! - [`store`]: the [`store::SecretStore`] trait, an in-memory store with the service's
//!   semantics and the AWS SDK store;
//! - [`password`]: `GetRandomPassword`'s policy, generated locally from the OS CSPRNG;
//! - [`config`]: the environment read once ([`config::Env`]) and its errors;
//! - [`metrics`]: the Secrets Manager calls and target logins a step makes, counted.
//!
//! Secret values are [`secrecy`] types throughout: `Debug` redacts them and they never
//! reach an error message or a log.
//!
//! See [`Driver`] for a whole rotation in a few lines. The pieces on their own:
//!
//! ```
//! use rotwise_core::password::PasswordPolicy;
//! use rotwise_core::{ExposeSecret, RotationEvent, Step};
//!
//! // The event the service sends, with AWS's field names.
//! let event = RotationEvent::from_json_str(
//!     r#"{"Step": "setSecret", "SecretId": "arn:aws:secretsmanager:us-east-1:1:secret:db",
//!        "ClientRequestToken": "3f1c0b6e-1d2a-4c55-9a57-000000000001"}"#,
//! )
//! .unwrap();
//! assert_eq!(event.step.parse::<Step>().unwrap(), Step::SetSecret);
//!
//! // GetRandomPassword's parameters, generated locally from the OS CSPRNG.
//! let policy = PasswordPolicy { length: 20, exclude_punctuation: true, ..PasswordPolicy::default() };
//! let password = policy.generate().unwrap();
//! assert_eq!(password.expose_secret().len(), 20);
//! assert!(password.expose_secret().chars().all(|c| c.is_ascii_alphanumeric()));
//! assert_eq!(format!("{password:?}"), "SecretBox<str>([REDACTED])");
//! ```

pub mod config;
pub mod driver;
pub mod error;
pub mod event;
pub mod logs;
pub mod metrics;
pub mod password;
pub mod plan;
pub mod rotator;
pub mod store;

pub use driver::{Driver, StepOutcome};
pub use error::{ErrorKind, PrecheckError, ResultExt, RotationError, RotatorError};
pub use event::{RotationEvent, Step};
pub use rotator::{LoginProbe, PasswordSource, Rotator, Strategy, UnknownStrategy, Versions};
pub use secrecy::{ExposeSecret, SecretString};
pub use store::{SecretPayload, SecretStore};
