//! AWS's database secret JSON and TLS mode, shared by the engines (`rotwise-postgres`,
//! `rotwise-mysql`).
//!
//! [`DbSecret`] reads and writes the secret JSON AWS's rotation functions use, for any
//! engine described by an [`Engine`]: the accepted `engine` values, the engine name in
//! AWS's "Database engine must be set to '…'" text, the default port and the default
//! database. [`TlsMode`] is the connection's TLS mode, and `ssl` maps to it
//! ([`DbSecret::tls_mode`]). The engines re-export these under their own names
//! (`PgSecret`, `MysqlSecret`, ...) and keep the connection code. [`Credential`] and
//! [`LoginError`] say which credential failed to log in, and why, without the password.
//!
//! ```
//! use rotwise_dbsecret::{DbSecret, Engine, TlsMode};
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

mod credential;
pub mod secret;
pub mod tls;

pub use credential::{Credential, LoginError};
pub use secret::{DbSecret, Dbname, Engine, SecretError};
pub use tls::{TlsMode, UnknownTlsMode};
