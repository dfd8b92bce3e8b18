//! An HMAC-SHA-256 signing key rotated **with an overlap**: the secret holds the current
//! key and the one before it, and verifiers accept both, so a token signed just before a
//! rotation still verifies after it.
//!
//! # Secret format
//!
//! ```json
//! {"current": "<base64 of 32 random bytes>", "previous": "<base64>"}
//! ```
//! `previous` is absent before the first rotation. Standard base64 with padding. Other
//! keys (e.g. `"alg": "HS256"`) are kept unchanged across rotations.
//!
//! # Who does what
//!
//! - **Signers** sign with AWSCURRENT's `current` key.
//! - **Verifiers** accept every key in their [`KeyRing`] (here an in-process stand-in for a
//!   key registry, e.g. the key set an API gateway or a JWKS endpoint serves).
//! - createSecret ([`HmacRotator::next_value`]): the new value's `current` is a new random
//!   key, its `previous` is the old `current`; the old `previous` is **not carried over**.
//!   This is where the oldest key leaves the secret: `after_finish` cannot rewrite the
//!   secret (that would need a new version), so the next value is built without it.
//! - setSecret: the key ring accepts the new key (before any signer can use it), and drops
//!   anything older than the old `previous` (left over if an `after_finish` was skipped).
//! - testSecret: a token freshly signed with the pending key verifies.
//! - finishSecret, then `after_finish`: the ring keeps only the new value's `current` and
//!   `previous`, i.e. it **revokes the key older than one rotation**.
//!
//! # Overlap semantics, exactly
//!
//! Key `K(n)` is made by rotation `n`. Verifiers accept it from rotation `n`'s setSecret;
//! signers use it from rotation `n`'s finishSecret until rotation `n+1`'s finishSecret;
//! verifiers drop it at rotation `n+2`'s finishSecret. So a token signed with `K(n)`
//! verifies for at least one full rotation interval after its key stopped signing, and
//! never after two rotations: **keep token lifetimes at most one rotation interval.**
//! A verifier that reads the secret instead of a ring accepts AWSCURRENT's `current` and
//! `previous`; it should refresh the secret when a token fails (a signer may have moved
//! to the new key first).
//!
//! As a [`Strategy`](rotwise_core::Strategy) (what the test kit's conformance suite checks)
//! this is **alternating**: the AWSCURRENT value works at every moment, and AWSPREVIOUS
//! (whose `current` is the new `previous`) keeps working until the next rotation.
//!
//! # Errors
//!
//! A malformed secret (not JSON, no `current`, bad base64, a short key) is
//! [`ErrorKind::InvalidSecret`]; verifiers that refuse the pending key in testSecret are
//! [`ErrorKind::LoginRefused`]; a failed store call keeps the store's kind. No error
//! holds a key.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use rand::TryRngCore;
use rotwise_core::{
    ErrorKind, ExposeSecret, LoginProbe, ResultExt, Rotator, RotatorError, SecretPayload, Versions,
};
use serde_json::{Map, Value};
use sha2::Sha256;

/// Bytes per key: HMAC-SHA-256's block-size-independent recommendation (the hash length).
pub const KEY_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// A signing key. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key([REDACTED])")
    }
}

impl Key {
    /// A new key from the OS CSPRNG (an [`ErrorKind::Internal`] error if it fails).
    pub fn generate() -> Result<Key, RotatorError> {
        let mut bytes = vec![0u8; KEY_LEN];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .kind(ErrorKind::Internal, "the OS random generator failed")?;
        Ok(Key(bytes))
    }

    fn decode(field: &str, text: &str) -> Result<Key, RotatorError> {
        // The decoder's error is not kept: it could quote a piece of the key.
        let bytes = B64
            .decode(text)
            .map_err(|_| invalid(format!("the secret's `{field}` is not standard base64")))?;
        if bytes.len() < KEY_LEN {
            return Err(invalid(format!(
                "the secret's `{field}` key has {} bytes; HMAC-SHA-256 keys need at least {KEY_LEN}",
                bytes.len()
            )));
        }
        Ok(Key(bytes))
    }

    fn encode(&self) -> String {
        B64.encode(&self.0)
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length: this cannot fail.
        <HmacSha256 as KeyInit>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }

    /// A token `<message>.<base64 tag>` for `message` (which must not contain `.`).
    pub fn sign(&self, message: &str) -> String {
        let mut mac = self.mac();
        mac.update(message.as_bytes());
        format!("{message}.{}", B64.encode(mac.finalize().into_bytes()))
    }

    fn verifies(&self, message: &str, tag: &[u8]) -> bool {
        let mut mac = self.mac();
        mac.update(message.as_bytes());
        mac.verify_slice(tag).is_ok() // constant time
    }
}

/// An [`ErrorKind::InvalidSecret`] error: the secret value is not a usable signing secret.
fn invalid(message: impl Into<String>) -> RotatorError {
    RotatorError::new(ErrorKind::InvalidSecret, message)
}

/// The parsed secret: `current`, optional `previous`, and any other keys (kept as is).
pub struct SigningSecret {
    /// The key signers use.
    pub current: Key,
    /// The key before it, still accepted by verifiers.
    pub previous: Option<Key>,
    rest: Map<String, Value>,
}

impl SigningSecret {
    /// Parse a secret value; anything malformed is an [`ErrorKind::InvalidSecret`] error.
    pub fn parse(payload: &SecretPayload) -> Result<SigningSecret, RotatorError> {
        let text = payload.as_string().ok_or_else(|| {
            invalid("the signing-key secret must be a SecretString, not SecretBinary")
        })?;
        let Ok(Value::Object(mut map)) = serde_json::from_str(text.expose_secret()) else {
            return Err(invalid(
                "the signing-key secret is not a JSON object like {\"current\": \"<base64>\"}",
            ));
        };
        let current = match map.remove("current") {
            Some(Value::String(s)) => Key::decode("current", &s)?,
            _ => return Err(invalid("the signing-key secret has no string `current`")),
        };
        let previous = match map.remove("previous") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Key::decode("previous", &s)?),
            Some(_) => return Err(invalid("the secret's `previous` must be a base64 string")),
        };
        Ok(SigningSecret {
            current,
            previous,
            rest: map,
        })
    }

    /// A secret holding only `current` (what to store before the first rotation).
    pub fn initial(current: Key) -> SigningSecret {
        SigningSecret {
            current,
            previous: None,
            rest: Map::new(),
        }
    }

    /// The JSON text.
    pub fn to_payload(&self) -> SecretPayload {
        let mut map = self.rest.clone();
        map.insert("current".into(), Value::String(self.current.encode()));
        if let Some(p) = &self.previous {
            map.insert("previous".into(), Value::String(p.encode()));
        }
        Value::Object(map).to_string().into()
    }

    /// The keys this value asks verifiers to accept.
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        std::iter::once(&self.current).chain(self.previous.as_ref())
    }
}

/// The verifiers' accepted keys (a stand-in for a key registry).
#[derive(Clone, Default)]
pub struct KeyRing {
    keys: Arc<Mutex<Vec<Key>>>,
}

impl KeyRing {
    /// A ring accepting the keys of `secret`.
    pub fn trusting(secret: &SigningSecret) -> KeyRing {
        let ring = KeyRing::default();
        for k in secret.keys() {
            ring.add(k);
        }
        ring
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Key>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Accept `key` too (no-op if already accepted).
    pub fn add(&self, key: &Key) {
        let mut keys = self.lock();
        if !keys.contains(key) {
            keys.push(key.clone());
        }
    }

    /// Drop every key not in `keep`.
    pub fn retain(&self, keep: &HashSet<&Key>) {
        self.lock().retain(|k| keep.contains(k));
    }

    /// How many keys are accepted.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is accepted.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Whether `token` (`<message>.<base64 tag>`) was signed by an accepted key.
    pub fn verify(&self, token: &str) -> bool {
        let Some((message, tag)) = token.rsplit_once('.') else {
            return false;
        };
        let Ok(tag) = B64.decode(tag) else {
            return false;
        };
        self.lock().iter().any(|k| k.verifies(message, &tag))
    }
}

/// Rotates the signing key and keeps the verifiers' [`KeyRing`] in step.
pub struct HmacRotator {
    ring: KeyRing,
}

impl HmacRotator {
    /// A rotator maintaining `ring`.
    pub fn new(ring: KeyRing) -> HmacRotator {
        HmacRotator { ring }
    }
}

#[async_trait]
impl Rotator for HmacRotator {
    fn name(&self) -> &str {
        "hmac-signing-key"
    }

    async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
        let current = SigningSecret::parse(&versions.current().await?.payload)?;
        // current -> previous; the old previous is dropped from the secret here.
        let next = SigningSecret {
            previous: Some(current.current),
            current: Key::generate()?,
            rest: current.rest,
        };
        Ok(next.to_payload())
    }

    async fn set(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        let current = SigningSecret::parse(&versions.current().await?.payload)?;
        let pending = SigningSecret::parse(&versions.pending().await?.payload)?;
        self.ring.add(&pending.current);
        // Clean up what a skipped after_finish left; never drops a key AWSCURRENT or
        // AWSPENDING still names, so running this again changes nothing.
        let keep: HashSet<&Key> = pending.keys().chain(current.keys()).collect();
        self.ring.retain(&keep);
        Ok(())
    }

    async fn test(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        let pending = SigningSecret::parse(&versions.pending().await?.payload)?;
        if self
            .ring
            .verify(&pending.current.sign("rotwise-test-secret"))
        {
            Ok(())
        } else {
            Err(RotatorError::new(
                ErrorKind::LoginRefused,
                "testSecret: the verifiers do not accept the pending key",
            ))
        }
    }

    async fn after_finish(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        // The token's version is AWSCURRENT now (it keeps AWSPENDING until the service
        // ends the rotation): keep its current and previous, revoke the rest.
        let new = SigningSecret::parse(&versions.pending().await?.payload)?;
        self.ring.retain(&new.keys().collect());
        Ok(())
    }
}

/// "Does this value work?" (the conformance suite's check): a value works when a token
/// freshly signed with its `current` key verifies.
#[async_trait]
impl LoginProbe for KeyRing {
    async fn accepts(&self, value: &SecretPayload) -> Result<bool, RotatorError> {
        let secret = SigningSecret::parse(value)?;
        Ok(self.verify(&secret.current.sign("conformance")))
    }
}
