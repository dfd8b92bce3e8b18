//! Failure injection for tests (feature `fault-injection`, enabled only by the engines'
//! own tests through their `fault-injection` features): every read an engine's setSecret
//! makes before its first change, and every change, is a named point. `check` records the point and fails when it is the one `inject`ed, so a
//! test can prove that a failure at any read leaves the database unchanged, and that the
//! reads all come before the first write. Without the feature `check` does nothing.

use crate::DbError;

#[cfg(feature = "fault-injection")]
mod imp {
    use std::sync::Mutex;

    use crate::DbError;
    use rotwise_core::ErrorKind;

    static INJECTED: Mutex<Option<String>> = Mutex::new(None);
    static REACHED: Mutex<Vec<String>> = Mutex::new(Vec::new());

    /// Fail at `point` from now on (`None`: nowhere), and forget the points reached.
    pub fn inject(point: Option<&str>) {
        *INJECTED.lock().unwrap_or_else(|p| p.into_inner()) = point.map(str::to_owned);
        REACHED.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The points reached since the last `inject`, in order.
    pub fn reached() -> Vec<String> {
        REACHED.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn check(point: &str) -> Result<(), DbError> {
        REACHED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(point.to_owned());
        if INJECTED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_deref()
            == Some(point)
        {
            return Err(DbError::rejected(
                ErrorKind::Target,
                format!("injected failure at {point}"),
            ));
        }
        Ok(())
    }
}

#[cfg(feature = "fault-injection")]
pub use imp::{inject, reached};

/// A read (`read:…`) or a change (`write:…`) setSecret is about to make.
#[inline]
pub fn check(point: &str) -> Result<(), DbError> {
    #[cfg(feature = "fault-injection")]
    {
        imp::check(point)
    }
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = point;
        Ok(())
    }
}
