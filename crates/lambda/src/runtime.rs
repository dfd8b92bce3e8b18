//! The process: environment → configuration → store and rotator → `lambda_runtime`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use rotwise_core::config::{ConfigError, Env};
use rotwise_core::metrics::{CallCounter, Counts};
use rotwise_core::store::{Layered, LazyAwsStore};
use rotwise_core::{Driver, PasswordSource, RotationError, Rotator, Step, StepOutcome};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::LambdaConfig;
use crate::logging::LogConfig;
use crate::metrics::{Metrics, StepRecord};

/// Lambda's variable for the Runtime API's `host:port`.
pub const ENV_RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// The `errorType` of an init failure caused by the configuration (the
/// [`rotwise_core::ErrorKind::Configuration`] kind's).
pub const CONFIG_ERROR_TYPE: &str = "InvalidConfiguration";

/// What a rotation step's failure looks like to Lambda: `errorType` is
/// [`RotationError::error_type`], `errorMessage` the error's text (AWS's text verbatim
/// for the pre-checks). Neither ever holds a secret value.
pub fn diagnostic(error: &RotationError) -> Diagnostic {
    Diagnostic {
        error_type: error.error_type().to_string(),
        error_message: error.to_string(),
    }
}

/// Handle one invocation: the event is parsed and validated by the driver (a malformed
/// event changes nothing). Success returns `null`, as AWS's functions do.
pub async fn handle(driver: &Driver, event: &Value) -> Result<Value, Diagnostic> {
    step(driver, event)
        .await
        .map(|_| Value::Null)
        .map_err(|e| diagnostic(&e))
}

/// One step, reading only the event's secret and the master (see `guard`); a malformed
/// event reads nothing.
async fn step(driver: &Driver, event: &Value) -> Result<StepOutcome, RotationError> {
    let secret_id = event.get("SecretId").and_then(Value::as_str);
    crate::guard::for_secret(secret_id, driver.handle_json(event)).await
}

/// [`handle`], timed and counted, with its metrics written to stdout
/// ([`crate::metrics`]).
async fn handle_measured(
    driver: &Driver,
    calls: &CallCounter,
    metrics: &Metrics,
    event: &Value,
) -> Result<Value, Diagnostic> {
    let started = Instant::now();
    let before = Counts::now(calls);
    let result = step(driver, event).await;
    let field = |k: &str| event.get(k).and_then(Value::as_str).unwrap_or("");
    let record = StepRecord {
        step: field("Step"),
        secret_id: field("SecretId"),
        token: field("ClientRequestToken"),
        duration: started.elapsed(),
        error_type: result.as_ref().err().map(RotationError::error_type),
        completed_rotation: matches!(result, Ok(StepOutcome::Done(Step::FinishSecret))),
        counts: Counts::now(calls) - before,
    };
    let mut out = std::io::stdout().lock();
    for line in metrics.lines(&record) {
        // Best effort: a metric never fails a step.
        let _ = writeln!(out, "{line}");
    }
    drop(out);
    result.map(|_| Value::Null).map_err(|e| diagnostic(&e))
}

/// What a binary tells [`run`] about itself.
#[derive(Clone, Copy, Debug)]
pub struct Function {
    /// A short name for logs, e.g. `postgres`.
    pub name: &'static str,
    /// `EXCLUDE_CHARACTERS` when unset (the engine's default, as in AWS's functions).
    pub default_exclude_characters: &'static str,
    /// Log targets never logged below INFO: the client libraries that log secrets or
    /// statements at DEBUG (a database engine's `LOG_TARGETS`).
    pub capped_log_targets: &'static [&'static str],
}

/// Run a rotation Lambda: read the environment once, set up logs, check every variable
/// (a bad one stops the function at init with a message naming it, reported to the
/// Runtime API's `init/error` and on stderr), build the store and the rotator (no network
/// call), then serve invocations with [`Driver::handle_json`].
///
/// `make_rotator` builds the rotator from the same environment snapshot, reading its own
/// variables (a bad one is a [`ConfigError`]).
pub fn run<F>(function: Function, make_rotator: F) -> ExitCode
where
    F: FnOnce(&Env) -> Result<Arc<dyn Rotator>, ConfigError>,
{
    let started = Instant::now();
    let env = Env::from_process();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let engine = function.name;
    runtime.block_on(async move {
        let log = LogConfig::from_env(&env);
        log.as_ref()
            .cloned()
            .unwrap_or_default()
            .install(function.capped_log_targets);
        let init = log.and_then(|_| {
            let config = LambdaConfig::from_env(&env, function.default_exclude_characters)?;
            let master = crate::guard::master_from_env(&env)?;
            let metrics = Metrics::from_env(&env, engine)?;
            let rotator = make_rotator(&env)?;
            Ok((config, master, metrics, rotator))
        });
        let (config, master, metrics, rotator) = match init {
            Ok(ok) => ok,
            Err(e) => {
                tracing::error!(variable = %e.var, error = %e, "invalid configuration; the function cannot start");
                eprintln!("rotwise {engine}: {e}");
                report_init_error(&env, CONFIG_ERROR_TYPE, &e.to_string()).await;
                return ExitCode::FAILURE;
            }
        };

        // Configured on the first invocation: see LazyAwsStore. Reads limited to the
        // rotated secret and the master (see `guard`).
        let store = crate::guard::ReadGuard::new(Arc::new(LazyAwsStore::new()), master.clone());
        let store = Arc::new(Layered(CallCounter::new(Arc::new(store))));
        let driver = Arc::new(
            Driver::new(store.clone(), rotator).with_passwords(config.passwords.clone()),
        );
        let metrics = Arc::new(metrics);
        tracing::info!(
            engine,
            rotator = driver.rotator().name(),
            endpoint = config.endpoint.as_deref().unwrap_or("(the region's)"),
            passwords = match config.passwords {
                PasswordSource::Local(_) => "local",
                PasswordSource::Service(_) => "service",
            },
            master_secret = master.as_deref().unwrap_or("(any the role may read)"),
            init_ms = started.elapsed().as_secs_f64() * 1000.0,
            "initialised"
        );

        let handler = service_fn(move |event: LambdaEvent<Value>| {
            let (driver, store, metrics) = (driver.clone(), store.clone(), metrics.clone());
            async move {
                // Never the payload: it holds the RotationToken.
                tracing::debug!(request_id = %event.context.request_id, "invocation received");
                handle_measured(&driver, &store.0, &metrics, &event.payload).await
            }
        });
        match lambda_runtime::run(handler).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "the Lambda runtime stopped");
                ExitCode::FAILURE
            }
        }
    })
}

/// POST `init/error` to the Runtime API (best effort: Lambda also sees the exit status
/// and stderr). A minimal HTTP/1.1 request: the runtime client is not built yet.
async fn report_init_error(env: &Env, error_type: &str, message: &str) {
    let Some(api) = env.get_set(ENV_RUNTIME_API) else {
        return;
    };
    let body = serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Runtime-Function-Error-Type: Runtime.{error_type}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let send = async {
        let mut stream = tokio::net::TcpStream::connect(api).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    match tokio::time::timeout(std::time::Duration::from_secs(2), send).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not report the init error to the Runtime API")
        }
        Err(_) => tracing::warn!("timed out reporting the init error to the Runtime API"),
    }
}

#[cfg(test)]
mod tests {
    use rotwise_core::ErrorKind;

    #[test]
    fn config_error_type_is_the_configuration_kind() {
        assert_eq!(
            super::CONFIG_ERROR_TYPE,
            ErrorKind::Configuration.error_type()
        );
    }
}
