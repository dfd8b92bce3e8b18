//! [`DbOptions`]: what a database rotator is configured with, read from the environment
//! the same way by the Lambdas and the CLI.

use std::path::PathBuf;
use std::time::Duration;

use rotwise_core::Strategy;
use rotwise_core::config::{ConfigError, Env};

use crate::tls::TlsMode;

/// `ROTATION_STRATEGY`: `single` or `alternating`.
pub const ENV_STRATEGY: &str = "ROTATION_STRATEGY";
/// `ROTATION_TLS_MODE`: `disable`, `prefer`, `require` or `verify-full`.
pub const ENV_TLS_MODE: &str = "ROTATION_TLS_MODE";
/// `ROTATION_CA_FILE`: PEM certificates trusted in addition to the system bundle
/// (`verify-full`, `prefer`), or instead of it (`require`).
pub const ENV_CA_FILE: &str = "ROTATION_CA_FILE";
/// `ROTATION_ALLOW_CLEARTEXT_PASSWORD`: `true` lets a server whose certificate was not
/// verified for the host name ask for the password in cleartext.
pub const ENV_ALLOW_CLEARTEXT_PASSWORD: &str = "ROTATION_ALLOW_CLEARTEXT_PASSWORD";
/// `ROTATION_MYSQL_DUAL_PASSWORD`: `true` makes the MySQL engine's single-user rotation
/// keep the old password as MySQL 8's secondary password until finishSecret (MySQL
/// 8.0.14+; refused on MariaDB and older MySQL). Ignored by the PostgreSQL engine.
pub const ENV_MYSQL_DUAL_PASSWORD: &str = "ROTATION_MYSQL_DUAL_PASSWORD";
/// `ROTATION_CONNECT_TIMEOUT_MS`: limit for one database login.
pub const ENV_CONNECT_TIMEOUT_MS: &str = "ROTATION_CONNECT_TIMEOUT_MS";

/// The default connect timeout (TCP, TLS and authentication together), as AWS's functions.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest connect timeout accepted: a Lambda runs 15 minutes at most.
pub const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(900);

/// Settings of a database rotator. The engine crates read no environment variable
/// except `SSL_CERT_FILE` (the system CA bundle); [`DbOptions::from_env`] is how the
/// binaries fill this in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbOptions {
    /// Overrides every secret's `ssl` key. `None`: `ssl` true → verify-full, false →
    /// disable, absent → prefer.
    pub tls: Option<TlsMode>,
    /// Trusted in addition to the system bundle (e.g. the RDS CA bundle); with
    /// [`TlsMode::Require`], trusted instead of it.
    pub ca_file: Option<PathBuf>,
    /// Limit for one login (TCP connect, TLS handshake and authentication).
    pub connect_timeout: Duration,
    /// `None`: alternating when the current secret has `masterarn` (with a warning on
    /// every step), else single.
    pub strategy: Option<Strategy>,
    /// The clone-name limit createSecret checks, for engines whose limit depends on the
    /// server (MySQL's `USERNAME_CHARACTER_LIMIT`). `None`: the engine's documented limit.
    pub username_limit: Option<usize>,
    /// Send the password when a server asks for it in a form the other end can read
    /// (PostgreSQL `password` authentication; MySQL `caching_sha2_password` full
    /// authentication and `mysql_clear_password`) over a connection whose certificate was
    /// not verified for the host name (`disable`, `require`, `prefer` after its fallback). `false` (the default):
    /// such a login fails with [`LoginFailure::Tls`](crate::LoginFailure::Tls). SCRAM, MD5 and
    /// `mysql_native_password` never send the password and are always allowed.
    pub allow_cleartext_password: bool,
    /// MySQL engine, single user (`ROTATION_MYSQL_DUAL_PASSWORD`): setSecret sets the new
    /// password with `RETAIN CURRENT PASSWORD` and finishSecret runs `DISCARD OLD
    /// PASSWORD`, so clients holding the old password keep working until the rotation
    /// finishes. MySQL 8.0.14+ only: refused before any change on MariaDB and older MySQL.
    /// Ignored by the PostgreSQL engine and by alternating users.
    pub mysql_dual_password: bool,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            tls: None,
            ca_file: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            strategy: None,
            username_limit: None,
            allow_cleartext_password: false,
            mysql_dual_password: false,
        }
    }
}

impl DbOptions {
    /// Read `ROTATION_STRATEGY`, `ROTATION_TLS_MODE`, `ROTATION_CA_FILE` (checked readable
    /// now, so a wrong path stops the function at init), `ROTATION_CONNECT_TIMEOUT_MS`,
    /// `ROTATION_ALLOW_CLEARTEXT_PASSWORD` and `ROTATION_MYSQL_DUAL_PASSWORD` (booleans as
    /// AWS's variables: `true`, `1`, `y`, `yes`, `false`, `0`, `n`, `no`, any case) and
    /// `username_limit_var` when the engine has one. Blank means unset.
    ///
    /// ```
    /// use rotwise_core::{Strategy, config::Env};
    /// use rotwise_db::{DbOptions, TlsMode};
    ///
    /// let env = Env::from_pairs([("ROTATION_STRATEGY", "alternating"), ("ROTATION_TLS_MODE", "verify-full")]);
    /// let options = DbOptions::from_env(&env, None)?;
    /// assert_eq!(options.strategy, Some(Strategy::Alternating));
    /// assert_eq!(options.tls, Some(TlsMode::VerifyFull));
    ///
    /// let env = Env::from_pairs([("ROTATION_CONNECT_TIMEOUT_MS", "5s")]);
    /// assert_eq!(DbOptions::from_env(&env, None).unwrap_err().var, "ROTATION_CONNECT_TIMEOUT_MS");
    /// # Ok::<(), rotwise_core::config::ConfigError>(())
    /// ```
    pub fn from_env(env: &Env, username_limit_var: Option<&str>) -> Result<Self, ConfigError> {
        let strategy = env.parse::<Strategy>(ENV_STRATEGY)?;
        let tls = env.parse::<TlsMode>(ENV_TLS_MODE)?;
        let ca_file = match env.get_set(ENV_CA_FILE) {
            None => None,
            Some(v) => {
                std::fs::File::open(v).map_err(|e| ConfigError {
                    var: ENV_CA_FILE.to_string(),
                    message: format!(
                        "environment variable {ENV_CA_FILE} names {v:?}, which cannot be read ({e}); \
                         give the path of a PEM bundle inside the function's package or layer"
                    ),
                })?;
                Some(PathBuf::from(v))
            }
        };
        let connect_timeout = match env.get_set(ENV_CONNECT_TIMEOUT_MS) {
            None => DEFAULT_CONNECT_TIMEOUT,
            Some(v) => match v.parse::<u64>() {
                Ok(ms) if ms > 0 && Duration::from_millis(ms) <= MAX_CONNECT_TIMEOUT => {
                    Duration::from_millis(ms)
                }
                _ => {
                    return Err(ConfigError::invalid(
                        ENV_CONNECT_TIMEOUT_MS,
                        v,
                        "milliseconds, an integer from 1 to 900000",
                    ));
                }
            },
        };
        let username_limit = match username_limit_var.and_then(|var| Some((var, env.get_set(var)?)))
        {
            None => None,
            Some((var, v)) => match v.parse::<u32>() {
                Ok(n) if n > 0 => Some(n as usize),
                _ => return Err(ConfigError::invalid(var, v, "a positive integer")),
            },
        };
        let allow_cleartext_password = match env.get_set(ENV_ALLOW_CLEARTEXT_PASSWORD) {
            None => false,
            Some(v) => parse_bool(v).ok_or_else(|| {
                ConfigError::invalid(
                    ENV_ALLOW_CLEARTEXT_PASSWORD,
                    v,
                    "true or false (also 1, y, yes, 0, n, no)",
                )
            })?,
        };
        let mysql_dual_password = match env.get_set(ENV_MYSQL_DUAL_PASSWORD) {
            None => false,
            Some(v) => parse_bool(v).ok_or_else(|| {
                ConfigError::invalid(
                    ENV_MYSQL_DUAL_PASSWORD,
                    v,
                    "true or false (also 1, y, yes, 0, n, no)",
                )
            })?,
        };
        Ok(DbOptions {
            tls,
            ca_file,
            connect_timeout,
            strategy,
            username_limit,
            allow_cleartext_password,
            mysql_dual_password,
        })
    }
}

/// A boolean as AWS's variables spell it (the rule `rotwise_core::config` documents).
fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "y" | "yes" => Some(true),
        "false" | "0" | "n" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<DbOptions, ConfigError> {
        DbOptions::from_env(
            &Env::from_pairs(pairs.iter().copied()),
            Some("USERNAME_CHARACTER_LIMIT"),
        )
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        assert_eq!(parse(&[]).unwrap(), DbOptions::default());
        let blank = parse(&[("ROTATION_STRATEGY", ""), ("ROTATION_TLS_MODE", "  ")]).unwrap();
        assert_eq!(blank, DbOptions::default());
    }

    #[test]
    fn every_variable_is_read() {
        let o = parse(&[
            ("ROTATION_STRATEGY", " Alternating "),
            ("ROTATION_TLS_MODE", "require"),
            ("ROTATION_CA_FILE", "/dev/null"),
            ("ROTATION_CONNECT_TIMEOUT_MS", "2500"),
            ("USERNAME_CHARACTER_LIMIT", "32"),
            ("ROTATION_ALLOW_CLEARTEXT_PASSWORD", " Yes "),
            ("ROTATION_MYSQL_DUAL_PASSWORD", "true"),
        ])
        .unwrap();
        assert!(o.allow_cleartext_password);
        assert!(o.mysql_dual_password);
        for (value, expected) in [("true", true), ("0", false), ("N", false), ("", false)] {
            let o = parse(&[("ROTATION_ALLOW_CLEARTEXT_PASSWORD", value)]).unwrap();
            assert_eq!(o.allow_cleartext_password, expected, "{value:?}");
        }
        assert_eq!(o.strategy, Some(Strategy::Alternating));
        assert_eq!(o.tls, Some(TlsMode::Require));
        assert_eq!(o.ca_file, Some(PathBuf::from("/dev/null")));
        assert_eq!(o.connect_timeout, Duration::from_millis(2500));
        assert_eq!(o.username_limit, Some(32));
        // An engine without a limit variable ignores it.
        let env = Env::from_pairs([("USERNAME_CHARACTER_LIMIT", "-1")]);
        assert_eq!(
            DbOptions::from_env(&env, None).unwrap().username_limit,
            None
        );
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (var, value) in [
            ("ROTATION_STRATEGY", "sideways"),
            ("ROTATION_TLS_MODE", "loose"),
            ("ROTATION_CA_FILE", "/nonexistent/ca.pem"),
            ("ROTATION_CONNECT_TIMEOUT_MS", "0"),
            ("ROTATION_CONNECT_TIMEOUT_MS", "5s"),
            ("ROTATION_CONNECT_TIMEOUT_MS", "900001"),
            ("USERNAME_CHARACTER_LIMIT", "-1"),
            ("ROTATION_ALLOW_CLEARTEXT_PASSWORD", "sometimes"),
            ("ROTATION_MYSQL_DUAL_PASSWORD", "retain"),
        ] {
            let err = parse(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{var}={value}: {err}");
            assert!(err.message.contains(var), "{var}={value}: {err}");
        }
    }
}
