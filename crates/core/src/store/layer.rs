//! Stores that wrap another store: the seven delegations written once.
//!
//! A wrapper that does something around every call (build the inner store on first use,
//! inject a fault, load and save a file) implements [`StoreLayer::around`] once; the
//! [`Layered`] adapter turns it into a [`SecretStore`]. Blanket impls make `&S`, `Box<S>`
//! and `Arc<S>` stores too, so plain sharing needs no wrapper at all.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;

use super::{
    CreateSecret, PutOutput, PutSecretValue, SecretDescription, SecretStore, SecretVersion,
    StoreError, UpdateVersionStage, VersionSummary,
};
use crate::password::PasswordPolicy;

/// The operations of [`SecretStore`], by their Secrets Manager names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `DescribeSecret`.
    DescribeSecret,
    /// `GetSecretValue`.
    GetSecretValue,
    /// `PutSecretValue`.
    PutSecretValue,
    /// `UpdateSecretVersionStage`.
    UpdateSecretVersionStage,
    /// `GetRandomPassword`.
    GetRandomPassword,
    /// `CreateSecret`.
    CreateSecret,
    /// `ListSecretVersionIds`.
    ListSecretVersionIds,
}

impl Operation {
    /// The API's name, e.g. `GetSecretValue`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::DescribeSecret => "DescribeSecret",
            Operation::GetSecretValue => "GetSecretValue",
            Operation::PutSecretValue => "PutSecretValue",
            Operation::UpdateSecretVersionStage => "UpdateSecretVersionStage",
            Operation::GetRandomPassword => "GetRandomPassword",
            Operation::CreateSecret => "CreateSecret",
            Operation::ListSecretVersionIds => "ListSecretVersionIds",
        }
    }

    /// Whether the operation changes the store.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Operation::PutSecretValue
                | Operation::UpdateSecretVersionStage
                | Operation::CreateSecret
        )
    }
}

/// A boxed store call's future.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// One [`SecretStore`] call, waiting for the store to run on.
pub type StoreCall<'a, T> = Box<dyn FnOnce(Arc<dyn SecretStore>) -> StoreFuture<'a, T> + Send + 'a>;

/// What a wrapping store does around each call of its inner store.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use rotwise_core::store::{Layered, MemoryStore, Operation, SecretStore, StoreCall, StoreFuture, StoreLayer};
///
/// /// Counts the calls that reach the inner store.
/// struct Counting { inner: Arc<dyn SecretStore>, calls: AtomicU64 }
///
/// impl StoreLayer for Counting {
///     fn around<'a, T: Send + 'a>(&'a self, _op: Operation, call: StoreCall<'a, T>) -> StoreFuture<'a, T> {
///         self.calls.fetch_add(1, Ordering::Relaxed);
///         call(self.inner.clone())
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let memory = Arc::new(MemoryStore::new());
/// let arn = memory.insert_secret("s", "v").unwrap();
/// let store = Layered(Counting { inner: memory, calls: AtomicU64::new(0) });
/// store.describe_secret(&arn).await.unwrap();
/// assert_eq!(store.0.calls.load(Ordering::Relaxed), 1);
/// # });
/// ```
pub trait StoreLayer: Send + Sync {
    /// Run `call` (the [`Operation`] `op`) on the inner store, doing what the layer does
    /// before and after.
    fn around<'a, T: Send + 'a>(
        &'a self,
        op: Operation,
        call: StoreCall<'a, T>,
    ) -> StoreFuture<'a, T>;
}

/// A [`StoreLayer`] as a [`SecretStore`].
#[derive(Debug, Default)]
pub struct Layered<L>(pub L);

macro_rules! call {
    ($self:ident, $op:ident, |$s:ident| $body:expr) => {
        $self
            .0
            .around(
                Operation::$op,
                Box::new(move |$s: Arc<dyn SecretStore>| Box::pin(async move { $body.await })),
            )
            .await
    };
}

#[async_trait]
impl<L: StoreLayer> SecretStore for Layered<L> {
    async fn describe_secret(&self, secret_id: &str) -> Result<SecretDescription, StoreError> {
        call!(self, DescribeSecret, |s| s.describe_secret(secret_id))
    }

    async fn get_secret_value(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<SecretVersion, StoreError> {
        call!(self, GetSecretValue, |s| s
            .get_secret_value(secret_id, version_id, stage))
    }

    async fn put_secret_value(&self, input: PutSecretValue) -> Result<PutOutput, StoreError> {
        call!(self, PutSecretValue, |s| s.put_secret_value(input))
    }

    async fn update_secret_version_stage(
        &self,
        input: UpdateVersionStage,
    ) -> Result<(), StoreError> {
        call!(self, UpdateSecretVersionStage, |s| s
            .update_secret_version_stage(input))
    }

    async fn get_random_password(
        &self,
        policy: &PasswordPolicy,
    ) -> Result<SecretString, StoreError> {
        call!(self, GetRandomPassword, |s| s.get_random_password(policy))
    }

    async fn create_secret(&self, input: CreateSecret) -> Result<PutOutput, StoreError> {
        call!(self, CreateSecret, |s| s.create_secret(input))
    }

    async fn list_secret_version_ids(
        &self,
        secret_id: &str,
    ) -> Result<Vec<VersionSummary>, StoreError> {
        call!(self, ListSecretVersionIds, |s| s
            .list_secret_version_ids(secret_id))
    }
}

macro_rules! forward_store {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<S: SecretStore + ?Sized> SecretStore for $ty {
            async fn describe_secret(&self, secret_id: &str) -> Result<SecretDescription, StoreError> {
                (**self).describe_secret(secret_id).await
            }
            async fn get_secret_value(
                &self,
                secret_id: &str,
                version_id: Option<&str>,
                stage: Option<&str>,
            ) -> Result<SecretVersion, StoreError> {
                (**self).get_secret_value(secret_id, version_id, stage).await
            }
            async fn put_secret_value(&self, input: PutSecretValue) -> Result<PutOutput, StoreError> {
                (**self).put_secret_value(input).await
            }
            async fn update_secret_version_stage(&self, input: UpdateVersionStage) -> Result<(), StoreError> {
                (**self).update_secret_version_stage(input).await
            }
            async fn get_random_password(&self, policy: &PasswordPolicy) -> Result<SecretString, StoreError> {
                (**self).get_random_password(policy).await
            }
            async fn create_secret(&self, input: CreateSecret) -> Result<PutOutput, StoreError> {
                (**self).create_secret(input).await
            }
            async fn list_secret_version_ids(&self, secret_id: &str) -> Result<Vec<VersionSummary>, StoreError> {
                (**self).list_secret_version_ids(secret_id).await
            }
        }
    )*};
}

forward_store!(&S, Box<S>, Arc<S>);
