//! Logs: `tracing` events as Lambda expects them.
//!
//! - Format: JSON (one object per line, `timestamp`, `level`, `message` and fields at the
//!   top level, plus the current span's fields: secret, token, step) when
//!   `AWS_LAMBDA_LOG_FORMAT=JSON`, which Lambda sets when the function's log format is
//!   JSON; plain text otherwise.
//! - Level: `AWS_LAMBDA_LOG_LEVEL` (Lambda's application log level: `TRACE`, `DEBUG`,
//!   `INFO`, `WARN`, `ERROR`, `FATAL`), else `RUST_LOG` (a `tracing` filter), else INFO.
//! - Always, whatever the level or filter says: only rotwise's own targets (`rotwise`
//!   and `rotwise_*`, e.g. `rotwise_core`, `rotwise_db`) may log below INFO. Every other
//!   target (the dependencies: `lambda_runtime`, `aws_smithy_*`, `aws_sdk_*`,
//!   `aws_config`, `hyper`, `rustls`, `tokio_postgres`, `mysql_async`, ...) is capped at
//!   INFO, and so are the log targets the binary names (a database engine's
//!   `LOG_TARGETS`) even if they are rotwise's. Why: at DEBUG and TRACE the dependencies
//!   log what rotwise keeps secret: `lambda_runtime` the raw event with its
//!   `RotationToken`, the AWS SDK request bodies, tokio-postgres each statement (the
//!   `ALTER ROLE` with its SCRAM verifier), mysql_async its options with the password.
//!   The cap is a per-layer filter applied after the `RUST_LOG` filter and matches by
//!   crate prefix, so no directive can lift it, however specific
//!   (`RUST_LOG=tokio_postgres::simple_query=trace` logs nothing of tokio-postgres below
//!   INFO). A custom rotator's own crate is capped like any dependency unless its name
//!   starts with `rotwise_`.

use tracing::Metadata;
use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
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
    /// own subscriber. Below INFO, only rotwise's own targets pass, and not the `capped`
    /// ones (nor their modules): see [`allowed`].
    pub fn layer(&self, capped: &'static [&'static str]) -> Box<dyn Layer<Registry> + Send + Sync> {
        self.layer_to(capped, std::io::stdout)
    }

    /// [`LogConfig::layer`] writing to `writer` (tests read what would be logged).
    pub fn layer_to<W>(
        &self,
        capped: &'static [&'static str],
        writer: W,
    ) -> Box<dyn Layer<Registry> + Send + Sync>
    where
        W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        // Parsed in from_env already; a default filter is the fallback, never a panic.
        let env_filter = EnvFilter::builder()
            .parse(&self.filter)
            .unwrap_or_else(|_| EnvFilter::new("info"));
        // After the user's filter, and by crate prefix: no directive lifts it.
        let filter = env_filter.and(filter_fn(move |meta| allowed(meta, capped)));
        if self.json {
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_target(true)
                .with_writer(writer)
                .with_filter(filter)
                .boxed()
        } else {
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_target(true)
                .with_writer(writer)
                .with_filter(filter)
                .boxed()
        }
    }
}

/// Whether a span or event may be logged ([`rotwise_core::logs::allowed`]: DEBUG and
/// TRACE only for rotwise's own targets that are not `capped`). See the module's docs.
pub fn allowed(meta: &Metadata<'_>, capped: &[&str]) -> bool {
    rotwise_core::logs::allowed(meta, capped.iter().copied())
}

pub use rotwise_core::logs::is_own_target;

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

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
    fn only_rotwise_targets_log_below_info() {
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
        let capped = &["tokio_postgres", "mysql_async", "rotwise_capped"];
        let ok = |m: &Metadata<'_>| allowed(m, capped);
        assert!(!ok(&meta("tokio_postgres::query", Level::DEBUG)));
        assert!(!ok(&meta("tokio_postgres", Level::TRACE)));
        assert!(!ok(&meta("mysql_async::conn", Level::DEBUG)));
        assert!(ok(&meta("tokio_postgres::query", Level::INFO)));
        assert!(ok(&meta("mysql_async", Level::WARN)));
        assert!(ok(&meta("rotwise_core", Level::TRACE)));
        assert!(ok(&meta("rotwise", Level::DEBUG)));
        assert!(ok(&meta("rotwise_db::login", Level::DEBUG)));
        // Capped even though it is rotwise's: the binary named it.
        assert!(!ok(&meta("rotwise_capped::x", Level::DEBUG)));
        // Every other crate is capped, named or not, however it is spelt.
        for target in [
            "tokio_postgres_rustls",
            "lambda_runtime",
            "lambda_runtime::layers::api_response",
            "aws_smithy_runtime::client::orchestrator",
            "aws_sdk_secretsmanager",
            "aws_config",
            "hyper_util::client",
            "rustls::client",
            "rotwisely",
            "my_rotwise_thing",
        ] {
            assert!(!ok(&meta(target, Level::DEBUG)), "{target}");
            assert!(ok(&meta(target, Level::INFO)), "{target}");
        }
    }

    /// A writer the tests read back.
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buf {
        type Writer = Buf;
        fn make_writer(&'w self) -> Buf {
            self.clone()
        }
    }

    /// What `config` logs of one event per target at TRACE and DEBUG, each carrying
    /// `canary`, plus rotwise's own.
    fn logged(config: &LogConfig, capped: &'static [&'static str], canary: &str) -> String {
        use tracing_subscriber::layer::SubscriberExt;
        let buf = Buf::default();
        let subscriber = tracing_subscriber::registry().with(config.layer_to(capped, buf.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = canary, "raw JSON event received from Lambda");
            tracing::trace!(target: "aws_smithy_runtime::client::http::body", body = canary, "request body");
            tracing::debug!(target: "tokio_postgres::simple_query", query = canary, "executing simple query");
            tracing::debug!(target: "tokio_postgres::query", query = canary, "executing statement");
            tracing::trace!(target: "mysql_async::conn", opts = canary, "connecting");
            tracing::debug!(target: "hyper_util::client::legacy", canary, "request");
            tracing::debug!(target: "rotwise_db::login", user = "own-debug-line", "logged in");
            tracing::info!(target: "lambda_runtime", "own-info-line");
        });
        let bytes = buf.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Issue 19, item 5: no directive, however specific, lets a dependency log below
    /// INFO; rotwise's own DEBUG lines and INFO lines still come through (the positive
    /// control).
    #[test]
    fn no_directive_lifts_the_cap() {
        const CANARY: &str = "Canary-trace-5c1e";
        for filter in [
            "trace",
            "debug",
            "lambda_runtime=trace",
            "aws_smithy_runtime=trace,info",
            "tokio_postgres::simple_query=debug",
            "tokio_postgres::simple_query=trace,tokio_postgres::query=trace,mysql_async::conn=trace,lambda_runtime::layers::api_response=trace,aws_smithy_runtime::client::http::body=trace,hyper_util=trace,rotwise_db=debug,lambda_runtime=info",
        ] {
            for json in [false, true] {
                let config = LogConfig {
                    json,
                    filter: filter.to_string(),
                };
                let out = logged(&config, &["tokio_postgres", "mysql_async"], CANARY);
                assert!(
                    !out.contains(CANARY),
                    "{filter} (json {json}) leaked:\n{out}"
                );
                if filter.contains("rotwise_db") || filter == "trace" || filter == "debug" {
                    assert!(out.contains("own-debug-line"), "{filter}: {out}");
                }
                if !filter.starts_with("tokio_postgres::simple_query=debug") {
                    assert!(out.contains("own-info-line"), "{filter}: {out}");
                }
            }
        }
        // Positive control: the same events through the user's filter alone (no cap)
        // do show the canary, so the check above can fail.
        use tracing_subscriber::layer::SubscriberExt;
        let buf = Buf::default();
        let uncapped = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(buf.clone())
            .with_filter(EnvFilter::new("tokio_postgres::simple_query=debug"));
        tracing::subscriber::with_default(tracing_subscriber::registry().with(uncapped), || {
            tracing::debug!(target: "tokio_postgres::simple_query", query = CANARY, "executing simple query");
        });
        let out = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
        assert!(
            out.contains(CANARY),
            "the uncapped control sees the canary: {out}"
        );
    }
}
