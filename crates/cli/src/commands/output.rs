//! Output helpers shared by the commands.

use std::collections::BTreeMap;

use rotwise_core::store::SecretDescription;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Print `v` on stdout, pretty.
pub fn print_json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

/// An RFC 3339 date, or `null`.
pub fn date(t: Option<OffsetDateTime>) -> Value {
    rfc3339(t).map(Value::String).unwrap_or(Value::Null)
}

/// An RFC 3339 date.
pub fn rfc3339(t: Option<OffsetDateTime>) -> Option<String> {
    t.and_then(|t| t.format(&Rfc3339).ok())
}

/// Version id → its labels.
pub fn labels(d: &SecretDescription) -> BTreeMap<String, Vec<String>> {
    d.versions.clone()
}

/// `id [AWSCURRENT]; id [AWSPREVIOUS]`.
pub fn labels_text(l: &BTreeMap<String, Vec<String>>) -> String {
    l.iter()
        .map(|(id, s)| format!("{id} [{}]", s.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}
