//! A local Secrets Manager endpoint: a [`MemoryStore`] served over HTTP with the
//! service's JSON protocol, so anything that speaks to Secrets Manager through the AWS
//! SDK (the Lambda binary, `AwsStore`, the CLI) can run against the in-memory store.
//!
//! # Protocol
//!
//! `awsJson1_1`, as the service speaks it: `POST /` with the header
//! `X-Amz-Target: secretsmanager.<Operation>` and a JSON body; answers carry
//! `Content-Type: application/x-amz-json-1.1`. The `Authorization` header (SigV4) is
//! accepted without being checked, and requests without one are accepted too. Field names
//! are the API's (`SecretId`, `VersionId`, `VersionStage`, `SecretString`,
//! `SecretBinary` in base64, ...); timestamps are epoch seconds as JSON numbers with
//! millisecond precision, like the service.
//!
//! | `X-Amz-Target`                              | What it does                                               |
//! |---------------------------------------------|------------------------------------------------------------|
//! | `secretsmanager.DescribeSecret`             | [`SecretStore::describe_secret`]                           |
//! | `secretsmanager.GetSecretValue`             | [`SecretStore::get_secret_value`]                          |
//! | `secretsmanager.PutSecretValue`             | [`SecretStore::put_secret_value`]                          |
//! | `secretsmanager.UpdateSecretVersionStage`   | [`SecretStore::update_secret_version_stage`]               |
//! | `secretsmanager.GetRandomPassword`          | [`SecretStore::get_random_password`]                       |
//! | `secretsmanager.CreateSecret`               | [`SecretStore::create_secret`]                             |
//! | `secretsmanager.ListSecretVersionIds`       | [`SecretStore::list_secret_version_ids`]                   |
//! | `secretsmanager.ListSecrets`                | [`MemoryStore::descriptions`], filtered and paged (see below) |
//! | `secretsmanager.RotateSecret`               | [`MemoryStore::begin_rotation_with_token`] (see below)     |
//! | `rotwise.CompleteRotation` (not an AWS API) | [`MemoryStore::complete_rotation`]                         |
//!
//! ## Rotations: the caller drives the steps
//!
//! The endpoint cannot invoke a Lambda. `RotateSecret` does only what the service does
//! *before* it invokes the rotation function: it refuses with `InvalidRequestException`
//! ("A previous rotation isn't complete") while another version holds AWSPENDING, adds a
//! value-less AWSPENDING version whose id is the `ClientRequestToken` (the SDK fills one
//! in), and answers `{ARN, Name, VersionId}`. The caller then runs the four steps itself
//! (e.g. with `rotwise_core::Driver`, or by invoking the Lambda binary with the events).
//! After finishSecret, what the service does on completion (take AWSPENDING off the new
//! current version, set `LastRotatedDate`) is `rotwise.CompleteRotation` with
//! `{"SecretId", "ClientRequestToken"}`, answering `{ARN, Name, VersionId, Completed}`, or
//! in Rust `endpoint.store().complete_rotation(..)`.
//!
//! `RotateSecret` also applies `RotationLambdaARN` and `RotationRules` (stored, shown by
//! `DescribeSecret`): `AutomaticallyAfterDays` (1 to 1000) or `ScheduleExpression`
//! (`rate(…)` or `cron(…)`, kept as given, not evaluated), one excluding the other as the
//! service does. No Lambda ARN is required. `RotateImmediately: false` only applies the configuration and starts no
//! rotation (no `VersionId` in the answer).
//!
//! `ListSecretVersionIds` returns every version in one page (`MaxResults`/`NextToken` are
//! ignored; no `NextToken` is returned). Deprecated versions (no stage) come without
//! `VersionStages`, and only with `IncludeDeprecated: true`.
//!
//! ## Errors
//!
//! HTTP 400 with `{"__type": "...", "message": "..."}` and the `x-amzn-ErrorType` header,
//! which the SDK turns into its typed errors:
//!
//! - store errors: [`StoreErrorKind::aws_type`] (`ResourceNotFoundException`,
//!   `InvalidRequestException`, `InvalidParameterException`, `ResourceExistsException`,
//!   `LimitExceededException`);
//! - a body that is not a JSON object, or a field of the wrong JSON type:
//!   `SerializationException` (what the service answers);
//! - a missing required field, bad base64: `InvalidParameterException`;
//! - a missing or unknown `X-Amz-Target`, or a method other than POST:
//!   `UnknownOperationException`;
//! - anything else (store errors of kind `Service`/`Transport`): HTTP 500
//!   `InternalServiceError`.
//!
//! Messages name fields and expected types, never a value: no secret value is ever
//! logged or echoed.
//!
//! ## Call counting
//!
//! [`LocalEndpoint::calls`] counts requests per operation name (`GetSecretValue`, ...,
//! `rotwise.CompleteRotation`), failed ones included, from the moment the target is
//! recognised; requests with no or an unknown target are not counted.
//!
//! ## Delay
//!
//! [`LocalEndpoint::set_delay`] (`rotwise-local-sm --delay-ms`) answers every request that
//! much later, to model a round trip to the service in a region rather than on the same
//! host (the benchmark uses 5 ms).
//!
//! # Example
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use std::sync::Arc;
//! use rotwise_core::store::MemoryStore;
//! use rotwise_testkit::endpoint::LocalEndpoint;
//!
//! let store = Arc::new(MemoryStore::new());
//! store.insert_secret("app/db", "first").unwrap();
//! let endpoint = LocalEndpoint::start(store)?;
//! // Point an SDK client (or SECRETS_MANAGER_ENDPOINT) at endpoint.url() ...
//! println!("{}", endpoint.url());
//! println!("{:?}", endpoint.calls());
//! endpoint.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rotwise_core::password::PasswordPolicy;
use rotwise_core::store::{
    CreateSecret, MemoryStore, PutSecretValue, SecretDescription, SecretPayload, SecretStore,
    StoreError, StoreErrorKind, UpdateVersionStage,
};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// The `Content-Type` of every answer.
pub const CONTENT_TYPE_JSON: &str = "application/x-amz-json-1.1";
/// The `X-Amz-Target` prefix of the Secrets Manager operations.
pub const TARGET_PREFIX: &str = "secretsmanager.";
/// The `X-Amz-Target` of the non-AWS operation that completes a rotation.
pub const COMPLETE_ROTATION_TARGET: &str = "rotwise.CompleteRotation";

/// Largest request body accepted (a secret value is at most 64 KiB).
const MAX_BODY: usize = 1 << 20;

/// The operations served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    DescribeSecret,
    GetSecretValue,
    PutSecretValue,
    UpdateSecretVersionStage,
    GetRandomPassword,
    CreateSecret,
    ListSecretVersionIds,
    ListSecrets,
    RotateSecret,
    CompleteRotation,
}

impl Operation {
    const SECRETS_MANAGER: [Operation; 9] = [
        Operation::DescribeSecret,
        Operation::GetSecretValue,
        Operation::PutSecretValue,
        Operation::UpdateSecretVersionStage,
        Operation::GetRandomPassword,
        Operation::CreateSecret,
        Operation::ListSecretVersionIds,
        Operation::ListSecrets,
        Operation::RotateSecret,
    ];

    fn name(self) -> &'static str {
        match self {
            Operation::DescribeSecret => "DescribeSecret",
            Operation::GetSecretValue => "GetSecretValue",
            Operation::PutSecretValue => "PutSecretValue",
            Operation::UpdateSecretVersionStage => "UpdateSecretVersionStage",
            Operation::GetRandomPassword => "GetRandomPassword",
            Operation::CreateSecret => "CreateSecret",
            Operation::ListSecretVersionIds => "ListSecretVersionIds",
            Operation::ListSecrets => "ListSecrets",
            Operation::RotateSecret => "RotateSecret",
            Operation::CompleteRotation => COMPLETE_ROTATION_TARGET,
        }
    }

    fn from_target(target: &str) -> Option<Operation> {
        if target == COMPLETE_ROTATION_TARGET {
            return Some(Operation::CompleteRotation);
        }
        let op = target.strip_prefix(TARGET_PREFIX)?;
        Self::SECRETS_MANAGER.into_iter().find(|o| o.name() == op)
    }
}

fn supported_targets() -> String {
    let mut all: Vec<String> = Operation::SECRETS_MANAGER
        .iter()
        .map(|o| format!("{TARGET_PREFIX}{}", o.name()))
        .collect();
    all.push(COMPLETE_ROTATION_TARGET.to_string());
    all.join(", ")
}

struct Shared {
    store: Arc<MemoryStore>,
    calls: Mutex<BTreeMap<String, u64>>,
    /// Added before every answer, in microseconds ([`LocalEndpoint::set_delay`]).
    delay_us: AtomicU64,
    /// Operation name → every how many requests one is throttled
    /// ([`LocalEndpoint::throttle`]).
    throttle: Mutex<BTreeMap<String, u64>>,
    /// Requests answered with `ThrottlingException`.
    throttled: AtomicU64,
}

impl Shared {
    fn calls(&self) -> MutexGuard<'_, BTreeMap<String, u64>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A [`MemoryStore`] served as a local Secrets Manager endpoint (see the
/// [module documentation](self) for the protocol and the operations).
///
/// The server runs in a background tokio task of the runtime that started it; it stops
/// when the endpoint is dropped or [`LocalEndpoint::shutdown`] is awaited.
pub struct LocalEndpoint {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for LocalEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalEndpoint")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl LocalEndpoint {
    /// Serve `store` on `127.0.0.1` with a port chosen by the OS.
    ///
    /// Must be called from inside a tokio runtime (the server is a task of it).
    ///
    /// # Errors
    ///
    /// When binding fails or there is no current tokio runtime.
    pub fn start(store: Arc<MemoryStore>) -> io::Result<LocalEndpoint> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), store)
    }

    /// Serve `store` on `addr` (port 0: chosen by the OS).
    ///
    /// # Errors
    ///
    /// When binding fails or there is no current tokio runtime.
    pub fn start_on(addr: SocketAddr, store: Arc<MemoryStore>) -> io::Result<LocalEndpoint> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            io::Error::other("LocalEndpoint::start must be called inside a tokio runtime")
        })?;
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = {
            let _guard = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        let shared = Arc::new(Shared {
            store,
            calls: Mutex::new(BTreeMap::new()),
            delay_us: AtomicU64::new(0),
            throttle: Mutex::new(BTreeMap::new()),
            throttled: AtomicU64::new(0),
        });
        let (stop, stopped) = oneshot::channel();
        let task = runtime.spawn(serve(listener, shared.clone(), stopped));
        tracing::debug!(%addr, "local Secrets Manager endpoint listening");
        Ok(LocalEndpoint {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`: the endpoint URL for an SDK client or
    /// `SECRETS_MANAGER_ENDPOINT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The store behind the endpoint (e.g. to seed secrets, or
    /// [`MemoryStore::complete_rotation`] after a rotation's four steps).
    pub fn store(&self) -> &Arc<MemoryStore> {
        &self.shared.store
    }

    /// Requests per operation name since the start (or the last reset), failed ones
    /// included. Keys are the API's names (`GetSecretValue`, ...) and
    /// `rotwise.CompleteRotation`.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.shared.calls().clone()
    }

    /// The number of requests to `operation` (e.g. `"PutSecretValue"`).
    pub fn calls_to(&self, operation: &str) -> u64 {
        self.shared.calls().get(operation).copied().unwrap_or(0)
    }

    /// All counted requests.
    pub fn total_calls(&self) -> u64 {
        self.shared.calls().values().sum()
    }

    /// Answer every request `delay` late (default: none), to model a service in a region
    /// (for example 5 ms per call) rather than one on the same host. The delay is added
    /// after the request is read and handled, before the answer is sent; it applies to
    /// requests that arrive from now on.
    pub fn set_delay(&self, delay: Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.shared.delay_us.store(us, Ordering::Relaxed);
    }

    /// Answer every `every`-th request to `operation` (counting from now on all requests
    /// to it) with `ThrottlingException` ("Rate exceeded", HTTP 400), as the service does
    /// above a request quota; `every` 0 stops. The SDK retries such an answer with backoff.
    pub fn throttle(&self, operation: &str, every: u64) {
        let mut t = self
            .shared
            .throttle
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if every == 0 {
            t.remove(operation);
        } else {
            t.insert(operation.to_string(), every);
        }
    }

    /// How many requests were answered with `ThrottlingException`.
    pub fn throttled(&self) -> u64 {
        self.shared.throttled.load(Ordering::Relaxed)
    }

    /// The delay added to every answer ([`LocalEndpoint::set_delay`]).
    pub fn delay(&self) -> Duration {
        Duration::from_micros(self.shared.delay_us.load(Ordering::Relaxed))
    }

    /// Forget the counts.
    pub fn reset_calls(&self) {
        self.shared.calls().clear();
    }

    /// The counts, then reset them: handy to count one rotation's calls.
    pub fn take_calls(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.shared.calls())
    }

    /// Stop serving and wait until the server task has ended. Open connections are
    /// closed.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LocalEndpoint {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stopped: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |req| handle(shared.clone(), req));
                        if let Err(e) = http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                        {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    // E.g. too many open files: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
    tracing::debug!("local Secrets Manager endpoint stopped");
}

/// An error answer: status, `__type`, message.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    fn bad_request(kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind,
            message: message.into(),
        }
    }

    fn serialization(message: impl Into<String>) -> Self {
        Self::bad_request("SerializationException", message)
    }

    fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::bad_request(StoreErrorKind::InvalidParameter.aws_type(), message)
    }

    fn unknown_operation(message: impl Into<String>) -> Self {
        Self::bad_request("UnknownOperationException", message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e.kind {
            StoreErrorKind::ResourceNotFound
            | StoreErrorKind::InvalidRequest
            | StoreErrorKind::InvalidParameter
            | StoreErrorKind::ResourceExists
            | StoreErrorKind::LimitExceeded => ApiError::bad_request(e.kind.aws_type(), e.message),
            _ => ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                kind: "InternalServiceError",
                message: e.message,
            },
        }
    }
}

fn respond(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_JSON));
    response
}

fn error_response(e: &ApiError) -> Response<Full<Bytes>> {
    let mut response = respond(e.status, &json!({ "__type": e.kind, "message": e.message }));
    response
        .headers_mut()
        .insert("x-amzn-ErrorType", HeaderValue::from_static(e.kind));
    response
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let target = req
        .headers()
        .get("x-amz-target")
        .map(|v| v.to_str().unwrap_or("<non-ASCII>").to_string());
    let result = dispatch(&shared, req).await;
    let delay = shared.delay_us.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_micros(delay)).await;
    }
    Ok(match result {
        Ok(body) => respond(StatusCode::OK, &body),
        Err(e) => {
            // The message never holds a value (see the module docs), so logging it is safe.
            tracing::debug!(target = ?target, error_type = e.kind, message = %e.message, "request failed");
            error_response(&e)
        }
    })
}

async fn dispatch(shared: &Shared, req: Request<Incoming>) -> Result<Value, ApiError> {
    if req.method() != Method::POST {
        return Err(ApiError::unknown_operation(format!(
            "method {} is not supported: the Secrets Manager JSON protocol is POST / with an X-Amz-Target header",
            req.method()
        )));
    }
    let target = match req.headers().get("x-amz-target") {
        None => {
            return Err(ApiError::unknown_operation(
                "missing X-Amz-Target header: expected X-Amz-Target: secretsmanager.<Operation>",
            ));
        }
        Some(v) => v
            .to_str()
            .map_err(|_| ApiError::unknown_operation("the X-Amz-Target header is not ASCII"))?,
    };
    let op = Operation::from_target(target).ok_or_else(|| {
        ApiError::unknown_operation(format!(
            "unknown operation {target:?}; this local endpoint supports {}",
            supported_targets()
        ))
    })?;
    let n = {
        let mut calls = shared.calls();
        let n = calls.entry(op.name().to_string()).or_insert(0);
        *n += 1;
        *n
    };
    let every = shared
        .throttle
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(op.name())
        .copied();
    if every.is_some_and(|e| n % e == 0) {
        shared.throttled.fetch_add(1, Ordering::Relaxed);
        return Err(ApiError::bad_request(
            "ThrottlingException",
            "Rate exceeded",
        ));
    }

    let body = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            ApiError::invalid_parameter(format!(
                "could not read the request body (at most {MAX_BODY} bytes): {e}"
            ))
        })?
        .to_bytes();
    let input = parse_body(&body)?;
    let input = Input(&input);
    let store = shared.store.as_ref();
    match op {
        Operation::DescribeSecret => describe_secret(store, input).await,
        Operation::GetSecretValue => get_secret_value(store, input).await,
        Operation::PutSecretValue => put_secret_value(store, input).await,
        Operation::UpdateSecretVersionStage => update_secret_version_stage(store, input).await,
        Operation::GetRandomPassword => get_random_password(store, input).await,
        Operation::CreateSecret => create_secret(store, input).await,
        Operation::ListSecretVersionIds => list_secret_version_ids(store, input).await,
        Operation::ListSecrets => list_secrets(store, input),
        Operation::RotateSecret => rotate_secret(store, input).await,
        Operation::CompleteRotation => complete_rotation(store, input).await,
    }
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    // serde_json's syntax errors give a position, never the input's text.
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::serialization(
            "the request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::serialization(format!(
            "the request body is not valid JSON: {e}"
        ))),
    }
}

/// Typed access to the request's fields. Errors name the field and the expected type,
/// never the value.
#[derive(Clone, Copy)]
struct Input<'a>(&'a Map<String, Value>);

impl<'a> Input<'a> {
    fn get(self, field: &str) -> Option<&'a Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    fn wrong_type(field: &str, expected: &str) -> ApiError {
        ApiError::serialization(format!("{field} must be {expected}"))
    }

    fn required_str(self, field: &str) -> Result<&'a str, ApiError> {
        self.opt_str(field)?.ok_or_else(|| {
            ApiError::invalid_parameter(format!("missing required parameter {field}"))
        })
    }

    fn opt_str(self, field: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Self::wrong_type(field, "a string")),
        }
    }

    fn opt_bool(self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Self::wrong_type(field, "a boolean")),
        }
    }

    fn opt_i64(self, field: &str) -> Result<Option<i64>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| Self::wrong_type(field, "an integer")),
            Some(_) => Err(Self::wrong_type(field, "an integer")),
        }
    }

    fn opt_object(self, field: &str) -> Result<Option<Input<'a>>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Input(m))),
            Some(_) => Err(Self::wrong_type(field, "an object")),
        }
    }

    fn opt_str_list(self, field: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(Self::wrong_type(field, "a list of strings")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(Self::wrong_type(field, "a list of strings")),
        }
    }

    /// `SecretString` / `SecretBinary` (base64).
    fn payload(self) -> Result<Option<SecretPayload>, ApiError> {
        let string = match self.get("SecretString") {
            None => None,
            Some(Value::String(s)) => Some(SecretString::from(s.clone())),
            Some(_) => return Err(Self::wrong_type("SecretString", "a string")),
        };
        let binary =
            match self.get("SecretBinary") {
                None => None,
                Some(Value::String(s)) => Some(base64_decode(s).ok_or_else(|| {
                    ApiError::invalid_parameter("SecretBinary is not valid base64")
                })?),
                Some(_) => return Err(Self::wrong_type("SecretBinary", "a base64 string")),
            };
        match (string, binary) {
            (Some(_), Some(_)) => Err(ApiError::invalid_parameter(
                "You can't specify both SecretString and SecretBinary.",
            )),
            (Some(s), None) => Ok(Some(SecretPayload::String(s))),
            (None, Some(b)) => Ok(Some(SecretPayload::Binary(SecretSlice::from(b)))),
            (None, None) => Ok(None),
        }
    }
}

/// Epoch seconds with millisecond precision, as the service sends them.
fn epoch(t: OffsetDateTime) -> Value {
    let millis = t.unix_timestamp_nanos() / 1_000_000;
    // Exact: an f64 holds every whole number of milliseconds up to 2^53 (about
    // 285,000 years after 1970).
    let seconds = millis as f64 / 1000.0;
    json!(seconds)
}

fn payload_json(out: &mut Map<String, Value>, payload: &SecretPayload) {
    match payload {
        SecretPayload::String(s) => {
            out.insert("SecretString".into(), json!(s.expose_secret()));
        }
        SecretPayload::Binary(b) => {
            out.insert(
                "SecretBinary".into(),
                json!(base64_encode(b.expose_secret())),
            );
        }
    }
}

/// The secret's name, for answers whose store call returns only the ARN.
async fn name_of(store: &MemoryStore, arn: &str) -> Result<String, ApiError> {
    Ok(store.describe_secret(arn).await?.name)
}

async fn describe_secret(store: &MemoryStore, input: Input<'_>) -> Result<Value, ApiError> {
    let d = store
        .describe_secret(input.required_str("SecretId")?)
        .await?;
    let mut out = Map::new();
    out.insert("ARN".into(), json!(d.arn));
    out.insert("Name".into(), json!(d.name));
    if let Some(v) = d.description {
        out.insert("Description".into(), json!(v));
    }
    if let Some(v) = d.kms_key_id {
        out.insert("KmsKeyId".into(), json!(v));
    }
    if let Some(v) = d.rotation_enabled {
        out.insert("RotationEnabled".into(), json!(v));
    }
    if let Some(v) = d.rotation_lambda_arn {
        out.insert("RotationLambdaARN".into(), json!(v));
    }
    if d.rotation_days.is_some() || d.rotation_schedule.is_some() {
        let mut rules = Map::new();
        if let Some(days) = d.rotation_days {
            rules.insert("AutomaticallyAfterDays".into(), json!(days));
        }
        if let Some(schedule) = d.rotation_schedule {
            rules.insert("ScheduleExpression".into(), json!(schedule));
        }
        out.insert("RotationRules".into(), Value::Object(rules));
    }
    if let Some(t) = d.last_rotated {
        out.insert("LastRotatedDate".into(), epoch(t));
    }
    out.insert("VersionIdsToStages".into(), json!(d.versions));
    if !d.tags.is_empty() {
        let tags: Vec<Value> = d
            .tags
            .iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect();
        out.insert("Tags".into(), Value::Array(tags));
    }
    Ok(Value::Object(out))
}

async fn get_secret_value(store: &MemoryStore, input: Input<'_>) -> Result<Value, ApiError> {
    let v = store
        .get_secret_value(
            input.required_str("SecretId")?,
            input.opt_str("VersionId")?,
            input.opt_str("VersionStage")?,
        )
        .await?;
    let mut out = Map::new();
    out.insert("ARN".into(), json!(v.arn));
    out.insert("Name".into(), json!(v.name));
    out.insert("VersionId".into(), json!(v.version_id));
    payload_json(&mut out, &v.payload);
    out.insert("VersionStages".into(), json!(v.stages));
    if let Some(t) = v.created {
        out.insert("CreatedDate".into(), epoch(t));
    }
    Ok(Value::Object(out))
}

async fn put_secret_value(store: &MemoryStore, input: Input<'_>) -> Result<Value, ApiError> {
    let secret_id = input.required_str("SecretId")?;
    let payload = input.payload()?.ok_or_else(|| {
        ApiError::bad_request(
            StoreErrorKind::InvalidRequest.aws_type(),
            "You must provide either SecretString or SecretBinary.",
        )
    })?;
    let token = match input.opt_str("ClientRequestToken")? {
        Some(t) => t.to_string(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let out = store
        .put_secret_value(PutSecretValue {
            secret_id: secret_id.to_string(),
            token,
            payload,
            stages: input.opt_str_list("VersionStages")?.unwrap_or_default(),
            rotation_token: input.opt_str("RotationToken")?.map(str::to_string),
        })
        .await?;
    let name = name_of(store, &out.arn).await?;
    Ok(json!({
        "ARN": out.arn,
        "Name": name,
        "VersionId": out.version_id,
        "VersionStages": out.stages,
    }))
}

async fn update_secret_version_stage(
    store: &MemoryStore,
    input: Input<'_>,
) -> Result<Value, ApiError> {
    let secret_id = input.required_str("SecretId")?;
    store
        .update_secret_version_stage(UpdateVersionStage {
            secret_id: secret_id.to_string(),
            stage: input.required_str("VersionStage")?.to_string(),
            move_to: input.opt_str("MoveToVersionId")?.map(str::to_string),
            remove_from: input.opt_str("RemoveFromVersionId")?.map(str::to_string),
        })
        .await?;
    let d = store.describe_secret(secret_id).await?;
    Ok(json!({ "ARN": d.arn, "Name": d.name }))
}

async fn get_random_password(store: &MemoryStore, input: Input<'_>) -> Result<Value, ApiError> {
    let mut policy = PasswordPolicy::default();
    if let Some(n) = input.opt_i64("PasswordLength")? {
        // Out of u32's range is out of 1..=4096 too: let the policy say so.
        policy.length = u32::try_from(n).unwrap_or(if n < 0 { 0 } else { u32::MAX });
    }
    if let Some(s) = input.opt_str("ExcludeCharacters")? {
        policy.exclude_characters = s.to_string();
    }
    let flags: [(&str, &mut bool); 6] = [
        ("ExcludeNumbers", &mut policy.exclude_numbers),
        ("ExcludePunctuation", &mut policy.exclude_punctuation),
        ("ExcludeUppercase", &mut policy.exclude_uppercase),
        ("ExcludeLowercase", &mut policy.exclude_lowercase),
        ("IncludeSpace", &mut policy.include_space),
        (
            "RequireEachIncludedType",
            &mut policy.require_each_included_type,
        ),
    ];
    for (field, flag) in flags {
        if let Some(b) = input.opt_bool(field)? {
            *flag = b;
        }
    }
    let password = store.get_random_password(&policy).await?;
    Ok(json!({ "RandomPassword": password.expose_secret() }))
}

async fn create_secret(store: &MemoryStore, input: Input<'_>) -> Result<Value, ApiError> {
    let payload = input.payload()?;
    let has_value = payload.is_some();
    let out = store
        .create_secret(CreateSecret {
            name: input.required_str("Name")?.to_string(),
            payload,
            token: input.opt_str("ClientRequestToken")?.map(str::to_string),
            description: input.opt_str("Description")?.map(str::to_string),
            kms_key_id: input.opt_str("KmsKeyId")?.map(str::to_string),
        })
        .await?;
    let name = name_of(store, &out.arn).await?;
    let mut answer = json!({ "ARN": out.arn, "Name": name });
    if has_value {
        answer["VersionId"] = json!(out.version_id);
    }
    Ok(answer)
}

async fn list_secret_version_ids(store: &MemoryStore, input: Input<'_>) -> Result<Value, ApiError> {
    let secret_id = input.required_str("SecretId")?;
    let include_deprecated = input.opt_bool("IncludeDeprecated")?.unwrap_or(false);
    // Accepted for the SDK's paginators, and ignored: everything is one page.
    input.opt_i64("MaxResults")?;
    input.opt_str("NextToken")?;
    let versions = store.list_secret_version_ids(secret_id).await?;
    let d = store.describe_secret(secret_id).await?;
    let versions: Vec<Value> = versions
        .into_iter()
        .filter(|v| include_deprecated || !v.stages.is_empty())
        .map(|v| {
            let mut row = Map::new();
            row.insert("VersionId".into(), json!(v.version_id));
            if !v.stages.is_empty() {
                row.insert("VersionStages".into(), json!(v.stages));
            }
            if let Some(t) = v.created {
                row.insert("CreatedDate".into(), epoch(t));
            }
            Value::Object(row)
        })
        .collect();
    Ok(json!({ "ARN": d.arn, "Name": d.name, "Versions": versions }))
}

/// `ListSecrets` with `Filters` on `name`, `tag-key` and `tag-value` (each value a
/// case-sensitive prefix; values of one filter OR, filters AND, as the service does), in
/// pages of `MaxResults` (1 to 100, default 100) with a `NextToken`.
fn list_secrets(store: &MemoryStore, input: Input<'_>) -> Result<Value, ApiError> {
    let max = input.opt_i64("MaxResults")?.unwrap_or(100);
    if !(1..=100).contains(&max) {
        return Err(ApiError::invalid_parameter(
            "MaxResults must be between 1 and 100.",
        ));
    }
    let start: usize = match input.opt_str("NextToken")? {
        None => 0,
        Some(t) => t
            .parse()
            .map_err(|_| ApiError::invalid_parameter("The NextToken is not valid."))?,
    };
    let mut filters: Vec<(String, Vec<String>)> = Vec::new();
    if let Some(list) = input.0.get("Filters") {
        let list = list.as_array().ok_or_else(|| {
            ApiError::bad_request("SerializationException", "Filters is not a list")
        })?;
        for f in list {
            let key = f["Key"].as_str().unwrap_or_default();
            if !["name", "tag-key", "tag-value"].contains(&key) {
                return Err(ApiError::invalid_parameter(format!(
                    "filter key {key:?} is not supported by the local endpoint (name, tag-key, tag-value)"
                )));
            }
            let values: Vec<String> = f["Values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            if values.iter().any(|v| v.starts_with('!')) {
                return Err(ApiError::invalid_parameter(
                    "negated filter values (!) are not supported by the local endpoint",
                ));
            }
            filters.push((key.to_string(), values));
        }
    }
    let matches = |d: &SecretDescription| {
        filters.iter().all(|(key, values)| {
            values.iter().any(|v| match key.as_str() {
                "name" => d.name.starts_with(v.as_str()),
                "tag-key" => d.tags.keys().any(|k| k.starts_with(v.as_str())),
                _ => d.tags.values().any(|t| t.starts_with(v.as_str())),
            })
        })
    };
    let all: Vec<SecretDescription> = store.descriptions().into_iter().filter(matches).collect();
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(max as usize)
        .map(|d| {
            json!({
                "ARN": d.arn,
                "Name": d.name,
                "RotationEnabled": d.rotation_enabled.unwrap_or(false),
                "Tags": d.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut answer = json!({ "SecretList": page });
    let next = start + max as usize;
    if next < all.len() {
        answer["NextToken"] = json!(next.to_string());
    }
    Ok(answer)
}

async fn rotate_secret(store: &MemoryStore, input: Input<'_>) -> Result<Value, ApiError> {
    let secret_id = input.required_str("SecretId")?;
    let token = input.opt_str("ClientRequestToken")?;
    let lambda = input.opt_str("RotationLambdaARN")?;
    let rules = input.opt_object("RotationRules")?;
    let (days, schedule) = match rules {
        Some(rules) => {
            rules.opt_str("Duration")?;
            let days = rules.opt_i64("AutomaticallyAfterDays")?;
            let schedule = rules.opt_str("ScheduleExpression")?;
            if days.is_some() && schedule.is_some() {
                return Err(ApiError::invalid_parameter(
                    "You can't specify both AutomaticallyAfterDays and ScheduleExpression.",
                ));
            }
            if let Some(d) = days
                && !(1..=1000).contains(&d)
            {
                return Err(ApiError::invalid_parameter(
                    "AutomaticallyAfterDays must be between 1 and 1000.",
                ));
            }
            if let Some(e) = schedule
                && !((e.starts_with("rate(") || e.starts_with("cron(")) && e.ends_with(')'))
            {
                return Err(ApiError::invalid_parameter(
                    "ScheduleExpression must be rate(...) or cron(...).",
                ));
            }
            (days, schedule)
        }
        None => (None, None),
    };
    let immediately = input.opt_bool("RotateImmediately")?.unwrap_or(true);
    // Fails with ResourceNotFound before anything changes.
    let before = store.describe_secret(secret_id).await?;
    let version_id = if immediately {
        // Start first: a refused rotation ("A previous rotation isn't complete") must
        // leave the configuration as it was.
        Some(match token {
            Some(t) => store.begin_rotation_with_token(secret_id, t)?,
            None => store.begin_rotation(secret_id)?,
        })
    } else {
        None
    };
    if lambda.is_some() || days.is_some() || schedule.is_some() || !immediately {
        store.configure_rotation(
            secret_id,
            Some(true),
            lambda.or(before.rotation_lambda_arn.as_deref()),
            days.or(if schedule.is_some() {
                None
            } else {
                before.rotation_days
            }),
        )?;
        let kept = if days.is_some() {
            None
        } else {
            before.rotation_schedule.as_deref()
        };
        if let Some(e) = schedule.or(kept) {
            store.configure_schedule(secret_id, e)?;
        }
    }
    let mut answer = json!({ "ARN": before.arn, "Name": before.name });
    if let Some(id) = version_id {
        answer["VersionId"] = json!(id);
    }
    Ok(answer)
}

async fn complete_rotation(store: &MemoryStore, input: Input<'_>) -> Result<Value, ApiError> {
    let secret_id = input.required_str("SecretId")?;
    let token = input.required_str("ClientRequestToken")?;
    let completed = store.complete_rotation(secret_id, token)?;
    let d = store.describe_secret(secret_id).await?;
    Ok(json!({
        "ARN": d.arn,
        "Name": d.name,
        "VersionId": token,
        "Completed": completed,
    }))
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (what the SDK sends for blobs).
pub fn base64_encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64, padded or not; `None` when `input` is not base64.
pub fn base64_decode(input: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = input.as_bytes();
    let unpadded = match bytes.len() % 4 {
        0 => {
            let pad = bytes.iter().rev().take_while(|&&c| c == b'=').count();
            if pad > 2 {
                return None;
            }
            &bytes[..bytes.len() - pad]
        }
        _ => bytes,
    };
    if unpadded.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(unpadded.len() * 3 / 4);
    for chunk in unpadded.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let produced = chunk.len() - 1;
        // Non-canonical trailing bits (e.g. "Zh==") are not base64 an encoder makes.
        if produced < 3 && n & ((1 << (8 * (3 - produced))) - 1) != 0 {
            return None;
        }
        out.extend_from_slice(&n.to_be_bytes()[1..=produced]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_all_lengths() {
        let data: Vec<u8> = (0..=255u8).collect();
        for len in 0..40 {
            let slice = &data[len * 3 % 200..len * 3 % 200 + len];
            let encoded = base64_encode(slice);
            assert_eq!(encoded.len() % 4, 0);
            assert_eq!(base64_decode(&encoded).as_deref(), Some(slice), "len {len}");
            let unpadded = encoded.trim_end_matches('=');
            assert_eq!(base64_decode(unpadded).as_deref(), Some(slice), "len {len}");
        }
    }

    #[test]
    fn base64_known_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
            assert_eq!(base64_decode(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64_encode(&[0xff, 0xfe]), "//4=");
    }

    #[test]
    fn base64_rejects_garbage() {
        for bad in ["!!!!", "Zg=", "Z", "Zm9v====", "Zh==", "Zm9=v", "Zg==Zg=="] {
            assert_eq!(base64_decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn targets_parse() {
        assert_eq!(
            Operation::from_target("secretsmanager.GetSecretValue"),
            Some(Operation::GetSecretValue)
        );
        assert_eq!(
            Operation::from_target("rotwise.CompleteRotation"),
            Some(Operation::CompleteRotation)
        );
        assert_eq!(Operation::from_target("secretsmanager.DeleteSecret"), None);
        assert_eq!(Operation::from_target("GetSecretValue"), None);
    }

    #[test]
    fn epoch_has_millisecond_precision() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(epoch(t), json!(1_700_000_000.123));
    }
}
