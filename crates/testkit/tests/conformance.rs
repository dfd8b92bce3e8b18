//! The conformance suite passes a correct rotator and catches broken ones, naming the
//! broken invariant.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rotwise_core::store::{AWSPENDING, PutSecretValue, SecretStore};
use rotwise_core::{
    Driver, ErrorKind, ExposeSecret, LoginProbe, PasswordSource, RotationEvent, Rotator,
    RotatorError, SecretPayload, Step, Versions,
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
    // Baseline calls: createSecret reads AWSCURRENT and puts (no read of the pending
    // version: a retry is told by the service's ResourceExistsException).
    assert_eq!(
        report.calls_per_step["createSecret"],
        [
            "DescribeSecret",
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
    // It took effect: the real call succeeded.
    assert!(plan.succeeded().iter().any(|c| c == "next_value"));
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
    plan.reset_log();
    let err = driver.handle(&event(Step::SetSecret)).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Store(StoreErrorKind::Transport),
        "{err}"
    );
    // Failed before it took effect; the rotator call failed with it.
    assert_eq!(plan.log(), ["DescribeSecret", "set", "GetSecretValue"]);
    assert_eq!(plan.succeeded(), ["DescribeSecret"]);
    assert_eq!(plan.fired().len(), 2);
}

// ---------------------------------------------------------------------------------------
// The oracle and the strategies' promises (issue 23).

/// A probe that says yes to everything: it never logs in.
struct AlwaysYes;

#[async_trait]
impl LoginProbe for AlwaysYes {
    async fn accepts(&self, _value: &SecretPayload) -> Result<bool, RotatorError> {
        Ok(true)
    }
}

#[tokio::test]
async fn an_always_yes_probe_is_caught_by_the_negative_control() {
    // The issue's case: a rotator that changes the current user in place, declared
    // alternating, passed every scenario with this probe.
    let target = ToyTarget::with_user("app", "initial-password");
    let err = Conformance::new(
        Arc::new(ToyRotator::new(target)),
        Arc::new(AlwaysYes),
        INITIAL,
        Strategy::Alternating,
    )
    .run()
    .await
    .unwrap_err();
    assert_eq!(err.invariant, Invariant::ProbeRefuses, "{err}");
    assert_eq!(err.scenario, "negative control", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("the probe refuses a value the target cannot accept (negative control)"),
        "{text}"
    );
    assert!(
        text.contains("the initial value with a fresh random `password`"),
        "{text}"
    );
    assert!(!text.contains("initial-password"), "{text}");
}

/// A probe that only checks the shape of the value: it parses, it never logs in.
struct ShapeOnly;

#[async_trait]
impl LoginProbe for ShapeOnly {
    async fn accepts(&self, value: &SecretPayload) -> Result<bool, RotatorError> {
        ToyCredential::parse(value).map(|_| true)
    }
}

#[tokio::test]
async fn a_probe_that_only_parses_is_caught_by_the_negative_control() {
    let target = ToyTarget::with_user("app", "initial-password");
    let err = Conformance::new(
        Arc::new(ToyRotator::new(target)),
        Arc::new(ShapeOnly),
        INITIAL,
        Strategy::Single,
    )
    .run()
    .await
    .unwrap_err();
    assert_eq!(err.invariant, Invariant::ProbeRefuses, "{err}");
    assert!(err.to_string().contains("negative control"), "{err}");
}

#[tokio::test]
async fn with_refused_value_is_what_the_negative_control_offers() {
    // A well-formed value the target never issued: the control passes.
    let target = ToyTarget::with_user("app", "initial-password");
    suite(Arc::new(ToyRotator::new(target.clone())), &target)
        .with_refused_value(r#"{"username": "app", "password": "never-issued"}"#)
        .run()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // A value the target accepts is not a negative control: the run says so.
    let target = ToyTarget::with_user("app", "initial-password");
    let err = suite(Arc::new(ToyRotator::new(target.clone())), &target)
        .with_refused_value(INITIAL)
        .run()
        .await
        .unwrap_err();
    assert_eq!(err.invariant, Invariant::ProbeRefuses, "{err}");
    assert!(err.to_string().contains("with_refused_value"), "{err}");
}

/// A target whose users may hold several passwords at once (like Redis ACL users, or a
/// service with several live API keys): `user -> passwords`.
#[derive(Clone, Default)]
struct MultiTarget(Arc<Mutex<HashMap<String, Vec<String>>>>);

impl MultiTarget {
    fn with_user(username: &str, password: &str) -> Self {
        let t = MultiTarget::default();
        t.add(username, password);
        t
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<String>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn login(&self, username: &str, password: &str) -> bool {
        self.lock()
            .get(username)
            .is_some_and(|p| p.iter().any(|p| p == password))
    }

    fn add(&self, username: &str, password: &str) {
        let mut accounts = self.lock();
        let passwords = accounts.entry(username.to_string()).or_default();
        if !passwords.iter().any(|p| p == password) {
            passwords.push(password.to_string());
        }
    }

    fn remove(&self, username: &str, password: &str) {
        if let Some(p) = self.lock().get_mut(username) {
            p.retain(|p| p != password);
        }
    }

    fn keep_only(&self, username: &str, keep: &[&str]) {
        if let Some(p) = self.lock().get_mut(username) {
            p.retain(|p| keep.contains(&p.as_str()));
        }
    }
}

#[async_trait]
impl LoginProbe for MultiTarget {
    async fn accepts(&self, value: &SecretPayload) -> Result<bool, RotatorError> {
        let c = ToyCredential::parse(value)?;
        Ok(self.login(&c.username, &c.password))
    }
}

/// How [`AddsPassword`] gets rid of the password it replaced.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Revoke {
    /// Never: the old password keeps working (a broken single-user rotator).
    Never,
    /// In `after_finish` only: a skipped `after_finish` leaves it working for good.
    InAfterFinish,
    /// In `after_finish`, and setSecret keeps only AWSCURRENT's and AWSPENDING's
    /// passwords (what a skipped `after_finish` left is cleaned up by the next rotation).
    InAfterFinishAndNextSet,
}

/// A single-user rotator that adds the pending password next to the current one in
/// setSecret (both log in during the rotation) and revokes the old one per [`Revoke`].
struct AddsPassword {
    target: MultiTarget,
    revoke: Revoke,
    /// The credential setSecret replaced, for `after_finish` to revoke.
    replaced: Mutex<Option<ToyCredential>>,
}

impl AddsPassword {
    fn new(target: MultiTarget, revoke: Revoke) -> Self {
        AddsPassword {
            target,
            revoke,
            replaced: Mutex::new(None),
        }
    }
}

#[async_trait]
impl Rotator for AddsPassword {
    fn name(&self) -> &str {
        "adds-password"
    }
    async fn next_value(&self, v: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
        // The toy's next_value never touches its target.
        ToyRotator::new(ToyTarget::default()).next_value(v).await
    }
    async fn set(&self, v: &Versions<'_>) -> Result<(), RotatorError> {
        let current = ToyCredential::parse(&v.current().await?.payload)?;
        let pending = ToyCredential::parse(&v.pending().await?.payload)?;
        if !self.target.login(&current.username, &current.password)
            && !self.target.login(&pending.username, &pending.password)
        {
            return Err(RotatorError::new(
                ErrorKind::LoginRefused,
                "neither the current nor the pending password logs in",
            ));
        }
        self.target.add(&pending.username, &pending.password);
        if self.revoke == Revoke::InAfterFinishAndNextSet {
            self.target.keep_only(
                &current.username,
                &[current.password.as_str(), pending.password.as_str()],
            );
        }
        *self.replaced.lock().unwrap_or_else(|p| p.into_inner()) = Some(current);
        Ok(())
    }
    async fn test(&self, v: &Versions<'_>) -> Result<(), RotatorError> {
        let pending = ToyCredential::parse(&v.pending().await?.payload)?;
        if self.target.login(&pending.username, &pending.password) {
            Ok(())
        } else {
            Err(RotatorError::new(
                ErrorKind::LoginRefused,
                "the pending password does not log in",
            ))
        }
    }
    async fn after_finish(&self, v: &Versions<'_>) -> Result<(), RotatorError> {
        if self.revoke == Revoke::Never {
            return Ok(());
        }
        // A store read first: a fault in it fails after_finish before it revokes.
        let new = ToyCredential::parse(&v.pending().await?.payload)?;
        let mut replaced = self.replaced.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = replaced.take_if(|old| old.password != new.password) {
            self.target.remove(&old.username, &old.password);
        }
        Ok(())
    }
}

const SINGLE_USER_PROMISE: &str = "single user: AWSPREVIOUS stops working after the rotation";

fn adds_password(revoke: Revoke) -> Conformance {
    let target = MultiTarget::with_user("app", "initial-password");
    Conformance::new(
        Arc::new(AddsPassword::new(target.clone(), revoke)),
        Arc::new(target),
        INITIAL,
        Strategy::Single,
    )
}

#[tokio::test]
async fn a_single_user_rotator_that_leaves_the_old_password_working_is_caught() {
    let err = adds_password(Revoke::Never).run().await.unwrap_err();
    assert_eq!(err.invariant, Invariant::PreviousRefused, "{err}");
    assert_eq!(err.scenario, "baseline rotation", "{err}");
    assert!(err.to_string().contains(SINGLE_USER_PROMISE), "{err}");
    assert!(
        err.to_string().contains("still accepts AWSPREVIOUS"),
        "{err}"
    );
}

#[tokio::test]
async fn previous_unverifiable_turns_only_that_check_off() {
    let report = adds_password(Revoke::Never)
        .previous_unverifiable()
        .run()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.fault_points > 0, "{report}");
    // The negative control still runs.
    let target = MultiTarget::with_user("app", "initial-password");
    let err = Conformance::new(
        Arc::new(AddsPassword::new(target, Revoke::Never)),
        Arc::new(AlwaysYes),
        INITIAL,
        Strategy::Single,
    )
    .previous_unverifiable()
    .run()
    .await
    .unwrap_err();
    assert_eq!(err.invariant, Invariant::ProbeRefuses, "{err}");
}

#[tokio::test]
async fn revoking_in_after_finish_passes_when_the_next_set_secret_cleans_up() {
    // after_finish may be skipped (a retried finishSecret finds the token already
    // current): the old password must be gone after the next rotation instead.
    let report = adds_password(Revoke::InAfterFinishAndNextSet)
        .run()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.fault_points > 0, "{report}");
}

#[tokio::test]
async fn revoking_only_in_after_finish_is_caught_when_after_finish_is_skipped() {
    let err = adds_password(Revoke::InAfterFinish)
        .run()
        .await
        .unwrap_err();
    assert_eq!(err.invariant, Invariant::PreviousRefused, "{err}");
    assert!(err.scenario.contains("in finishSecret"), "{err}");
    assert!(err.to_string().contains(SINGLE_USER_PROMISE), "{err}");
    assert!(
        err.to_string().contains(
            "whose after_finish was skipped: the next rotation completed without revoking it"
        ),
        "{err}"
    );
}

/// Alternating users on a [`ToyTarget`]: `app` and `app_clone` take turns; setSecret
/// (as a master user would) sets the password of the user that is not current.
struct ToyAlternating {
    target: ToyTarget,
    /// The bug: createSecret "prepares" the standby user by resetting its password, so
    /// AWSPREVIOUS stops working before setSecret.
    resets_standby_early: bool,
}

fn other_user(username: &str) -> String {
    match username.strip_suffix("_clone") {
        Some(base) => base.to_string(),
        None => format!("{username}_clone"),
    }
}

#[async_trait]
impl Rotator for ToyAlternating {
    fn name(&self) -> &str {
        "toy-alternating"
    }
    async fn next_value(&self, v: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
        let current = ToyCredential::parse(&v.current().await?.payload)?;
        let next = ToyCredential {
            username: other_user(&current.username),
            password: v.new_password().await?.expose_secret().to_string(),
        };
        if self.resets_standby_early {
            self.target
                .set_password(&next.username, &uuid::Uuid::new_v4().to_string());
        }
        Ok(serde_json::to_string(&next)?.into())
    }
    async fn set(&self, v: &Versions<'_>) -> Result<(), RotatorError> {
        let pending = ToyCredential::parse(&v.pending().await?.payload)?;
        self.target
            .set_password(&pending.username, &pending.password);
        Ok(())
    }
    async fn test(&self, v: &Versions<'_>) -> Result<(), RotatorError> {
        let pending = ToyCredential::parse(&v.pending().await?.payload)?;
        if self.target.login(&pending.username, &pending.password) {
            Ok(())
        } else {
            Err(RotatorError::new(
                ErrorKind::LoginRefused,
                "the pending password does not log in",
            ))
        }
    }
}

fn alternating(strategy: Strategy, resets_standby_early: bool) -> Conformance {
    let target = ToyTarget::with_user("app", "initial-password");
    target.set_password("app_clone", "clone-password");
    Conformance::new(
        Arc::new(ToyAlternating {
            target: target.clone(),
            resets_standby_early,
        }),
        Arc::new(target),
        INITIAL,
        strategy,
    )
}

#[tokio::test]
async fn a_correct_alternating_rotator_passes() {
    let report = alternating(Strategy::Alternating, false)
        .run()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.fault_points > 0, "{report}");
}

#[tokio::test]
async fn an_alternating_rotator_declared_single_user_is_caught() {
    let err = alternating(Strategy::Single, false)
        .run()
        .await
        .unwrap_err();
    assert_eq!(err.invariant, Invariant::PreviousRefused, "{err}");
    assert!(err.to_string().contains(SINGLE_USER_PROMISE), "{err}");
}

#[tokio::test]
async fn a_single_user_rotator_declared_alternating_is_caught() {
    let target = ToyTarget::with_user("app", "initial-password");
    let err = Conformance::new(
        Arc::new(ToyRotator::new(target.clone())),
        Arc::new(target),
        INITIAL,
        Strategy::Alternating,
    )
    .run()
    .await
    .unwrap_err();
    assert_eq!(err.invariant, Invariant::CurrentWorks, "{err}");
}

#[tokio::test]
async fn an_alternating_rotator_that_breaks_previous_before_set_secret_is_caught() {
    let err = alternating(Strategy::Alternating, true)
        .run()
        .await
        .unwrap_err();
    assert_eq!(err.invariant, Invariant::PreviousStillWorks, "{err}");
    let text = err.to_string();
    assert!(
        text.contains(
            "alternating users: AWSPREVIOUS keeps working until the next rotation's setSecret"
        ),
        "{text}"
    );
    assert!(text.contains("before this rotation's setSecret"), "{text}");
}
