//! The conformance suite: one call that proves a [`Rotator`] correct the way Secrets
//! Manager will use it.
//!
//! [`Conformance::run`] rotates one secret over and over on a [`MemoryStore`], through
//! the same [`Driver`] the Lambdas use, and after every scenario checks the
//! [`Invariant`]s against the real target (through your [`LoginProbe`]):
//!
//! | scenario | what it does |
//! |---|---|
//! | initial state | the probe accepts the initial value (positive control) |
//! | negative control | the probe refuses a value the target cannot accept (see below) |
//! | baseline | a plain rotation; records the store and rotator calls of each step |
//! | stale tokens | each step with an unknown token and with an old token: an error or a no-op, and nothing changes |
//! | testSecret tests | testSecret before setSecret must fail |
//! | duplicates | every step run twice: the second run changes nothing |
//! | faults | every call of every step (store and rotator) fails before, then after, it takes effect; then the rotation is retried |
//! | concurrent | a second RotateSecret during a rotation is refused; each step invoked twice at once |
//!
//! # The oracle is checked too
//!
//! Every check against the target goes through the probe, so a probe that says yes to
//! everything would pass any rotator. Before the scenarios the suite offers the probe a
//! value it must refuse ([`Invariant::ProbeRefuses`]): by default the initial value with
//! its `password` (a key of a JSON object) replaced by a fresh random string, or, when
//! the initial value is not such JSON, a random string. A probe passes the control when
//! it answers `Ok(false)`, or fails with [`ErrorKind::InvalidSecret`] (the value is
//! malformed); any other answer fails the run. When your values are not JSON with a
//! `password`, a random string only proves the probe rejects malformed input: give a
//! well-formed value the target must refuse with [`Conformance::with_refused_value`].
//!
//! # The strategy's promises
//!
//! The declared [`Strategy`] decides what must work when (docs/src/concepts/strategies.md):
//!
//! - [`Strategy::Single`]: AWSCURRENT works except between setSecret and finishSecret
//!   ([`Invariant::CurrentWorks`]), and after each completed rotation AWSPREVIOUS, the old
//!   value, is refused ([`Invariant::PreviousRefused`]; checked again whenever no
//!   rotation is in progress). A rotator that revokes the old credential in
//!   [`Rotator::after_finish`] may have it skipped (a retried finishSecret finds the token
//!   already current): when a fault interrupted the rotation and `after_finish` never
//!   completed, the old value must be refused after the next rotation instead. For a
//!   target that cannot tell, [`Conformance::previous_unverifiable`] turns this check off.
//! - [`Strategy::Alternating`]: AWSCURRENT works at every moment
//!   ([`Invariant::CurrentWorks`]), and AWSPREVIOUS keeps working until the next
//!   rotation's setSecret ([`Invariant::PreviousStillWorks`]: after each rotation, between
//!   rotations, and during the next one until setSecret may have run).
//!
//! A broken rotator fails with a [`ConformanceFailure`] naming the scenario and the
//! broken invariant.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use rotwise_core::store::{AWSCURRENT, AWSPENDING, AWSPREVIOUS, Layered, MemoryStore, SecretStore};
use rotwise_core::{
    Driver, ErrorKind, ExposeSecret, LoginProbe, PasswordSource, Rotator, RotatorError,
    SecretPayload, Step, Strategy,
};

use crate::faults::{Fault, FaultPlan, FaultyRotator, FaultyStore, When};
use crate::service::{LocalService, StepHandler};

/// A [`LoginProbe`] that also keeps every password it was asked about (the `password` key
/// of JSON values): every password a suite produced, to search logs for afterwards.
pub struct Recorded<T> {
    inner: T,
    seen: std::sync::Mutex<Vec<String>>,
}

impl<T: LoginProbe> Recorded<T> {
    /// Record what `inner` is asked.
    pub fn new(inner: T) -> Self {
        Recorded {
            inner,
            seen: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The distinct passwords seen so far.
    pub fn passwords(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait]
impl<T: LoginProbe> LoginProbe for Recorded<T> {
    async fn accepts(&self, value: &SecretPayload) -> Result<bool, RotatorError> {
        let password = value
            .as_string()
            .and_then(|s| {
                serde_json::from_str::<serde_json::Value>(
                    rotwise_core::ExposeSecret::expose_secret(s),
                )
                .ok()
            })
            .and_then(|v| v["password"].as_str().map(str::to_string));
        if let Some(p) = password {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if !p.is_empty() && !seen.contains(&p) {
                seen.push(p);
            }
        }
        self.inner.accepts(value).await
    }
}

/// An invariant the suite checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invariant {
    /// Exactly one version holds AWSCURRENT.
    ExactlyOneCurrent,
    /// At most one version holds AWSPENDING.
    AtMostOnePending,
    /// The probe refuses a value the target cannot accept (the negative control, run
    /// before the scenarios): a probe that accepts anything would prove nothing.
    ProbeRefuses,
    /// The AWSCURRENT value works on the target.
    CurrentWorks,
    /// After a rotation, AWSPREVIOUS is the version that was AWSCURRENT before it.
    PreviousIsOldCurrent,
    /// Alternating users: the AWSPREVIOUS value keeps working until the next rotation's
    /// setSecret.
    PreviousStillWorks,
    /// Single user: the AWSPREVIOUS value (the old credential) stops working after the
    /// rotation.
    PreviousRefused,
    /// A rotation with no fault completes.
    RotationCompletes,
    /// A failed rotation completes when retried.
    RetryCompletes,
    /// Running a step again right after it succeeded succeeds and changes nothing.
    RepeatIsHarmless,
    /// testSecret fails when the target does not accept the pending value.
    TestSecretTests,
    /// A step invoked with a token that is not the rotation's changes nothing.
    StaleTokenChangesNothing,
    /// RotateSecret is refused while another rotation is incomplete.
    ConcurrentRotationRefused,
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Invariant::ExactlyOneCurrent => "exactly one version holds AWSCURRENT",
            Invariant::AtMostOnePending => "at most one version holds AWSPENDING",
            Invariant::ProbeRefuses => {
                "the probe refuses a value the target cannot accept (negative control)"
            }
            Invariant::CurrentWorks => "the AWSCURRENT value works on the target",
            Invariant::PreviousIsOldCurrent => {
                "after a rotation AWSPREVIOUS is the old AWSCURRENT version"
            }
            Invariant::PreviousStillWorks => {
                "alternating users: AWSPREVIOUS keeps working until the next rotation's setSecret"
            }
            Invariant::PreviousRefused => {
                "single user: AWSPREVIOUS stops working after the rotation"
            }
            Invariant::RotationCompletes => "a rotation with no fault completes",
            Invariant::RetryCompletes => "a failed rotation completes when retried",
            Invariant::RepeatIsHarmless => "a step run twice equals the step run once (idempotent)",
            Invariant::TestSecretTests => {
                "testSecret fails when the target does not accept the pending value"
            }
            Invariant::StaleTokenChangesNothing => {
                "a step invoked with a stale or unknown token changes nothing"
            }
            Invariant::ConcurrentRotationRefused => {
                "RotateSecret is refused while another rotation is incomplete"
            }
        })
    }
}

/// The suite found a broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("conformance scenario `{scenario}` broke the invariant \"{invariant}\": {detail}")]
pub struct ConformanceFailure {
    /// The scenario, e.g. `fault: PutSecretValue #0 in createSecret after it takes effect`.
    pub scenario: String,
    /// The broken invariant.
    pub invariant: Invariant,
    /// What was observed (never a secret value).
    pub detail: String,
}

/// What a passing run covered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConformanceReport {
    /// Scenarios run (all passed).
    pub scenarios: usize,
    /// Complete rotations performed.
    pub rotations: usize,
    /// Fault points injected (call x before/after).
    pub fault_points: usize,
    /// The calls each step made in the baseline rotation.
    pub calls_per_step: BTreeMap<String, Vec<String>>,
}

impl fmt::Display for ConformanceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} scenarios passed ({} rotations, {} fault points)",
            self.scenarios, self.rotations, self.fault_points
        )
    }
}

type HandlerFactory = dyn Fn(Arc<dyn SecretStore>, Arc<dyn Rotator>, PasswordSource) -> Arc<dyn StepHandler>
    + Send
    + Sync;

/// The suite's configuration. See the [crate docs](crate) for a walk-through.
///
/// The [`Strategy`] says which promises the rotation makes (ARCHITECTURE.md, "Strategies keep their promises"):
/// - [`Strategy::Single`]: one credential changes in place; AWSCURRENT may stop working
///   between setSecret and finishSecret, and AWSPREVIOUS stops working after a rotation.
/// - [`Strategy::Alternating`]: two credentials take turns; AWSCURRENT works at every
///   moment, and AWSPREVIOUS keeps working until the next rotation's setSecret.
///
/// The suite checks each of these promises through the probe, and checks the probe itself
/// first (the negative control, see the [module docs](self)).
pub struct Conformance {
    rotator: Arc<dyn Rotator>,
    probe: Arc<dyn LoginProbe>,
    initial: SecretPayload,
    strategy: Strategy,
    refused: Option<SecretPayload>,
    previous_verifiable: bool,
    store: Arc<MemoryStore>,
    secret_name: String,
    passwords: PasswordSource,
    handler: Box<HandlerFactory>,
}

type Outcome<T = ()> = Result<T, ConformanceFailure>;

fn fail(scenario: &str, invariant: Invariant, detail: impl Into<String>) -> ConformanceFailure {
    ConformanceFailure {
        scenario: scenario.to_string(),
        invariant,
        detail: detail.into(),
    }
}

impl Conformance {
    /// A suite for `rotator`, whose secret starts as `initial` (a value the target
    /// accepts now), checked against the target through `probe` (a fresh login each
    /// time, never state the rotator cached).
    pub fn new(
        rotator: Arc<dyn Rotator>,
        probe: Arc<dyn LoginProbe>,
        initial: impl Into<SecretPayload>,
        strategy: Strategy,
    ) -> Self {
        Conformance {
            rotator,
            probe,
            initial: initial.into(),
            strategy,
            refused: None,
            previous_verifiable: true,
            store: Arc::new(MemoryStore::new()),
            secret_name: "conformance/secret".to_string(),
            passwords: PasswordSource::default(),
            handler: Box::new(|store, rotator, passwords| {
                Arc::new(Driver::new(store, rotator).with_passwords(passwords))
            }),
        }
    }

    /// Use this store (e.g. one that already holds a master secret the rotator reads).
    pub fn with_store(mut self, store: Arc<MemoryStore>) -> Self {
        self.store = store;
        self
    }

    /// The name of the secret under test (default `conformance/secret`).
    pub fn with_secret_name(mut self, name: impl Into<String>) -> Self {
        self.secret_name = name.into();
        self
    }

    /// Where new passwords come from (default: locally generated, default policy).
    pub fn with_passwords(mut self, passwords: PasswordSource) -> Self {
        self.passwords = passwords;
        self
    }

    /// The negative control's value: one the target must refuse, so a probe that
    /// accepts it cannot tell a working value from a broken one
    /// ([`Invariant::ProbeRefuses`]). Make it well formed (the same shape as the initial
    /// value) so the probe really asks the target: e.g. a signing-key secret with a fresh
    /// random key, or an API key that was never issued.
    ///
    /// Without it the suite uses the initial value with its `password` replaced by a
    /// fresh random string when the initial value is a JSON object with a `password`
    /// key, and otherwise a random string, which a probe may refuse by parsing alone.
    pub fn with_refused_value(mut self, value: impl Into<SecretPayload>) -> Self {
        self.refused = Some(value.into());
        self
    }

    /// Single user only: do not check that AWSPREVIOUS stops working after a rotation
    /// ([`Invariant::PreviousRefused`]), for a target that cannot tell (e.g. one whose
    /// revocation takes effect minutes later). Every other check still runs. Off by
    /// default; use it only when the target really cannot answer, never to make a
    /// rotator that leaves the old credential working pass.
    pub fn previous_unverifiable(mut self) -> Self {
        self.previous_verifiable = false;
        self
    }

    /// The negative control's value, and what it is (for the failure message).
    fn refused_value(&self) -> (SecretPayload, &'static str) {
        if let Some(value) = &self.refused {
            return (value.clone(), "the value given to `with_refused_value`");
        }
        let fresh = uuid::Uuid::new_v4().simple().to_string();
        let json = self
            .initial
            .as_string()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(s.expose_secret()).ok());
        if let Some(serde_json::Value::Object(mut map)) = json
            && map.contains_key("password")
        {
            map.insert("password".into(), serde_json::Value::String(fresh));
            return (
                serde_json::Value::Object(map).to_string().into(),
                "the initial value with a fresh random `password`",
            );
        }
        (fresh.into(), "a random string")
    }

    /// Test a custom entry point instead of [`Driver`]: `factory` builds it from the
    /// (fault-injecting) store, the (fault-injecting) rotator and the password source.
    pub fn with_handler<F>(mut self, factory: F) -> Self
    where
        F: Fn(Arc<dyn SecretStore>, Arc<dyn Rotator>, PasswordSource) -> Arc<dyn StepHandler>
            + Send
            + Sync
            + 'static,
    {
        self.handler = Box::new(factory);
        self
    }

    /// Run every scenario. Returns the first broken invariant, or a report.
    pub async fn run(self) -> Result<ConformanceReport, ConformanceFailure> {
        let plan = FaultPlan::default();
        let store: Arc<dyn SecretStore> = Arc::new(Layered(FaultyStore::new(
            self.store.clone() as Arc<dyn SecretStore>,
            plan.clone(),
        )));
        let rotator: Arc<dyn Rotator> =
            Arc::new(FaultyRotator::new(self.rotator.clone(), plan.clone()));
        let handler = (self.handler)(store, rotator, self.passwords.clone());
        let secret_id = self
            .store
            .insert_secret_payload(&self.secret_name, self.initial.clone())
            .map_err(|e| fail("setup", Invariant::RotationCompletes, e.to_string()))?;
        let run = Run {
            suite: &self,
            service: LocalService::new(self.store.clone()),
            handler,
            plan,
            secret_id,
            report: ConformanceReport::default(),
            fired_at_begin: 0,
            excused: Vec::new(),
        };
        run.all().await
    }
}

struct Run<'a> {
    suite: &'a Conformance,
    service: LocalService,
    handler: Arc<dyn StepHandler>,
    plan: FaultPlan,
    secret_id: String,
    report: ConformanceReport,
    /// How many faults had fired when the current rotation began.
    fired_at_begin: usize,
    /// Single user: old values whose revocation `after_finish` was allowed to skip (a
    /// fault interrupted the rotation and `after_finish` never completed), with their
    /// version ids. They must be refused once the next rotation completes.
    excused: Vec<(String, SecretPayload)>,
}

/// Labels and values as the service sees them.
struct Labels {
    current: String,
    pending: Option<String>,
    previous: Option<String>,
}

impl Run<'_> {
    async fn all(mut self) -> Result<ConformanceReport, ConformanceFailure> {
        self.check_state("initial state", false).await?;
        self.negative_control().await?;
        let calls = self.baseline().await?;
        self.stale_tokens().await?;
        self.test_secret_tests().await?;
        self.duplicates().await?;
        self.faults(&calls).await?;
        self.concurrent().await?;
        Ok(self.report)
    }

    fn scenario_done(&mut self) {
        self.report.scenarios += 1;
    }

    fn single(&self) -> bool {
        self.suite.strategy == Strategy::Single
    }

    /// The probe must refuse a value the target cannot accept; otherwise every other
    /// check is meaningless.
    async fn negative_control(&mut self) -> Outcome {
        let scenario = "negative control";
        let (value, what) = self.suite.refused_value();
        match self.suite.probe.accepts(&value).await {
            Ok(false) => {}
            Err(e) if e.kind() == ErrorKind::InvalidSecret => {}
            Ok(true) => {
                return Err(fail(
                    scenario,
                    Invariant::ProbeRefuses,
                    format!(
                        "the probe accepts {what}, which the target must refuse, so it cannot tell a working value from a broken one (does it really log in?)"
                    ),
                ));
            }
            Err(e) => {
                return Err(fail(
                    scenario,
                    Invariant::ProbeRefuses,
                    format!("the target check failed to run on {what}: {e}"),
                ));
            }
        }
        self.scenario_done();
        Ok(())
    }

    async fn labels(&self, scenario: &str) -> Outcome<Labels> {
        let d = self
            .service
            .store()
            .describe_secret(&self.secret_id)
            .await
            .map_err(|e| fail(scenario, Invariant::ExactlyOneCurrent, e.to_string()))?;
        let holders = |stage: &str| -> Vec<String> {
            d.versions
                .iter()
                .filter(|(_, s)| s.iter().any(|x| x == stage))
                .map(|(id, _)| id.clone())
                .collect()
        };
        let current = holders(AWSCURRENT);
        if current.len() != 1 {
            return Err(fail(
                scenario,
                Invariant::ExactlyOneCurrent,
                format!("{} versions hold AWSCURRENT: {current:?}", current.len()),
            ));
        }
        let pending = holders(AWSPENDING);
        if pending.len() > 1 {
            return Err(fail(
                scenario,
                Invariant::AtMostOnePending,
                format!("{} versions hold AWSPENDING: {pending:?}", pending.len()),
            ));
        }
        Ok(Labels {
            current: current[0].clone(),
            pending: pending.into_iter().next(),
            previous: holders(AWSPREVIOUS).into_iter().next(),
        })
    }

    async fn value(
        &self,
        scenario: &str,
        version_id: &str,
        invariant: Invariant,
    ) -> Outcome<SecretPayload> {
        let v = self
            .service
            .store()
            .get_secret_value(&self.secret_id, Some(version_id), None)
            .await
            .map_err(|e| {
                fail(
                    scenario,
                    invariant,
                    format!("cannot read version {version_id}: {e}"),
                )
            })?;
        Ok(v.payload)
    }

    async fn probe(
        &self,
        scenario: &str,
        value: &SecretPayload,
        invariant: Invariant,
    ) -> Outcome<bool> {
        self.suite.probe.accepts(value).await.map_err(|e| {
            fail(
                scenario,
                invariant,
                format!("the target check failed to run: {e}"),
            )
        })
    }

    async fn accepts(
        &self,
        scenario: &str,
        version_id: &str,
        invariant: Invariant,
    ) -> Outcome<bool> {
        let value = self.value(scenario, version_id, invariant).await?;
        self.probe(scenario, &value, invariant).await
    }

    /// Label invariants, then what the strategy promises of the target.
    ///
    /// `set_may_have_run`: a rotation is in progress and its setSecret may have run. Until
    /// finishSecret moves AWSCURRENT that is the single-user window (only AWSPENDING
    /// need work) and, for alternating users, the moment AWSPREVIOUS may stop working.
    async fn check_state(&self, scenario: &str, set_may_have_run: bool) -> Outcome<Labels> {
        let labels = self.labels(scenario).await?;
        self.check_target(scenario, &labels, set_may_have_run)
            .await?;
        Ok(labels)
    }

    async fn check_target(
        &self,
        scenario: &str,
        labels: &Labels,
        set_may_have_run: bool,
    ) -> Outcome {
        // finishSecret moved AWSCURRENT to the pending version, or no rotation is running.
        let finished = labels.pending.as_ref().is_none_or(|p| *p == labels.current);
        let in_window = set_may_have_run && !finished;
        if (!self.single() || !in_window)
            && !self
                .accepts(scenario, &labels.current, Invariant::CurrentWorks)
                .await?
        {
            return Err(fail(
                scenario,
                Invariant::CurrentWorks,
                format!("the target refuses AWSCURRENT (version {})", labels.current),
            ));
        }
        let Some(previous) = labels.previous.as_deref() else {
            return Ok(());
        };
        // Alternating users: until setSecret may have run, the old value still works.
        let must_work = !self.single() && !in_window;
        if must_work
            && !self
                .accepts(scenario, previous, Invariant::PreviousStillWorks)
                .await?
        {
            let when = if finished {
                "after the rotation"
            } else {
                "before this rotation's setSecret"
            };
            return Err(fail(
                scenario,
                Invariant::PreviousStillWorks,
                format!("the target refuses AWSPREVIOUS (version {previous}) {when}"),
            ));
        }
        // Single user, no rotation in progress: the old value must be refused, unless its
        // revocation was skipped (then it is checked after the next rotation).
        let must_fail = self.single()
            && self.suite.previous_verifiable
            && labels.pending.is_none()
            && !self.excused.iter().any(|(id, _)| id == previous);
        if must_fail
            && self
                .accepts(scenario, previous, Invariant::PreviousRefused)
                .await?
        {
            return Err(fail(
                scenario,
                Invariant::PreviousRefused,
                format!(
                    "the target still accepts AWSPREVIOUS (version {previous}), the value the rotation replaced"
                ),
            ));
        }
        Ok(())
    }

    /// Whether this rotation may have skipped [`Rotator::after_finish`]: a fault fired
    /// and no `after_finish` call succeeded (a retried finishSecret that finds the token
    /// already current does not run it again).
    fn after_finish_may_be_skipped(&self) -> bool {
        let faulted = self.plan.fired().len() > self.fired_at_begin;
        faulted && !self.plan.succeeded().iter().any(|c| c == "after_finish")
    }

    /// After a completed rotation from `old_current` to `token`.
    async fn check_rotated(&mut self, scenario: &str, old_current: &str, token: &str) -> Outcome {
        let labels = self.labels(scenario).await?;
        if labels.current != token {
            return Err(fail(
                scenario,
                Invariant::RetryCompletes,
                format!(
                    "AWSCURRENT is {} and not the rotation's token {token}",
                    labels.current
                ),
            ));
        }
        if labels.previous.as_deref() != Some(old_current) {
            return Err(fail(
                scenario,
                Invariant::PreviousIsOldCurrent,
                format!(
                    "AWSPREVIOUS is {:?}, the old AWSCURRENT was {old_current}",
                    labels.previous
                ),
            ));
        }
        if self.single() && self.suite.previous_verifiable {
            // Old values excused by an earlier rotation: this one must have cleaned up.
            for (id, value) in std::mem::take(&mut self.excused) {
                if self
                    .probe(scenario, &value, Invariant::PreviousRefused)
                    .await?
                {
                    return Err(fail(
                        scenario,
                        Invariant::PreviousRefused,
                        format!(
                            "the target still accepts version {id}, the AWSPREVIOUS of an earlier rotation whose after_finish was skipped: the next rotation completed without revoking it"
                        ),
                    ));
                }
            }
            if self.after_finish_may_be_skipped() {
                let value = self
                    .value(scenario, old_current, Invariant::PreviousRefused)
                    .await?;
                self.excused.push((old_current.to_string(), value));
            }
        }
        self.check_target(scenario, &labels, false).await
    }

    async fn invoke(&self, token: &str, step: Step) -> Result<(), String> {
        self.service
            .invoke(&self.secret_id, token, step, self.handler.as_ref())
            .await
            .map_err(|e| e.message)
    }

    /// Whether setSecret may have run once `step` of a rotation ran (or failed): from
    /// then until finishSecret, single user may refuse AWSCURRENT and alternating users
    /// may refuse AWSPREVIOUS.
    fn set_may_have_run(step: Step) -> bool {
        step != Step::CreateSecret
    }

    /// Whether the target accepts the AWSPENDING version, if there is one.
    async fn pending_accepted(
        &self,
        scenario: &str,
        pending: Option<&str>,
    ) -> Outcome<Option<bool>> {
        match pending {
            Some(p) => Ok(Some(
                self.accepts(scenario, p, Invariant::RepeatIsHarmless)
                    .await?,
            )),
            None => Ok(None),
        }
    }

    /// All four steps ran by hand: finish as the service does, count it, check it.
    async fn record_completed(
        &mut self,
        scenario: &str,
        token: &str,
        old_current: &str,
    ) -> Outcome {
        self.service
            .store()
            .complete_rotation(&self.secret_id, token)
            .map_err(|e| fail(scenario, Invariant::RotationCompletes, e.to_string()))?;
        self.report.rotations += 1;
        self.check_rotated(scenario, old_current, token).await
    }

    /// Run a step that must succeed. On failure, report a broken state invariant
    /// first (it names the real damage), else that the rotation did not complete.
    async fn must_succeed(&self, scenario: &str, token: &str, step: Step) -> Outcome {
        let Err(e) = self.invoke(token, step).await else {
            return Ok(());
        };
        self.check_state(scenario, Self::set_may_have_run(step))
            .await?;
        Err(fail(
            scenario,
            Invariant::RotationCompletes,
            format!("{step}: {e}"),
        ))
    }

    /// Retry until the rotation completes (the service retries; a fault fires once).
    async fn complete(&mut self, scenario: &str, token: &str, old_current: &str) -> Outcome {
        self.plan.clear();
        self.service
            .resume(&self.secret_id, token, self.handler.as_ref())
            .await
            .map_err(|e| fail(scenario, Invariant::RetryCompletes, e.to_string()))?;
        self.report.rotations += 1;
        self.check_rotated(scenario, old_current, token).await
    }

    async fn begin(&mut self, scenario: &str) -> Outcome<(String, String)> {
        let old = self.labels(scenario).await?.current;
        let token = self
            .service
            .begin(&self.secret_id)
            .map_err(|e| fail(scenario, Invariant::RotationCompletes, e.to_string()))?;
        self.fired_at_begin = self.plan.fired().len();
        self.plan.reset_log();
        Ok((token, old))
    }

    async fn baseline(&mut self) -> Outcome<Vec<(Step, Vec<String>)>> {
        let scenario = "baseline rotation";
        let (token, old) = self.begin(scenario).await?;
        let mut calls = Vec::new();
        for step in Step::ALL {
            self.plan.reset_log();
            self.must_succeed(scenario, &token, step).await?;
            let log = self.plan.log();
            self.check_state(scenario, Self::set_may_have_run(step))
                .await?;
            self.report
                .calls_per_step
                .insert(step.as_str().to_string(), log.clone());
            calls.push((step, log));
        }
        self.record_completed(scenario, &token, &old).await?;
        self.scenario_done();
        Ok(calls)
    }

    async fn stale_tokens(&mut self) -> Outcome {
        let labels = self.labels("stale tokens").await?;
        let unknown = uuid::Uuid::new_v4().to_string();
        let mut tokens = vec![("an unknown token", unknown)];
        if let Some(prev) = labels.previous.clone() {
            tokens.push(("the AWSPREVIOUS version's token", prev));
        }
        tokens.push(("the finished rotation's token", labels.current.clone()));
        for (what, token) in tokens {
            for step in Step::ALL {
                let scenario = format!("{step} with {what}");
                let before = self.service.store().snapshot();
                let result = self.invoke(&token, step).await;
                let after = self.service.store().snapshot();
                if before != after {
                    return Err(fail(
                        &scenario,
                        Invariant::StaleTokenChangesNothing,
                        format!("the store changed (step result: {result:?})"),
                    ));
                }
                if let (true, Err(e)) = (token == labels.current, &result) {
                    return Err(fail(
                        &scenario,
                        Invariant::StaleTokenChangesNothing,
                        format!(
                            "a step for a token that is already AWSCURRENT must succeed as a no-op; got: {e}"
                        ),
                    ));
                }
                if token != labels.current && result.is_ok() {
                    return Err(fail(
                        &scenario,
                        Invariant::StaleTokenChangesNothing,
                        "the step succeeded for a token that is not AWSPENDING",
                    ));
                }
                self.check_state(&scenario, false).await?;
                self.scenario_done();
            }
        }
        Ok(())
    }

    async fn test_secret_tests(&mut self) -> Outcome {
        let scenario = "testSecret before setSecret";
        let (token, old) = self.begin(scenario).await?;
        self.must_succeed(scenario, &token, Step::CreateSecret)
            .await?;
        if self.invoke(&token, Step::TestSecret).await.is_ok() {
            return Err(fail(
                scenario,
                Invariant::TestSecretTests,
                "testSecret succeeded although setSecret had not run, so it cannot tell a working pending value from a broken one",
            ));
        }
        self.check_state(scenario, false).await?;
        self.complete(scenario, &token, &old).await?;
        self.scenario_done();
        Ok(())
    }

    async fn duplicates(&mut self) -> Outcome {
        let scenario = "every step run twice";
        let (token, old) = self.begin(scenario).await?;
        for step in Step::ALL {
            self.must_succeed(scenario, &token, step).await?;
            let once = self.service.store().snapshot();
            let labels = self.labels(scenario).await?;
            let pending_works = self
                .pending_accepted(scenario, labels.pending.as_deref())
                .await?;
            self.invoke(&token, step).await.map_err(|e| {
                fail(
                    scenario,
                    Invariant::RepeatIsHarmless,
                    format!("{step} failed when run again: {e}"),
                )
            })?;
            if self.service.store().snapshot() != once {
                return Err(fail(
                    scenario,
                    Invariant::RepeatIsHarmless,
                    format!("running {step} again changed the store"),
                ));
            }
            let pending_works_again = self
                .pending_accepted(scenario, labels.pending.as_deref())
                .await?;
            if pending_works != pending_works_again {
                return Err(fail(
                    scenario,
                    Invariant::RepeatIsHarmless,
                    format!(
                        "running {step} again changed whether the target accepts AWSPENDING ({pending_works:?} -> {pending_works_again:?})"
                    ),
                ));
            }
            self.check_state(scenario, Self::set_may_have_run(step))
                .await?;
        }
        self.record_completed(scenario, &token, &old).await?;
        self.scenario_done();
        Ok(())
    }

    async fn faults(&mut self, calls: &[(Step, Vec<String>)]) -> Outcome {
        for (step, log) in calls {
            let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
            for call in log {
                let nth = seen.entry(call.as_str()).or_default();
                for when in [When::Before, When::After] {
                    let scenario =
                        format!("fault: {call} #{nth} in {step} fails {when}, then retry");
                    self.fault_scenario(&scenario, *step, call, *nth, when)
                        .await?;
                    self.report.fault_points += 1;
                }
                *nth += 1;
            }
        }
        Ok(())
    }

    async fn fault_scenario(
        &mut self,
        scenario: &str,
        step: Step,
        call: &str,
        nth: usize,
        when: When,
    ) -> Outcome {
        let (token, old) = self.begin(scenario).await?;
        for earlier in Step::ALL.into_iter().take_while(|s| *s != step) {
            self.must_succeed(scenario, &token, earlier).await?;
        }
        self.plan.arm(Fault {
            call: call.to_string(),
            nth,
            when,
        });
        let _ = self.invoke(&token, step).await;
        self.plan.clear();
        // Mid-rotation: labels must be sane; what must work depends on whether setSecret
        // may have run.
        self.check_state(scenario, Self::set_may_have_run(step))
            .await?;
        self.complete(scenario, &token, &old).await?;
        self.scenario_done();
        Ok(())
    }

    async fn concurrent(&mut self) -> Outcome {
        let scenario = "a second RotateSecret during a rotation";
        let (token, old) = self.begin(scenario).await?;
        match self.service.begin(&self.secret_id) {
            Ok(other) => {
                return Err(fail(
                    scenario,
                    Invariant::ConcurrentRotationRefused,
                    format!("a second rotation started with token {other}"),
                ));
            }
            Err(e) if e.message.contains("A previous rotation isn't complete") => {}
            Err(e) => {
                return Err(fail(
                    scenario,
                    Invariant::ConcurrentRotationRefused,
                    format!("refused with an unexpected error: {e}"),
                ));
            }
        }
        self.complete(scenario, &token, &old).await?;
        self.scenario_done();

        let scenario = "each step invoked twice at once";
        let (token, old) = self.begin(scenario).await?;
        for step in Step::ALL {
            let (a, b) = tokio::join!(self.invoke(&token, step), self.invoke(&token, step));
            if a.is_err() && b.is_err() {
                // Both may lose a race (e.g. two createSecret puts); the retry below
                // must still complete the rotation.
                break;
            }
            self.check_state(scenario, Self::set_may_have_run(step))
                .await?;
        }
        self.complete(scenario, &token, &old).await?;
        self.scenario_done();
        Ok(())
    }
}
