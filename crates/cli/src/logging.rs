//! The CLI's logging: warnings (e.g. a TLS fallback to plaintext) on stderr.

use tracing_subscriber::EnvFilter;

use crate::engines;

/// `ROTWISE_LOG` (an `EnvFilter` directive, default `warn`), with every engine's database
/// driver capped at INFO whatever it says: the drivers log statements (tokio-postgres with
/// their parameters) and connection options at DEBUG.
pub fn filter(directives: Option<&str>) -> EnvFilter {
    let base =
        EnvFilter::try_new(directives.unwrap_or("warn")).unwrap_or_else(|_| EnvFilter::new("warn"));
    engines::log_targets().fold(base, |filter, target| {
        filter.add_directive(
            format!("{target}=info")
                .parse()
                .expect("a log target is a valid directive"),
        )
    })
}

/// Install the subscriber (stderr, colours on a terminal).
pub fn init(directives: Option<&str>) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(directives))
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_driver_is_capped_at_info() {
        for directives in [
            None,
            Some("trace"),
            Some("tokio_postgres=trace,debug"),
            Some("["),
        ] {
            let text = filter(directives).to_string();
            for target in engines::log_targets() {
                assert!(
                    text.contains(&format!("{target}=info")),
                    "{directives:?}: {target} in {text}"
                );
            }
        }
    }
}
