//! The rotator against the local API service through the `Driver`: what each step does on
//! the service, the cleanup of leftovers, and the `ErrorKind` of each failure (with no key in
//! any error message).

mod support;

use std::sync::Arc;

use hyper::StatusCode;
use rotwise_core::store::{AWSCURRENT, AWSPENDING, MemoryStore, SecretStore};
use rotwise_core::{
    Driver, ErrorKind, LoginProbe, PasswordSource, RotationError, RotationEvent, Rotator, Step,
};
use rotwise_example_apikey::{ApiKeyOptions, ApiKeyRotator, ApiKeySecret, key_policy};
use rotwise_testkit::faults::{Fault, FaultPlan, FaultyRotator, When};
use support::service::ApiService;
use support::{CLIENT, canary_key, secret, secret_json, service_with_key};

fn rotator() -> ApiKeyRotator {
    ApiKeyRotator::new(ApiKeyOptions::default())
}

/// A driver with the Lambda's default key policy (Bearer-token characters only).
fn driver_for(store: &Arc<MemoryStore>, rotator: Arc<dyn Rotator>) -> Driver {
    Driver::new(store.clone(), rotator).with_passwords(PasswordSource::Local(key_policy()))
}

fn driver(store: &Arc<MemoryStore>) -> Driver {
    driver_for(store, Arc::new(rotator()))
}

async fn step(driver: &Driver, step: Step, arn: &str, token: &str) -> Result<(), RotationError> {
    driver
        .handle(&RotationEvent::new(step, arn, token))
        .await
        .map(|_| ())
}

async fn value_at(store: &MemoryStore, arn: &str, stage: &str) -> ApiKeySecret {
    let v = store
        .get_secret_value(arn, None, Some(stage))
        .await
        .unwrap();
    ApiKeySecret::parse(&v.payload).unwrap()
}

async fn works(secret: &ApiKeySecret) -> bool {
    rotator().accepts(&secret.to_payload()).await.unwrap()
}

#[tokio::test]
async fn each_step_on_the_service() {
    let (svc, initial) = service_with_key("initial").await;
    let store = Arc::new(MemoryStore::new());
    let arn = store
        .insert_secret_payload("api/billing", secret(&svc.url(), "initial", &initial))
        .unwrap();
    let d = driver(&store);
    let token = store.begin_rotation(&arn).unwrap();

    step(&d, Step::CreateSecret, &arn, &token).await.unwrap();
    let pending = value_at(&store, &arn, AWSPENDING).await;
    assert_eq!(
        pending.key_id, token,
        "the new key is named after the version"
    );
    assert_eq!(pending.endpoint, svc.url());
    assert_eq!(
        svc.state().key_ids(CLIENT),
        ["initial"],
        "createSecret sends nothing"
    );
    assert!(svc.state().requests().is_empty());

    // testSecret before setSecret fails: the pending key is not registered.
    let e = step(&d, Step::TestSecret, &arn, &token).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LoginRefused, "{e}");

    step(&d, Step::SetSecret, &arn, &token).await.unwrap();
    let current = value_at(&store, &arn, AWSCURRENT).await;
    assert!(
        works(&current).await && works(&pending).await,
        "both keys work"
    );
    step(&d, Step::SetSecret, &arn, &token).await.unwrap(); // a retry: 200, no change
    assert_eq!(svc.state().key_ids(CLIENT).len(), 2);

    step(&d, Step::TestSecret, &arn, &token).await.unwrap();
    step(&d, Step::FinishSecret, &arn, &token).await.unwrap();
    store.complete_rotation(&arn, &token).unwrap();
    assert_eq!(svc.state().key_ids(CLIENT), std::slice::from_ref(&token));
    assert!(works(&pending).await, "the new key works");
    assert!(!works(&current).await, "the old key is revoked");
    assert_eq!(svc.state().who(&initial), None);
}

/// A leftover key (a skipped after_finish) would put the client over its limit of two: the
/// next setSecret revokes it first.
#[tokio::test]
async fn a_skipped_after_finish_is_cleaned_up_by_the_next_set_secret() {
    let (svc, initial) = service_with_key("initial").await;
    let store = Arc::new(MemoryStore::new());
    let arn = store
        .insert_secret_payload("api/billing", secret(&svc.url(), "initial", &initial))
        .unwrap();
    let plan = FaultPlan::default();
    let faulty = driver_for(
        &store,
        Arc::new(FaultyRotator::new(Arc::new(rotator()), plan.clone())),
    );
    plan.arm(Fault {
        call: "after_finish".into(),
        nth: 0,
        when: When::Before,
    });
    let first = store.begin_rotation(&arn).unwrap();
    for s in Step::ALL {
        let r = step(&faulty, s, &arn, &first).await;
        assert_eq!(r.is_err(), s == Step::FinishSecret, "{s}: {r:?}");
    }
    // The retry finds the token AWSCURRENT and does not run after_finish again.
    step(&faulty, Step::FinishSecret, &arn, &first)
        .await
        .unwrap();
    store.complete_rotation(&arn, &first).unwrap();
    assert_eq!(
        svc.state().key_ids(CLIENT).len(),
        2,
        "the old key is left over"
    );

    let d = driver(&store);
    let second = store.begin_rotation(&arn).unwrap();
    step(&d, Step::CreateSecret, &arn, &second).await.unwrap();
    step(&d, Step::SetSecret, &arn, &second).await.unwrap();
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    assert_eq!(
        svc.state().key_ids(CLIENT),
        expected,
        "the leftover is revoked"
    );
    step(&d, Step::TestSecret, &arn, &second).await.unwrap();
    step(&d, Step::FinishSecret, &arn, &second).await.unwrap();
    assert_eq!(svc.state().key_ids(CLIENT), [second]);
}

/// Start a rotation of a secret holding `value` and run createSecret.
async fn created(value: &str) -> (Arc<MemoryStore>, Driver, String, String) {
    let store = Arc::new(MemoryStore::new());
    let arn = store.insert_secret("api/failing", value).unwrap();
    let d = driver(&store);
    let token = store.begin_rotation(&arn).unwrap();
    (store, d, arn, token)
}

/// Each failure class has its kind, and no key is in the message.
#[tokio::test]
async fn each_failure_has_its_kind() {
    let (svc, key) = service_with_key("initial").await;
    let url = svc.url();
    let mut failures: Vec<(&str, RotationError, ErrorKind)> = Vec::new();

    // Unreachable: nothing listens on the endpoint.
    let closed = ApiService::start().await;
    let closed_url = closed.url();
    closed.stop().await;
    let (_, d, arn, token) = created(&secret_json(&closed_url, "initial", &key)).await;
    step(&d, Step::CreateSecret, &arn, &token).await.unwrap();
    let e = step(&d, Step::SetSecret, &arn, &token).await.unwrap_err();
    failures.push(("unreachable", e, ErrorKind::Unreachable));

    // LoginRefused: AWSCURRENT's key is not valid.
    let wrong = canary_key();
    let (_, d, arn, token) = created(&secret_json(&url, "initial", &wrong)).await;
    step(&d, Step::CreateSecret, &arn, &token).await.unwrap();
    let e = step(&d, Step::SetSecret, &arn, &token).await.unwrap_err();
    failures.push(("login refused", e, ErrorKind::LoginRefused));

    // InvalidSecret: AWSCURRENT's key_id is not its key's id (cleanup would revoke the
    // real current key otherwise).
    let (_, d, arn, token) = created(&secret_json(&url, "someone-else", &key)).await;
    step(&d, Step::CreateSecret, &arn, &token).await.unwrap();
    let e = step(&d, Step::SetSecret, &arn, &token).await.unwrap_err();
    failures.push(("wrong key id", e, ErrorKind::InvalidSecret));

    // InvalidSecret in createSecret: not the JSON.
    let (_, d, arn, token) = created(&format!("api_key={key}")).await;
    let e = step(&d, Step::CreateSecret, &arn, &token)
        .await
        .unwrap_err();
    failures.push(("not JSON", e, ErrorKind::InvalidSecret));

    // Configuration: an https endpoint (this build has no TLS).
    let https = secret_json("https://keys.example.invalid", "initial", &key);
    let (_, d, arn, token) = created(&https).await;
    let e = step(&d, Step::CreateSecret, &arn, &token)
        .await
        .unwrap_err();
    failures.push(("https", e, ErrorKind::Configuration));

    // Permission: the client may not manage its own keys (whoami works, GET /v1/keys 403).
    svc.state().set_self_service(CLIENT, false);
    let (_, d, arn, token) = created(&secret_json(&url, "initial", &key)).await;
    step(&d, Step::CreateSecret, &arn, &token).await.unwrap();
    let e = step(&d, Step::SetSecret, &arn, &token).await.unwrap_err();
    failures.push(("no self-service", e, ErrorKind::Permission));
    svc.state().set_self_service(CLIENT, true);

    // Target: the service fails a request with 500.
    let (_, d, arn, token) = created(&secret_json(&url, "initial", &key)).await;
    step(&d, Step::CreateSecret, &arn, &token).await.unwrap();
    svc.state().fail_next(StatusCode::INTERNAL_SERVER_ERROR);
    let e = step(&d, Step::SetSecret, &arn, &token).await.unwrap_err();
    failures.push(("500", e, ErrorKind::Target));

    // Conflict: the pending key id is taken on the service by another key.
    let (_, d, arn, token) = created(&secret_json(&url, "initial", &key)).await;
    step(&d, Step::CreateSecret, &arn, &token).await.unwrap();
    svc.state().issue("another-client", &token, &canary_key());
    let e = step(&d, Step::SetSecret, &arn, &token).await.unwrap_err();
    failures.push(("key id taken", e, ErrorKind::Conflict));

    for (case, e, kind) in &failures {
        assert_eq!(e.kind(), *kind, "{case}: {e}");
        let text = e.to_string();
        assert!(
            !text.contains(&key) && !text.contains(&wrong),
            "{case}: {text}"
        );
        eprintln!("{case}: {} {text}", e.error_type());
    }
    assert_eq!(
        svc.state().key_ids(CLIENT),
        ["initial"],
        "no failure changed the keys"
    );
}
