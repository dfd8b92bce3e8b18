//! The rule every rotwise binary logs by: below INFO, only rotwise's own targets.
//!
//! Dependencies log secrets at DEBUG and TRACE: the database drivers their statements and
//! connection options, `lambda_runtime` the raw event with its `RotationToken`, the AWS SDK
//! its request bodies. So whatever filter a user writes (`RUST_LOG`, `AWS_LAMBDA_LOG_LEVEL`,
//! the CLI's `ROTWISE_LOG`), however specific its directives, a span or event below INFO is
//! kept only when its target is rotwise's own and not one of the `capped` targets (an
//! engine's driver targets, which the engines list). The Lambda binaries and the CLI apply
//! [`allowed`] as a filter after the user's.
//!
//! ```
//! use rotwise_core::logs::{is_own_target, is_under};
//! assert!(is_own_target("rotwise_postgres::connect"));
//! assert!(is_own_target("rotwise"));
//! assert!(!is_own_target("rotwisely"));
//! assert!(is_under("tokio_postgres::simple_query", "tokio_postgres"));
//! assert!(!is_under("tokio_postgres_rustls", "tokio_postgres"));
//! ```

use tracing::{Level, Metadata};

/// Whether a span or event may be logged: everything at INFO or less verbose; DEBUG and
/// TRACE only for rotwise's own targets ([`is_own_target`]) that are not under one of
/// `capped` ([`is_under`]).
pub fn allowed<'c>(meta: &Metadata<'_>, capped: impl IntoIterator<Item = &'c str>) -> bool {
    // In tracing, more verbose levels compare greater (TRACE > DEBUG > INFO).
    if *meta.level() <= Level::INFO {
        return true;
    }
    let target = meta.target();
    is_own_target(target) && !capped.into_iter().any(|c| is_under(target, c))
}

/// Whether `target` belongs to rotwise: its crate (the part before the first `::`) is
/// `rotwise` (the CLI) or starts with `rotwise_`.
pub fn is_own_target(target: &str) -> bool {
    let krate = target.split("::").next().unwrap_or(target);
    krate == "rotwise" || krate.starts_with("rotwise_")
}

/// Whether `target` is `prefix` or one of its modules (`prefix::...`).
pub fn is_under(target: &str, prefix: &str) -> bool {
    target == prefix
        || target
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with("::"))
}
