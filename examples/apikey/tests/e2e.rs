//! End to end: the built Lambda binary (`rotwise-example-apikey`) as a real process under the
//! local Lambda Runtime API, Secrets Manager served by the test kit's local endpoint (a
//! `MemoryStore` over HTTP, reached through `SECRETS_MANAGER_ENDPOINT`), and the API service
//! of `tests/support` in this process.

mod support;

use std::sync::Arc;

use rotwise_core::store::{AWSCURRENT, AWSPENDING, AWSPREVIOUS, MemoryStore, SecretStore};
use rotwise_core::{ErrorKind, ExposeSecret, LoginProbe};
use rotwise_example_apikey::{ApiKeyOptions, ApiKeyRotator, ApiKeySecret};
use rotwise_lambda_testkit::harness::{
    Harness, assert_bad_env_stops_init, assert_init_is_offline,
    assert_invalid_events_change_nothing, assert_log_capture_works, version_at,
};
use support::service::ApiService;
use support::{CLIENT, canary_key, secret, secret_json, service_with_key};

const BIN: &str = env!("CARGO_BIN_EXE_rotwise-example-apikey");

/// Secrets Manager calls one rotation may make (the four steps).
const MAX_CALLS: u64 = 10;

async fn value_at(store: &MemoryStore, arn: &str, stage: &str) -> ApiKeySecret {
    let v = store
        .get_secret_value(arn, None, Some(stage))
        .await
        .unwrap();
    ApiKeySecret::parse(&v.payload).unwrap()
}

/// The value's key, to look for in logs.
fn key_of(secret: &ApiKeySecret) -> String {
    secret.api_key.expose_secret().to_string()
}

/// Whether the service accepts the value's key (a fresh `GET /v1/whoami`).
async fn works(secret: &ApiKeySecret) -> bool {
    ApiKeyRotator::new(ApiKeyOptions::default())
        .accepts(&secret.to_payload())
        .await
        .unwrap()
}

#[tokio::test]
async fn rotation_through_the_runtime_api_then_the_service_down() {
    let (svc, initial) = service_with_key("initial").await;
    let store = Arc::new(MemoryStore::new());
    let arn = store
        .insert_secret_payload("lambda/apikey", secret(&svc.url(), "initial", &initial))
        .unwrap();
    let mut h = Harness::start(BIN.as_ref(), store.clone(), &[]).await;
    let mut keys = vec![initial.clone()];

    // Two rotations in the same (warm) process: labels moved, the new key works, the old
    // one is revoked, the client holds exactly the new key.
    for n in 1..=2 {
        let old = value_at(&store, &arn, AWSCURRENT).await;
        let rotation = h.rotate_checked(&arn, MAX_CALLS).await;
        let new = value_at(&store, &arn, AWSCURRENT).await;
        let previous = value_at(&store, &arn, AWSPREVIOUS).await;
        keys.push(key_of(&new));
        assert_eq!(
            new.key_id, rotation.token,
            "rotation {n}: key named after the version"
        );
        assert_eq!(
            previous.key_id, old.key_id,
            "rotation {n}: AWSPREVIOUS is the old value"
        );
        assert!(works(&new).await, "rotation {n}: the new key works");
        assert!(!works(&old).await, "rotation {n}: the old key is revoked");
        assert_eq!(
            svc.state().key_ids(CLIENT),
            std::slice::from_ref(&new.key_id)
        );
    }

    // The service is down: createSecret (no service call) succeeds, setSecret fails with
    // TargetUnreachable and changes nothing in the store; the process keeps serving.
    let addr = svc.addr();
    let state = svc.state().clone();
    svc.stop().await;
    let before = value_at(&store, &arn, AWSCURRENT).await;
    let token = store.begin_rotation(&arn).unwrap();
    h.try_step_succeeds("createSecret", &arn, &token)
        .await
        .unwrap();
    keys.push(key_of(&value_at(&store, &arn, AWSPENDING).await));
    let report = h
        .try_step_fails(
            "setSecret",
            &arn,
            &token,
            ErrorKind::Unreachable.error_type(),
        )
        .await
        .unwrap();
    assert_eq!(report.error_type(), "TargetUnreachable");
    assert!(
        report
            .error_message()
            .contains("cannot connect to the service"),
        "{report:?}"
    );
    eprintln!("service down: {report:?}");

    // The service is back (same port, same keys): the rotation resumes where it failed.
    let svc = ApiService::start_on(addr, state).await;
    for step in ["setSecret", "testSecret", "finishSecret"] {
        h.try_step_succeeds(step, &arn, &token).await.unwrap();
    }
    store.complete_rotation(&arn, &token).unwrap();
    assert_eq!(
        version_at(&store, &arn, AWSCURRENT).await,
        Some(token.clone())
    );
    assert!(works(&value_at(&store, &arn, AWSCURRENT).await).await);
    assert!(
        !works(&before).await,
        "the key before the outage is revoked"
    );
    assert_eq!(svc.state().key_ids(CLIENT), [token]);

    // No key anywhere in what the process wrote (at TRACE), nor in the error report.
    let logs = h.logs().await;
    assert_log_capture_works(&logs, &arn);
    for (i, key) in keys.iter().enumerate() {
        assert!(!logs.contains(key.as_str()), "key #{i} is in the logs");
        assert!(!report.body.to_string().contains(key.as_str()));
    }
}

/// AWSCURRENT's key refused: setSecret fails with `LoginRefused`; the client's keys do
/// not change.
#[tokio::test]
async fn a_refused_key_and_a_malformed_secret_report_their_error_types() {
    let (svc, real) = service_with_key("initial").await;
    let wrong = canary_key();
    let store = Arc::new(MemoryStore::new());
    let refused = store
        .insert_secret_payload("lambda/refused", secret(&svc.url(), "initial", &wrong))
        .unwrap();
    let refused_token = store.begin_rotation(&refused).unwrap();
    let malformed = store
        .insert_secret("lambda/malformed", &format!("api_key={wrong}"))
        .unwrap();
    let malformed_token = store.begin_rotation(&malformed).unwrap();
    let mut h = Harness::start(BIN.as_ref(), store.clone(), &[]).await;

    h.try_step_succeeds("createSecret", &refused, &refused_token)
        .await
        .unwrap();
    let pending = key_of(&value_at(&store, &refused, AWSPENDING).await);
    let login = h
        .try_step_fails("setSecret", &refused, &refused_token, "LoginRefused")
        .await
        .unwrap();
    let invalid = h
        .try_step_fails(
            "createSecret",
            &malformed,
            &malformed_token,
            "InvalidSecret",
        )
        .await
        .unwrap();
    assert_eq!(svc.state().key_ids(CLIENT), ["initial"]);

    let logs = h.logs().await;
    for key in [&real, &wrong, &pending] {
        assert!(!logs.contains(key.as_str()), "a key is in the logs");
        for report in [&login, &invalid] {
            assert!(!report.body.to_string().contains(key.as_str()));
        }
    }
}

/// Needs no service: every event here fails (or succeeds as a no-op) before any request.
#[tokio::test]
async fn invalid_events_return_errors_and_change_nothing() {
    let key = canary_key();
    let secret = secret_json("http://127.0.0.1:1", "initial", &key);
    assert_invalid_events_change_nothing(BIN.as_ref(), &secret, &key).await;
}

#[tokio::test]
async fn a_bad_environment_variable_stops_init_naming_it() {
    assert_bad_env_stops_init(
        BIN.as_ref(),
        &[
            ("ROTATION_HTTP_TIMEOUT_MS", "5s"),
            ("ROTATION_STRATEGY", "alternating"),
            ("ROTATION_PASSWORDS", "api"),
            ("PASSWORD_LENGTH", "0"),
            ("EXCLUDE_NUMBERS", "maybe"),
            ("AWS_LAMBDA_LOG_LEVEL", "LOUD"),
        ],
    )
    .await;
}

/// Secrets Manager and the service unreachable: init must not care.
#[tokio::test]
async fn init_makes_no_network_call_and_polls_quickly() {
    assert_init_is_offline(BIN.as_ref()).await;
}
