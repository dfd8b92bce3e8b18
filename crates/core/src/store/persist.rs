//! Save and load a [`MemoryStore`]'s whole state as JSON, for the CLI's development
//! file store.
//!
//! The document holds secret values in plaintext: it is meant for a local file with
//! mode 0600 on a developer's machine, never for real secrets. Everything the store
//! knows round-trips: versions (including deprecated and value-less AWSPENDING ones),
//! stages, creation dates, rotation settings and `LastRotatedDate`.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{MemoryStore, Secret, State, Version};
use crate::store::{SecretPayload, StoreError, StoreErrorKind};

const FORMAT: &str = "rotwise-memory-store";
const FORMAT_VERSION: u32 = 1;
const OP: &str = "ImportJson";
/// The largest sequence number a document may hold: far more versions than any store
/// makes (2^53, also the largest integer every JSON reader keeps exactly), and far enough
/// from `u64::MAX` that counting on from it can never overflow.
const MAX_SEQ: u64 = 1 << 53;

#[derive(Serialize, Deserialize)]
struct Doc {
    format: String,
    version: u32,
    next_seq: u64,
    secrets: Vec<DocSecret>,
}

#[derive(Serialize, Deserialize)]
struct DocSecret {
    name: String,
    arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotation_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotation_lambda_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotation_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotation_schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_rotated: Option<String>,
    versions: Vec<DocVersion>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kms_key_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct DocVersion {
    id: String,
    stages: Vec<String>,
    created: String,
    seq: u64,
    /// `SecretString`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_string: Option<String>,
    /// `SecretBinary`, lowercase hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret_binary_hex: Option<String>,
}

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::new(StoreErrorKind::InvalidParameter, OP, message)
}

fn fmt_time(t: OffsetDateTime) -> String {
    // Rfc3339 only fails for years outside 0..=9999, which `now_utc` never produces.
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

fn parse_time(s: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| invalid(format!("bad date {s:?} in the store document: {e}")))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Result<Vec<u8>, StoreError> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(
            "secret_binary_hex is not an even-length hex string",
        ));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| invalid("bad hex digit")))
        .collect()
}

impl MemoryStore {
    /// The whole store as a JSON document (secret values in plaintext), for
    /// [`MemoryStore::import_json`].
    pub fn export_json(&self) -> String {
        let state = self.lock();
        let doc = Doc {
            format: FORMAT.to_string(),
            version: FORMAT_VERSION,
            next_seq: state.next_seq,
            secrets: state
                .secrets
                .values()
                .map(|s| {
                    let mut versions: Vec<_> = s.versions.iter().collect();
                    versions.sort_by_key(|(_, v)| v.seq);
                    DocSecret {
                        name: s.name.clone(),
                        arn: s.arn.clone(),
                        description: s.description.clone(),
                        rotation_enabled: s.rotation_enabled,
                        rotation_lambda_arn: s.rotation_lambda_arn.clone(),
                        rotation_days: s.rotation_days,
                        rotation_schedule: s.rotation_schedule.clone(),
                        last_rotated: s.last_rotated.map(fmt_time),
                        tags: s.tags.clone(),
                        kms_key_id: s.kms_key_id.clone(),
                        versions: versions
                            .into_iter()
                            .map(|(id, v)| {
                                let (secret_string, secret_binary_hex) = match &v.payload {
                                    Some(SecretPayload::String(s)) => {
                                        (Some(s.expose_secret().to_string()), None)
                                    }
                                    Some(SecretPayload::Binary(b)) => {
                                        (None, Some(to_hex(b.expose_secret())))
                                    }
                                    None => (None, None),
                                };
                                DocVersion {
                                    id: id.clone(),
                                    stages: v.stages.clone(),
                                    created: fmt_time(v.created),
                                    seq: v.seq,
                                    secret_string,
                                    secret_binary_hex,
                                }
                            })
                            .collect(),
                    }
                })
                .collect(),
        };
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }

    /// A store holding what [`MemoryStore::export_json`] wrote.
    ///
    /// Errors are `InvalidParameter` and never quote the document (it holds secret
    /// values): only the line and column of a syntax error, or which field is wrong.
    pub fn import_json(text: &str) -> Result<MemoryStore, StoreError> {
        let doc: Doc = serde_json::from_str(text).map_err(|e| {
            invalid(format!(
                "the store document is not valid ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        if doc.format != FORMAT || doc.version != FORMAT_VERSION {
            return Err(invalid(format!(
                "unsupported store document format {:?} version {} (expected {FORMAT:?} version {FORMAT_VERSION})",
                doc.format, doc.version
            )));
        }
        if doc.next_seq > MAX_SEQ {
            return Err(invalid(format!(
                "next_seq {} in the store document is out of range (at most {MAX_SEQ})",
                doc.next_seq
            )));
        }
        let mut secrets = BTreeMap::new();
        let mut max_seq = 0;
        for s in doc.secrets {
            let mut versions = BTreeMap::new();
            for v in s.versions {
                let payload = match (v.secret_string, v.secret_binary_hex) {
                    (Some(_), Some(_)) => {
                        return Err(invalid(format!(
                            "version {} of {} has both a string and a binary value",
                            v.id, s.name
                        )));
                    }
                    (Some(st), None) => Some(SecretPayload::String(SecretString::from(st))),
                    (None, Some(hex)) => {
                        Some(SecretPayload::Binary(SecretSlice::from(from_hex(&hex)?)))
                    }
                    (None, None) => None,
                };
                if v.seq >= MAX_SEQ {
                    return Err(invalid(format!(
                        "seq {} of a version of {} in the store document is out of range \
                         (below {MAX_SEQ})",
                        v.seq, s.name
                    )));
                }
                max_seq = max_seq.max(v.seq + 1);
                versions.insert(
                    v.id,
                    Version {
                        payload,
                        stages: v.stages,
                        created: parse_time(&v.created)?,
                        seq: v.seq,
                    },
                );
            }
            let last_rotated = s.last_rotated.as_deref().map(parse_time).transpose()?;
            secrets.insert(
                s.name.clone(),
                Secret {
                    arn: s.arn,
                    name: s.name,
                    description: s.description,
                    rotation_enabled: s.rotation_enabled,
                    rotation_lambda_arn: s.rotation_lambda_arn,
                    rotation_days: s.rotation_days,
                    rotation_schedule: s.rotation_schedule,
                    last_rotated,
                    versions,
                    tags: s.tags,
                    kms_key_id: s.kms_key_id,
                },
            );
        }
        let store = MemoryStore::new();
        *store.lock() = State {
            secrets,
            next_seq: doc.next_seq.max(max_seq),
        };
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AWSPENDING, PutSecretValue, SecretStore, UpdateVersionStage};

    #[tokio::test]
    async fn round_trip_keeps_everything() {
        let store = MemoryStore::new();
        store.insert_secret("a", r#"{"password":"one"}"#).unwrap();
        store
            .insert_secret_payload(
                "b",
                SecretPayload::Binary(SecretSlice::from(vec![0u8, 255])),
            )
            .unwrap();
        store
            .configure_rotation("a", Some(false), Some("arn:lambda"), Some(30))
            .unwrap();
        let token = store.begin_rotation("b").unwrap();
        // A deprecated version: put with a stage, then take the stage away.
        let dep = "d".repeat(32);
        store
            .put_secret_value(PutSecretValue {
                secret_id: "a".into(),
                token: dep.clone(),
                payload: "old".into(),
                stages: vec!["X".into()],
                rotation_token: None,
            })
            .await
            .unwrap();
        store
            .update_secret_version_stage(UpdateVersionStage {
                secret_id: "a".into(),
                stage: "X".into(),
                move_to: None,
                remove_from: Some(dep),
            })
            .await
            .unwrap();

        let text = store.export_json();
        let back = MemoryStore::import_json(&text).unwrap();
        assert_eq!(back.snapshot(), store.snapshot());
        assert_eq!(back.export_json(), text);
        let d = back.describe_secret("b").await.unwrap();
        assert!(d.has_stage(&token, AWSPENDING));
        // Sequence numbers continue after the imported ones.
        back.insert_secret("c", "x").unwrap();
        assert_eq!(back.list_secret_version_ids("a").await.unwrap().len(), 2);
    }

    #[test]
    fn errors_never_quote_values() {
        let err = MemoryStore::import_json(r#"{"format": "canary-value-123"#)
            .err()
            .unwrap();
        assert!(!err.to_string().contains("canary-value-123"));
        let err = MemoryStore::import_json(
            r#"{"format":"x","version":1,"next_seq":0,"secrets":[{"name":["canary-value-456"]}]}"#,
        )
        .err()
        .unwrap();
        assert!(!err.to_string().contains("canary-value-456"), "{err}");
    }
}
