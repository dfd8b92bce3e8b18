//! What a command fails with ([`CliError`]), and the exit code of each failure.
//!
//! The exit code derives from the failure's kind ([`ErrorKind`], the same kinds the Lambda
//! functions report as `errorType`); the table is in `docs/src/guides/cli.md` and
//! `ARCHITECTURE.md` ("Errors and their kinds"):
//!
//! | code | failure |
//! |---|---|
//! | 0 | success |
//! | 1 | the operation failed: `Conflict`, `Target`, `InvalidEvent`, `Internal`, a Secrets Manager error, a problem `doctor` found |
//! | 2 | bad input, nothing changed: usage, unreadable or malformed input, unknown engine, `InvalidSecret`, `Configuration`, an unknown secret or an invalid parameter |
//! | 3 | `Unreachable` |
//! | 4 | `LoginRefused` |
//! | 5 | `Tls` |
//! | 6 | `Permission` |

use rotwise_core::config::ConfigError;
use rotwise_core::store::{StoreError, StoreErrorKind};
use rotwise_core::{ErrorKind, RotationError, RotatorError, Step};

/// Exit code 1: the operation failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code 2: bad input, nothing changed.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code 3: the target could not be reached.
pub const EXIT_UNREACHABLE: u8 = 3;
/// Exit code 4: the target refused the login.
pub const EXIT_LOGIN_REFUSED: u8 = 4;
/// Exit code 5: TLS to the target failed.
pub const EXIT_TLS: u8 = 5;
/// Exit code 6: logged in, but permission denied.
pub const EXIT_PERMISSION: u8 = 6;

/// The exit code of a failure of `kind`.
pub fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Unreachable => EXIT_UNREACHABLE,
        ErrorKind::LoginRefused => EXIT_LOGIN_REFUSED,
        ErrorKind::Tls => EXIT_TLS,
        ErrorKind::Permission => EXIT_PERMISSION,
        ErrorKind::InvalidSecret | ErrorKind::Configuration => EXIT_BAD_INPUT,
        ErrorKind::Store(StoreErrorKind::ResourceNotFound | StoreErrorKind::InvalidParameter) => {
            EXIT_BAD_INPUT
        }
        _ => EXIT_FAILED,
    }
}

/// Why a command failed. The message never holds a secret value.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input: usage, conflicting options, an input that is not a JSON object, an
    /// unknown engine. Nothing changed.
    #[error("{0}")]
    Input(String),
    /// The command's input (a file, stdin) could not be read. Nothing changed.
    #[error("{context}: {source}")]
    Io {
        /// What was being read (`cannot read FILE`).
        context: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An environment variable the engine reads is invalid. Nothing changed.
    #[error("{}{source}", engine_prefix(*.engine))]
    Config {
        /// The engine that reads it, when there is one.
        engine: Option<&'static str>,
        /// The variable and what is wrong with it.
        #[source]
        source: ConfigError,
    },
    /// A Secrets Manager (or file store) call failed.
    #[error("{message}")]
    Store {
        /// What to print: the store's error, with context or a hint.
        message: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// A rotation step failed; its version keeps AWSPENDING.
    #[error(
        "rotation of {secret} failed at {step}: {source}\nthe version {token} keeps AWSPENDING; fix the cause, then `rotwise rotate {secret} --resume` (or `rotwise doctor {secret} --fix` to discard it)"
    )]
    Rotation {
        /// The secret, as the user named it.
        secret: String,
        /// The step that failed.
        step: Step,
        /// The rotation's token (the AWSPENDING version).
        token: String,
        /// The driver's error, with its kind (boxed: it is large).
        #[source]
        source: Box<RotationError>,
    },
    /// A dry run stopped: a check, a read or the current login failed. Nothing changed.
    #[error("dry run of the rotation of {secret}: {source}\nnothing was changed")]
    DryRun {
        /// The secret, as the user named it.
        secret: String,
        /// The driver's error, with its kind (boxed: it is large).
        #[source]
        source: Box<RotationError>,
    },
    /// The target (a database) failed outside a rotation step: a login, a statement, a
    /// secret value the engine cannot use.
    #[error("{context}: {source}")]
    Target {
        /// What was being done.
        context: String,
        /// The engine's error, with its kind.
        #[source]
        source: RotatorError,
    },
    /// The rotation completed, but the new credential does not log in.
    #[error("rotation of {secret} completed, but the new credential does not log in")]
    Proof {
        /// The secret.
        secret: String,
        /// Why the new credential's login failed (`LoginRefused` when refused).
        kind: ErrorKind,
    },
    /// The operation failed for a reason already printed (e.g. `doctor`'s findings).
    #[error("{0}")]
    Failed(String),
}

fn engine_prefix(engine: Option<&'static str>) -> String {
    engine.map(|e| format!("engine {e}: ")).unwrap_or_default()
}

impl CliError {
    /// Bad input.
    pub fn input(message: impl Into<String>) -> Self {
        CliError::Input(message.into())
    }

    /// A store call on `secret` failed: an unknown secret says how to create it.
    pub fn store(secret: &str, source: StoreError) -> Self {
        let message = match source.kind {
            StoreErrorKind::ResourceNotFound => format!(
                "unknown secret {secret:?} ({source}); `rotwise put {secret} --from-json FILE` creates it"
            ),
            _ => source.to_string(),
        };
        CliError::Store { message, source }
    }

    /// A store call failed; print `message` instead of the store's error.
    pub fn store_with(message: impl Into<String>, source: StoreError) -> Self {
        CliError::Store {
            message: message.into(),
            source,
        }
    }

    /// An invalid environment variable read for `engine`.
    pub fn config(engine: Option<&'static str>, source: ConfigError) -> Self {
        CliError::Config { engine, source }
    }

    /// The target failed while doing `context`.
    pub fn target(context: impl Into<String>, source: impl Into<RotatorError>) -> Self {
        CliError::Target {
            context: context.into(),
            source: source.into(),
        }
    }

    /// The failure's kind, where it has one (usage errors and `doctor`'s findings have none).
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            CliError::Input(_) | CliError::Io { .. } | CliError::Failed(_) => None,
            CliError::Config { .. } => Some(ErrorKind::Configuration),
            CliError::Store { source, .. } => Some(ErrorKind::Store(source.kind)),
            CliError::Rotation { source, .. } | CliError::DryRun { source, .. } => {
                Some(source.kind())
            }
            CliError::Target { source, .. } => Some(source.kind()),
            CliError::Proof { kind, .. } => Some(*kind),
        }
    }

    /// The process's exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match (self, self.kind()) {
            (_, Some(kind)) => exit_code(kind),
            (CliError::Failed(_), None) => EXIT_FAILED,
            (_, None) => EXIT_BAD_INPUT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_kind() {
        let expected = [
            (ErrorKind::Unreachable, 3),
            (ErrorKind::LoginRefused, 4),
            (ErrorKind::Tls, 5),
            (ErrorKind::Permission, 6),
            (ErrorKind::InvalidSecret, 2),
            (ErrorKind::Configuration, 2),
            (ErrorKind::Conflict, 1),
            (ErrorKind::Target, 1),
            (ErrorKind::Internal, 1),
            (ErrorKind::InvalidEvent, 1),
            (ErrorKind::Store(StoreErrorKind::ResourceNotFound), 2),
            (ErrorKind::Store(StoreErrorKind::InvalidParameter), 2),
            (ErrorKind::Store(StoreErrorKind::InvalidRequest), 1),
            (ErrorKind::Store(StoreErrorKind::Transport), 1),
        ];
        for (kind, code) in expected {
            assert_eq!(exit_code(kind), code, "{kind:?}");
        }
        for kind in ErrorKind::ALL {
            let e = CliError::target("x", RotatorError::new(kind, "y"));
            assert_eq!(e.exit_code(), exit_code(kind));
        }
    }

    #[test]
    fn errors_without_a_kind() {
        assert_eq!(CliError::input("usage").exit_code(), 2);
        assert_eq!(CliError::Failed("2 problem(s)".into()).exit_code(), 1);
        let io = CliError::Io {
            context: "cannot read x".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert_eq!(io.exit_code(), 2);
        let config = CliError::config(
            Some("postgres"),
            ConfigError::invalid("ROTATION_TLS_MODE", "loose", "disable, ..."),
        );
        assert_eq!(config.exit_code(), 2);
        assert!(
            config
                .to_string()
                .starts_with("engine postgres: environment variable ROTATION_TLS_MODE"),
            "{config}"
        );
    }

    #[test]
    fn an_unknown_secret_says_how_to_create_it() {
        let e = CliError::store(
            "db",
            StoreError::new(StoreErrorKind::ResourceNotFound, "DescribeSecret", "no"),
        );
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().starts_with("unknown secret \"db\""), "{e}");
        let e = CliError::store(
            "db",
            StoreError::new(StoreErrorKind::Service, "DescribeSecret", "boom"),
        );
        assert_eq!(e.exit_code(), 1);
    }
}
