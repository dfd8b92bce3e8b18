//! Logs: `tracing` events as Lambda expects them.
//!
//! - Format: JSON (one object per line, `timestamp`, `level`, `message` and fields at the
//!   top level, plus the current span's fields: secret, token, step) when
//!   `AWS_LAMBDA_LOG_FORMAT=JSON`, which Lambda sets when the function's log format is
//!   JSON; plain text otherwise.
//! - Level: `AWS_LAMBDA_LOG_LEVEL` (Lambda's application log level: `TRACE`, `DEBUG`,
//!   `INFO`, `WARN`, `ERROR`, `FATAL`), else `RUST_LOG` (a `tracing` filter), else INFO.
//! - Always: the log targets the binary names (its client libraries': each database
//!   engine's `LOG_TARGETS`) are capped at INFO whatever the level: tokio-postgres logs
//!   statements with their parameters at debug, and mysql_async's options carry the
//!   password in their `Debug` form.

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use rotwise_core::config::{ConfigError, Env};

/// Lambda's log format variable.
pub const ENV_LOG_FORMAT: &str = "AWS_LAMBDA_LOG_FORMAT";
/// Lambda's application log level variable.
pub const ENV_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
/// The `tracing` filter, used when `AWS_LAMBDA_LOG_LEVEL` is unset.
pub const ENV_RUST_LOG: &str = "RUST_LOG";

/// How to log, read from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// JSON lines (Lambda's JSON log format) rather than text.
    pub json: bool,
    /// A `tracing` filter directive string.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            json: false,
            filter: "info".to_string(),
        }
    }
}

impl LogConfig {
    /// Read `AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL` and `RUST_LOG`.
    ///
    /// # Errors
    ///
    /// An unknown format or level, or a `RUST_LOG` that is not a valid filter.
    pub fn from_env(env: &Env) -> Result<LogConfig, ConfigError> {
        let json = match env.get_set(ENV_LOG_FORMAT) {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("json") => true,
            Some(v) if v.eq_ignore_ascii_case("text") => false,
            Some(v) => return Err(ConfigError::invalid(ENV_LOG_FORMAT, v, "JSON or Text")),
        };
        let filter = if let Some(v) = env.get_set(ENV_LOG_LEVEL) {
            match v.to_ascii_uppercase().as_str() {
                "TRACE" => "trace",
                "DEBUG" => "debug",
                "INFO" => "info",
                "WARN" => "warn",
                "ERROR" | "FATAL" => "error",
                _ => {
                    return Err(ConfigError::invalid(
                        ENV_LOG_LEVEL,
                        v,
                        "TRACE, DEBUG, INFO, WARN, ERROR or FATAL",
                    ));
                }
            }
            .to_string()
        } else if let Some(v) = env.get_set(ENV_RUST_LOG) {
            EnvFilter::builder().parse(v).map_err(|e| ConfigError {
                var: ENV_RUST_LOG.to_string(),
                message: format!("environment variable {ENV_RUST_LOG} is not a valid filter: {e}"),
            })?;
            v.to_string()
        } else {
            "info".to_string()
        };
        Ok(LogConfig { json, filter })
    }

    /// Install this configuration as the global subscriber (once per process; later
    /// calls do nothing).
    pub fn install(&self, capped: &'static [&'static str]) {
        let _ = tracing_subscriber::registry()
            .with(self.layer(capped))
            .try_init();
    }

    /// The formatting layer with its filters, for [`LogConfig::install`] or a test's
    /// own subscriber.
    /// Events of the `capped` targets (and their submodules) more verbose than INFO are
    /// dropped.
    pub fn layer(&self, capped: &'static [&'static str]) -> Box<dyn Layer<Registry> + Send + Sync> {
        // Parsed in from_env already; a default filter is the fallback, never a panic.
        let env_filter = EnvFilter::builder()
            .parse(&self.filter)
            .unwrap_or_else(|_| EnvFilter::new("info"));
        let filter = env_filter.and(filter_fn(move |meta| not_capped(meta, capped)));
        if self.json {
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_target(true)
                .with_writer(std::io::stdout)
                .with_filter(filter)
                .boxed()
        } else {
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_target(true)
                .with_writer(std::io::stdout)
                .with_filter(filter)
                .boxed()
        }
    }
}

/// False for events of a `capped` target more verbose than INFO.
pub fn not_capped(meta: &Metadata<'_>, capped: &[&str]) -> bool {
    // In tracing, more verbose levels compare greater (TRACE > DEBUG > INFO).
    if *meta.level() <= Level::INFO {
        return true;
    }
    let target = meta.target();
    !capped.iter().any(|capped| {
        target == *capped
            || target
                .strip_prefix(capped)
                .is_some_and(|rest| rest.starts_with("::"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(pairs: &[(&str, &str)]) -> Result<LogConfig, ConfigError> {
        LogConfig::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn level_precedence() {
        assert_eq!(log(&[]).unwrap().filter, "info");
        assert_eq!(
            log(&[("RUST_LOG", "warn,x=debug")]).unwrap().filter,
            "warn,x=debug"
        );
        assert_eq!(
            log(&[("RUST_LOG", "warn"), ("AWS_LAMBDA_LOG_LEVEL", "trace")])
                .unwrap()
                .filter,
            "trace"
        );
        assert_eq!(
            log(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]).unwrap().filter,
            "error"
        );
    }

    #[test]
    fn format() {
        assert!(log(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]).unwrap().json);
        assert!(!log(&[("AWS_LAMBDA_LOG_FORMAT", "Text")]).unwrap().json);
        assert!(!log(&[]).unwrap().json);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("AWS_LAMBDA_LOG_FORMAT", "xml"),
            ("AWS_LAMBDA_LOG_LEVEL", "LOUD"),
            ("RUST_LOG", "a=b=c"),
        ] {
            let err = log(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var);
            assert!(err.message.contains(var), "{err}");
        }
    }

    #[test]
    fn driver_targets_are_capped_at_info() {
        use tracing::callsite::Identifier;
        use tracing::field::FieldSet;
        use tracing::metadata::Kind;

        struct Cs;
        impl tracing::Callsite for Cs {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                unreachable!()
            }
        }
        static CS: Cs = Cs;
        let meta = |target: &'static str, level: Level| {
            Metadata::new(
                "e",
                target,
                level,
                None,
                None,
                None,
                FieldSet::new(&[], Identifier(&CS)),
                Kind::EVENT,
            )
        };
        let capped = &["tokio_postgres", "mysql_async"];
        let not_capped = |m: &Metadata<'_>| not_capped(m, capped);
        assert!(!not_capped(&meta("tokio_postgres::query", Level::DEBUG)));
        assert!(!not_capped(&meta("tokio_postgres", Level::TRACE)));
        assert!(!not_capped(&meta("mysql_async::conn", Level::DEBUG)));
        assert!(not_capped(&meta("tokio_postgres::query", Level::INFO)));
        assert!(not_capped(&meta("mysql_async", Level::WARN)));
        assert!(not_capped(&meta("tokio_postgres_rustls", Level::DEBUG)));
        assert!(not_capped(&meta("rotwise_core", Level::TRACE)));
    }
}
