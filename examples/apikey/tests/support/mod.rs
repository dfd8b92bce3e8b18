//! What the tests share: the local API service and fresh keys that are easy to find in a log.
#![allow(dead_code)] // each test binary uses a part

pub mod service;

use std::sync::atomic::{AtomicU32, Ordering};

use rotwise_core::SecretPayload;
use rotwise_example_apikey::ApiKeySecret;

/// The client (service account) whose key the tests rotate.
pub const CLIENT: &str = "billing";

/// A fresh key of the service's format, easy to find in a log (the canary).
pub fn canary_key() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    format!("Canary-{}-{n}-{:08x}", std::process::id(), rand_u32())
}

fn rand_u32() -> u32 {
    // Enough to tell keys of concurrent test processes apart.
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.subsec_nanos() ^ (t.as_secs() as u32).rotate_left(16)
}

/// The secret value for `key` (`key_id`) on the service at `endpoint`.
pub fn secret(endpoint: &str, key_id: &str, key: &str) -> SecretPayload {
    ApiKeySecret::new(endpoint, key_id, key).to_payload()
}

/// The JSON text of [`secret`].
pub fn secret_json(endpoint: &str, key_id: &str, key: &str) -> String {
    let payload = secret(endpoint, key_id, key);
    rotwise_core::ExposeSecret::expose_secret(payload.as_string().unwrap()).to_string()
}

/// A service with `CLIENT`'s first key issued by the platform team; returns the key.
pub async fn service_with_key(key_id: &str) -> (service::ApiService, String) {
    let svc = service::ApiService::start().await;
    let key = canary_key();
    svc.state().issue(CLIENT, key_id, &key);
    (svc, key)
}
