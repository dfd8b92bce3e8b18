//! The database layer both engines (`rotwise-postgres`, `rotwise-mysql`) use: what they
//! would otherwise each write again. See `ARCHITECTURE.md` for where it sits.
//!
//! - [`DbSecret`] reads and writes the secret JSON AWS's rotation functions use, for any
//!   engine described by an [`Engine`]: the accepted `engine` values, the engine name in
//!   AWS's "Database engine must be set to '…'" text, the default port and database.
//! - [`TlsMode`] and `ssl`'s mapping to it ([`DbSecret::tls_mode`]); [`tls::load_roots`],
//!   the trust roots; [`login`], the `prefer` fallback with its WARN.
//! - [`DbOptions`]: strategy, TLS mode, CA file, connect timeout, username limit, read
//!   from the environment ([`DbOptions::from_env`]) by the Lambdas and the CLI alike.
//! - [`DbError`]: one error type, each variant mapped to a neutral
//!   [`rotwise_core::ErrorKind`]; [`Credential`] and [`LoginError`] say which credential
//!   failed to log in, and why, without the password.
//! - [`names`]: the alternating pair's names and the engines' name limits.
//! - [`DbRotator`]: both strategies (AWS's checks and texts, the single-user login order,
//!   the alternating prologue, testSecret) over the [`Dialect`] an engine implements;
//!   it is the [`rotwise_core::Rotator`] and the [`rotwise_core::LoginProbe`].
//!
//! ```
//! use rotwise_db::{DbSecret, Engine, TlsMode};
//!
//! #[derive(Clone, Copy, Debug, PartialEq, Eq)]
//! struct Toy;
//!
//! impl Engine for Toy {
//!     const ENGINES: &'static [&'static str] = &["toy"];
//!     const AWS_NAME: &'static str = "toy";
//!     const PRODUCT: &'static str = "Toy";
//!     const SECRET_TYPE: &'static str = "ToySecret";
//!     const DEFAULT_PORT: u16 = 1234;
//!     const DEFAULT_DBNAME: Option<&'static str> = Some("main");
//!     type Dbname = String;
//! }
//!
//! let secret = DbSecret::<Toy>::parse_str(
//!     r#"{"engine": "toy", "host": "db", "username": "u", "password": "p", "ssl": true}"#,
//! ).unwrap();
//! assert_eq!((secret.port, secret.dbname.as_str()), (1234, "main"));
//! assert_eq!(secret.tls_mode(), TlsMode::VerifyFull);
//! let err = DbSecret::<Toy>::parse_str(r#"{"host": "db", "username": "u", "password": "p"}"#)
//!     .unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "Database engine must be set to 'toy' in order to use this rotation lambda"
//! );
//! ```

pub mod changes;
mod credential;
pub mod error;
pub mod fault;
pub mod login;
pub mod managed;
pub mod names;
pub mod options;
pub mod rds;
pub mod rotator;
pub mod secret;
pub mod tls;

pub use changes::{Changes, SecretSql};
pub use credential::{Credential, LoginError, LoginFailure};
pub use error::DbError;
pub use names::{NameError, NameLimit};
pub use options::{DEFAULT_CONNECT_TIMEOUT, DbOptions};
pub use rotator::{DbRotator, Dialect, Holder};
pub use secret::{DbSecret, Dbname, Engine, SecretError};
pub use tls::{TlsMode, UnknownTlsMode};
