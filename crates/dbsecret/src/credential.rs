//! Which credential a login or a secret belongs to.

use std::fmt;

/// Which credential a login or a secret belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// AWSCURRENT.
    Current,
    /// AWSPENDING.
    Pending,
    /// AWSPREVIOUS.
    Previous,
    /// The master secret (`masterarn`).
    Master,
    /// A value checked outside a rotation step.
    Given,
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Credential::Current => "current",
            Credential::Pending => "pending",
            Credential::Previous => "previous",
            Credential::Master => "master",
            Credential::Given => "given",
        })
    }
}
