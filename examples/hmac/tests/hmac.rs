//! The HMAC signing-key rotator: conformance (alternating; single user is refused), the
//! overlap, and failures.

use std::sync::Arc;

use rotwise_core::store::{AWSCURRENT, MemoryStore, SecretStore};
use rotwise_core::{
    Driver, ErrorKind, ExposeSecret, LoginProbe, RotationEvent, SecretPayload, Step,
};
use rotwise_example_hmac::{HmacRotator, Key, KeyRing, SigningSecret};
use rotwise_testkit::{Conformance, Invariant, LocalService, Strategy};
use serde_json::{Value, json};

fn fresh() -> (SigningSecret, KeyRing) {
    let initial = SigningSecret::initial(Key::generate().unwrap());
    let ring = KeyRing::trusting(&initial);
    (initial, ring)
}

fn suite(strategy: Strategy) -> Conformance {
    let (initial, ring) = fresh();
    Conformance::new(
        Arc::new(HmacRotator::new(ring.clone())),
        Arc::new(ring),
        initial.to_payload(),
        strategy,
    )
    // The negative control: a well-formed secret whose key the verifiers never trusted
    // (the default, a random string, would only prove the probe rejects malformed JSON).
    .with_refused_value(SigningSecret::initial(Key::generate().unwrap()).to_payload())
}

#[tokio::test]
async fn conformance_alternating() {
    // Overlap = the alternating promises: AWSCURRENT always verifies, AWSPREVIOUS until
    // the next rotation.
    let report = suite(Strategy::Alternating)
        .run()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.rotations > 10 && report.fault_points > 0, "{report}");
}

#[tokio::test]
async fn the_overlap_is_not_single_user() {
    // Single user promises AWSPREVIOUS stops working after a rotation; the overlap keeps
    // it verifying on purpose, so the suite refuses this declaration.
    let err = suite(Strategy::Single).run().await.unwrap_err();
    assert_eq!(err.invariant, Invariant::PreviousRefused, "{err}");
    assert!(
        err.to_string()
            .contains("single user: AWSPREVIOUS stops working after the rotation"),
        "{err}"
    );
}

struct Fixture {
    store: Arc<MemoryStore>,
    arn: String,
    ring: KeyRing,
    driver: Driver,
}

impl Fixture {
    fn new(initial: SecretPayload, ring: KeyRing) -> Fixture {
        let store = Arc::new(MemoryStore::new());
        let arn = store.insert_secret_payload("t/signing", initial).unwrap();
        let driver = Driver::new(store.clone(), Arc::new(HmacRotator::new(ring.clone())));
        Fixture {
            store,
            arn,
            ring,
            driver,
        }
    }

    async fn current(&self) -> SigningSecret {
        let v = self
            .store
            .get_secret_value(&self.arn, None, Some(AWSCURRENT))
            .await
            .unwrap();
        SigningSecret::parse(&v.payload).unwrap()
    }

    async fn rotate(&self) {
        LocalService::new(self.store.clone())
            .rotate(&self.arn, &self.driver)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[tokio::test]
async fn a_token_verifies_after_one_rotation_and_not_after_two() {
    let (initial, ring) = fresh();
    let f = Fixture::new(initial.to_payload(), ring);
    let token = f.current().await.current.sign("user=alice");
    assert!(f.ring.verify(&token), "positive control");
    assert!(!f.ring.verify("user=alice.AAAA"), "a forged tag is refused");

    f.rotate().await;
    let after_one = f.current().await;
    assert!(
        f.ring.verify(&token),
        "signed before one rotation: still verifies"
    );
    assert!(f.ring.verify(&after_one.current.sign("user=bob")));
    assert_eq!(f.ring.len(), 2);

    f.rotate().await;
    assert!(
        !f.ring.verify(&token),
        "signed before two rotations: revoked"
    );
    assert!(
        f.ring.verify(&after_one.current.sign("user=bob")),
        "one rotation old: ok"
    );
    assert_eq!(f.ring.len(), 2);
}

#[tokio::test]
async fn the_new_value_carries_current_to_previous_and_drops_the_older_key() {
    let (initial, ring) = fresh();
    let mut text: Value =
        serde_json::from_str(initial.to_payload().as_string().unwrap().expose_secret()).unwrap();
    text["alg"] = json!("HS256");
    let f = Fixture::new(text.to_string().into(), ring);
    let k0 = f.current().await.current;
    f.rotate().await;
    let v1 = f.current().await;
    assert_eq!(v1.previous.as_ref(), Some(&k0));
    f.rotate().await;
    let v2 = f.current().await;
    assert_eq!(v2.previous.as_ref(), Some(&v1.current));
    assert!(
        v2.keys().all(|k| *k != k0),
        "the key two rotations old left the secret"
    );
    let raw = f
        .store
        .get_secret_value(&f.arn, None, Some(AWSCURRENT))
        .await
        .unwrap();
    let v: Value = serde_json::from_str(raw.payload.as_string().unwrap().expose_secret()).unwrap();
    assert_eq!(v["alg"], "HS256", "unknown keys are kept");
}

#[tokio::test]
async fn a_skipped_after_finish_is_cleaned_up_by_the_next_set_secret() {
    let (initial, ring) = fresh();
    let f = Fixture::new(initial.to_payload(), ring.clone());
    let stale = Key::generate().unwrap();
    ring.add(&stale); // e.g. an after_finish that never ran
    let token = stale.sign("m");
    assert!(ring.verify(&token));
    f.rotate().await;
    assert!(!ring.verify(&token));
    assert_eq!(ring.len(), 2);
}

#[tokio::test]
async fn test_secret_fails_when_verifiers_do_not_know_the_pending_key() {
    let (initial, ring) = fresh();
    let f = Fixture::new(initial.to_payload(), ring);
    let service = LocalService::new(f.store.clone());
    let token = service.begin(&f.arn).unwrap();
    let err = service
        .run_steps(
            &f.arn,
            &token,
            &f.driver,
            &[Step::CreateSecret, Step::TestSecret],
        )
        .await
        .unwrap_err();
    assert_eq!(err.step, Some(Step::TestSecret), "{err}");
}

#[tokio::test]
async fn malformed_secrets_fail_create_secret_with_a_clear_message_and_no_value() {
    let short = "c2hvcnQ="; // "short": 5 bytes
    for (value, expect) in [
        ("not json".to_string(), "not a JSON object"),
        (json!({"previous": null}).to_string(), "no string `current`"),
        (json!({"current": "***"}).to_string(), "not standard base64"),
        (json!({"current": short}).to_string(), "at least 32"),
    ] {
        let (_, ring) = fresh();
        let f = Fixture::new(value.clone().into(), ring);
        let err = LocalService::new(f.store.clone())
            .rotate(&f.arn, &f.driver)
            .await
            .unwrap_err();
        assert_eq!(err.step, Some(Step::CreateSecret), "{err}");
        assert!(err.message.contains(expect), "{value}: {err}");
        assert!(!err.message.contains(short), "{err}");
        // The kind the Lambda reports (the service's retry of the same step), and the
        // probe's answer for such a value.
        let token = err.token.expect("the rotation began");
        let err = f
            .driver
            .handle(&RotationEvent::new(Step::CreateSecret, &f.arn, &token))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSecret, "{value}: {err}");
        let probe = f.ring.accepts(&value.clone().into()).await.unwrap_err();
        assert_eq!(probe.kind(), ErrorKind::InvalidSecret, "{value}: {probe}");
    }
}

#[tokio::test]
async fn test_secret_refused_by_the_verifiers_is_login_refused() {
    let (initial, ring) = fresh();
    let f = Fixture::new(initial.to_payload(), ring);
    let token = f.store.begin_rotation(&f.arn).unwrap();
    f.driver
        .handle(&RotationEvent::new(Step::CreateSecret, &f.arn, &token))
        .await
        .unwrap();
    let err = f
        .driver
        .handle(&RotationEvent::new(Step::TestSecret, &f.arn, &token))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert_eq!(err.error_type(), "LoginRefused");
}
