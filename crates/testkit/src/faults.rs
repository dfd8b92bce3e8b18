//! Fault injection: make any store call or rotator call fail at a chosen point.
//!
//! [`FaultyStore`] (a [`StoreLayer`]: `Layered(FaultyStore::new(inner, plan))` is the
//! [`SecretStore`]) and [`FaultyRotator`] wrap a real store or rotator and pass every call
//! through, except the one a [`Fault`] is armed for:
//!
//! - [`When::Before`]: the call fails before it takes effect (the request never
//!   reached the service, the rotator never touched the target);
//! - [`When::After`]: the call takes effect, then fails before it returns (a timeout
//!   after the service or the database did the work). This is the case that finds
//!   non-idempotent steps.
//!
//! Both wrappers also record every call, which is how the conformance suite learns
//! which calls each step makes and how tests count API calls per rotation.
//!
//! ```
//! use std::sync::Arc;
//! use rotwise_core::store::{Layered, MemoryStore, SecretStore};
//! use rotwise_testkit::faults::{Fault, FaultPlan, FaultyStore, When};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let memory = Arc::new(MemoryStore::new());
//! let arn = memory.insert_secret("s", "v").unwrap();
//! let plan = FaultPlan::default();
//! let store: Arc<dyn SecretStore> =
//!     Arc::new(Layered(FaultyStore::new(memory.clone(), plan.clone())));
//!
//! plan.arm(Fault { call: "GetSecretValue".into(), nth: 0, when: When::Before });
//! let err = store.get_secret_value(&arn, None, Some("AWSCURRENT")).await.unwrap_err();
//! assert!(err.to_string().contains("injected fault: GetSecretValue failed before it takes effect"));
//! store.get_secret_value(&arn, None, Some("AWSCURRENT")).await.unwrap(); // fired once
//! assert_eq!(plan.log(), ["GetSecretValue", "GetSecretValue"]);
//! assert_eq!(plan.fired().len(), 1);
//! # });
//! ```

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rotwise_core::store::{
    Operation, SecretStore, StoreCall, StoreError, StoreErrorKind, StoreFuture, StoreLayer,
};
use rotwise_core::{ErrorKind, Rotator, RotatorError, SecretPayload, Versions};

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
    succeeded: Vec<String>,
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

    /// The calls whose real call succeeded, in order: those that took effect by the
    /// wrapped store's or rotator's own account, including those an [`When::After`]
    /// fault then failed. A call that failed on its own, or before it took effect, is
    /// left out (e.g. an `after_finish` whose store read failed).
    pub fn succeeded(&self) -> Vec<String> {
        self.lock().succeeded.clone()
    }

    /// Forget the call log (and [`FaultPlan::succeeded`]).
    pub fn reset_log(&self) {
        let mut plan = self.lock();
        plan.log.clear();
        plan.succeeded.clear();
    }

    /// Record that the real call `call` succeeded.
    fn on_success(&self, call: &str) {
        self.lock().succeeded.push(call.to_string());
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

/// A [`StoreLayer`] that records every call of its inner store and fails the armed ones;
/// [`Layered`](rotwise_core::store::Layered)`(FaultyStore::new(inner, plan))` is the
/// [`SecretStore`].
///
/// Injected store failures are `StoreErrorKind::Transport` errors, like a lost
/// connection (a rotator that returns one with `?` reports
/// `ErrorKind::Store(StoreErrorKind::Transport)`).
pub struct FaultyStore {
    inner: Arc<dyn SecretStore>,
    plan: FaultPlan,
}

impl FaultyStore {
    /// Wrap `inner`; faults and the call log live in `plan`.
    pub fn new(inner: Arc<dyn SecretStore>, plan: FaultPlan) -> Self {
        FaultyStore { inner, plan }
    }

    /// The plan this store records into and takes its faults from.
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }
}

impl StoreLayer for FaultyStore {
    fn around<'a, T: Send + 'a>(
        &'a self,
        op: Operation,
        call: StoreCall<'a, T>,
    ) -> StoreFuture<'a, T> {
        Box::pin(async move {
            let name = op.as_str();
            let fail = |when| {
                Err(StoreError::new(
                    StoreErrorKind::Transport,
                    name,
                    injected(name, when),
                ))
            };
            let real = |call: StoreCall<'a, T>| async move {
                let result = call(self.inner.clone()).await;
                if result.is_ok() {
                    self.plan.on_success(name);
                }
                result
            };
            match self.plan.on_call(name) {
                None => real(call).await,
                Some(When::Before) => fail(When::Before),
                Some(When::After) => {
                    let _ = real(call).await;
                    fail(When::After)
                }
            }
        })
    }
}

/// A [`Rotator`] wrapper that records calls (`next_value`, `set`, `test`,
/// `after_finish`) and fails the armed ones.
///
/// An injected rotator failure is an [`ErrorKind::Internal`] [`RotatorError`] (a failure
/// that reaches the rotator from a [`FaultyStore`] keeps its store kind).
pub struct FaultyRotator {
    inner: Arc<dyn Rotator>,
    plan: FaultPlan,
}

impl FaultyRotator {
    /// Wrap `inner`; faults and the call log live in `plan`.
    pub fn new(inner: Arc<dyn Rotator>, plan: FaultPlan) -> Self {
        FaultyRotator { inner, plan }
    }

    async fn call<T, F>(&self, name: &'static str, f: F) -> Result<T, RotatorError>
    where
        F: std::future::Future<Output = Result<T, RotatorError>>,
    {
        let fail = |when| Err(RotatorError::new(ErrorKind::Internal, injected(name, when)));
        let real = async {
            let result = f.await;
            if result.is_ok() {
                self.plan.on_success(name);
            }
            result
        };
        match self.plan.on_call(name) {
            None => real.await,
            Some(When::Before) => fail(When::Before),
            Some(When::After) => {
                let _ = real.await;
                fail(When::After)
            }
        }
    }
}

#[async_trait]
impl Rotator for FaultyRotator {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
        self.call("next_value", self.inner.next_value(versions))
            .await
    }

    async fn set(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        self.call("set", self.inner.set(versions)).await
    }

    async fn test(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        self.call("test", self.inner.test(versions)).await
    }

    async fn after_finish(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        self.call("after_finish", self.inner.after_finish(versions))
            .await
    }
}
