//! A local Lambda Runtime API and a harness that runs a Lambda binary as a real process
//! against it.
//!
//! The API implements what a custom runtime uses:
//!
//! | request | what it does |
//! |---|---|
//! | `GET /2018-06-01/runtime/invocation/next` | long-polls for the next event; answers it with `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`, `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id` |
//! | `POST /2018-06-01/runtime/invocation/{id}/response` | the invocation's result |
//! | `POST /2018-06-01/runtime/invocation/{id}/error` | the invocation's error (`{errorType, errorMessage}`) |
//! | `POST /2018-06-01/runtime/init/error` | the function could not start |
//!
//! [`RuntimeApi::invoke`] queues an event and waits for its outcome;
//! [`RuntimeApi::first_poll`] is when the process first asked for work (init time).

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::cgroup::CpuGroup;

/// The function ARN the emulator reports.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:rotwise-test";

/// An error the function posted (`invocation/{id}/error` or `init/error`).
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorReport {
    /// The `Lambda-Runtime-Function-Error-Type` header, if any.
    pub header_type: Option<String>,
    /// The body, parsed as JSON (`Value::String` of the raw text when it is not JSON).
    pub body: Value,
}

impl ErrorReport {
    /// The body's `errorType`.
    pub fn error_type(&self) -> &str {
        self.body
            .get("errorType")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The body's `errorMessage`.
    pub fn error_message(&self) -> &str {
        self.body
            .get("errorMessage")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// How an invocation ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// `invocation/{id}/response`, parsed as JSON.
    Response(Value),
    /// `invocation/{id}/error`.
    Error(ErrorReport),
}

struct Queued {
    id: String,
    body: Vec<u8>,
    reply: oneshot::Sender<Outcome>,
}

struct Shared {
    queue_tx: mpsc::UnboundedSender<Queued>,
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    inflight: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    first_poll: OnceLock<Instant>,
    polls: AtomicU64,
    init_error: Mutex<Option<ErrorReport>>,
    init_error_posted: Notify,
    ids: AtomicU64,
}

/// A local Lambda Runtime API on `127.0.0.1` (see the [module docs](self)).
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl RuntimeApi {
    /// Listen on a port chosen by the OS. Call inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// When binding fails.
    pub async fn start() -> io::Result<RuntimeApi> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue_tx,
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            inflight: Mutex::new(HashMap::new()),
            first_poll: OnceLock::new(),
            polls: AtomicU64::new(0),
            init_error: Mutex::new(None),
            init_error_posted: Notify::new(),
            ids: AtomicU64::new(0),
        });
        let task = tokio::spawn(accept(listener, shared.clone()));
        Ok(RuntimeApi { addr, shared, task })
    }

    /// `127.0.0.1:PORT`, the value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// When the first `invocation/next` arrived.
    pub fn first_poll(&self) -> Option<Instant> {
        self.shared.first_poll.get().copied()
    }

    /// How many `invocation/next` requests arrived.
    pub fn polls(&self) -> u64 {
        self.shared.polls.load(Ordering::SeqCst)
    }

    /// Wait up to `timeout` for the first `invocation/next`.
    pub async fn wait_first_poll(&self, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(at) = self.first_poll() {
                return Some(at);
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        self.first_poll()
    }

    /// The `init/error` the function posted, if any.
    pub fn init_error(&self) -> Option<ErrorReport> {
        lock(&self.shared.init_error).clone()
    }

    /// Wait up to `timeout` for an `init/error`.
    pub async fn wait_init_error(&self, timeout: Duration) -> Option<ErrorReport> {
        let posted = self.shared.init_error_posted.notified();
        if let Some(report) = self.init_error() {
            return Some(report);
        }
        let _ = tokio::time::timeout(timeout, posted).await;
        self.init_error()
    }

    /// Queue `event` for the function and wait up to `timeout` for its outcome.
    ///
    /// # Errors
    ///
    /// When no outcome arrives in time.
    pub async fn invoke(&self, event: &Value, timeout: Duration) -> Result<Outcome, String> {
        self.invoke_raw(event.to_string().into_bytes(), timeout)
            .await
    }

    /// [`RuntimeApi::invoke`] with a raw body (e.g. not JSON).
    ///
    /// # Errors
    ///
    /// When no outcome arrives in time.
    pub async fn invoke_raw(&self, body: Vec<u8>, timeout: Duration) -> Result<Outcome, String> {
        let n = self.shared.ids.fetch_add(1, Ordering::SeqCst);
        let id = format!("00000000-0000-4000-8000-{n:012}");
        let (reply, outcome) = oneshot::channel();
        self.shared
            .queue_tx
            .send(Queued {
                id: id.clone(),
                body,
                reply,
            })
            .map_err(|_| "the runtime API has stopped".to_string())?;
        match tokio::time::timeout(timeout, outcome).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => Err(format!("invocation {id}: the runtime API dropped it")),
            Err(_) => Err(format!("invocation {id}: no response within {timeout:?}")),
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| route(req, shared.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

type Body = Full<Bytes>;

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

async fn route(req: Request<Incoming>, shared: Arc<Shared>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return Ok(reply(StatusCode::NOT_FOUND, "unknown path"));
    };
    let method = req.method().clone();
    if method == Method::GET && rest == "invocation/next" {
        return Ok(next(&shared).await);
    }
    if method != Method::POST {
        return Ok(reply(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"));
    }
    let header_type = req
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(reply(StatusCode::BAD_REQUEST, "unreadable body")),
    };
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    if rest == "init/error" {
        *lock(&shared.init_error) = Some(ErrorReport {
            header_type,
            body: json,
        });
        shared.init_error_posted.notify_waiters();
        return Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#));
    }
    let Some(rest) = rest.strip_prefix("invocation/") else {
        return Ok(reply(StatusCode::NOT_FOUND, "unknown path"));
    };
    let (id, outcome) = if let Some(id) = rest.strip_suffix("/response") {
        (id, Outcome::Response(json))
    } else if let Some(id) = rest.strip_suffix("/error") {
        (
            id,
            Outcome::Error(ErrorReport {
                header_type,
                body: json,
            }),
        )
    } else {
        return Ok(reply(StatusCode::NOT_FOUND, "unknown path"));
    };
    match lock(&shared.inflight).remove(id) {
        Some(waiter) => {
            let _ = waiter.send(outcome);
            Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#))
        }
        None => Ok(reply(
            StatusCode::BAD_REQUEST,
            r#"{"errorType":"InvalidRequestID","errorMessage":"unknown request id"}"#,
        )),
    }
}

async fn next(shared: &Shared) -> Response<Body> {
    let _ = shared.first_poll.set(Instant::now());
    shared.polls.fetch_add(1, Ordering::SeqCst);
    let Some(queued) = shared.queue_rx.lock().await.recv().await else {
        return reply(StatusCode::GONE, "stopped");
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        + 30_000;
    lock(&shared.inflight).insert(queued.id.clone(), queued.reply);
    let mut r = reply(StatusCode::OK, queued.body);
    let h = r.headers_mut();
    let pairs = [
        ("lambda-runtime-aws-request-id", queued.id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            FUNCTION_ARN.to_string(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0"
                .to_string(),
        ),
        ("content-type", "application/json".to_string()),
    ];
    for (k, v) in pairs {
        if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    r
}

/// A Lambda binary running as a real process against a [`RuntimeApi`], with its stdout
/// and stderr captured.
pub struct LambdaProcess {
    child: tokio::process::Child,
    pid: u32,
    started: Instant,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl LambdaProcess {
    /// Start `bin` with a clean environment: `PATH`, the variables Lambda sets
    /// (`AWS_LAMBDA_RUNTIME_API` pointing at `api`, function name, memory size, version,
    /// log group and stream, region), static test credentials with instance metadata and
    /// shared config files disabled (nothing off the machine is contacted), then `env`.
    ///
    /// # Errors
    ///
    /// When the process cannot be started.
    pub fn spawn(bin: &Path, api: &RuntimeApi, env: &[(&str, String)]) -> io::Result<Self> {
        Self::spawn_in(bin, api, env, None)
    }

    /// [`LambdaProcess::spawn`], with the process placed in `cgroup` (a CPU quota and its
    /// CPU accounting) before its first instruction.
    ///
    /// # Errors
    ///
    /// When the process cannot be started or placed in the group.
    pub fn spawn_in(
        bin: &Path,
        api: &RuntimeApi,
        env: &[(&str, String)],
        cgroup: Option<&CpuGroup>,
    ) -> io::Result<Self> {
        let mut cmd = tokio::process::Command::new(bin);
        if let Some(group) = cgroup {
            group.attach_on_exec(&mut cmd)?;
        }
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api.host_port())
            .env("AWS_LAMBDA_FUNCTION_NAME", "rotwise-test")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/rotwise-test")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]0000")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/rotwise-aws-config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/rotwise-aws-credentials",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn()?;
        // `spawn` returns once the child has exec'd, so the clock starts with the function's
        // own code: the bench's control-group placement before exec (a write to
        // `cgroup.procs`, which can wait ~10 ms for the kernel) is not the function's init.
        let started = Instant::now();
        let pid = child.id().unwrap_or(0);
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(tokio::spawn(drain(out, stdout.clone())));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(tokio::spawn(drain(err, stderr.clone())));
        }
        Ok(LambdaProcess {
            child,
            pid,
            started,
            stdout,
            stderr,
            readers,
        })
    }

    /// When the process was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Everything the process wrote to stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stdout)).into_owned()
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stderr)).into_owned()
    }

    /// A line of `/proc/<pid>/status` in KiB (`VmHWM`: peak RSS, `VmRSS`: RSS now).
    pub fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }

    /// Wait up to `timeout` for the process to exit; then wait for its output to be read.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()?
            .ok()?;
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
        }
        Some(status)
    }

    /// Kill the process and wait for it and its output.
    pub async fn stop(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.wait_exit(Duration::from_secs(5)).await;
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

async fn drain(mut from: impl tokio::io::AsyncRead + Unpin, into: Arc<Mutex<Vec<u8>>>) {
    let mut buf = [0u8; 8192];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => lock(&into).extend_from_slice(&buf[..n]),
        }
    }
}
