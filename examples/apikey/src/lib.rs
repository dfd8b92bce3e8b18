//! Rotate an HTTP service's API key through the service's **self-service key API**: the
//! client uses its current key to register its next key, and the next key to revoke the
//! old one. No admin credential is involved.
//!
//! # Secret format
//!
//! ```json
//! {"endpoint": "http://keys.internal:8080", "key_id": "3f1c0b6e-...", "api_key": "..."}
//! ```
//!
//! - `endpoint`: the service's base URL (`http://host[:port][/base/path]`; no credentials,
//!   query or fragment). This build speaks plain HTTP (see [HTTPS](#https)).
//! - `key_id`: the key's id on the service (letters, digits, `.`, `_`, `~`, `-`; at most
//!   128). Rotations name the new key after the secret version (the rotation's token), so
//!   the service's key list maps one to one to Secrets Manager versions.
//! - `api_key`: the key, a Bearer token (RFC 6750: letters, digits, `-._~+/`, then
//!   optional `=`).
//!
//! Other keys (e.g. `"client": "billing"`) are kept unchanged across rotations.
//!
//! # The service API it expects
//!
//! Every request carries `Authorization: Bearer <api_key>`; answers are JSON. Paths are
//! relative to `endpoint`.
//!
//! | request | answer |
//! |---|---|
//! | `GET /v1/whoami` | `200 {"client", "key_id"}` for a valid key; `401` otherwise |
//! | `GET /v1/keys` | `200 {"keys": [{"key_id"}, ...]}`: the caller's client's keys |
//! | `PUT /v1/keys/{key_id}` with `{"api_key": "..."}` | `201` registered for the caller's client; `200` if that exact key is already registered (idempotent); `409` if the id is taken by another key, or the client has as many keys as it may |
//! | `DELETE /v1/keys/{key_id}` | `204` revoked; `404` no such key of this client; `409` a key cannot revoke itself |
//!
//! `401` means the key is not valid, `403` that the client may not manage its own keys.
//! Services that accept caller-chosen key material exist (API Gateway's `CreateApiKey`
//! takes a `value`); a service that generates keys itself needs the key created in
//! createSecret instead (the value must hold it), with leftovers of failed createSecrets
//! revoked by the next setSecret, as here.
//!
//! # Who does what
//!
//! The client's keys belong to this secret: the rotator revokes every key of the client
//! that AWSCURRENT and AWSPENDING do not name.
//!
//! - createSecret ([`ApiKeyRotator`]'s `next_value`): the next value is the current one
//!   with a new `api_key` from the password policy (generated locally, or by
//!   `GetRandomPassword` with `ROTATION_PASSWORDS=service`) and `key_id` = the rotation's
//!   token. Nothing is sent to the service.
//! - setSecret: `GET /v1/whoami` with the current key (it must be valid and be the key
//!   `key_id` names); revoke any leftover key (a skipped `after_finish`, an abandoned
//!   rotation), so the client stays under its key limit; `PUT /v1/keys/{pending key_id}`.
//!   A retry registers the same key material again: `200`, nothing changes.
//! - testSecret: `GET /v1/whoami` with the pending key, a fresh request: it must be valid
//!   and be the pending `key_id`.
//! - finishSecret (the label move is the driver's), then `after_finish`: with the new key,
//!   revoke every other key of the client, i.e. the old one. The new value is the one
//!   testSecret verified when the same (warm) process ran it, else AWSPENDING read again:
//!   after the label move, a Secrets Manager call that fails cannot be retried.
//!
//! # Strategy
//!
//! [`Strategy::Single`]: one credential replaced. Both keys
//! are valid from setSecret until finishSecret (clients holding the old key keep working
//! through the rotation), and after it only AWSCURRENT's: AWSPREVIOUS is refused. If
//! `after_finish` fails (the service unreachable right after the label move, or AWSPENDING
//! unreadable in a cold process), finishSecret reports it with the labels already moved; a
//! retried finishSecret does not run it again (the token is AWSCURRENT), and the old key
//! stays valid until the next rotation's setSecret revokes it.
//!
//! # Errors
//!
//! Every failure is a [`RotatorError`] whose [`ErrorKind`] is the Lambda's `errorType`:
//!
//! | failure | kind |
//! |---|---|
//! | connection refused or reset, no answer in time | [`ErrorKind::Unreachable`] |
//! | `401`: the current key (setSecret, after_finish: the new one) or the pending key (testSecret) is not valid | [`ErrorKind::LoginRefused`] |
//! | `403`: the client may not manage its keys | [`ErrorKind::Permission`] |
//! | a secret that is not the JSON above; a pending value for another endpoint; AWSCURRENT's `key_id` not its key's id | [`ErrorKind::InvalidSecret`] |
//! | `409` (key id taken, key limit), the pending key valid under another id | [`ErrorKind::Conflict`] |
//! | any other status, or an answer that is not the JSON above | [`ErrorKind::Target`] |
//! | an `https` endpoint (this build has no TLS), a password policy making invalid Bearer tokens | [`ErrorKind::Configuration`] |
//! | a Secrets Manager call | the store's kind |
//!
//! No key reaches an error or a log: messages name requests and key ids, and the service's
//! own error text is quoted only with every key this step knows replaced by `[REDACTED]`.
//!
//! [`ApiKeyRotator`] is also the [`LoginProbe`]: "does this value work?" is a fresh
//! `GET /v1/whoami` with the value's key.
//!
//! # HTTPS
//!
//! This example has no TLS connector, so that the workspace keeps one TLS stack and the
//! tests need no certificates; an `https` endpoint is a configuration error. A real
//! deployment builds the client in `src/http.rs` with `hyper-rustls` (feature `aws-lc-rs`, the
//! workspace's provider) in place of the plain `HttpConnector`; the rotator's logic does not
//! change.

mod http;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use hyper::{Method, StatusCode};
use rand::TryRngCore;
use rotwise_core::config::{ConfigError, Env};
use rotwise_core::password::PasswordPolicy;
use rotwise_core::{
    ErrorKind, ExposeSecret, LoginProbe, ResultExt, Rotator, RotatorError, SecretPayload,
    SecretString, Strategy, Versions,
};
use serde_json::{Map, Value, json};

use crate::http::{Answer, Http};

/// `EXCLUDE_CHARACTERS` when unset: the punctuation a Bearer token (RFC 6750 `b64token`)
/// cannot hold, so new keys use letters, digits and `+-./_~`.
pub const DEFAULT_EXCLUDE_CHARACTERS: &str = "!\"#$%&'()*,:;<=>?@[\\]^`{|}";

/// The password policy for new keys outside the Lambda (a `Driver`, the test kit): the
/// default policy with [`DEFAULT_EXCLUDE_CHARACTERS`]. The Lambda reads AWS's variables
/// (`PASSWORD_LENGTH`, `EXCLUDE_*`) with the same default.
///
/// ```
/// use rotwise_example_apikey::{is_bearer_token, key_policy};
/// use rotwise_core::ExposeSecret;
/// let key = key_policy().generate().unwrap();
/// assert!(is_bearer_token(key.expose_secret()));
/// ```
pub fn key_policy() -> PasswordPolicy {
    PasswordPolicy {
        exclude_characters: DEFAULT_EXCLUDE_CHARACTERS.to_string(),
        ..PasswordPolicy::default()
    }
}

/// The HTTP client's log targets, capped at INFO in the Lambda.
pub const LOG_TARGETS: &[&str] = &["hyper", "hyper_util"];

/// `ROTATION_HTTP_TIMEOUT_MS`: limit for one request to the service.
pub const ENV_HTTP_TIMEOUT_MS: &str = "ROTATION_HTTP_TIMEOUT_MS";

/// `ROTATION_STRATEGY`: read only to refuse `alternating` (this rotator is single).
pub const ENV_STRATEGY: &str = "ROTATION_STRATEGY";

/// The default limit for one request (connect, send, answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest limit accepted: a Lambda runs 15 minutes at most.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(900);

/// The longest `key_id` accepted.
pub const MAX_KEY_ID_LEN: usize = 128;

/// An [`ErrorKind::InvalidSecret`] error.
fn invalid(message: impl Into<String>) -> RotatorError {
    RotatorError::new(ErrorKind::InvalidSecret, message)
}

/// Whether `s` is a Bearer token (RFC 6750 `b64token`): `[A-Za-z0-9-._~+/]+` then `=`*.
pub fn is_bearer_token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// Whether `s` can be a `key_id` (a URL path segment without escaping).
pub fn is_key_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_KEY_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        && s != "."
        && s != ".."
}

/// The rotated secret.
#[derive(Clone)]
pub struct ApiKeySecret {
    /// The service's base URL, as written in the secret.
    pub endpoint: String,
    /// The key's id on the service.
    pub key_id: String,
    /// The key.
    pub api_key: SecretString,
    rest: Map<String, Value>,
}

impl std::fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeySecret")
            .field("endpoint", &self.endpoint)
            .field("key_id", &self.key_id)
            .field("api_key", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// Check `endpoint`: `http://host[:port][/path]`. `https` is a configuration error (this
/// build has no TLS); anything else is an invalid secret.
fn check_endpoint(endpoint: &str) -> Result<(), RotatorError> {
    let uri: hyper::Uri = endpoint
        .parse()
        .map_err(|_| invalid("the secret's `endpoint` is not a URL like http://host:port"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(RotatorError::new(
                ErrorKind::Configuration,
                "the secret's `endpoint` is https, and this build of the example speaks plain HTTP \
                 only: build its client with hyper-rustls (see the example's README)",
            ));
        }
        _ => return Err(invalid("the secret's `endpoint` must start with http://")),
    }
    let authority = uri
        .authority()
        .ok_or_else(|| invalid("the secret's `endpoint` has no host"))?;
    if authority.as_str().contains('@') {
        return Err(invalid(
            "the secret's `endpoint` must not hold credentials (user@host)",
        ));
    }
    if uri.query().is_some() || endpoint.contains('#') {
        return Err(invalid(
            "the secret's `endpoint` must not have a query or a fragment",
        ));
    }
    Ok(())
}

impl ApiKeySecret {
    /// Parse a secret value; anything malformed is an [`ErrorKind::InvalidSecret`] error
    /// (an `https` endpoint: [`ErrorKind::Configuration`]).
    pub fn parse(payload: &SecretPayload) -> Result<ApiKeySecret, RotatorError> {
        let text = payload.as_string().ok_or_else(|| {
            invalid("the API key secret must be a SecretString, not SecretBinary")
        })?;
        let Ok(Value::Object(mut map)) = serde_json::from_str(text.expose_secret()) else {
            return Err(invalid(
                "the API key secret is not a JSON object like {\"endpoint\", \"key_id\", \"api_key\"}",
            ));
        };
        let mut string = |key: &str| match map.remove(key) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s),
            _ => Err(invalid(format!(
                "the API key secret has no non-empty string `{key}`"
            ))),
        };
        let endpoint = string("endpoint")?;
        let key_id = string("key_id")?;
        let api_key = SecretString::from(string("api_key")?);
        check_endpoint(&endpoint)?;
        if !is_key_id(&key_id) {
            return Err(invalid(format!(
                "the secret's `key_id` must be 1 to {MAX_KEY_ID_LEN} letters, digits, '.', '_', '~' or '-'"
            )));
        }
        if !is_bearer_token(api_key.expose_secret()) {
            return Err(invalid(
                "the secret's `api_key` is not a Bearer token (letters, digits, -._~+/ then optional =)",
            ));
        }
        Ok(ApiKeySecret {
            endpoint,
            key_id,
            api_key,
            rest: map,
        })
    }

    /// A secret value (what to store before the first rotation).
    pub fn new(endpoint: &str, key_id: &str, api_key: &str) -> ApiKeySecret {
        ApiKeySecret {
            endpoint: endpoint.to_string(),
            key_id: key_id.to_string(),
            api_key: SecretString::from(api_key),
            rest: Map::new(),
        }
    }

    /// The JSON text.
    pub fn to_payload(&self) -> SecretPayload {
        let mut map = self.rest.clone();
        map.insert("endpoint".into(), Value::String(self.endpoint.clone()));
        map.insert("key_id".into(), Value::String(self.key_id.clone()));
        map.insert(
            "api_key".into(),
            Value::String(self.api_key.expose_secret().to_string()),
        );
        Value::Object(map).to_string().into()
    }

    /// `path` (starting with `/`) under the endpoint.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint.trim_end_matches('/'))
    }
}

/// Who a key is, as `GET /v1/whoami` answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The client (service account) the key belongs to.
    pub client: String,
    /// The key's id.
    pub key_id: String,
}

/// The rotator's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyOptions {
    /// Limit for one request to the service (connect, send, answer).
    pub timeout: Duration,
}

impl Default for ApiKeyOptions {
    fn default() -> Self {
        ApiKeyOptions {
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl ApiKeyOptions {
    /// Read `ROTATION_HTTP_TIMEOUT_MS` (milliseconds, 1 to 900000; default 5000), and
    /// `ROTATION_STRATEGY` only to refuse anything but `single`. Blank means unset.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rotwise_core::config::Env;
    /// use rotwise_example_apikey::ApiKeyOptions;
    ///
    /// let env = Env::from_pairs([("ROTATION_HTTP_TIMEOUT_MS", "1500")]);
    /// assert_eq!(ApiKeyOptions::from_env(&env)?.timeout, Duration::from_millis(1500));
    /// let env = Env::from_pairs([("ROTATION_STRATEGY", "alternating")]);
    /// assert_eq!(ApiKeyOptions::from_env(&env).unwrap_err().var, "ROTATION_STRATEGY");
    /// # Ok::<(), rotwise_core::config::ConfigError>(())
    /// ```
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        match env.parse::<Strategy>(ENV_STRATEGY)? {
            None | Some(Strategy::Single) => {}
            Some(Strategy::Alternating) => {
                return Err(ConfigError::invalid(
                    ENV_STRATEGY,
                    env.get_set(ENV_STRATEGY).unwrap_or_default(),
                    "single (an API key is rotated in place; the old key is revoked after finishSecret)",
                ));
            }
        }
        let timeout = match env.get_set(ENV_HTTP_TIMEOUT_MS) {
            None => DEFAULT_TIMEOUT,
            Some(v) => match v.parse::<u64>() {
                Ok(ms) if ms > 0 && Duration::from_millis(ms) <= MAX_TIMEOUT => {
                    Duration::from_millis(ms)
                }
                _ => {
                    return Err(ConfigError::invalid(
                        ENV_HTTP_TIMEOUT_MS,
                        v,
                        "milliseconds, an integer from 1 to 900000",
                    ));
                }
            },
        };
        Ok(ApiKeyOptions { timeout })
    }
}

/// The service's error text from an answer's body (`{"error": "..."}` or
/// `{"message": "..."}`), at most 200 characters, with every key in `keys` redacted.
fn service_message(body: &[u8], keys: &[&SecretString]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let text = v
        .get("error")
        .or_else(|| v.get("message"))
        .and_then(Value::as_str)?;
    // Redact before cutting, so no prefix of a key survives at the cut.
    let mut text = text.to_string();
    for key in keys {
        let key = key.expose_secret();
        if !key.is_empty() {
            text = text.replace(key, "[REDACTED]");
        }
    }
    Some(text.chars().take(200).collect())
}

/// The error for an answer whose status is not what `what` expects: 401 LoginRefused,
/// 403 Permission, 409 Conflict, anything else Target.
fn status_error(what: &str, answer: &Answer, keys: &[&SecretString]) -> RotatorError {
    let kind = match answer.status {
        StatusCode::UNAUTHORIZED => ErrorKind::LoginRefused,
        StatusCode::FORBIDDEN => ErrorKind::Permission,
        StatusCode::CONFLICT => ErrorKind::Conflict,
        _ => ErrorKind::Target,
    };
    let detail = service_message(&answer.body, keys)
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    RotatorError::new(
        kind,
        format!("{what}: the service answered {}{detail}", answer.status),
    )
}

/// Parse an answer's JSON body.
fn json_body(what: &str, answer: &Answer) -> Result<Value, RotatorError> {
    serde_json::from_slice(&answer.body).kind(
        ErrorKind::Target,
        format!("{what}: the service's answer is not JSON"),
    )
}

/// A `key_id` for the rotation whose token is `token`: the token itself when it is a valid
/// key id (Secrets Manager's tokens are UUIDs), else 32 random hex digits.
fn key_id_for(token: &str) -> Result<String, RotatorError> {
    if is_key_id(token) {
        return Ok(token.to_string());
    }
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .kind(ErrorKind::Internal, "the OS random generator failed")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// At most this many verified values are kept (a function rotating many secrets at once).
const MAX_VERIFIED: usize = 32;

/// Rotates an API key through the service's self-service key API (see the
/// [crate docs](crate)).
pub struct ApiKeyRotator {
    http: Http,
    /// Pending values this process's testSecret verified, by (secret ARN, token), for
    /// `after_finish` (see [`ApiKeyRotator::verified`]).
    verified: Mutex<HashMap<(String, String), ApiKeySecret>>,
}

impl ApiKeyRotator {
    /// A rotator with these settings.
    pub fn new(options: ApiKeyOptions) -> ApiKeyRotator {
        ApiKeyRotator {
            http: Http::new(options.timeout),
            verified: Mutex::new(HashMap::new()),
        }
    }

    fn verified_lock(&self) -> MutexGuard<'_, HashMap<(String, String), ApiKeySecret>> {
        self.verified.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value `after_finish` revokes with: the one this process's testSecret verified
    /// for the rotation, when the same (warm) process ran it, else AWSPENDING read again.
    /// The label has already moved when `after_finish` runs, and a failure there is not
    /// retried (a retried finishSecret finds the token current), so the fewer calls it
    /// makes the better: with the value at hand, only the service is asked.
    async fn verified(&self, versions: &Versions<'_>) -> Result<ApiKeySecret, RotatorError> {
        let key = (versions.arn().to_string(), versions.token().to_string());
        if let Some(value) = self.verified_lock().remove(&key) {
            return Ok(value);
        }
        ApiKeySecret::parse(&versions.pending().await?.payload)
    }

    /// A rotator with the settings in `env` ([`ApiKeyOptions::from_env`]).
    pub fn from_env(env: &Env) -> Result<ApiKeyRotator, ConfigError> {
        Ok(ApiKeyRotator::new(ApiKeyOptions::from_env(env)?))
    }

    /// `GET /v1/whoami` with `secret`'s key: `Ok(None)` when the service refuses it (401).
    pub async fn whoami(&self, secret: &ApiKeySecret) -> Result<Option<Identity>, RotatorError> {
        let url = secret.url("/v1/whoami");
        let what = format!("GET {url} with key {}", secret.key_id);
        let answer = self
            .http
            .send(Method::GET, &url, &secret.api_key, None, &what)
            .await?;
        match answer.status {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED => return Ok(None),
            _ => return Err(status_error(&what, &answer, &[&secret.api_key])),
        }
        let v = json_body(&what, &answer)?;
        match (v["client"].as_str(), v["key_id"].as_str()) {
            (Some(client), Some(key_id)) => Ok(Some(Identity {
                client: client.to_string(),
                key_id: key_id.to_string(),
            })),
            _ => Err(RotatorError::new(
                ErrorKind::Target,
                format!("{what}: the answer has no string `client` and `key_id`"),
            )),
        }
    }

    /// The ids of the keys of `auth`'s client (`GET /v1/keys`, authenticated by `auth`).
    pub async fn key_ids(&self, auth: &ApiKeySecret) -> Result<Vec<String>, RotatorError> {
        let url = auth.url("/v1/keys");
        let what = format!("GET {url} with key {}", auth.key_id);
        let answer = self
            .http
            .send(Method::GET, &url, &auth.api_key, None, &what)
            .await?;
        if answer.status != StatusCode::OK {
            return Err(status_error(&what, &answer, &[&auth.api_key]));
        }
        let v = json_body(&what, &answer)?;
        let ids = v["keys"].as_array().and_then(|keys| {
            keys.iter()
                .map(|k| k["key_id"].as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        });
        ids.ok_or_else(|| {
            RotatorError::new(
                ErrorKind::Target,
                format!("{what}: the answer is not {{\"keys\": [{{\"key_id\"}}, ...]}}"),
            )
        })
    }

    /// Revoke every key of `auth`'s client whose id is not in `keep`, authenticated by
    /// `auth` (whose own id must be in `keep`). A key already gone (404) counts as revoked.
    async fn revoke_all_but(&self, auth: &ApiKeySecret, keep: &[&str]) -> Result<(), RotatorError> {
        for id in self.key_ids(auth).await? {
            if keep.contains(&id.as_str()) {
                continue;
            }
            if !is_key_id(&id) {
                return Err(RotatorError::new(
                    ErrorKind::Target,
                    "GET /v1/keys listed a key id that is not a URL path segment",
                ));
            }
            let url = auth.url(&format!("/v1/keys/{id}"));
            let what = format!("DELETE {url} with key {}", auth.key_id);
            let answer = self
                .http
                .send(Method::DELETE, &url, &auth.api_key, None, &what)
                .await?;
            match answer.status {
                StatusCode::OK | StatusCode::NO_CONTENT => {
                    tracing::info!(key_id = %id, "revoked the key");
                }
                StatusCode::NOT_FOUND => {
                    tracing::info!(key_id = %id, "the key was already revoked");
                }
                _ => return Err(status_error(&what, &answer, &[&auth.api_key])),
            }
        }
        Ok(())
    }

    /// `PUT /v1/keys/{new.key_id}` with `new`'s key, authenticated by `auth`. Returns
    /// whether the key was new (201) rather than already registered (200).
    async fn register(
        &self,
        auth: &ApiKeySecret,
        new: &ApiKeySecret,
    ) -> Result<bool, RotatorError> {
        let url = auth.url(&format!("/v1/keys/{}", new.key_id));
        let what = format!("PUT {url} with key {}", auth.key_id);
        let body = json!({"api_key": new.api_key.expose_secret()});
        let answer = self
            .http
            .send(Method::PUT, &url, &auth.api_key, Some(body), &what)
            .await?;
        match answer.status {
            StatusCode::CREATED => Ok(true),
            StatusCode::OK | StatusCode::NO_CONTENT => Ok(false),
            _ => Err(status_error(&what, &answer, &[&auth.api_key, &new.api_key])),
        }
    }
}

#[async_trait]
impl Rotator for ApiKeyRotator {
    fn name(&self) -> &str {
        "apikey-single"
    }

    async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
        let mut next = ApiKeySecret::parse(&versions.current().await?.payload)?;
        let api_key = versions.new_password().await?;
        if !is_bearer_token(api_key.expose_secret()) {
            return Err(RotatorError::new(
                ErrorKind::Configuration,
                "the password policy made a key that is not a Bearer token: keep \
                 EXCLUDE_CHARACTERS at this function's default (or set EXCLUDE_PUNCTUATION=true)",
            ));
        }
        next.api_key = api_key;
        next.key_id = key_id_for(versions.token())?;
        Ok(next.to_payload())
    }

    async fn set(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        let current = ApiKeySecret::parse(&versions.current().await?.payload)?;
        let pending = ApiKeySecret::parse(&versions.pending().await?.payload)?;
        if pending.endpoint.trim_end_matches('/') != current.endpoint.trim_end_matches('/') {
            return Err(invalid(format!(
                "the pending value's endpoint {} is not AWSCURRENT's {}",
                pending.endpoint, current.endpoint
            )));
        }
        if pending.key_id == current.key_id {
            return Err(invalid(format!(
                "the pending value names AWSCURRENT's key id {}",
                current.key_id
            )));
        }
        let me = self.whoami(&current).await?.ok_or_else(|| {
            RotatorError::new(
                ErrorKind::LoginRefused,
                format!(
                    "the service refuses AWSCURRENT's key {} (GET /v1/whoami answered 401)",
                    current.key_id
                ),
            )
        })?;
        if me.key_id != current.key_id {
            return Err(invalid(format!(
                "AWSCURRENT's api_key is key {} on the service, but its key_id says {}",
                me.key_id, current.key_id
            )));
        }
        // Leftovers first (a skipped after_finish, an abandoned rotation): the client may be
        // at its key limit.
        self.revoke_all_but(&current, &[&current.key_id, &pending.key_id])
            .await?;
        let created = self.register(&current, &pending).await?;
        tracing::info!(
            key_id = %pending.key_id,
            client = %me.client,
            created,
            "the service accepts the pending key"
        );
        Ok(())
    }

    async fn test(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        let pending = ApiKeySecret::parse(&versions.pending().await?.payload)?;
        match self.whoami(&pending).await? {
            None => Err(RotatorError::new(
                ErrorKind::LoginRefused,
                format!(
                    "the service refuses the pending key {} (GET /v1/whoami answered 401)",
                    pending.key_id
                ),
            )),
            Some(me) if me.key_id != pending.key_id => Err(RotatorError::new(
                ErrorKind::Conflict,
                format!(
                    "the pending key is key {} on the service, not {}",
                    me.key_id, pending.key_id
                ),
            )),
            Some(_) => {
                let mut verified = self.verified_lock();
                if verified.len() >= MAX_VERIFIED {
                    verified.clear();
                }
                verified.insert(
                    (versions.arn().to_string(), versions.token().to_string()),
                    pending,
                );
                Ok(())
            }
        }
    }

    async fn after_finish(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        // The token's version is AWSCURRENT now: with its key, revoke every other key.
        let new = self.verified(versions).await?;
        self.revoke_all_but(&new, &[&new.key_id]).await
    }
}

/// "Does this value work?": a fresh `GET /v1/whoami` with the value's key, which must be
/// valid and be the value's `key_id`.
#[async_trait]
impl LoginProbe for ApiKeyRotator {
    async fn accepts(&self, value: &SecretPayload) -> Result<bool, RotatorError> {
        let secret = ApiKeySecret::parse(value)?;
        Ok(self
            .whoami(&secret)
            .await?
            .is_some_and(|me| me.key_id == secret.key_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "k3y-AAAAbbbbCCCCdddd0123";

    fn parse(json: &str) -> Result<ApiKeySecret, RotatorError> {
        ApiKeySecret::parse(&SecretPayload::from(json))
    }

    #[test]
    fn parses_and_keeps_other_keys() {
        let s = parse(&format!(
            r#"{{"endpoint": "http://127.0.0.1:8080/api/", "key_id": "k1", "api_key": "{KEY}", "client": "billing"}}"#
        ))
        .unwrap();
        assert_eq!(s.key_id, "k1");
        assert_eq!(s.url("/v1/whoami"), "http://127.0.0.1:8080/api/v1/whoami");
        let out: Value = serde_json::from_str(
            s.to_payload()
                .as_string()
                .map(ExposeSecret::expose_secret)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(out["client"], "billing");
        assert_eq!(out["api_key"], KEY);
        assert!(!format!("{s:?}").contains(KEY), "Debug redacts the key");
    }

    #[test]
    fn malformed_secrets_are_invalid_and_quote_no_key() {
        let cases = [
            format!("api_key={KEY}"),
            format!(r#"{{"key_id": "k", "api_key": "{KEY}"}}"#),
            format!(r#"{{"endpoint": "http://h", "api_key": "{KEY}"}}"#),
            r#"{"endpoint": "http://h", "key_id": "k"}"#.to_string(),
            format!(r#"{{"endpoint": "ftp://h", "key_id": "k", "api_key": "{KEY}"}}"#),
            format!(r#"{{"endpoint": "http://u:p@h", "key_id": "k", "api_key": "{KEY}"}}"#),
            format!(r#"{{"endpoint": "http://h/?a=b", "key_id": "k", "api_key": "{KEY}"}}"#),
            format!(r#"{{"endpoint": "http://h", "key_id": "a/b", "api_key": "{KEY}"}}"#),
            format!(r#"{{"endpoint": "http://h", "key_id": "..", "api_key": "{KEY}"}}"#),
            r#"{"endpoint": "http://h", "key_id": "k", "api_key": "has space"}"#.to_string(),
            r#"{"endpoint": "http://h", "key_id": "k", "api_key": "a\"b"}"#.to_string(),
        ];
        for case in &cases {
            let e = parse(case).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidSecret, "{case}: {e}");
            assert!(!e.to_string().contains(KEY), "{e}");
        }
        let binary = SecretPayload::Binary(vec![1u8, 2].into());
        assert_eq!(
            ApiKeySecret::parse(&binary).unwrap_err().kind(),
            ErrorKind::InvalidSecret
        );
    }

    #[test]
    fn https_is_a_configuration_error() {
        let e = parse(&format!(
            r#"{{"endpoint": "https://h", "key_id": "k", "api_key": "{KEY}"}}"#
        ))
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Configuration);
    }

    #[test]
    fn bearer_tokens_and_key_ids() {
        assert!(is_bearer_token("abc-._~+/09=="));
        assert!(!is_bearer_token("=="));
        assert!(!is_bearer_token("a=b"));
        assert!(!is_bearer_token(""));
        assert!(is_key_id("3f1c0b6e-1d2a-4c55-9a57-000000000001"));
        assert!(!is_key_id(&"a".repeat(MAX_KEY_ID_LEN + 1)));
        assert!(!is_key_id("a%2f"));
        assert_eq!(key_id_for("tok-1").unwrap(), "tok-1");
        let random = key_id_for("not a path/segment").unwrap();
        assert_eq!(random.len(), 32);
        assert!(is_key_id(&random));
    }

    /// Every character the default policy may draw is a Bearer token character, and the
    /// policy still includes punctuation (`+-./_~`).
    #[test]
    fn the_default_policy_makes_bearer_tokens() {
        let env = Env::from_pairs([("PASSWORD_LENGTH", "64")]);
        let source =
            rotwise_core::PasswordSource::from_env(&env, DEFAULT_EXCLUDE_CHARACTERS).unwrap();
        for _ in 0..200 {
            let key = source.policy().generate().unwrap();
            assert!(is_bearer_token(key.expose_secret()));
        }
        let punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
        let kept: String = punctuation
            .chars()
            .filter(|c| !DEFAULT_EXCLUDE_CHARACTERS.contains(*c))
            .collect();
        assert_eq!(kept, "+-./_~");
    }

    #[test]
    fn options_from_the_environment() {
        let opts = |pairs: &[(&str, &str)]| {
            ApiKeyOptions::from_env(&Env::from_pairs(pairs.iter().copied()))
        };
        assert_eq!(opts(&[]).unwrap(), ApiKeyOptions::default());
        assert_eq!(
            opts(&[
                ("ROTATION_STRATEGY", " Single "),
                (ENV_HTTP_TIMEOUT_MS, " ")
            ])
            .unwrap(),
            ApiKeyOptions::default()
        );
        for bad in ["0", "5s", "900001", "-1"] {
            let e = opts(&[(ENV_HTTP_TIMEOUT_MS, bad)]).unwrap_err();
            assert_eq!(e.var, ENV_HTTP_TIMEOUT_MS);
            assert!(e.message.contains(bad), "{e}");
        }
        assert_eq!(
            opts(&[("ROTATION_STRATEGY", "sideways")]).unwrap_err().var,
            "ROTATION_STRATEGY"
        );
    }

    #[test]
    fn service_messages_are_redacted_and_short() {
        let key = SecretString::from(KEY);
        let body = json!({"error": format!("bad key {KEY} {}", "x".repeat(300))}).to_string();
        let m = service_message(body.as_bytes(), &[&key]).unwrap();
        assert!(!m.contains(KEY));
        assert!(m.contains("[REDACTED]"));
        assert!(m.chars().count() <= 200);
        assert_eq!(service_message(b"not json", &[&key]), None);
    }
}
