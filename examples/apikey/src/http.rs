//! The HTTP client: one request, one fresh connection, a time limit, errors with a kind.
//!
//! hyper 1 with hyper-util's client (both already in the workspace's lockfile). Plain HTTP
//! only: a deployment that reaches its service over HTTPS builds the client with
//! `hyper_rustls::HttpsConnectorBuilder` (aws-lc-rs) instead of [`HttpConnector`]; nothing
//! else changes.

use std::error::Error as _;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rotwise_core::{ErrorKind, ExposeSecret, RotatorError, SecretString};

/// The most of an answer's body read (the service's answers are small JSON documents).
const MAX_BODY: usize = 64 * 1024;

/// A service's answer.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

/// The client. Idle connections are not kept: a rotation makes a handful of requests, and a
/// fresh connection per request means a check never rides on a connection an earlier step
/// opened.
pub(crate) struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl Http {
    /// A client whose requests (connect, send, read the answer) take at most `timeout`.
    pub fn new(timeout: Duration) -> Http {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        Http { client, timeout }
    }

    /// Send `method url` with `Authorization: Bearer <key>` and an optional JSON body.
    /// `what` names the request in errors (never a key). A transport failure is
    /// [`ErrorKind::Unreachable`] (refused, reset, timed out), an answer that is not HTTP
    /// [`ErrorKind::Target`]; any status is returned as an [`Answer`].
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        key: &SecretString,
        body: Option<serde_json::Value>,
        what: &str,
    ) -> Result<Answer, RotatorError> {
        // The key is checked to be a Bearer token when the secret is parsed; the header is
        // marked sensitive (never printed by hyper's Debug).
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", key.expose_secret())).map_err(|_| {
                RotatorError::new(
                    ErrorKind::InvalidSecret,
                    format!("{what}: the api_key cannot be sent in an Authorization header"),
                )
            })?;
        auth.set_sensitive(true);
        let mut request = Request::builder()
            .method(method)
            .uri(url)
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/json");
        let payload = match body {
            Some(json) => {
                request = request.header(CONTENT_TYPE, "application/json");
                Bytes::from(json.to_string())
            }
            None => Bytes::new(),
        };
        let request = request.body(Full::new(payload)).map_err(|e| {
            RotatorError::with_source(
                ErrorKind::InvalidSecret,
                format!("{what}: cannot build the request"),
                e,
            )
        })?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                let kind = if e
                    .source()
                    .and_then(|s| s.downcast_ref::<hyper::Error>())
                    .is_some_and(hyper::Error::is_parse)
                {
                    ErrorKind::Target
                } else {
                    ErrorKind::Unreachable
                };
                let verb = if e.is_connect() {
                    "cannot connect to the service"
                } else {
                    "the request failed"
                };
                // hyper-util's own text is only "client error (Connect)": add its causes
                // (e.g. "Connection refused"). None of them holds a header or a body.
                let mut causes = Vec::new();
                let mut source = e.source();
                while let Some(cause) = source {
                    causes.push(cause.to_string());
                    source = cause.source();
                }
                let causes = if causes.is_empty() {
                    e.to_string()
                } else {
                    causes.join(": ")
                };
                RotatorError::new(kind, format!("{what}: {verb}: {causes}"))
            })?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| {
                    RotatorError::new(
                        ErrorKind::Unreachable,
                        format!("{what}: reading the answer failed: {e}"),
                    )
                })?
                .to_bytes();
            Ok(Answer { status, body })
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(RotatorError::new(
                ErrorKind::Unreachable,
                format!(
                    "{what}: no answer within {} ms (ROTATION_HTTP_TIMEOUT_MS)",
                    self.timeout.as_millis()
                ),
            )),
        }
    }
}
