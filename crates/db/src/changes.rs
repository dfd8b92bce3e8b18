//! [`Changes`]: where an engine's setSecret sends each change, to the server now or into a
//! dry run's plan; and [`SecretSql`], a statement with a password or hash in it, kept with
//! its redacted form.
//!
//! An engine's setSecret reads and checks everything first, then passes each change
//! through [`Changes::admit`] before running it. In a dry run `admit` records the change
//! (its statement redacted) and answers `false`, so the same code path that would run the
//! statements is the one that lists them.
//!
//! ```
//! use rotwise_core::SecretString;
//! use rotwise_core::plan::{ChangeKind, REDACTED_HASH};
//! use rotwise_db::changes::{Changes, SecretSql};
//!
//! let stmt = SecretSql::new(
//!     "ALTER ROLE app PASSWORD 'hash'".to_string(),
//!     format!("ALTER ROLE app PASSWORD '{REDACTED_HASH}'"),
//! );
//! let mut changes = Changes::dry_run();
//! assert!(!changes.admit("app", ChangeKind::SetPassword, || stmt.shown().to_owned()));
//! let plan = changes.into_plan();
//! assert_eq!(plan.changes[0].statement.as_deref(), Some("ALTER ROLE app PASSWORD '<redacted hash>'"));
//! assert!(!format!("{stmt:?}").contains("'hash'"));
//!
//! let mut changes = Changes::apply();
//! assert!(changes.admit("app", ChangeKind::SetPassword, || unreachable!()));
//! ```

use std::fmt;

use rotwise_core::plan::{ChangeKind, PlannedChange, SetPlan};
use rotwise_core::{ExposeSecret, SecretString};

/// A statement holding a password or its hash: the text to run (secret, zeroed on drop,
/// never in `Debug`) and the text to show, with the password or hash replaced by
/// [`REDACTED_PASSWORD`](rotwise_core::plan::REDACTED_PASSWORD) /
/// [`REDACTED_HASH`](rotwise_core::plan::REDACTED_HASH).
pub struct SecretSql {
    run: SecretString,
    shown: String,
}

impl SecretSql {
    /// A statement from its two texts: build both with the same function, once with the
    /// real literal and once with the placeholder, so they differ only there.
    pub fn new(run: String, shown: String) -> SecretSql {
        SecretSql {
            run: SecretString::from(run),
            shown,
        }
    }

    /// The text to run.
    pub fn text(&self) -> &str {
        self.run.expose_secret()
    }

    /// The text to show (logs, dry runs).
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

impl fmt::Debug for SecretSql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SecretSql").field(&self.shown).finish()
    }
}

/// Where setSecret's changes go: run now ([`Changes::apply`]), or recorded for a dry run
/// ([`Changes::dry_run`]). Also collects the logins and notes of a dry run.
#[derive(Debug, Default)]
pub struct Changes {
    dry_run: bool,
    plan: SetPlan,
}

impl Changes {
    /// A real setSecret: every change runs.
    pub fn apply() -> Changes {
        Changes::default()
    }

    /// A dry run: nothing runs, everything is recorded.
    pub fn dry_run() -> Changes {
        Changes {
            dry_run: true,
            plan: SetPlan::default(),
        }
    }

    /// Whether this is a dry run.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// A change to `user`: `true` when the caller must make it now; in a dry run it is
    /// recorded with `shown()` (the statement, redacted) and the answer is `false`.
    pub fn admit(&mut self, user: &str, kind: ChangeKind, shown: impl FnOnce() -> String) -> bool {
        if !self.dry_run {
            return true;
        }
        self.plan.change(PlannedChange {
            user: user.to_owned(),
            kind,
            statement: Some(shown()),
        });
        false
    }

    /// A dry run's login (nothing is recorded in a real setSecret).
    pub fn login(&mut self, credential: impl Into<String>, user: &str) {
        if self.dry_run {
            self.plan.login(credential, user);
        }
    }

    /// A dry run's note for the reader (nothing is recorded in a real setSecret).
    pub fn note(&mut self, note: impl FnOnce() -> String) {
        if self.dry_run {
            self.plan.note(note());
        }
    }

    /// The plan recorded.
    pub fn into_plan(self) -> SetPlan {
        self.plan
    }
}
