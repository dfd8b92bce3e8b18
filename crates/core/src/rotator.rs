//! The [`Rotator`] trait: what a system-specific rotation function implements.

use async_trait::async_trait;
use secrecy::SecretString;
use tokio::sync::OnceCell;

use crate::event::Step;
use crate::password::PasswordPolicy;
use crate::store::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, SecretDescription, SecretPayload, SecretStore,
    SecretVersion, StoreError,
};

/// A boxed error from a rotator: any error type converts into it with `?`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Where new passwords come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordSource {
    /// Generated in the process from the OS CSPRNG: no API call, no IAM permission.
    Local(PasswordPolicy),
    /// `GetRandomPassword` on the store (needs `secretsmanager:GetRandomPassword`).
    Service(PasswordPolicy),
}

impl Default for PasswordSource {
    fn default() -> Self {
        PasswordSource::Local(PasswordPolicy::default())
    }
}

/// A system whose credential Secrets Manager rotates.
///
/// The driver ([`crate::Driver`]) runs the protocol: label checks, reuse of a pending
/// version on retry, `PutSecretValue`, and the label move in finishSecret. A rotator
/// only knows its target system. It reads the versions it needs through [`Versions`]
/// (fetched lazily, each at most once per step) and never touches labels.
///
/// Contracts, checked by the test kit's conformance suite:
/// - [`Rotator::set`] is idempotent: after it succeeded, running it again changes
///   nothing that matters, and it succeeds.
/// - [`Rotator::test`] proves the pending value works with a fresh login/request; it
///   must fail when the target does not accept the pending value.
/// - No method puts a secret value into an error message or a log.
///
/// ```
/// use async_trait::async_trait;
/// use rotwise_core::{BoxError, Rotator, SecretPayload, Versions};
///
/// /// Rotates a value that nothing outside the secret depends on.
/// struct RandomToken;
///
/// #[async_trait]
/// impl Rotator for RandomToken {
///     fn name(&self) -> &str { "random-token" }
///     async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, BoxError> {
///         Ok(versions.new_password().await?.into())
///     }
///     async fn set(&self, _versions: &Versions<'_>) -> Result<(), BoxError> { Ok(()) }
///     async fn test(&self, versions: &Versions<'_>) -> Result<(), BoxError> {
///         versions.pending().await?;
///         Ok(())
///     }
/// }
/// let boxed: Box<dyn Rotator> = Box::new(RandomToken);
/// assert_eq!(boxed.name(), "random-token");
/// ```
#[async_trait]
pub trait Rotator: Send + Sync {
    /// A short name for logs, e.g. `postgres-single`.
    fn name(&self) -> &str;

    /// createSecret: the next value, usually derived from [`Versions::current`] with a
    /// new password from [`Versions::new_password`]. Called only when no pending
    /// value exists for the token yet.
    async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, BoxError>;

    /// setSecret: make the target accept the pending value. Must be idempotent.
    async fn set(&self, versions: &Versions<'_>) -> Result<(), BoxError>;

    /// testSecret: prove the pending value works on the target.
    async fn test(&self, versions: &Versions<'_>) -> Result<(), BoxError>;

    /// After finishSecret moved AWSCURRENT (e.g. revoke the previous API key). The
    /// default does nothing. Not re-run when a retried finishSecret finds the token
    /// already current, so keep it safe to skip (the next rotation can clean up).
    async fn after_finish(&self, versions: &Versions<'_>) -> Result<(), BoxError> {
        let _ = versions;
        Ok(())
    }
}

/// The secret's versions as one step sees them, read from the store on first use.
///
/// Each getter makes at most one `GetSecretValue` per step, so a rotator can call them
/// freely; values it never asks for are never fetched.
pub struct Versions<'a> {
    store: &'a dyn SecretStore,
    description: &'a SecretDescription,
    token: &'a str,
    step: Step,
    passwords: &'a PasswordSource,
    current: OnceCell<SecretVersion>,
    pending: OnceCell<SecretVersion>,
    previous: OnceCell<Option<SecretVersion>>,
}

impl<'a> Versions<'a> {
    /// A view for `step` of the rotation whose token is `token`.
    pub fn new(
        store: &'a dyn SecretStore,
        description: &'a SecretDescription,
        token: &'a str,
        step: Step,
        passwords: &'a PasswordSource,
    ) -> Self {
        Versions {
            store,
            description,
            token,
            step,
            passwords,
            current: OnceCell::new(),
            pending: OnceCell::new(),
            previous: OnceCell::new(),
        }
    }

    /// The secret's ARN.
    pub fn arn(&self) -> &str {
        &self.description.arn
    }

    /// The rotation's token: the pending version's id.
    pub fn token(&self) -> &str {
        self.token
    }

    /// The step being run.
    pub fn step(&self) -> Step {
        self.step
    }

    /// The `DescribeSecret` answer this step started from.
    pub fn description(&self) -> &SecretDescription {
        self.description
    }

    /// The AWSCURRENT version.
    pub async fn current(&self) -> Result<&SecretVersion, StoreError> {
        self.current
            .get_or_try_init(|| {
                self.store
                    .get_secret_value(&self.description.arn, None, Some(AWSCURRENT))
            })
            .await
    }

    /// The AWSPENDING version of this rotation (by token and stage).
    pub async fn pending(&self) -> Result<&SecretVersion, StoreError> {
        self.pending
            .get_or_try_init(|| {
                self.store.get_secret_value(
                    &self.description.arn,
                    Some(self.token),
                    Some(AWSPENDING),
                )
            })
            .await
    }

    /// The AWSPREVIOUS version, or `None` when there is none (a first rotation).
    pub async fn previous(&self) -> Result<Option<&SecretVersion>, StoreError> {
        let prev = self
            .previous
            .get_or_try_init(|| async {
                if self.description.version_with_stage(AWSPREVIOUS).is_none() {
                    return Ok(None);
                }
                match self
                    .store
                    .get_secret_value(&self.description.arn, None, Some(AWSPREVIOUS))
                    .await
                {
                    Ok(v) => Ok(Some(v)),
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await?;
        Ok(prev.as_ref())
    }

    /// The AWSCURRENT value of another secret (e.g. the master secret named by
    /// `masterarn`).
    pub async fn other_secret(&self, secret_id: &str) -> Result<SecretVersion, StoreError> {
        self.store
            .get_secret_value(secret_id, None, Some(AWSCURRENT))
            .await
    }

    /// A new password from the configured [`PasswordSource`].
    pub async fn new_password(&self) -> Result<SecretString, BoxError> {
        match self.passwords {
            PasswordSource::Local(policy) => Ok(policy.generate()?),
            PasswordSource::Service(policy) => Ok(self.store.get_random_password(policy).await?),
        }
    }

    /// Record a value the driver already read, so the rotator does not fetch it again.
    pub(crate) fn prime_current(&self, version: SecretVersion) {
        let _ = self.current.set(version);
    }
}
