//! End to end: the template's Lambda binary (`src/bin/bootstrap.rs`, built by cargo for this
//! test) as a real process under the local Lambda Runtime API, with Secrets Manager served
//! by the test kit's local endpoint over an in-memory store. No AWS account, no service:
//! the fake service lives in the function's process.

use std::sync::Arc;

use rotwise_core::ExposeSecret;
use rotwise_core::store::{AWSCURRENT, AWSPREVIOUS, MemoryStore, SecretStore};
use rotwise_lambda_testkit::harness::{Harness, assert_bad_env_stops_init};

const BIN: &str = env!("CARGO_BIN_EXE_rotwise-example-template-lambda");

/// The secret's value at `stage`.
async fn value_at(store: &MemoryStore, arn: &str, stage: &str) -> String {
    let version = store
        .get_secret_value(arn, None, Some(stage))
        .await
        .unwrap();
    let text = version.payload.as_string().unwrap().expose_secret();
    text.to_string()
}

#[tokio::test]
async fn the_binary_rotates_a_secret_through_the_runtime_api() {
    let store = Arc::new(MemoryStore::new());
    let arn = store
        .insert_secret("template/api-key", "initial-key")
        .unwrap();
    let env = [("TEMPLATE_SERVICE_KEY", "initial-key".to_string())];
    let mut h = Harness::start(BIN.as_ref(), store.clone(), &env).await;

    // The four steps through the Runtime API; then AWSCURRENT is the new version,
    // AWSPREVIOUS the old one, no AWSPENDING, in at most 10 Secrets Manager calls.
    h.rotate_checked(&arn, 10).await;
    let first = value_at(&store, &arn, AWSCURRENT).await;
    assert_eq!(first.len(), 32);
    assert_eq!(value_at(&store, &arn, AWSPREVIOUS).await, "initial-key");

    // A second rotation in the same (warm) process: setSecret changes the key it set.
    h.rotate_checked(&arn, 10).await;
    assert_ne!(value_at(&store, &arn, AWSCURRENT).await, first);

    let logs = h.logs().await;
    assert!(!logs.contains(&first), "a key is in the function's logs");
}

#[tokio::test]
async fn a_missing_or_bad_variable_stops_the_function_at_init() {
    let cases = [("TEMPLATE_SERVICE_KEY", ""), ("PASSWORD_LENGTH", "0")];
    assert_bad_env_stops_init(BIN.as_ref(), &cases).await;
}
