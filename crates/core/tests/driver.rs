//! The driver against the in-memory store: AWS's pre-checks with AWS's exact texts, in
//! AWS's order; bad input changes nothing; createSecret reuse; RotationToken forwarding.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rotwise_core::password::PasswordPolicy;
use rotwise_core::store::*;
use rotwise_core::{
    Driver, ExposeSecret, RotationError, RotationEvent, Rotator, RotatorError, SecretPayload,
    SecretString, Step, StepOutcome, Versions,
};
use serde_json::json;

/// Parses the current value as JSON (like the engines) and bumps "password".
#[derive(Default)]
struct JsonRotator {
    next_value_calls: AtomicUsize,
}

#[async_trait]
impl Rotator for JsonRotator {
    fn name(&self) -> &str {
        "json"
    }
    async fn next_value(&self, v: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
        self.next_value_calls.fetch_add(1, Ordering::SeqCst);
        let current = v.current().await?;
        let text = current.payload.as_string().ok_or("binary")?;
        let mut doc: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text.expose_secret())
                .map_err(|e| format!("the secret is not a JSON object: {e}"))?;
        doc.insert(
            "password".into(),
            v.new_password().await?.expose_secret().into(),
        );
        Ok(serde_json::to_string(&doc)?.into())
    }
    async fn set(&self, _: &Versions<'_>) -> Result<(), RotatorError> {
        Ok(())
    }
    async fn test(&self, v: &Versions<'_>) -> Result<(), RotatorError> {
        v.pending().await?;
        Ok(())
    }
}

struct Fixture {
    store: Arc<MemoryStore>,
    rotator: Arc<JsonRotator>,
    driver: Driver,
    arn: String,
}

fn fixture(value: &str) -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let arn = store.insert_secret("db", value).unwrap();
    let rotator = Arc::new(JsonRotator::default());
    let driver = Driver::new(store.clone(), rotator.clone());
    Fixture {
        store,
        rotator,
        driver,
        arn,
    }
}

async fn run(f: &Fixture, step: &str, token: &str) -> Result<StepOutcome, RotationError> {
    f.driver
        .handle_json(&json!({"Step": step, "SecretId": f.arn, "ClientRequestToken": token}))
        .await
}

const SECRET: &str = r#"{"engine":"postgres","username":"u","password":"old-password-canary"}"#;

#[tokio::test]
async fn each_precheck_has_aws_exact_text_and_changes_nothing() {
    let f = fixture(SECRET);
    let token = f.store.begin_rotation(&f.arn).unwrap();
    let current = f
        .store
        .describe_secret(&f.arn)
        .await
        .unwrap()
        .version_with_stage(AWSCURRENT)
        .unwrap()
        .to_string();
    let before = f.store.snapshot();
    let unknown = "00000000-0000-0000-0000-000000000000";

    let err = run(&f, "createSecret", unknown).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Secret version {unknown} has no stage for rotation of secret {}.",
            f.arn
        )
    );
    let err = run(&f, "bogusStep", &token).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Invalid step parameter bogusStep for secret {}", f.arn)
    );
    // A token that is AWSCURRENT succeeds with no change, whatever the step says.
    assert_eq!(
        run(&f, "bogusStep", &current).await.unwrap(),
        StepOutcome::AlreadyCurrent
    );
    assert_eq!(f.store.snapshot(), before);

    // Rotation explicitly disabled: AWS's first check, before the token checks.
    f.store
        .configure_rotation(&f.arn, Some(false), None, None)
        .unwrap();
    let before = f.store.snapshot();
    let err = run(&f, "createSecret", unknown).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Secret {} is not enabled for rotation", f.arn)
    );
    assert_eq!(err.error_type(), "ValueError");
    assert_eq!(f.store.snapshot(), before);
    assert_eq!(f.rotator.next_value_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_version_that_is_not_pending_is_refused_with_aws_text() {
    let f = fixture(SECRET);
    let first = f.store.begin_rotation(&f.arn).unwrap();
    for step in Step::ALL {
        run(&f, step.as_str(), &first).await.unwrap();
    }
    f.store.complete_rotation(&f.arn, &first).unwrap();
    let d = f.store.describe_secret(&f.arn).await.unwrap();
    let previous = d.version_with_stage(AWSPREVIOUS).unwrap().to_string();
    let before = f.store.snapshot();
    let err = run(&f, "setSecret", &previous).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Secret version {previous} not set as AWSPENDING for rotation of secret {}.",
            f.arn
        )
    );
    assert_eq!(f.store.snapshot(), before);
}

#[tokio::test]
async fn missing_rotation_enabled_passes_the_check() {
    // A fresh secret (and moto) has no RotationEnabled key: AWS's functions go on.
    let f = fixture(SECRET);
    let token = f.store.begin_rotation(&f.arn).unwrap();
    f.store
        .configure_rotation(&f.arn, None, None, None)
        .unwrap();
    assert_eq!(
        run(&f, "createSecret", &token).await.unwrap(),
        StepOutcome::Done(Step::CreateSecret)
    );
}

#[tokio::test]
async fn malformed_events_are_clear_errors_that_change_nothing() {
    let f = fixture(SECRET);
    let token = f.store.begin_rotation(&f.arn).unwrap();
    let before = f.store.snapshot();
    for event in [
        json!(null),
        json!("createSecret"),
        json!({"Step": "createSecret"}),
        json!({"Step": "createSecret", "SecretId": f.arn}),
        json!({"Step": ["createSecret"], "SecretId": f.arn, "ClientRequestToken": token}),
        json!({"Step": "createSecret", "SecretId": "", "ClientRequestToken": token}),
    ] {
        let err = f.driver.handle_json(&event).await.unwrap_err();
        assert!(matches!(err, RotationError::InvalidEvent(_)), "{err}");
        assert!(
            err.to_string().starts_with("invalid rotation event: "),
            "{err}"
        );
        assert_eq!(f.store.snapshot(), before, "{event}");
    }
    // The driver keeps serving afterwards.
    run(&f, "createSecret", &token).await.unwrap();
}

#[tokio::test]
async fn malformed_secret_json_fails_create_and_changes_nothing() {
    let f = fixture("this is not json, password=old-password-canary");
    let token = f.store.begin_rotation(&f.arn).unwrap();
    let before = f.store.snapshot();
    let err = run(&f, "createSecret", &token).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("createSecret failed for secret"), "{text}");
    assert!(text.contains("not a JSON object"), "{text}");
    assert!(!text.contains("old-password-canary"), "{text}");
    assert!(!format!("{err:?}").contains("old-password-canary"));
    assert_eq!(f.store.snapshot(), before);
}

#[tokio::test]
async fn create_secret_reuses_the_pending_value_of_its_token() {
    let f = fixture(SECRET);
    let token = f.store.begin_rotation(&f.arn).unwrap();
    assert_eq!(
        run(&f, "createSecret", &token).await.unwrap(),
        StepOutcome::Done(Step::CreateSecret)
    );
    let after_first = f.store.snapshot();
    assert_eq!(
        run(&f, "createSecret", &token).await.unwrap(),
        StepOutcome::ReusedPending
    );
    // The retry made a value too (createSecret puts without reading the pending version
    // first), and the store refused it: the first value stays.
    assert_eq!(f.store.snapshot(), after_first);
    assert_eq!(f.rotator.next_value_calls.load(Ordering::SeqCst), 2);
    // The pending value keeps the other keys and has a new password.
    let pending = f
        .store
        .get_secret_value(&f.arn, Some(&token), Some(AWSPENDING))
        .await
        .unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(pending.payload.as_string().unwrap().expose_secret()).unwrap();
    assert_eq!(doc["engine"], "postgres");
    assert_ne!(doc["password"], "old-password-canary");
    assert_eq!(doc["password"].as_str().unwrap().len(), 32);
}

#[tokio::test]
async fn finish_moves_current_and_previous_follows() {
    let f = fixture(SECRET);
    let old = f
        .store
        .describe_secret(&f.arn)
        .await
        .unwrap()
        .version_with_stage(AWSCURRENT)
        .unwrap()
        .to_string();
    let token = f.store.begin_rotation(&f.arn).unwrap();
    for step in Step::ALL {
        run(&f, step.as_str(), &token).await.unwrap();
    }
    let d = f.store.describe_secret(&f.arn).await.unwrap();
    assert_eq!(d.version_with_stage(AWSCURRENT), Some(token.as_str()));
    assert_eq!(d.version_with_stage(AWSPREVIOUS), Some(old.as_str()));
    // Every step is now a no-op for this token.
    let before = f.store.snapshot();
    for step in Step::ALL {
        assert_eq!(
            run(&f, step.as_str(), &token).await.unwrap(),
            StepOutcome::AlreadyCurrent
        );
    }
    assert_eq!(f.store.snapshot(), before);
}

/// A cancelled rotation (rotation off, AWSPENDING left behind): the rotation function's
/// driver refuses it; one finishing by hand runs the steps, and only the enabled check is
/// skipped (a token that is not AWSPENDING is still refused).
#[tokio::test]
async fn finishing_by_hand_skips_only_the_rotation_enabled_check() {
    let f = fixture(SECRET);
    let token = f.store.begin_rotation(&f.arn).unwrap();
    run(&f, "createSecret", &token).await.unwrap();
    f.store
        .configure_rotation(&f.arn, Some(false), None, None)
        .unwrap();
    let before = f.store.snapshot();
    let err = run(&f, "finishSecret", &token).await.unwrap_err();
    assert!(
        err.to_string().contains("is not enabled for rotation"),
        "{err}"
    );
    assert_eq!(f.store.snapshot(), before);

    let by_hand = Driver::new(f.store.clone(), f.rotator.clone()).finishing_by_hand();
    let event = |step: &str, token: &str| {
        RotationEvent::from_json(
            &json!({"Step": step, "SecretId": f.arn, "ClientRequestToken": token}),
        )
        .unwrap()
    };
    let unknown = "00000000-0000-0000-0000-000000000000";
    let err = by_hand
        .handle(&event("finishSecret", unknown))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("has no stage for rotation"),
        "{err}"
    );
    assert_eq!(f.store.snapshot(), before);
    for step in ["testSecret", "finishSecret"] {
        by_hand.handle(&event(step, &token)).await.unwrap();
    }
    let d = f.store.describe_secret(&f.arn).await.unwrap();
    assert_eq!(d.version_with_stage(AWSCURRENT), Some(token.as_str()));
}

#[tokio::test]
async fn unknown_secret_is_a_store_error() {
    let f = fixture(SECRET);
    let err = f
        .driver
        .handle(&RotationEvent::new(
            Step::CreateSecret,
            "no-such-secret",
            "00000000-0000-0000-0000-000000000000",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "ResourceNotFoundException");
    assert!(
        err.to_string().contains("can't find the specified secret"),
        "{err}"
    );
}

/// Records the RotationToken each PutSecretValue carries.
struct Recording {
    inner: MemoryStore,
    rotation_tokens: Mutex<Vec<Option<String>>>,
}

#[async_trait]
impl SecretStore for Recording {
    async fn describe_secret(&self, id: &str) -> Result<SecretDescription, StoreError> {
        self.inner.describe_secret(id).await
    }
    async fn get_secret_value(
        &self,
        id: &str,
        v: Option<&str>,
        s: Option<&str>,
    ) -> Result<SecretVersion, StoreError> {
        self.inner.get_secret_value(id, v, s).await
    }
    async fn put_secret_value(&self, input: PutSecretValue) -> Result<PutOutput, StoreError> {
        self.rotation_tokens
            .lock()
            .unwrap()
            .push(input.rotation_token.clone());
        self.inner.put_secret_value(input).await
    }
    async fn update_secret_version_stage(&self, i: UpdateVersionStage) -> Result<(), StoreError> {
        self.inner.update_secret_version_stage(i).await
    }
    async fn get_random_password(&self, p: &PasswordPolicy) -> Result<SecretString, StoreError> {
        self.inner.get_random_password(p).await
    }
    async fn create_secret(&self, i: CreateSecret) -> Result<PutOutput, StoreError> {
        self.inner.create_secret(i).await
    }
    async fn list_secret_version_ids(&self, id: &str) -> Result<Vec<VersionSummary>, StoreError> {
        self.inner.list_secret_version_ids(id).await
    }
}

#[tokio::test]
async fn rotation_token_is_forwarded_to_put_secret_value() {
    let store = Arc::new(Recording {
        inner: MemoryStore::new(),
        rotation_tokens: Mutex::new(Vec::new()),
    });
    let arn = store.inner.insert_secret("x", SECRET).unwrap();
    let token = store.inner.begin_rotation(&arn).unwrap();
    let driver = Driver::new(store.clone(), Arc::new(JsonRotator::default()));
    let mut event = RotationEvent::new(Step::CreateSecret, &arn, &token);
    event.rotation_token = Some("rotation-token-from-the-service".into());
    driver.handle(&event).await.unwrap();
    assert_eq!(
        *store.rotation_tokens.lock().unwrap(),
        [Some("rotation-token-from-the-service".to_string())]
    );
}

/// Records each call's operation and yields before it, so two steps run at once
/// interleave call by call.
struct CallLog {
    inner: Arc<MemoryStore>,
    log: Mutex<Vec<&'static str>>,
}

impl StoreLayer for CallLog {
    fn around<'a, T: Send + 'a>(
        &'a self,
        op: Operation,
        call: StoreCall<'a, T>,
    ) -> StoreFuture<'a, T> {
        self.log.lock().unwrap().push(op.as_str());
        let inner: Arc<dyn SecretStore> = self.inner.clone();
        Box::pin(async move {
            tokio::task::yield_now().await;
            call(inner).await
        })
    }
}

fn call_log_fixture() -> (Arc<Layered<CallLog>>, Arc<MemoryStore>, Driver, String) {
    let memory = Arc::new(MemoryStore::new());
    let arn = memory.insert_secret("db", SECRET).unwrap();
    let store = Arc::new(Layered(CallLog {
        inner: memory.clone(),
        log: Mutex::new(Vec::new()),
    }));
    let driver = Driver::new(store.clone(), Arc::new(JsonRotator::default()));
    (store, memory, driver, arn)
}

#[tokio::test]
async fn create_secret_puts_without_reading_the_pending_version_first() {
    let (store, memory, driver, arn) = call_log_fixture();
    let token = memory.begin_rotation(&arn).unwrap();
    let event = RotationEvent::new(Step::CreateSecret, &arn, &token);
    assert_eq!(
        driver.handle(&event).await.unwrap(),
        StepOutcome::Done(Step::CreateSecret)
    );
    assert_eq!(
        *store.0.log.lock().unwrap(),
        ["DescribeSecret", "GetSecretValue", "PutSecretValue"]
    );
    // A retry makes the same three calls and keeps the value.
    let before = memory.snapshot();
    store.0.log.lock().unwrap().clear();
    assert_eq!(
        driver.handle(&event).await.unwrap(),
        StepOutcome::ReusedPending
    );
    assert_eq!(store.0.log.lock().unwrap().len(), 3);
    assert_eq!(memory.snapshot(), before);
}

#[tokio::test]
async fn two_create_secrets_at_once_both_succeed_and_one_value_wins() {
    let (store, memory, driver, arn) = call_log_fixture();
    let token = memory.begin_rotation(&arn).unwrap();
    let event = RotationEvent::new(Step::CreateSecret, &arn, &token);
    let (a, b) = tokio::join!(driver.handle(&event), driver.handle(&event));
    // Interleaved: both read AWSCURRENT before either put.
    let log = store.0.log.lock().unwrap().clone();
    let first_put = log.iter().position(|op| *op == "PutSecretValue").unwrap();
    assert_eq!(
        log[..first_put]
            .iter()
            .filter(|op| **op == "GetSecretValue")
            .count(),
        2,
        "{log:?}"
    );
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(
        outcomes,
        [
            StepOutcome::Done(Step::CreateSecret),
            StepOutcome::ReusedPending
        ]
    );
    // One pending value, under the token, with AWSPENDING.
    let pending = memory
        .get_secret_value(&arn, Some(&token), Some(AWSPENDING))
        .await
        .unwrap();
    assert_eq!(pending.version_id, token);
}
