//! The CLI's logging: warnings (e.g. a TLS fallback to plaintext) on stderr.
//!
//! `ROTWISE_LOG` is an `EnvFilter` directive string (default `warn`). Whatever it says,
//! only rotwise's own targets (`rotwise` and `rotwise_*`) may log below INFO: every other
//! target (the dependencies: `tokio_postgres`, `mysql_async`, `aws_smithy_*`, `aws_sdk_*`,
//! `aws_config`, `hyper`, `rustls`, ...) and every engine's driver log targets
//! (`LOG_TARGETS`) are capped at INFO. At DEBUG and TRACE the drivers log statements
//! (tokio-postgres the `ALTER ROLE` with its SCRAM verifier) and connection options (the
//! password), and the AWS SDK request bodies. The cap is a per-layer filter applied after
//! the user's filter and matched by crate prefix, so no directive can lift it, however
//! specific (`ROTWISE_LOG=tokio_postgres::simple_query=trace` logs nothing of
//! tokio-postgres below INFO). The same rule as the Lambda functions'
//! (`rotwise_lambda::logging`); the CLI does not depend on that crate, so it is repeated
//! here.

use tracing::Metadata;
use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

use crate::engines;

/// The user's filter: `ROTWISE_LOG` (default `warn`; an invalid one falls back to `warn`).
pub fn filter(directives: Option<&str>) -> EnvFilter {
    EnvFilter::try_new(directives.unwrap_or("warn")).unwrap_or_else(|_| EnvFilter::new("warn"))
}

/// Whether a span or event may be logged: everything at INFO or less verbose; DEBUG and
/// TRACE only for rotwise's own targets that are not an engine's driver target.
pub fn allowed(meta: &Metadata<'_>) -> bool {
    rotwise_core::logs::allowed(meta, engines::log_targets())
}

/// The formatting layer with the user's filter and the cap, writing to `writer`.
pub fn layer<W>(directives: Option<&str>, writer: W) -> Box<dyn Layer<Registry> + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(filter(directives).and(filter_fn(allowed)))
        .boxed()
}

/// Install the subscriber (stderr, colours on a terminal).
pub fn init(directives: Option<&str>) {
    let _ = tracing_subscriber::registry()
        .with(layer(directives, std::io::stderr))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

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

    fn logged(directives: Option<&str>, canary: &str) -> String {
        let buf = Buf::default();
        let subscriber = tracing_subscriber::registry().with(layer(directives, buf.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "tokio_postgres::simple_query", query = canary, "executing simple query");
            tracing::debug!(target: "tokio_postgres::query", query = canary, "executing statement");
            tracing::trace!(target: "mysql_async::conn", opts = canary, "connecting");
            tracing::trace!(target: "aws_smithy_runtime::client::http::body", body = canary, "body");
            tracing::trace!(target: "lambda_runtime", body = canary, "raw event");
            tracing::debug!(target: "rotwise_db::login", "own-debug-line");
            tracing::warn!(target: "tokio_postgres", "dependency-warning");
        });
        let bytes = buf.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Issue 19, item 5: before, `ROTWISE_LOG=tokio_postgres::simple_query=debug` won over
    /// the `tokio_postgres=info` cap and logged the ALTER ROLE with its verifier.
    #[test]
    fn no_directive_lifts_the_cap() {
        const CANARY: &str = "Canary-cli-trace-77ab";
        for directives in [
            Some("trace"),
            Some("debug"),
            Some("tokio_postgres=trace,debug"),
            Some("tokio_postgres::simple_query=debug"),
            Some(
                "tokio_postgres::simple_query=trace,tokio_postgres::query=trace,mysql_async::conn=trace,aws_smithy_runtime=trace,lambda_runtime=trace,rotwise_db=debug",
            ),
        ] {
            let out = logged(directives, CANARY);
            assert!(!out.contains(CANARY), "{directives:?} leaked:\n{out}");
            // A filter naming modules only logs nothing else.
            let text = directives.unwrap_or_default();
            if text.split(',').any(|d| !d.contains('=')) || text.starts_with("tokio_postgres=") {
                assert!(out.contains("dependency-warning"), "{directives:?}: {out}");
            }
            if text.contains("rotwise_db") || !text.contains("::") {
                assert!(out.contains("own-debug-line"), "{directives:?}: {out}");
            }
        }
        // The default shows warnings, not DEBUG lines.
        let out = logged(None, CANARY);
        assert!(out.contains("dependency-warning") && !out.contains("own-debug-line"));
        // Positive control: the user's filter alone lets the canary through.
        let buf = Buf::default();
        let uncapped = tracing_subscriber::fmt::layer()
            .with_writer(buf.clone())
            .with_filter(filter(Some("tokio_postgres::simple_query=debug")));
        tracing::subscriber::with_default(tracing_subscriber::registry().with(uncapped), || {
            tracing::debug!(target: "tokio_postgres::simple_query", query = CANARY, "q");
        });
        let out = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
        assert!(out.contains(CANARY), "the control sees the canary: {out}");
    }

    #[test]
    fn every_engine_driver_target_is_capped_even_if_it_were_ours() {
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
        for target in engines::log_targets() {
            let meta = Metadata::new(
                "e",
                target,
                Level::DEBUG,
                None,
                None,
                None,
                FieldSet::new(&[], Identifier(&CS)),
                Kind::EVENT,
            );
            assert!(!allowed(&meta), "{target}");
        }
    }
}
