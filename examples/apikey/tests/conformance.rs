//! The conformance suite against the local API service: dozens of rotations with
//! injected faults, each checked with a fresh `GET /v1/whoami` (the rotator's `LoginProbe`).

mod support;

use std::sync::Arc;

use rotwise_core::store::{AWSCURRENT, AWSPREVIOUS, MemoryStore, SecretStore};
use rotwise_core::{PasswordSource, Strategy};
use rotwise_example_apikey::{ApiKeyOptions, ApiKeyRotator, ApiKeySecret, key_policy};
use rotwise_testkit::Conformance;
use support::{CLIENT, canary_key, secret, service_with_key};

#[tokio::test]
async fn conformance_single() {
    let (svc, key) = service_with_key("initial").await;
    let store = Arc::new(MemoryStore::new());
    let report = Conformance::new(
        Arc::new(ApiKeyRotator::new(ApiKeyOptions::default())),
        Arc::new(ApiKeyRotator::new(ApiKeyOptions::default())),
        secret(&svc.url(), "initial", &key),
        Strategy::Single,
    )
    .with_store(store.clone())
    .with_passwords(PasswordSource::Local(key_policy()))
    // The negative control: a well-formed value whose key was never issued.
    .with_refused_value(secret(&svc.url(), "never-issued", &canary_key()))
    .with_secret_name("conformance/apikey")
    .run()
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{report}; requests to the service: {:?}",
        svc.state().requests()
    );
    assert!(report.rotations >= 10, "{report}");

    // The service holds AWSCURRENT's key and at most one leftover (from a skipped
    // after_finish, which the next setSecret would revoke); the first key is long gone.
    let arn = store
        .describe_secret("conformance/apikey")
        .await
        .unwrap()
        .arn;
    let current = store
        .get_secret_value(&arn, None, Some(AWSCURRENT))
        .await
        .unwrap();
    let current = ApiKeySecret::parse(&current.payload).unwrap();
    let keys = svc.state().key_ids(CLIENT);
    assert!(keys.contains(&current.key_id), "{keys:?}");
    assert!(keys.len() <= 2, "{keys:?}");
    assert!(!keys.contains(&"initial".to_string()), "{keys:?}");
    let previous = store
        .get_secret_value(&arn, None, Some(AWSPREVIOUS))
        .await
        .unwrap();
    let previous = ApiKeySecret::parse(&previous.payload).unwrap();
    assert_ne!(previous.key_id, current.key_id);
}
