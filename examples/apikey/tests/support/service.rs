//! A small HTTP service with API keys and the self-service key API the rotator expects
//! (the crate docs' table), run in the test process on `127.0.0.1`.
//!
//! Clients are service accounts; each holds at most [`MAX_KEYS_PER_CLIENT`] keys (like IAM's
//! two access keys per user), so a rotator that does not revoke leftovers fails. The platform
//! team's side (issuing a client's first key, refusing self-service, failing the next
//! request) is [`ServiceState`]'s methods, not HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rotwise_example_apikey::{is_bearer_token, is_key_id};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// How many keys a client may hold at once.
pub const MAX_KEYS_PER_CLIENT: usize = 2;

/// The shortest key the service accepts (API Gateway's minimum).
pub const MIN_KEY_LEN: usize = 20;

struct KeyRecord {
    client: String,
    key: String,
}

#[derive(Default)]
struct State {
    /// key id → key.
    keys: BTreeMap<String, KeyRecord>,
    /// Clients that may not manage their own keys.
    no_self_service: BTreeSet<String>,
    /// Answer the next request with this status.
    fail_next: Option<StatusCode>,
    /// Requests served, by `METHOD /path-pattern`.
    requests: BTreeMap<String, u64>,
}

/// The service's keys and switches, shared by the server and the test (and kept across a
/// restart: [`ApiService::start_on`]).
#[derive(Clone, Default)]
pub struct ServiceState(Arc<Mutex<State>>);

impl ServiceState {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The platform team issues a key to `client` (no limit, no checks).
    pub fn issue(&self, client: &str, key_id: &str, key: &str) {
        self.lock().keys.insert(
            key_id.to_string(),
            KeyRecord {
                client: client.to_string(),
                key: key.to_string(),
            },
        );
    }

    /// The ids of `client`'s keys, sorted.
    pub fn key_ids(&self, client: &str) -> Vec<String> {
        self.lock()
            .keys
            .iter()
            .filter(|(_, r)| r.client == client)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The client and id of `key`, if the service accepts it.
    pub fn who(&self, key: &str) -> Option<(String, String)> {
        self.lock()
            .keys
            .iter()
            .find(|(_, r)| r.key == key)
            .map(|(id, r)| (r.client.clone(), id.clone()))
    }

    /// Allow or refuse `client` the key API (`GET/PUT/DELETE /v1/keys...` answer 403).
    pub fn set_self_service(&self, client: &str, allowed: bool) {
        let mut state = self.lock();
        if allowed {
            state.no_self_service.remove(client);
        } else {
            state.no_self_service.insert(client.to_string());
        }
    }

    /// Answer the next request with `status` (once).
    pub fn fail_next(&self, status: StatusCode) {
        self.lock().fail_next = Some(status);
    }

    /// Requests served so far, by `METHOD /path` (key ids as `{id}`).
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.lock().requests.clone()
    }
}

/// The service, listening on `127.0.0.1`.
pub struct ApiService {
    addr: SocketAddr,
    state: ServiceState,
    task: JoinHandle<()>,
}

impl ApiService {
    /// Start with no keys on a port chosen by the OS.
    pub async fn start() -> ApiService {
        ApiService::start_on(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            ServiceState::default(),
        )
        .await
    }

    /// Start on `addr` with `state` (e.g. again, after [`ApiService::stop`]).
    pub async fn start_on(addr: SocketAddr, state: ServiceState) -> ApiService {
        let listener = TcpListener::bind(addr).await.expect("bind the API service");
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(accept(listener, state.clone()));
        ApiService { addr, state, task }
    }

    /// `http://127.0.0.1:PORT`, the secret's `endpoint`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its keys and switches.
    pub fn state(&self) -> &ServiceState {
        &self.state
    }

    /// Stop listening and drop every open connection: the port refuses connections.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for ApiService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accept connections until aborted; aborting drops the listener and every connection.
async fn accept(listener: TcpListener, state: ServiceState) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        connections.spawn(async move {
            let service = service_fn(move |req| route(req, state.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

type Body = Full<Bytes>;

fn answer(status: StatusCode, body: Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    answer(status, json!({"error": message}))
}

async fn route(req: Request<Incoming>, state: ServiceState) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let pattern = match path.strip_prefix("/v1/keys/") {
        Some(_) => "/v1/keys/{id}",
        None => path.as_str(),
    };
    let bearer = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let body = match Limited::new(req.into_body(), 64 * 1024).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(error(StatusCode::BAD_REQUEST, "unreadable body")),
    };
    let mut s = state.lock();
    *s.requests.entry(format!("{method} {pattern}")).or_default() += 1;
    if let Some(status) = s.fail_next.take() {
        return Ok(error(status, "injected failure"));
    }
    Ok(handle(&mut s, &method, &path, bearer.as_deref(), &body))
}

fn handle(
    s: &mut State,
    method: &Method,
    path: &str,
    bearer: Option<&str>,
    body: &[u8],
) -> Response<Body> {
    let caller = bearer.and_then(|key| {
        s.keys
            .iter()
            .find(|(_, r)| r.key == key)
            .map(|(id, r)| (id.clone(), r.client.clone()))
    });
    let Some((caller_id, client)) = caller else {
        return error(StatusCode::UNAUTHORIZED, "missing or unknown API key");
    };
    if (method, path) == (&Method::GET, "/v1/whoami") {
        return answer(
            StatusCode::OK,
            json!({"client": client, "key_id": caller_id}),
        );
    }
    let is_keys = path == "/v1/keys" || path.starts_with("/v1/keys/");
    if !is_keys {
        return error(StatusCode::NOT_FOUND, "no such resource");
    }
    if s.no_self_service.contains(&client) {
        return error(
            StatusCode::FORBIDDEN,
            "this client may not manage its own keys",
        );
    }
    let of_client = |s: &State| -> Vec<String> {
        s.keys
            .iter()
            .filter(|(_, r)| r.client == client)
            .map(|(id, _)| id.clone())
            .collect()
    };
    if path == "/v1/keys" {
        if method != Method::GET {
            return error(StatusCode::METHOD_NOT_ALLOWED, "GET only");
        }
        let keys: Vec<Value> = of_client(s)
            .into_iter()
            .map(|id| json!({"key_id": id}))
            .collect();
        return answer(StatusCode::OK, json!({"keys": keys}));
    }
    let id = &path["/v1/keys/".len()..];
    if !is_key_id(id) {
        return error(StatusCode::BAD_REQUEST, "malformed key id");
    }
    match *method {
        Method::PUT => {
            let Some(new) = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v["api_key"].as_str().map(str::to_string))
            else {
                return error(StatusCode::BAD_REQUEST, "the body is not {\"api_key\"}");
            };
            if new.len() < MIN_KEY_LEN || !is_bearer_token(&new) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "an API key is a Bearer token of at least 20 characters",
                );
            }
            if let Some(existing) = s.keys.get(id) {
                return if existing.client == client && existing.key == new {
                    answer(StatusCode::OK, json!({"key_id": id}))
                } else {
                    error(StatusCode::CONFLICT, "this key id is taken")
                };
            }
            if s.keys.values().any(|r| r.key == new) {
                return error(
                    StatusCode::CONFLICT,
                    "this key is registered under another id",
                );
            }
            if of_client(s).len() >= MAX_KEYS_PER_CLIENT {
                return error(
                    StatusCode::CONFLICT,
                    "key limit reached: revoke a key first (2 per client)",
                );
            }
            s.keys.insert(
                id.to_string(),
                KeyRecord {
                    client: client.clone(),
                    key: new,
                },
            );
            answer(StatusCode::CREATED, json!({"key_id": id}))
        }
        Method::DELETE => {
            if id == caller_id {
                return error(StatusCode::CONFLICT, "a key cannot revoke itself");
            }
            match s.keys.get(id) {
                Some(r) if r.client == client => {
                    s.keys.remove(id);
                    Response::builder()
                        .status(StatusCode::NO_CONTENT)
                        .body(Full::new(Bytes::new()))
                        .unwrap()
                }
                _ => error(StatusCode::NOT_FOUND, "no such key"),
            }
        }
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "PUT or DELETE"),
    }
}
