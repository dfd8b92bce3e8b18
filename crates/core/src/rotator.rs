//! The [`Rotator`] trait: what a system-specific rotation function implements; the
//! [`LoginProbe`] that says whether a secret value works on the system; the [`Strategy`].

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;
use tokio::sync::OnceCell;

use crate::error::{ErrorKind, RotatorError};
use crate::event::Step;
use crate::password::PasswordPolicy;
use crate::plan::SetPlan;
use crate::store::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, SecretDescription, SecretPayload, SecretStore,
    SecretVersion, StoreError,
};

/// How a credential is rotated: the one strategy type of the workspace (engines, the
/// Lambda's `ROTATION_STRATEGY`, the test kit's conformance suite).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// One user whose password changes in place (AWS's `…SingleUser` functions): after a
    /// rotation, AWSPREVIOUS no longer works.
    Single,
    /// Two users taking turns (AWS's `…MultiUser` functions): AWSPREVIOUS keeps working
    /// until the rotation after next.
    Alternating,
}

impl Strategy {
    /// The name as `ROTATION_STRATEGY` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Single => "single",
            Strategy::Alternating => "alternating",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A strategy name other than `single` or `alternating`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown rotation strategy {0:?}: use single or alternating")]
pub struct UnknownStrategy(pub String);

impl FromStr for Strategy {
    type Err = UnknownStrategy;

    /// `single` or `alternating`, any case, surrounding spaces ignored.
    ///
    /// ```
    /// use rotwise_core::Strategy;
    /// assert_eq!(" Alternating ".parse::<Strategy>().unwrap(), Strategy::Alternating);
    /// assert!("sideways".parse::<Strategy>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "single" => Ok(Strategy::Single),
            "alternating" => Ok(Strategy::Alternating),
            _ => Err(UnknownStrategy(s.to_owned())),
        }
    }
}

/// "Does this secret value work on the target?", asked with a fresh login or request, never
/// with state a rotator cached.
///
/// One trait for every caller: the test kit's conformance suite checks its invariants
/// with it, the CLI proves a rotation with it and `doctor` finds drift with it. The
/// engines' rotators implement it.
///
/// - `Ok(true)`: the target accepted the value.
/// - `Ok(false)`: the target refused it (wrong password, unknown user).
/// - `Err(e)`: the check could not run; [`RotatorError::kind`] says why (unreachable,
///   TLS, a malformed value, ...).
///
/// ```
/// use async_trait::async_trait;
/// use rotwise_core::{ExposeSecret, LoginProbe, RotatorError, SecretPayload};
///
/// struct OnlyHunter2;
///
/// #[async_trait]
/// impl LoginProbe for OnlyHunter2 {
///     async fn accepts(&self, value: &SecretPayload) -> Result<bool, RotatorError> {
///         Ok(value.as_string().is_some_and(|s| s.expose_secret() == "hunter2"))
///     }
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// assert!(OnlyHunter2.accepts(&"hunter2".into()).await.unwrap());
/// assert!(!OnlyHunter2.accepts(&"letmein".into()).await.unwrap());
/// # });
/// ```
#[async_trait]
pub trait LoginProbe: Send + Sync {
    /// Whether `value` works on the target now.
    async fn accepts(&self, value: &SecretPayload) -> Result<bool, RotatorError>;
}

#[async_trait]
impl<T: LoginProbe + ?Sized> LoginProbe for &T {
    async fn accepts(&self, value: &SecretPayload) -> Result<bool, RotatorError> {
        (**self).accepts(value).await
    }
}

#[async_trait]
impl<T: LoginProbe + ?Sized> LoginProbe for Box<T> {
    async fn accepts(&self, value: &SecretPayload) -> Result<bool, RotatorError> {
        (**self).accepts(value).await
    }
}

#[async_trait]
impl<T: LoginProbe + ?Sized> LoginProbe for Arc<T> {
    async fn accepts(&self, value: &SecretPayload) -> Result<bool, RotatorError> {
        (**self).accepts(value).await
    }
}

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
/// use rotwise_core::{Rotator, RotatorError, SecretPayload, Versions};
///
/// /// Rotates a value that nothing outside the secret depends on.
/// struct RandomToken;
///
/// #[async_trait]
/// impl Rotator for RandomToken {
///     fn name(&self) -> &str { "random-token" }
///     async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
///         Ok(versions.new_password().await?.into())
///     }
///     async fn set(&self, _versions: &Versions<'_>) -> Result<(), RotatorError> { Ok(()) }
///     async fn test(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
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
    /// new password from [`Versions::new_password`]. Must not change anything outside
    /// the returned value: the driver puts it without reading the pending version first,
    /// so a retried createSecret calls this again and the value is discarded when the
    /// token already holds one (the service answers `ResourceExistsException` and the
    /// earlier value is kept).
    async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, RotatorError>;

    /// setSecret: make the target accept the pending value. Must be idempotent.
    async fn set(&self, versions: &Versions<'_>) -> Result<(), RotatorError>;

    /// testSecret: prove the pending value works on the target.
    async fn test(&self, versions: &Versions<'_>) -> Result<(), RotatorError>;

    /// After finishSecret moved AWSCURRENT (e.g. revoke the previous API key). The
    /// default does nothing. Not re-run when a retried finishSecret finds the token
    /// already current, so keep it safe to skip (the next rotation can clean up).
    async fn after_finish(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        let _ = versions;
        Ok(())
    }

    /// A dry run of setSecret ([`Driver::dry_run`](crate::Driver::dry_run)): read and check
    /// what [`Rotator::set`] would, log in only with the current credential (and, where
    /// setSecret needs one, the master's), and describe the changes without making any.
    /// [`Versions::pending`] holds the value createSecret would put; it is not in the
    /// store. The default says this rotator cannot tell without running setSecret.
    async fn plan(&self, versions: &Versions<'_>) -> Result<SetPlan, RotatorError> {
        let _ = versions;
        Err(RotatorError::new(
            ErrorKind::Configuration,
            format!(
                "the {} rotator cannot describe its setSecret without running it: no dry run",
                self.name()
            ),
        ))
    }
}

macro_rules! forward_rotator {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: Rotator + ?Sized> Rotator for $ty {
            fn name(&self) -> &str {
                (**self).name()
            }
            async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
                (**self).next_value(versions).await
            }
            async fn set(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
                (**self).set(versions).await
            }
            async fn test(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
                (**self).test(versions).await
            }
            async fn after_finish(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
                (**self).after_finish(versions).await
            }
            async fn plan(&self, versions: &Versions<'_>) -> Result<SetPlan, RotatorError> {
                (**self).plan(versions).await
            }
        }
    )*};
}

forward_rotator!(&T, Box<T>, Arc<T>);

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

    /// `DescribeSecret` of another secret (the tags of a master secret RDS or Redshift
    /// manages).
    pub async fn describe_other(&self, secret_id: &str) -> Result<SecretDescription, StoreError> {
        self.store.describe_secret(secret_id).await
    }

    /// A new password from the configured [`PasswordSource`].
    pub async fn new_password(&self) -> Result<SecretString, RotatorError> {
        match self.passwords {
            PasswordSource::Local(policy) => Ok(policy.generate()?),
            PasswordSource::Service(policy) => Ok(self.store.get_random_password(policy).await?),
        }
    }

    /// Record a value the driver already read, so the rotator does not fetch it again.
    pub(crate) fn prime_current(&self, version: SecretVersion) {
        let _ = self.current.set(version);
    }

    /// A dry run's pending value: built by createSecret's rotator code, never put.
    pub(crate) fn prime_pending(&self, version: SecretVersion) {
        let _ = self.pending.set(version);
    }
}
