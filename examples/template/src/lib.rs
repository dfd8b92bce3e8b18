//! The Rust counterpart of AWS's rotation template: a **raw-string** secret (the whole
//! `SecretString` is the credential, no JSON) rotated to a new random value.
//!
//! [`TemplateRotator`] rotates the key of one account on a [`FakeService`], an in-process
//! stand-in for "your service". Each step says, in a comment, where your own service calls
//! go. Strategy: **single user** — the account has one key, changed in place by setSecret,
//! so between setSecret and finishSecret only AWSPENDING works (clients retry with a fresh
//! read of the secret, see ARCHITECTURE.md, "Strategies keep their promises").
//!
//! ```
//! use std::sync::Arc;
//! use rotwise_core::{Driver, store::MemoryStore};
//! use rotwise_example_template::{FakeService, TemplateRotator};
//! use rotwise_testkit::LocalService;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let service = FakeService::with_key("first-key");
//! let store = Arc::new(MemoryStore::new());
//! let arn = store.insert_secret("demo/api-key", "first-key").unwrap();
//! let driver = Driver::new(store.clone(), Arc::new(TemplateRotator::new(service.clone())));
//! LocalService::new(store).rotate(&arn, &driver).await.unwrap();
//! assert!(!service.authenticate("first-key"));
//! # });
//! ```

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rotwise_core::{
    ErrorKind, ExposeSecret, LoginProbe, ResultExt, Rotator, RotatorError, SecretPayload, Versions,
};

/// "Your service": one account whose API key can be changed by presenting the old one.
///
/// Replace it with a client of the real system (an HTTP API, an admin CLI...).
#[derive(Clone, Default)]
pub struct FakeService {
    key: Arc<Mutex<String>>,
}

impl FakeService {
    /// A service whose account currently accepts `key`.
    pub fn with_key(key: &str) -> FakeService {
        FakeService {
            key: Arc::new(Mutex::new(key.to_string())),
        }
    }

    /// A fresh request authenticated with `key`: accepted or not.
    pub fn authenticate(&self, key: &str) -> bool {
        *self.key.lock().unwrap_or_else(|p| p.into_inner()) == key
    }

    /// Change the key, authenticating with the old one (as most APIs require).
    pub fn change_key(&self, old: &str, new: &str) -> Result<(), FakeServiceError> {
        let mut key = self.key.lock().unwrap_or_else(|p| p.into_inner());
        if *key != old {
            return Err(FakeServiceError::Unauthorized);
        }
        *key = new.to_string();
        Ok(())
    }
}

/// What the fake service answers. Never carries a key.
#[derive(Debug, PartialEq, Eq)]
pub enum FakeServiceError {
    /// The presented key is not the account's key.
    Unauthorized,
}

impl std::fmt::Display for FakeServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the service refused the key (401 Unauthorized)")
    }
}

impl std::error::Error for FakeServiceError {}

/// The secret value as a string (the template's secrets are raw strings, not JSON).
fn raw(payload: &SecretPayload) -> Result<&str, RotatorError> {
    payload
        .as_string()
        .map(|s| s.expose_secret())
        .ok_or_else(|| {
            RotatorError::new(
                ErrorKind::InvalidSecret,
                "this rotator expects a SecretString, not SecretBinary",
            )
        })
}

/// A single-user rotator for a raw-string secret on [`FakeService`].
pub struct TemplateRotator {
    service: FakeService,
}

impl TemplateRotator {
    /// A rotator for `service`.
    pub fn new(service: FakeService) -> TemplateRotator {
        TemplateRotator { service }
    }
}

#[async_trait]
impl Rotator for TemplateRotator {
    fn name(&self) -> &str {
        "template-single"
    }

    /// createSecret. The driver already handled the retry case (a pending value exists
    /// for this token) and will `PutSecretValue` what this returns as AWSPENDING.
    ///
    /// Errors carry an [`ErrorKind`] (the Lambda's `errorType`): `?` on a store call keeps
    /// the store's kind, and each failure below says what kind it is.
    async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
        // YOUR CODE: if your service issues the credential itself (e.g. "create API key"),
        // do NOT call it here — createSecret may run again for the same token, and only
        // the stored value survives. Generate the value here; make it live in `set`.
        // Validate the current value's shape so a bad secret fails early:
        raw(&versions.current().await?.payload)?;
        // The default policy: 32 characters from the OS CSPRNG, no API call.
        Ok(versions.new_password().await?.into())
    }

    /// setSecret: make the service accept the pending value. Must be idempotent.
    async fn set(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        let current = raw(&versions.current().await?.payload)?;
        let pending = raw(&versions.pending().await?.payload)?;
        // YOUR CODE: replace `self.service` calls with your service's API.
        // Try the credential most likely to work first, so the normal path has no
        // failed authentication (ARCHITECTURE.md, "No failed login on the normal path"):
        // 1. current works -> change it to pending (the normal path);
        // YOUR CODE: tag your client's errors with a kind: a refused credential is
        // `LoginRefused`, a connection error `Unreachable`, a failed request `Target`.
        if self.service.authenticate(current) {
            self.service.change_key(current, pending).kind(
                ErrorKind::LoginRefused,
                "setSecret: changing the key failed",
            )?;
            return Ok(());
        }
        // 2. pending works -> an earlier setSecret already changed it (a retry): done;
        if self.service.authenticate(pending) {
            return Ok(());
        }
        // 3. previous works -> someone rolled the service back; change from it.
        if let Some(previous) = versions.previous().await? {
            let previous = raw(&previous.payload)?;
            if self.service.authenticate(previous) {
                self.service.change_key(previous, pending).kind(
                    ErrorKind::LoginRefused,
                    "setSecret: changing the key failed",
                )?;
                return Ok(());
            }
        }
        Err(RotatorError::new(
            ErrorKind::LoginRefused,
            "setSecret: the service accepts none of the current, pending or previous keys; \
             fix the account's key by hand and put it as AWSCURRENT",
        ))
    }

    /// testSecret: prove the pending value works with a fresh request.
    async fn test(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        let pending = raw(&versions.pending().await?.payload)?;
        // YOUR CODE: one cheap authenticated request with the pending value, on a new
        // connection (never a session `set` opened).
        if self.service.authenticate(pending) {
            Ok(())
        } else {
            Err(RotatorError::new(
                ErrorKind::LoginRefused,
                "testSecret: the service refuses the pending key",
            ))
        }
    }

    // after_finish: nothing to do for a single key changed in place. YOUR CODE goes here
    // if your service keeps old credentials alive (e.g. revoke the previous API key);
    // keep it safe to skip, since a retried finishSecret does not run it again.
}

/// "Does the service accept this secret value?", with a fresh request: what the test kit's
/// conformance suite checks its invariants with (and the CLI's proof and `doctor`).
#[async_trait]
impl LoginProbe for FakeService {
    async fn accepts(&self, value: &SecretPayload) -> Result<bool, RotatorError> {
        Ok(self.authenticate(raw(value)?))
    }
}
