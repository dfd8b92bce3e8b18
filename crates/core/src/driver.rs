//! The four-step driver: AWS's pre-checks, createSecret and finishSecret.

use std::sync::Arc;
use std::time::Instant;

use tracing::Instrument;

use secrecy::ExposeSecret;

use crate::error::{ErrorKind, PrecheckError, RotationError, RotatorError, StepName};
use crate::event::{RotationEvent, Step};
use crate::plan::{DRY_RUN_TOKEN, DryRun, LabelMove};
use crate::rotator::{PasswordSource, Rotator, Versions};
use crate::store::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, PutSecretValue, SecretDescription, SecretStore,
    SecretVersion, StoreError, StoreErrorKind, UpdateVersionStage,
};

/// What a successful step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// The step ran.
    Done(Step),
    /// createSecret found a pending value for this token (a retry, or a concurrent
    /// createSecret) and kept it: the service refused the new value with
    /// `ResourceExistsException`.
    ReusedPending,
    /// The token is already AWSCURRENT: the rotation finished, nothing to do (AWS's rule;
    /// the step name is not even checked).
    AlreadyCurrent,
}

/// Runs rotation steps for one [`Rotator`] against one [`SecretStore`].
///
/// Build it once per process and reuse it across invocations.
///
/// ```
/// # use std::sync::Arc;
/// # use async_trait::async_trait;
/// use rotwise_core::{Driver, RotationEvent, Rotator, RotatorError, SecretPayload, Step, Versions};
/// use rotwise_core::store::{MemoryStore, SecretStore, AWSCURRENT};
/// # struct Token;
/// # #[async_trait]
/// # impl Rotator for Token {
/// #     fn name(&self) -> &str { "token" }
/// #     async fn next_value(&self, v: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
/// #         Ok(v.new_password().await?.into())
/// #     }
/// #     async fn set(&self, _: &Versions<'_>) -> Result<(), RotatorError> { Ok(()) }
/// #     async fn test(&self, v: &Versions<'_>) -> Result<(), RotatorError> { v.pending().await?; Ok(()) }
/// # }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = Arc::new(MemoryStore::new());
/// let arn = store.insert_secret("api-key", "first").unwrap();
/// let driver = Driver::new(store.clone(), Arc::new(Token));
///
/// let token = store.begin_rotation(&arn).unwrap(); // what RotateSecret does
/// for step in Step::ALL {
///     driver.handle(&RotationEvent::new(step, &arn, &token)).await.unwrap();
/// }
/// let d = store.describe_secret(&arn).await.unwrap();
/// assert_eq!(d.version_with_stage(AWSCURRENT), Some(token.as_str()));
/// # });
/// ```
pub struct Driver {
    store: Arc<dyn SecretStore>,
    rotator: Arc<dyn Rotator>,
    passwords: PasswordSource,
    /// Run the steps even when `RotationEnabled` is false ([`Driver::finishing_by_hand`]).
    by_hand: bool,
}

impl Driver {
    /// A driver with locally generated passwords of the default policy.
    pub fn new(store: Arc<dyn SecretStore>, rotator: Arc<dyn Rotator>) -> Self {
        Driver {
            store,
            rotator,
            passwords: PasswordSource::default(),
            by_hand: false,
        }
    }

    /// For an operator finishing a rotation by hand (`rotwise doctor --fix`): skip the
    /// `RotationEnabled` pre-check, the only one that does not protect the secret.
    /// `CancelRotateSecret` turns rotation off and leaves AWSPENDING where it was, possibly
    /// after setSecret already gave the database that value; the rotation function
    /// refuses such a secret, yet finishing it is what makes its AWSCURRENT log in again.
    /// Every other check (the token's version exists, holds AWSPENDING, is not already
    /// AWSCURRENT) still runs.
    pub fn finishing_by_hand(mut self) -> Self {
        self.by_hand = true;
        self
    }

    /// Use `passwords` for new passwords.
    pub fn with_passwords(mut self, passwords: PasswordSource) -> Self {
        self.passwords = passwords;
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SecretStore> {
        &self.store
    }

    /// The rotator.
    pub fn rotator(&self) -> &Arc<dyn Rotator> {
        &self.rotator
    }

    /// Handle a raw Lambda event: parse it (a malformed event is an error that reads and
    /// changes nothing), then [`Driver::handle`].
    pub async fn handle_json(
        &self,
        event: &serde_json::Value,
    ) -> Result<StepOutcome, RotationError> {
        let event = RotationEvent::from_json(event)?;
        self.handle(&event).await
    }

    /// Handle one rotation step.
    pub async fn handle(&self, event: &RotationEvent) -> Result<StepOutcome, RotationError> {
        let span = tracing::info_span!(
            "rotation_step",
            secret = %event.secret_id,
            token = %event.client_request_token,
            step = %event.step,
            rotator = self.rotator.name(),
        );
        async {
            let started = Instant::now();
            let result = self.run(event).await;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            match &result {
                Ok(outcome) => tracing::info!(duration_ms = ms, ?outcome, "step succeeded"),
                Err(e) => tracing::error!(duration_ms = ms, error = %e, "step failed"),
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn run(&self, event: &RotationEvent) -> Result<StepOutcome, RotationError> {
        let secret_id = &event.secret_id;
        let token = &event.client_request_token;
        let description = self
            .store
            .describe_secret(secret_id)
            .await
            .map_err(|source| RotationError::Store {
                step: StepName(event.step.clone()),
                source,
            })?;

        // AWS's pre-checks, in AWS's order.
        if description.rotation_enabled == Some(false) && !self.by_hand {
            return Err(PrecheckError::RotationDisabled {
                secret_id: secret_id.clone(),
            }
            .into());
        }
        if !description.versions.contains_key(token.as_str()) {
            return Err(PrecheckError::NoStage {
                token: token.clone(),
                secret_id: secret_id.clone(),
            }
            .into());
        }
        if description.has_stage(token, AWSCURRENT) {
            tracing::info!("version is already AWSCURRENT; nothing to do");
            return Ok(StepOutcome::AlreadyCurrent);
        }
        if !description.has_stage(token, AWSPENDING) {
            return Err(PrecheckError::NotPending {
                token: token.clone(),
                secret_id: secret_id.clone(),
            }
            .into());
        }
        let step: Step = event.step.parse().map_err(|_| PrecheckError::InvalidStep {
            step: event.step.clone(),
            secret_id: secret_id.clone(),
        })?;

        let versions = Versions::new(
            self.store.as_ref(),
            &description,
            token,
            step,
            &self.passwords,
        );
        let store_err = |source: StoreError| RotationError::Store {
            step: StepName(step.as_str().to_string()),
            source,
        };
        let rotator_err = |source| RotationError::Rotator {
            step,
            secret_id: secret_id.clone(),
            source,
        };
        match step {
            Step::CreateSecret => self.create(event, &description, &versions).await,
            Step::SetSecret => {
                self.rotator.set(&versions).await.map_err(rotator_err)?;
                Ok(StepOutcome::Done(step))
            }
            Step::TestSecret => {
                self.rotator.test(&versions).await.map_err(rotator_err)?;
                Ok(StepOutcome::Done(step))
            }
            Step::FinishSecret => {
                let current = description.version_with_stage(AWSCURRENT).ok_or_else(|| {
                    RotationError::NoCurrentVersion {
                        step,
                        secret_id: secret_id.clone(),
                    }
                })?;
                self.store
                    .update_secret_version_stage(UpdateVersionStage {
                        secret_id: description.arn.clone(),
                        stage: AWSCURRENT.to_string(),
                        move_to: Some(token.clone()),
                        remove_from: Some(current.to_string()),
                    })
                    .await
                    .map_err(store_err)?;
                tracing::info!(previous = current, "moved AWSCURRENT to the new version");
                self.rotator
                    .after_finish(&versions)
                    .await
                    .map_err(rotator_err)?;
                Ok(StepOutcome::Done(step))
            }
        }
    }

    /// A dry run of a new rotation of `secret_id`: the checks `RotateSecret` and the
    /// steps make, createSecret's next value (its password generated, never stored or
    /// shown), then the rotator's [`SetPlan`](crate::plan::SetPlan) and the label moves.
    /// Reads only: `DescribeSecret`, `GetSecretValue` (and `GetRandomPassword` when the
    /// passwords come from the service); nothing is put, labelled or changed on the
    /// target.
    ///
    /// Refused when a rotation is in progress (AWSPENDING on a version that is not
    /// AWSCURRENT): a new one would be refused too.
    pub async fn dry_run(&self, secret_id: &str) -> Result<DryRun, RotationError> {
        let store_err = |step: Step| {
            move |source| RotationError::Store {
                step: StepName(step.as_str().to_string()),
                source,
            }
        };
        let rotator_err = |step: Step| {
            move |source| RotationError::Rotator {
                step,
                secret_id: secret_id.to_string(),
                source,
            }
        };
        let description = self
            .store
            .describe_secret(secret_id)
            .await
            .map_err(store_err(Step::CreateSecret))?;
        if let Some(pending) = description.version_with_stage(AWSPENDING)
            && !description.has_stage(pending, AWSCURRENT)
        {
            return Err(rotator_err(Step::CreateSecret)(RotatorError::new(
                ErrorKind::Conflict,
                format!(
                    "a rotation is in progress: version {pending} holds AWSPENDING, so a new rotation \
                     would be refused; finish or discard it first (`rotwise doctor` says which)"
                ),
            )));
        }
        let no_current = || RotationError::NoCurrentVersion {
            step: Step::CreateSecret,
            secret_id: secret_id.to_string(),
        };
        let current_id = description
            .version_with_stage(AWSCURRENT)
            .ok_or_else(no_current)?
            .to_string();
        let token = DRY_RUN_TOKEN;
        let create = Versions::new(
            self.store.as_ref(),
            &description,
            token,
            Step::CreateSecret,
            &self.passwords,
        );
        let current = match create.current().await {
            Ok(c) => c.clone(),
            Err(e) if e.is_not_found() => return Err(no_current()),
            Err(e) => return Err(store_err(Step::CreateSecret)(e)),
        };
        let payload = self
            .rotator
            .next_value(&create)
            .await
            .map_err(rotator_err(Step::CreateSecret))?;
        let next_user = payload
            .as_string()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(s.expose_secret()).ok())
            .and_then(|v| v.get("username")?.as_str().map(str::to_owned));
        let set = Versions::new(
            self.store.as_ref(),
            &description,
            token,
            Step::SetSecret,
            &self.passwords,
        );
        set.prime_pending(SecretVersion {
            arn: description.arn.clone(),
            name: description.name.clone(),
            version_id: token.to_string(),
            stages: vec![AWSPENDING.to_string()],
            payload,
            created: None,
        });
        set.prime_current(current);
        let plan = self
            .rotator
            .plan(&set)
            .await
            .map_err(rotator_err(Step::SetSecret))?;
        let new = Some("(new version)".to_string());
        let label = |step, label: &str, from: Option<String>, to: Option<String>| LabelMove {
            step,
            label: label.to_string(),
            from,
            to,
        };
        let labels = vec![
            label(Step::CreateSecret, AWSPENDING, None, new.clone()),
            label(
                Step::FinishSecret,
                AWSCURRENT,
                Some(current_id.clone()),
                new.clone(),
            ),
            label(
                Step::FinishSecret,
                AWSPREVIOUS,
                description
                    .version_with_stage(AWSPREVIOUS)
                    .map(str::to_owned),
                Some(current_id),
            ),
            label(Step::FinishSecret, AWSPENDING, new, None),
        ];
        Ok(DryRun {
            arn: description.arn.clone(),
            rotator: self.rotator.name().to_string(),
            next_user,
            set: plan,
            labels,
        })
    }

    async fn create(
        &self,
        event: &RotationEvent,
        description: &SecretDescription,
        versions: &Versions<'_>,
    ) -> Result<StepOutcome, RotationError> {
        let step = Step::CreateSecret;
        let store_err = |source: StoreError| RotationError::Store {
            step: StepName(step.as_str().to_string()),
            source,
        };
        // Put first (ARCHITECTURE.md, "The call budget"): no read of the pending version.
        // The service's first attempt fills the value-less version RotateSecret made; a
        // retried or concurrent createSecret finds the token already holding a value, and
        // the service refuses to change an existing version (ResourceExistsException):
        // that value is kept, exactly as reading it first would have.
        let current = match versions.current().await {
            Ok(c) => c.clone(),
            Err(e) if e.is_not_found() => {
                return Err(RotationError::NoCurrentVersion {
                    step,
                    secret_id: event.secret_id.clone(),
                });
            }
            Err(e) => return Err(store_err(e)),
        };
        versions.prime_current(current);
        let value =
            self.rotator
                .next_value(versions)
                .await
                .map_err(|source| RotationError::Rotator {
                    step,
                    secret_id: event.secret_id.clone(),
                    source,
                })?;
        let put = self
            .store
            .put_secret_value(PutSecretValue {
                secret_id: description.arn.clone(),
                token: event.client_request_token.clone(),
                payload: value,
                stages: vec![AWSPENDING.to_string()],
                rotation_token: event.rotation_token.clone(),
            })
            .await;
        match put {
            Ok(_) => {}
            Err(e) if e.kind == StoreErrorKind::ResourceExists => {
                tracing::info!("a pending value exists for this token; keeping it");
                return Ok(StepOutcome::ReusedPending);
            }
            Err(e) => return Err(store_err(e)),
        }
        tracing::info!("put the new value as AWSPENDING");
        Ok(StepOutcome::Done(step))
    }
}
