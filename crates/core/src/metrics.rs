//! What a rotation costs, counted as it happens: the Secrets Manager calls (a
//! [`CallCounter`] around the store) and the database logins (process-wide counters the
//! engines bump through [`record_login`]; a custom rotator that logs in somewhere calls it
//! too). The Lambda turns the difference before and after a step into its metrics, the CLI
//! into its `--json` fields.
//!
//! ```
//! use std::sync::Arc;
//! use rotwise_core::metrics::{self, CallCounter, Counts};
//! use rotwise_core::store::{Layered, MemoryStore, SecretStore};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let memory = Arc::new(MemoryStore::new());
//! let arn = memory.insert_secret("s", "v").unwrap();
//! let store = Layered(CallCounter::new(memory));
//! let before = Counts::now(&store.0);
//! store.describe_secret(&arn).await.unwrap();
//! metrics::record_login(false);
//! let step = Counts::now(&store.0) - before;
//! assert_eq!(step.secrets_manager_calls, 1);
//! assert!(step.logins >= 1 && step.failed_logins >= 1);
//! # });
//! ```

use std::ops::Sub;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::{Operation, SecretStore, StoreCall, StoreFuture, StoreLayer};

static LOGINS: AtomicU64 = AtomicU64::new(0);
static FAILED_LOGINS: AtomicU64 = AtomicU64::new(0);

/// Count one login to a target system, accepted or not. Process-wide: a Lambda handles one
/// invocation at a time, so the difference around a step is that step's.
pub fn record_login(accepted: bool) {
    LOGINS.fetch_add(1, Ordering::Relaxed);
    if !accepted {
        FAILED_LOGINS.fetch_add(1, Ordering::Relaxed);
    }
}

/// A [`StoreLayer`] that counts the calls reaching its inner store: wrap it in
/// [`crate::store::Layered`].
pub struct CallCounter {
    inner: Arc<dyn SecretStore>,
    calls: AtomicU64,
}

impl CallCounter {
    /// Count the calls to `inner`.
    pub fn new(inner: Arc<dyn SecretStore>) -> Self {
        CallCounter {
            inner,
            calls: AtomicU64::new(0),
        }
    }

    /// Calls so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

impl StoreLayer for CallCounter {
    fn around<'a, T: Send + 'a>(
        &'a self,
        _op: Operation,
        call: StoreCall<'a, T>,
    ) -> StoreFuture<'a, T> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        call(self.inner.clone())
    }
}

/// The counters at one moment; subtract two for what happened in between.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Secrets Manager API calls.
    pub secrets_manager_calls: u64,
    /// Logins to the target, accepted or refused.
    pub logins: u64,
    /// Of those, the ones that failed.
    pub failed_logins: u64,
}

impl Counts {
    /// The counters now: `store`'s calls and the process's logins.
    pub fn now(store: &CallCounter) -> Counts {
        Counts {
            secrets_manager_calls: store.calls(),
            logins: LOGINS.load(Ordering::Relaxed),
            failed_logins: FAILED_LOGINS.load(Ordering::Relaxed),
        }
    }
}

impl Sub for Counts {
    type Output = Counts;

    fn sub(self, earlier: Counts) -> Counts {
        Counts {
            secrets_manager_calls: self
                .secrets_manager_calls
                .saturating_sub(earlier.secrets_manager_calls),
            logins: self.logins.saturating_sub(earlier.logins),
            failed_logins: self.failed_logins.saturating_sub(earlier.failed_logins),
        }
    }
}

impl std::ops::Add for Counts {
    type Output = Counts;

    fn add(self, other: Counts) -> Counts {
        Counts {
            secrets_manager_calls: self.secrets_manager_calls + other.secrets_manager_calls,
            logins: self.logins + other.logins,
            failed_logins: self.failed_logins + other.failed_logins,
        }
    }
}
