//! The conformance suite passes a correct rotator and catches broken ones, naming the
//! broken invariant.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use rotwise_core::store::{AWSPENDING, PutSecretValue, SecretStore};
use rotwise_core::{
    Driver, ErrorKind, ExposeSecret, PasswordSource, RotationEvent, Rotator, RotatorError,
    SecretPayload, Step, Versions,
};
use rotwise_testkit::toy::{ToyCredential, ToyRotator, ToyTarget};
use rotwise_testkit::{Conformance, Invariant, StepHandler, Strategy};

const INITIAL: &str = r#"{"username": "app", "password": "initial-password"}"#;

fn suite(rotator: Arc<dyn Rotator>, target: &ToyTarget) -> Conformance {
    Conformance::new(rotator, Arc::new(target.clone()), INITIAL, Strategy::Single)
}

#[tokio::test]
async fn a_correct_rotator_passes_every_scenario() {
    let target = ToyTarget::with_user("app", "initial-password");
    let report = suite(Arc::new(ToyRotator::new(target.clone())), &target)
        .run()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    println!("{report}");
    // Baseline calls: createSecret reads pending then current, then puts.
    assert_eq!(
        report.calls_per_step["createSecret"],
        [
            "DescribeSecret",
            "GetSecretValue",
            "GetSecretValue",
            "next_value",
            "PutSecretValue"
        ]
    );
    assert_eq!(
        report.calls_per_step["finishSecret"],
        ["DescribeSecret", "UpdateSecretVersionStage", "after_finish"]
    );
    // Every call of every step, before and after it takes effect.
    let calls: usize = report.calls_per_step.values().map(Vec::len).sum();
    assert_eq!(report.fault_points, 2 * calls);
    assert!(report.scenarios > report.fault_points, "{report:?}");
    assert!(report.rotations >= report.fault_points);
    // The toy really rotated: the initial password no longer logs in.
    assert!(!target.login("app", "initial-password"));
}

/// setSecret that is not idempotent: refuses to run when the change was already made.
struct NonIdempotentSet(ToyRotator, ToyTarget);

#[async_trait]
impl Rotator for NonIdempotentSet {
    fn name(&self) -> &str {
        "broken-set"
    }
    async fn next_value(&self, v: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
        self.0.next_value(v).await
    }
    async fn set(&self, v: &Versions<'_>) -> Result<(), RotatorError> {
        let current = ToyCredential::parse(&v.current().await?.payload)?;
        let pending = ToyCredential::parse(&v.pending().await?.payload)?;
        // Only the current password is tried: a retry after the change fails.
        if !self.1.login(&current.username, &current.password) {
            return Err(RotatorError::new(
                ErrorKind::LoginRefused,
                "cannot log in with the current password",
            ));
        }
        self.1.set_password(&pending.username, &pending.password);
        Ok(())
    }
    async fn test(&self, v: &Versions<'_>) -> Result<(), RotatorError> {
        self.0.test(v).await
    }
}

#[tokio::test]
async fn non_idempotent_set_secret_is_caught() {
    let target = ToyTarget::with_user("app", "initial-password");
    let broken = NonIdempotentSet(ToyRotator::new(target.clone()), target.clone());
    let err = suite(Arc::new(broken), &target).run().await.unwrap_err();
    assert_eq!(err.invariant, Invariant::RepeatIsHarmless, "{err}");
    assert!(err.to_string().contains("idempotent"), "{err}");
    assert!(err.to_string().contains("setSecret"), "{err}");
}

/// testSecret that does not really test.
struct TestThatDoesNotTest(ToyRotator);

#[async_trait]
impl Rotator for TestThatDoesNotTest {
    fn name(&self) -> &str {
        "broken-test"
    }
    async fn next_value(&self, v: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
        self.0.next_value(v).await
    }
    async fn set(&self, v: &Versions<'_>) -> Result<(), RotatorError> {
        self.0.set(v).await
    }
    async fn test(&self, v: &Versions<'_>) -> Result<(), RotatorError> {
        v.pending().await?;
        Ok(())
    }
}

#[tokio::test]
async fn test_secret_that_does_not_test_is_caught() {
    let target = ToyTarget::with_user("app", "initial-password");
    let broken = TestThatDoesNotTest(ToyRotator::new(target.clone()));
    let err = suite(Arc::new(broken), &target).run().await.unwrap_err();
    assert_eq!(err.invariant, Invariant::TestSecretTests, "{err}");
    assert!(err.to_string().contains("testSecret"), "{err}");
}

/// A hand-written entry point whose createSecret ignores an existing pending value and
/// always puts a fresh one (the driver would reuse it).
struct CreateIgnoresPending {
    driver: Driver,
    store: Arc<dyn SecretStore>,
}

#[async_trait]
impl StepHandler for CreateIgnoresPending {
    async fn handle_event(&self, event: serde_json::Value) -> Result<(), String> {
        let e = RotationEvent::from_json(&event).map_err(|e| e.to_string())?;
        let d = self
            .store
            .describe_secret(&e.secret_id)
            .await
            .map_err(|e| e.to_string())?;
        if e.step == "createSecret" && d.has_stage(&e.client_request_token, AWSPENDING) {
            let current = self
                .store
                .get_secret_value(&e.secret_id, None, Some("AWSCURRENT"))
                .await
                .map_err(|e| e.to_string())?;
            let mut c = ToyCredential::parse(&current.payload).map_err(|e| e.to_string())?;
            c.password = uuid::Uuid::new_v4().to_string();
            self.store
                .put_secret_value(PutSecretValue {
                    secret_id: e.secret_id.clone(),
                    token: e.client_request_token.clone(),
                    payload: serde_json::to_string(&c).map_err(|e| e.to_string())?.into(),
                    stages: vec![AWSPENDING.into()],
                    rotation_token: None,
                })
                .await
                .map_err(|e| e.to_string())?;
            return Ok(());
        }
        self.driver.handle_event(event).await
    }
}

#[tokio::test]
async fn create_secret_that_ignores_an_existing_pending_version_is_caught() {
    let target = ToyTarget::with_user("app", "initial-password");
    let err = suite(Arc::new(ToyRotator::new(target.clone())), &target)
        .with_handler(|store, rotator, passwords: PasswordSource| {
            Arc::new(CreateIgnoresPending {
                driver: Driver::new(store.clone(), rotator).with_passwords(passwords),
                store,
            }) as Arc<dyn StepHandler>
        })
        .run()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.invariant,
            Invariant::RepeatIsHarmless | Invariant::RetryCompletes
        ),
        "{err}"
    );
    assert!(err.to_string().contains("createSecret"), "{err}");
}

/// A rotator that changes the target's password in createSecret's next_value: the
/// current credential breaks before the rotation is even set.
struct SetsTooEarly(ToyRotator, ToyTarget, AtomicUsize);

#[async_trait]
impl Rotator for SetsTooEarly {
    fn name(&self) -> &str {
        "sets-too-early"
    }
    async fn next_value(&self, v: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
        let value = self.0.next_value(v).await?;
        let c = ToyCredential::parse(&value)?;
        // Fails after the target changed: the value is never stored.
        if self.2.fetch_add(1, Ordering::SeqCst) == 1 {
            self.1.set_password(&c.username, &c.password);
            return Err("lost".into());
        }
        Ok(value)
    }
    async fn set(&self, v: &Versions<'_>) -> Result<(), RotatorError> {
        self.0.set(v).await
    }
    async fn test(&self, v: &Versions<'_>) -> Result<(), RotatorError> {
        self.0.test(v).await
    }
}

#[tokio::test]
async fn a_rotator_that_breaks_the_current_credential_is_caught() {
    let target = ToyTarget::with_user("app", "initial-password");
    let broken = SetsTooEarly(
        ToyRotator::new(target.clone()),
        target.clone(),
        AtomicUsize::new(0),
    );
    let err = suite(Arc::new(broken), &target).run().await.unwrap_err();
    assert!(err.invariant == Invariant::CurrentWorks, "{err}");
}

#[tokio::test]
async fn secret_values_never_reach_failure_messages() {
    let target = ToyTarget::with_user("app", "initial-password");
    let broken = TestThatDoesNotTest(ToyRotator::new(target.clone()));
    let err = suite(Arc::new(broken), &target).run().await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("initial-password"), "{text}");
}

#[test]
fn steps_are_in_service_order() {
    assert_eq!(
        Step::ALL.map(|s| s.as_str()),
        ["createSecret", "setSecret", "testSecret", "finishSecret"]
    );
    let _ = ExposeSecret::expose_secret(&rotwise_core::SecretString::from("x"));
}

/// An injected rotator fault is `Internal`; an injected store fault keeps its store kind
/// (`Transport`), also when it reaches the driver through the rotator.
#[tokio::test]
async fn injected_faults_have_neutral_kinds() {
    use rotwise_core::store::{Layered, MemoryStore, StoreErrorKind};
    use rotwise_testkit::faults::{Fault, FaultPlan, FaultyRotator, FaultyStore, When};

    let memory = Arc::new(MemoryStore::new());
    let arn = memory.insert_secret("faults", INITIAL).unwrap();
    let target = ToyTarget::with_user("app", "initial-password");
    let plan = FaultPlan::default();
    let driver = Driver::new(
        Arc::new(Layered(FaultyStore::new(memory.clone(), plan.clone()))),
        Arc::new(FaultyRotator::new(
            Arc::new(ToyRotator::new(target)),
            plan.clone(),
        )),
    );
    let token = memory.begin_rotation(&arn).unwrap();
    let event = |step| RotationEvent::new(step, &arn, &token);

    plan.arm(Fault {
        call: "next_value".into(),
        nth: 0,
        when: When::After,
    });
    let err = driver.handle(&event(Step::CreateSecret)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
    assert!(
        err.to_string()
            .contains("injected fault: next_value failed after it takes effect"),
        "{err}"
    );
    driver.handle(&event(Step::CreateSecret)).await.unwrap();

    // setSecret's reads are the rotator's (through Versions): the store's kind survives.
    plan.arm(Fault {
        call: "GetSecretValue".into(),
        nth: 0,
        when: When::Before,
    });
    let err = driver.handle(&event(Step::SetSecret)).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Store(StoreErrorKind::Transport),
        "{err}"
    );
    assert_eq!(plan.fired().len(), 2);
}
