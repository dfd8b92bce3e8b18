//! The template rotator: conformance suite plus its failure paths.

use std::sync::Arc;

use rotwise_core::store::{AWSCURRENT, MemoryStore, SecretStore};
use rotwise_core::{Driver, ErrorKind, ExposeSecret, RotationEvent, Step};
use rotwise_example_template::{FakeService, TemplateRotator};
use rotwise_testkit::{Conformance, LocalService, Strategy};

#[tokio::test]
async fn conformance_single_user() {
    let service = FakeService::with_key("initial-key");
    let report = Conformance::new(
        Arc::new(TemplateRotator::new(service.clone())),
        Arc::new(service),
        "initial-key",
        Strategy::Single,
    )
    .run()
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.rotations > 10 && report.fault_points > 0, "{report}");
}

fn setup(service_key: &str, secret: &str) -> (FakeService, Arc<MemoryStore>, String, Driver) {
    let service = FakeService::with_key(service_key);
    let store = Arc::new(MemoryStore::new());
    let arn = store.insert_secret("t/key", secret).unwrap();
    let driver = Driver::new(
        store.clone(),
        Arc::new(TemplateRotator::new(service.clone())),
    );
    (service, store, arn, driver)
}

#[tokio::test]
async fn a_rotation_changes_the_key_and_the_old_one_stops_working() {
    let (service, store, arn, driver) = setup("k0", "k0");
    LocalService::new(store.clone())
        .rotate(&arn, &driver)
        .await
        .unwrap();
    let current = store
        .get_secret_value(&arn, None, Some(AWSCURRENT))
        .await
        .unwrap();
    let new = current
        .payload
        .as_string()
        .unwrap()
        .expose_secret()
        .to_string();
    assert_eq!(new.len(), 32);
    assert!(service.authenticate(&new));
    assert!(!service.authenticate("k0"));
}

#[tokio::test]
async fn set_fails_without_changing_anything_when_no_key_works() {
    // The secret is out of sync with the service: setSecret must fail, not guess.
    let (service, store, arn, driver) = setup("the-real-key", "a-stale-key");
    let err = LocalService::new(store.clone())
        .rotate(&arn, &driver)
        .await
        .unwrap_err();
    assert_eq!(err.step, Some(Step::SetSecret), "{err}");
    assert!(err.message.contains("accepts none"), "{err}");
    assert!(!err.message.contains("a-stale-key") && !err.message.contains("the-real-key"));
    assert!(service.authenticate("the-real-key"));
}

#[tokio::test]
async fn binary_secrets_are_refused_in_create() {
    let (_service, store, _arn, driver) = setup("k0", "k0");
    let arn = store
        .insert_secret_payload(
            "t/bin",
            rotwise_core::SecretPayload::Binary(vec![1, 2, 3].into()),
        )
        .unwrap();
    let err = LocalService::new(store.clone())
        .rotate(&arn, &driver)
        .await
        .unwrap_err();
    assert_eq!(err.step, Some(Step::CreateSecret), "{err}");
    assert!(err.message.contains("SecretBinary"), "{err}");
}

/// The step's error as the Lambda reports it: the kind (its `errorType`) and the message.
async fn failed_step(driver: &Driver, arn: &str, token: &str, step: Step) -> (ErrorKind, String) {
    let err = driver
        .handle(&RotationEvent::new(step, arn, token))
        .await
        .unwrap_err();
    (err.kind(), err.to_string())
}

#[tokio::test]
async fn failures_carry_the_kind_the_lambda_reports() {
    // A key out of sync with the service: the service refuses every key.
    let (_service, store, arn, driver) = setup("the-real-key", "a-stale-key");
    let token = store.begin_rotation(&arn).unwrap();
    driver
        .handle(&RotationEvent::new(Step::CreateSecret, &arn, &token))
        .await
        .unwrap();
    let (kind, text) = failed_step(&driver, &arn, &token, Step::SetSecret).await;
    assert_eq!(kind, ErrorKind::LoginRefused, "{text}");
    assert_eq!(kind.error_type(), "LoginRefused");
    let (kind, text) = failed_step(&driver, &arn, &token, Step::TestSecret).await;
    assert_eq!(kind, ErrorKind::LoginRefused, "{text}");
    assert!(text.contains("refuses the pending key"), "{text}");

    // A binary secret is not a usable value.
    let arn = store
        .insert_secret_payload(
            "t/bin2",
            rotwise_core::SecretPayload::Binary(vec![1, 2, 3].into()),
        )
        .unwrap();
    let token = store.begin_rotation(&arn).unwrap();
    let (kind, text) = failed_step(&driver, &arn, &token, Step::CreateSecret).await;
    assert_eq!(kind, ErrorKind::InvalidSecret, "{text}");
}
