//! Dry runs: what a rotation would do, found by the reads and the current login a real
//! one makes, with nothing written anywhere.
//!
//! [`Driver::dry_run`](crate::Driver::dry_run) runs the pre-checks, reads AWSCURRENT,
//! builds the next value as createSecret would (a fresh password that is never stored or
//! shown) and asks the rotator for its [`SetPlan`] ([`Rotator::plan`](crate::Rotator::plan)):
//! the logins setSecret would make, the users it would create or change and the
//! statements it would run, every password or hash replaced by a placeholder. The
//! [`DryRun`] adds the label moves createSecret and finishSecret would make.
//!
//! ```
//! use rotwise_core::plan::{ChangeKind, PlannedChange, SetPlan};
//!
//! let mut plan = SetPlan::default();
//! plan.login("AWSCURRENT", "app");
//! plan.change(PlannedChange {
//!     user: "app".into(),
//!     kind: ChangeKind::SetPassword,
//!     statement: Some("ALTER ROLE \"app\" PASSWORD '<redacted>'".into()),
//! });
//! assert_eq!(plan.logins[0].to_string(), "AWSCURRENT as \"app\"");
//! assert_eq!(plan.users_changed(), vec![("app", ChangeKind::SetPassword)]);
//! ```

use std::fmt;

/// The token of a dry run's pending version: not a valid `ClientRequestToken` (the
/// service takes 32 to 64 characters of letters, digits and hyphens), so it can never
/// name a stored version.
pub const DRY_RUN_TOKEN: &str = "<dry run: not stored>";

/// What stands in for a password in a shown statement.
pub const REDACTED_PASSWORD: &str = "<redacted password>";
/// What stands in for a password hash or verifier in a shown statement.
pub const REDACTED_HASH: &str = "<redacted hash>";

/// A login a dry run made (read-only sessions only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedLogin {
    /// Whose credential: `AWSCURRENT`, `AWSPREVIOUS`, `master secret <arn>`.
    pub credential: String,
    /// The user it logged in as.
    pub user: String,
}

impl fmt::Display for PlannedLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} as {:?}", self.credential, self.user)
    }
}

/// What a change does to a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// Create the user (the alternating clone on first use).
    CreateUser,
    /// Set the user's password.
    SetPassword,
    /// Make the user's grants, role memberships, settings or limits equal to its base
    /// user's (the alternating clone).
    MatchBaseUser,
}

impl ChangeKind {
    /// `create`, `set-password`, `match-base-user`: the JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::CreateUser => "create",
            ChangeKind::SetPassword => "set-password",
            ChangeKind::MatchBaseUser => "match-base-user",
        }
    }

    /// For people: `create`, `set the password of`, `make equal to its base user`.
    pub fn describe(self) -> &'static str {
        match self {
            ChangeKind::CreateUser => "create user",
            ChangeKind::SetPassword => "set the password of",
            ChangeKind::MatchBaseUser => "give its base user's grants and settings to",
        }
    }
}

/// One change setSecret would make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedChange {
    /// The user changed.
    pub user: String,
    /// What happens to it.
    pub kind: ChangeKind,
    /// The statement, exactly as it would run but with every password and hash replaced
    /// by [`REDACTED_PASSWORD`] / [`REDACTED_HASH`]; `None` for systems without
    /// statements.
    pub statement: Option<String>,
}

/// What setSecret would do, as a rotator found it without changing anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetPlan {
    /// The logins made, in order.
    pub logins: Vec<PlannedLogin>,
    /// The changes, in the order setSecret would make them (empty: nothing to change).
    pub changes: Vec<PlannedChange>,
    /// What else a reader should know (e.g. "the clone does not exist yet").
    pub notes: Vec<String>,
}

impl SetPlan {
    /// Record a login.
    pub fn login(&mut self, credential: impl Into<String>, user: impl Into<String>) {
        self.logins.push(PlannedLogin {
            credential: credential.into(),
            user: user.into(),
        });
    }

    /// Record a change.
    pub fn change(&mut self, change: PlannedChange) {
        self.changes.push(change);
    }

    /// Record a note.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Each user with what happens to it, first change first, without repeats.
    pub fn users_changed(&self) -> Vec<(&str, ChangeKind)> {
        let mut seen = Vec::<(&str, ChangeKind)>::new();
        for c in &self.changes {
            if !seen.iter().any(|(u, k)| *u == c.user && *k == c.kind) {
                seen.push((c.user.as_str(), c.kind));
            }
        }
        seen
    }
}

/// A label move a rotation would make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelMove {
    /// The step that makes it.
    pub step: crate::Step,
    /// The label.
    pub label: String,
    /// The version it leaves (`None`: no version holds it now).
    pub from: Option<String>,
    /// The version it goes to (`None`: removed).
    pub to: Option<String>,
}

impl fmt::Display for LabelMove {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = self.from.as_deref().unwrap_or("(none)");
        let to = self.to.as_deref().unwrap_or("(removed)");
        write!(f, "{}: {} {from} -> {to}", self.step, self.label)
    }
}

/// A dry run's whole answer: [`Driver::dry_run`](crate::Driver::dry_run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DryRun {
    /// The secret's ARN.
    pub arn: String,
    /// The rotator's name (`postgres-single`, ...).
    pub rotator: String,
    /// The user the next value names (createSecret's; the password is never shown).
    pub next_user: Option<String>,
    /// What setSecret would do.
    pub set: SetPlan,
    /// The label moves of createSecret and finishSecret, in order.
    pub labels: Vec<LabelMove>,
}
