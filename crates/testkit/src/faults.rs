//! Fault injection: make any store call or rotator call fail at a chosen point.
//!
//! [`FaultyStore`] and [`FaultyRotator`] wrap a real store or rotator and pass every
//! call through, except the one a [`Fault`] is armed for:
//!
//! - [`When::Before`]: the call fails before it takes effect (the request never
//!   reached the service, the rotator never touched the target);
//! - [`When::After`]: the call takes effect, then fails before it returns (a timeout
//!   after the service or the database did the work). This is the case that finds
//!   non-idempotent steps.
//!
//! Both wrappers also record every call, which is how the conformance suite learns
//! which calls each step makes and how tests count API calls per rotation.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rotwise_core::password::PasswordPolicy;
use rotwise_core::store::{
    CreateSecret, PutOutput, PutSecretValue, SecretDescription, SecretStore, SecretVersion,
    StoreError, StoreErrorKind, UpdateVersionStage, VersionSummary,
};
use rotwise_core::{BoxError, Rotator, SecretPayload, SecretString, Versions};

/// When an armed fault fires relative to the call's effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum When {
    /// Fail without doing anything.
    Before,
    /// Do the work, then fail as if the answer was lost.
    After,
}

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            When::Before => "before it takes effect",
            When::After => "after it takes effect",
        })
    }
}

/// One fault: fail the `nth` (0-based) call named `call` made after arming.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The call's name: a store operation (`PutSecretValue`) or a rotator method
    /// (`set`, `test`, `next_value`, `after_finish`).
    pub call: String,
    /// Which matching call fails, counting from 0 after the fault was armed.
    pub nth: usize,
    /// Before or after the call takes effect.
    pub when: When,
}

#[derive(Default)]
struct Plan {
    armed: VecDeque<(Fault, usize)>,
    log: Vec<String>,
    fired: Vec<Fault>,
}

/// Shared fault plan and call log.
#[derive(Clone, Default)]
pub struct FaultPlan {
    inner: Arc<Mutex<Plan>>,
}

impl FaultPlan {
    fn lock(&self) -> MutexGuard<'_, Plan> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Arm `fault`. Several faults may be armed at once.
    pub fn arm(&self, fault: Fault) {
        self.lock().armed.push_back((fault, 0));
    }

    /// Disarm everything not yet fired.
    pub fn clear(&self) {
        self.lock().armed.clear();
    }

    /// Every call made so far, in order.
    pub fn log(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    /// Forget the call log.
    pub fn reset_log(&self) {
        self.lock().log.clear();
    }

    /// Faults that have fired.
    pub fn fired(&self) -> Vec<Fault> {
        self.lock().fired.clone()
    }

    /// Record a call; returns the fault to apply to it, if one is armed for it.
    fn on_call(&self, call: &str) -> Option<When> {
        let mut plan = self.lock();
        plan.log.push(call.to_string());
        let mut hit = None;
        for (i, (fault, seen)) in plan.armed.iter_mut().enumerate() {
            if fault.call == call {
                if *seen == fault.nth {
                    hit = Some(i);
                    break;
                }
                *seen += 1;
            }
        }
        let i = hit?;
        let (fault, _) = plan.armed.remove(i)?;
        let when = fault.when;
        plan.fired.push(fault);
        Some(when)
    }
}

fn injected(call: &str, when: When) -> String {
    format!("injected fault: {call} failed {when}")
}

/// A [`SecretStore`] wrapper that records calls and fails the armed ones.
///
/// Injected store failures are `StoreErrorKind::Transport` errors, like a lost
/// connection.
pub struct FaultyStore {
    inner: Arc<dyn SecretStore>,
    plan: FaultPlan,
}

impl FaultyStore {
    /// Wrap `inner`; faults and the call log live in `plan`.
    pub fn new(inner: Arc<dyn SecretStore>, plan: FaultPlan) -> Self {
        FaultyStore { inner, plan }
    }

    async fn call<T, F>(&self, op: &'static str, f: F) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = Result<T, StoreError>>,
    {
        match self.plan.on_call(op) {
            None => f.await,
            Some(When::Before) => Err(StoreError::new(
                StoreErrorKind::Transport,
                op,
                injected(op, When::Before),
            )),
            Some(When::After) => {
                let _ = f.await;
                Err(StoreError::new(
                    StoreErrorKind::Transport,
                    op,
                    injected(op, When::After),
                ))
            }
        }
    }
}

#[async_trait]
impl SecretStore for FaultyStore {
    async fn describe_secret(&self, secret_id: &str) -> Result<SecretDescription, StoreError> {
        self.call("DescribeSecret", self.inner.describe_secret(secret_id))
            .await
    }

    async fn get_secret_value(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<SecretVersion, StoreError> {
        self.call(
            "GetSecretValue",
            self.inner.get_secret_value(secret_id, version_id, stage),
        )
        .await
    }

    async fn put_secret_value(&self, input: PutSecretValue) -> Result<PutOutput, StoreError> {
        self.call("PutSecretValue", self.inner.put_secret_value(input))
            .await
    }

    async fn update_secret_version_stage(
        &self,
        input: UpdateVersionStage,
    ) -> Result<(), StoreError> {
        self.call(
            "UpdateSecretVersionStage",
            self.inner.update_secret_version_stage(input),
        )
        .await
    }

    async fn get_random_password(
        &self,
        policy: &PasswordPolicy,
    ) -> Result<SecretString, StoreError> {
        self.call("GetRandomPassword", self.inner.get_random_password(policy))
            .await
    }

    async fn create_secret(&self, input: CreateSecret) -> Result<PutOutput, StoreError> {
        self.call("CreateSecret", self.inner.create_secret(input))
            .await
    }

    async fn list_secret_version_ids(
        &self,
        secret_id: &str,
    ) -> Result<Vec<VersionSummary>, StoreError> {
        self.call(
            "ListSecretVersionIds",
            self.inner.list_secret_version_ids(secret_id),
        )
        .await
    }
}

/// A [`Rotator`] wrapper that records calls (`next_value`, `set`, `test`,
/// `after_finish`) and fails the armed ones.
pub struct FaultyRotator {
    inner: Arc<dyn Rotator>,
    plan: FaultPlan,
}

impl FaultyRotator {
    /// Wrap `inner`; faults and the call log live in `plan`.
    pub fn new(inner: Arc<dyn Rotator>, plan: FaultPlan) -> Self {
        FaultyRotator { inner, plan }
    }

    async fn call<T, F>(&self, name: &'static str, f: F) -> Result<T, BoxError>
    where
        F: std::future::Future<Output = Result<T, BoxError>>,
    {
        match self.plan.on_call(name) {
            None => f.await,
            Some(When::Before) => Err(injected(name, When::Before).into()),
            Some(When::After) => {
                let _ = f.await;
                Err(injected(name, When::After).into())
            }
        }
    }
}

#[async_trait]
impl Rotator for FaultyRotator {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, BoxError> {
        self.call("next_value", self.inner.next_value(versions))
            .await
    }

    async fn set(&self, versions: &Versions<'_>) -> Result<(), BoxError> {
        self.call("set", self.inner.set(versions)).await
    }

    async fn test(&self, versions: &Versions<'_>) -> Result<(), BoxError> {
        self.call("test", self.inner.test(versions)).await
    }

    async fn after_finish(&self, versions: &Versions<'_>) -> Result<(), BoxError> {
        self.call("after_finish", self.inner.after_finish(versions))
            .await
    }
}
