//! `rotwise-local-sm`: a local Secrets Manager endpoint serving an empty in-memory store
//! (see `rotwise_testkit::endpoint` for the protocol and the operations).
//!
//! ```text
//! rotwise-local-sm [--bind ADDR:PORT | --port PORT] [--delay-ms MS]
//! ```
//!
//! The default is `127.0.0.1:0` (a free port). `--delay-ms` answers every request that
//! many milliseconds late (fractions allowed), to model the service's round trip in a
//! region. The first line on stdout is the endpoint
//! URL (`http://127.0.0.1:PORT`), so a script can read it and set
//! `SECRETS_MANAGER_ENDPOINT`. It serves until Ctrl-C or SIGTERM, then prints the
//! per-operation call counts on stderr.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rotwise_core::store::MemoryStore;
use rotwise_testkit::endpoint::LocalEndpoint;

const USAGE: &str = "usage: rotwise-local-sm [--bind ADDR:PORT | --port PORT] [--delay-ms MS]

Serves an empty in-memory Secrets Manager over the service's JSON protocol
(X-Amz-Target: secretsmanager.<Operation>) until Ctrl-C or SIGTERM.

  --bind ADDR:PORT  address to listen on (default 127.0.0.1:0, a free port)
  --port PORT       listen on 127.0.0.1:PORT
  --delay-ms MS     answer every request MS milliseconds late (e.g. 5, or 0.5),
                    like a round trip to the service in a region (default 0)
  -h, --help        print this help

The first line on stdout is the endpoint URL, e.g. http://127.0.0.1:40123";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
struct Options {
    /// The address to bind.
    addr: SocketAddr,
    /// Added to every answer.
    delay: Duration,
}

/// The longest `--delay-ms` accepted: a minute (a longer one is a typo).
const MAX_DELAY_MS: f64 = 60_000.0;

fn parse_delay(value: &str) -> Result<Duration, String> {
    match value.parse::<f64>() {
        Ok(ms) if (0.0..=MAX_DELAY_MS).contains(&ms) => Ok(Duration::from_secs_f64(ms / 1000.0)),
        _ => Err(format!(
            "--delay-ms expects milliseconds from 0 to {MAX_DELAY_MS}, got {value:?}"
        )),
    }
}

/// Parse the arguments (without the program name), or `None` for `--help`.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
    let mut delay = Duration::ZERO;
    let mut seen: Option<&str> = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let flag = match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--bind" => "--bind",
            "--port" => "--port",
            "--delay-ms" => {
                let value = inline
                    .or_else(|| args.next())
                    .ok_or("--delay-ms needs a value")?;
                delay = parse_delay(&value)?;
                continue;
            }
            other => return Err(format!("unknown argument {other:?}")),
        };
        if let Some(previous) = seen {
            return Err(format!(
                "{flag} given after {previous}: use only one of them"
            ));
        }
        seen = Some(flag);
        let value = match inline.or_else(|| args.next()) {
            Some(v) => v,
            None => return Err(format!("{flag} needs a value")),
        };
        addr = if flag == "--bind" {
            value.parse().map_err(|_| {
                format!("--bind expects ADDR:PORT (e.g. 127.0.0.1:4566), got {value:?}")
            })?
        } else {
            let port: u16 = value
                .parse()
                .map_err(|_| format!("--port expects a number from 0 to 65535, got {value:?}"))?;
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
        };
    }
    Ok(Some(Options { addr, delay }))
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                eprintln!("rotwise-local-sm: cannot listen for SIGTERM ({e}); stop with Ctrl-C");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Options { addr, delay } = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("rotwise-local-sm: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let endpoint = match LocalEndpoint::start_on(addr, Arc::new(MemoryStore::new())) {
        Ok(endpoint) => endpoint,
        Err(e) => {
            eprintln!("rotwise-local-sm: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    endpoint.set_delay(delay);
    {
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{}", endpoint.url())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return ExitCode::FAILURE;
        }
    }
    stop_signal().await;
    let calls = endpoint.calls();
    endpoint.shutdown().await;
    eprintln!("rotwise-local-sm: stopped; calls per operation: {calls:?}");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<SocketAddr>, String> {
        parse_args(args.iter().map(|s| s.to_string())).map(|o| o.map(|o| o.addr))
    }

    fn delay(args: &[&str]) -> Result<Duration, String> {
        parse_args(args.iter().map(|s| s.to_string())).map(|o| o.map_or(Duration::MAX, |o| o.delay))
    }

    #[test]
    fn delay_argument() {
        assert_eq!(delay(&[]), Ok(Duration::ZERO));
        assert_eq!(delay(&["--delay-ms", "5"]), Ok(Duration::from_millis(5)));
        assert_eq!(delay(&["--delay-ms=0.5"]), Ok(Duration::from_micros(500)));
        assert_eq!(
            delay(&["--port", "4566", "--delay-ms", "2"]),
            Ok(Duration::from_millis(2))
        );
        assert_eq!(
            parse(&["--delay-ms", "2", "--port", "4566"]),
            Ok(Some("127.0.0.1:4566".parse().unwrap()))
        );
        for bad in ["-1", "x", "NaN", "60001"] {
            assert!(
                delay(&["--delay-ms", bad])
                    .unwrap_err()
                    .contains("--delay-ms"),
                "{bad}"
            );
        }
        assert!(
            delay(&["--delay-ms"])
                .unwrap_err()
                .contains("needs a value")
        );
    }

    #[test]
    fn arguments() {
        assert_eq!(parse(&[]), Ok(Some("127.0.0.1:0".parse().unwrap())));
        assert_eq!(
            parse(&["--port", "4566"]),
            Ok(Some("127.0.0.1:4566".parse().unwrap()))
        );
        assert_eq!(
            parse(&["--bind=0.0.0.0:80"]),
            Ok(Some("0.0.0.0:80".parse().unwrap()))
        );
        assert_eq!(parse(&["--help"]), Ok(None));
        assert!(parse(&["--port"]).unwrap_err().contains("needs a value"));
        assert!(parse(&["--port", "x"]).unwrap_err().contains("0 to 65535"));
        assert!(
            parse(&["--bind", "localhost"])
                .unwrap_err()
                .contains("ADDR:PORT")
        );
        assert!(
            parse(&["--port", "1", "--bind", "127.0.0.1:2"])
                .unwrap_err()
                .contains("only one")
        );
        assert!(parse(&["serve"]).unwrap_err().contains("unknown argument"));
    }
}
