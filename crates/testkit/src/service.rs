//! What Secrets Manager does on `RotateSecret`, run locally.
//!
//! [`LocalService`] plays the service's part of a rotation against a
//! [`MemoryStore`]: it refuses while another rotation is incomplete, creates the
//! value-less AWSPENDING version with a new token, invokes the four steps in order
//! through a [`StepHandler`] (the entry point a Lambda uses), stops at the first
//! failure leaving the state as the service would, and on success takes AWSPENDING off
//! the new current version. [`LocalService::resume`] is the service's retry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rotwise_core::store::MemoryStore;
use rotwise_core::{Driver, RotationEvent, Step};

/// The entry point a rotation function exposes: one raw event in, success or an error
/// message out. [`Driver`] implements it; a custom Lambda handler can too.
#[async_trait]
pub trait StepHandler: Send + Sync {
    /// Handle one invocation.
    async fn handle_event(&self, event: serde_json::Value) -> Result<(), String>;
}

#[async_trait]
impl StepHandler for Driver {
    async fn handle_event(&self, event: serde_json::Value) -> Result<(), String> {
        self.handle_json(&event)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// A finished rotation.
#[derive(Clone, Debug)]
pub struct RotationRun {
    /// The rotation's token: the new AWSCURRENT version.
    pub token: String,
    /// Each step and how long it took.
    pub steps: Vec<(Step, Duration)>,
}

/// A rotation that did not finish.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", match .step {
    Some(step) => format!("{step} failed for token {}: {}", .token.as_deref().unwrap_or("?"), .message),
    None => format!("RotateSecret refused: {}", .message),
})]
pub struct RotationFailed {
    /// The token, when the rotation got one.
    pub token: Option<String>,
    /// The step that failed; `None` when `RotateSecret` itself refused.
    pub step: Option<Step>,
    /// The error message.
    pub message: String,
}

/// The service's side of rotation, on a [`MemoryStore`].
#[derive(Clone)]
pub struct LocalService {
    store: Arc<MemoryStore>,
}

impl LocalService {
    /// A service over `store`.
    pub fn new(store: Arc<MemoryStore>) -> Self {
        LocalService { store }
    }

    /// The store.
    pub fn store(&self) -> &Arc<MemoryStore> {
        &self.store
    }

    /// `RotateSecret`: start a rotation and run the four steps.
    pub async fn rotate(
        &self,
        secret_id: &str,
        handler: &dyn StepHandler,
    ) -> Result<RotationRun, RotationFailed> {
        let token = self.begin(secret_id)?;
        self.run_steps(secret_id, &token, handler, &Step::ALL).await
    }

    /// Start a rotation (the value-less AWSPENDING version) without running any step.
    pub fn begin(&self, secret_id: &str) -> Result<String, RotationFailed> {
        self.store
            .begin_rotation(secret_id)
            .map_err(|e| RotationFailed {
                token: None,
                step: None,
                message: e.to_string(),
            })
    }

    /// Retry a rotation that failed: run all four steps again for `token`, as the
    /// service's retries do (every step is expected to be safe to repeat).
    pub async fn resume(
        &self,
        secret_id: &str,
        token: &str,
        handler: &dyn StepHandler,
    ) -> Result<RotationRun, RotationFailed> {
        self.run_steps(secret_id, token, handler, &Step::ALL).await
    }

    /// Run `steps` in order for `token`, stopping at the first failure; when the
    /// token ends up AWSCURRENT, finish the rotation as the service does.
    pub async fn run_steps(
        &self,
        secret_id: &str,
        token: &str,
        handler: &dyn StepHandler,
        steps: &[Step],
    ) -> Result<RotationRun, RotationFailed> {
        let mut timings = Vec::new();
        for &step in steps {
            let started = Instant::now();
            self.invoke(secret_id, token, step, handler).await?;
            timings.push((step, started.elapsed()));
        }
        let done = self
            .store
            .complete_rotation(secret_id, token)
            .map_err(|e| RotationFailed {
                token: Some(token.to_string()),
                step: None,
                message: e.to_string(),
            })?;
        if !done && steps.contains(&Step::FinishSecret) {
            return Err(RotationFailed {
                token: Some(token.to_string()),
                step: Some(Step::FinishSecret),
                message: "finishSecret succeeded but the token is not AWSCURRENT".into(),
            });
        }
        Ok(RotationRun {
            token: token.to_string(),
            steps: timings,
        })
    }

    /// Invoke one step, as the service does.
    pub async fn invoke(
        &self,
        secret_id: &str,
        token: &str,
        step: Step,
        handler: &dyn StepHandler,
    ) -> Result<(), RotationFailed> {
        let event =
            serde_json::to_value(RotationEvent::new(step, secret_id, token)).map_err(|e| {
                RotationFailed {
                    token: Some(token.to_string()),
                    step: Some(step),
                    message: e.to_string(),
                }
            })?;
        handler
            .handle_event(event)
            .await
            .map_err(|message| RotationFailed {
                token: Some(token.to_string()),
                step: Some(step),
                message,
            })
    }
}
