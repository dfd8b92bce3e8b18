//! An in-memory Secrets Manager with the service's label semantics.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use super::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, CreateSecret, PutOutput, PutSecretValue,
    SecretDescription, SecretPayload, SecretStore, SecretVersion, StoreError, StoreErrorKind,
    UpdateVersionStage, VersionSummary,
};
use crate::password::PasswordPolicy;

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

/// The service's text when `RotateSecret` finds another rotation in progress.
pub const PREVIOUS_ROTATION_INCOMPLETE: &str =
    "A previous rotation isn't complete. That rotation will be reattempted.";

#[derive(Clone)]
struct Version {
    /// `None` for the value-less AWSPENDING version the service makes when a rotation starts.
    payload: Option<SecretPayload>,
    stages: Vec<String>,
    created: OffsetDateTime,
    /// Insertion order, so listings are stable.
    seq: u64,
}

#[derive(Clone)]
struct Secret {
    arn: String,
    name: String,
    description: Option<String>,
    rotation_enabled: Option<bool>,
    rotation_lambda_arn: Option<String>,
    rotation_days: Option<i64>,
    rotation_schedule: Option<String>,
    last_rotated: Option<OffsetDateTime>,
    versions: BTreeMap<String, Version>,
    tags: BTreeMap<String, String>,
    kms_key_id: Option<String>,
}

#[derive(Default)]
struct State {
    secrets: BTreeMap<String, Secret>,
    next_seq: u64,
}

/// An in-memory [`SecretStore`] that behaves like Secrets Manager, not like a map.
///
/// - each stage is on at most one version; moving `AWSCURRENT` puts `AWSPREVIOUS` on
///   the old current version;
/// - `PutSecretValue` with an existing token is a no-op for the same value and
///   `ResourceExistsException` for a different one;
/// - a version left with no stage is deprecated: `DescribeSecret` leaves it out,
///   `ListSecretVersionIds` lists it;
/// - [`MemoryStore::begin_rotation`] does what `RotateSecret` does before it invokes the
///   rotation function: it refuses with "A previous rotation isn't complete" while another
///   version holds `AWSPENDING`, then adds a value-less `AWSPENDING` version.
///
/// ```
/// use rotwise_core::store::{MemoryStore, SecretStore, AWSCURRENT};
/// # tokio_test_block(async {
/// let store = MemoryStore::new();
/// store.insert_secret("app/db", r#"{"password":"one"}"#).unwrap();
/// let token = store.begin_rotation("app/db").unwrap();
/// let described = store.describe_secret("app/db").await.unwrap();
/// assert!(described.has_stage(&token, "AWSPENDING"));
/// assert!(described.version_with_stage(AWSCURRENT).is_some());
/// # });
/// # fn tokio_test_block<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

/// A comparable copy of a [`MemoryStore`]'s whole state, for "nothing changed" checks.
///
/// `Debug` shows versions and stages, never values.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreSnapshot {
    secrets: Vec<SnapshotSecret>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
struct SnapshotSecret {
    arn: String,
    rotation: (Option<bool>, Option<String>, Option<i64>, Option<String>),
    last_rotated: Option<OffsetDateTime>,
    versions: Vec<(String, Vec<String>, Redacted)>,
    tags: BTreeMap<String, String>,
}

#[derive(Clone, PartialEq, Eq)]
struct Redacted(Option<Vec<u8>>);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => write!(f, "[REDACTED {} bytes]", v.len()),
            None => f.write_str("<no value>"),
        }
    }
}

impl fmt::Debug for StoreSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.secrets).finish()
    }
}

fn not_found(operation: &'static str, message: impl Into<String>) -> StoreError {
    StoreError::new(StoreErrorKind::ResourceNotFound, operation, message)
}

fn secret_not_found(operation: &'static str) -> StoreError {
    not_found(
        operation,
        "Secrets Manager can't find the specified secret.",
    )
}

fn payload_bytes(p: &SecretPayload) -> Vec<u8> {
    match p {
        SecretPayload::String(s) => s.expose_secret().as_bytes().to_vec(),
        SecretPayload::Binary(b) => b.expose_secret().to_vec(),
    }
}

fn random_suffix() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let id = uuid::Uuid::new_v4();
    id.as_bytes()[..6]
        .iter()
        .map(|b| CHARS[*b as usize % CHARS.len()] as char)
        .collect()
}

fn validate_token(operation: &'static str, token: &str) -> Result<(), StoreError> {
    // The service's ClientRequestToken constraint: 32 to 64 characters.
    if !(32..=64).contains(&token.len()) {
        return Err(StoreError::new(
            StoreErrorKind::InvalidParameter,
            operation,
            format!(
                "ClientRequestToken must be 32 to 64 characters long; got {} characters.",
                token.len()
            ),
        ));
    }
    Ok(())
}

impl Secret {
    fn holder_of(&self, stage: &str) -> Option<String> {
        self.versions
            .iter()
            .find(|(_, v)| v.stages.iter().any(|s| s == stage))
            .map(|(id, _)| id.clone())
    }

    fn remove_stage(&mut self, version_id: &str, stage: &str) {
        if let Some(v) = self.versions.get_mut(version_id) {
            v.stages.retain(|s| s != stage);
        }
    }

    fn add_stage(&mut self, version_id: &str, stage: &str) {
        if let Some(v) = self.versions.get_mut(version_id)
            && !v.stages.iter().any(|s| s == stage)
        {
            v.stages.push(stage.to_string());
        }
    }

    /// Put `stage` on `version_id`, taking it off any other version; moving AWSCURRENT
    /// puts AWSPREVIOUS on the old current, as the service does.
    fn attach_stage(&mut self, version_id: &str, stage: &str) {
        let old = self.holder_of(stage);
        if old.as_deref() == Some(version_id) {
            return;
        }
        if let Some(old) = &old {
            self.remove_stage(old, stage);
        }
        if stage == AWSCURRENT
            && let Some(old) = &old
        {
            if let Some(prev) = self.holder_of(AWSPREVIOUS) {
                self.remove_stage(&prev, AWSPREVIOUS);
            }
            self.add_stage(old, AWSPREVIOUS);
        }
        self.add_stage(version_id, stage);
    }

    fn describe(&self) -> SecretDescription {
        SecretDescription {
            arn: self.arn.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            rotation_enabled: self.rotation_enabled,
            rotation_lambda_arn: self.rotation_lambda_arn.clone(),
            rotation_days: self.rotation_days,
            rotation_schedule: self.rotation_schedule.clone(),
            last_rotated: self.last_rotated,
            versions: self
                .versions
                .iter()
                .filter(|(_, v)| !v.stages.is_empty())
                .map(|(id, v)| (id.clone(), v.stages.clone()))
                .collect(),
            tags: self.tags.clone(),
            kms_key_id: self.kms_key_id.clone(),
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map half-updated in a way
        // that matters more than losing the store: recover the data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Create a secret whose first version (AWSCURRENT) holds `value`. Returns its ARN.
    pub fn insert_secret(&self, name: &str, value: &str) -> Result<String, StoreError> {
        self.insert_secret_payload(name, value.into())
    }

    /// [`MemoryStore::insert_secret`] for any payload (string or binary).
    pub fn insert_secret_payload(
        &self,
        name: &str,
        payload: SecretPayload,
    ) -> Result<String, StoreError> {
        let mut state = self.lock();
        let out = Self::create_locked(
            &mut state,
            CreateSecret {
                name: name.to_string(),
                payload: Some(payload),
                token: None,
                description: None,
                kms_key_id: None,
            },
        )?;
        Ok(out.arn)
    }

    /// Set the tag `key` to `value` on a secret, as `TagResource` does (the service's own
    /// system tags, such as RDS's `aws:rds:primarydbinstancearn`, are set this way in
    /// tests).
    pub fn tag_secret(&self, secret_id: &str, key: &str, value: &str) -> Result<(), StoreError> {
        const OP: &str = "TagResource";
        if key.is_empty() || key.len() > 128 || value.len() > 256 {
            return Err(StoreError::new(
                StoreErrorKind::InvalidParameter,
                OP,
                "A tag key must have 1 to 128 characters and a value at most 256.",
            ));
        }
        let mut state = self.lock();
        let secret = Self::find_mut(&mut state, secret_id, OP)?;
        secret.tags.insert(key.to_string(), value.to_string());
        Ok(())
    }

    /// Configure rotation as `RotateSecret`/the console would, without starting one.
    pub fn configure_rotation(
        &self,
        secret_id: &str,
        enabled: Option<bool>,
        lambda_arn: Option<&str>,
        days: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let secret = Self::find_mut(&mut state, secret_id, "RotateSecret")?;
        secret.rotation_enabled = enabled;
        secret.rotation_lambda_arn = lambda_arn.map(str::to_string);
        secret.rotation_days = days;
        if days.is_some() {
            secret.rotation_schedule = None;
        }
        Ok(())
    }

    /// `RotationRules.ScheduleExpression` (`rate(…)` or `cron(…)`, kept as given). As the
    /// service does, a schedule and `AutomaticallyAfterDays` exclude each other: setting a
    /// schedule clears the days.
    pub fn configure_schedule(&self, secret_id: &str, schedule: &str) -> Result<(), StoreError> {
        let mut state = self.lock();
        let secret = Self::find_mut(&mut state, secret_id, "RotateSecret")?;
        secret.rotation_schedule = Some(schedule.to_string());
        secret.rotation_days = None;
        Ok(())
    }

    /// What `RotateSecret` does before it invokes the function: refuse while another
    /// version holds AWSPENDING, then add a value-less AWSPENDING version. Returns the
    /// new `ClientRequestToken`.
    pub fn begin_rotation(&self, secret_id: &str) -> Result<String, StoreError> {
        self.begin_rotation_with_token(secret_id, &uuid::Uuid::new_v4().to_string())
    }

    /// [`MemoryStore::begin_rotation`] with a caller-chosen token.
    pub fn begin_rotation_with_token(
        &self,
        secret_id: &str,
        token: &str,
    ) -> Result<String, StoreError> {
        const OP: &str = "RotateSecret";
        validate_token(OP, token)?;
        let mut state = self.lock();
        let seq = state.next_seq;
        let secret = Self::find_mut(&mut state, secret_id, OP)?;
        if let Some(pending) = secret.holder_of(AWSPENDING) {
            let pending_is_current = secret.versions[&pending]
                .stages
                .iter()
                .any(|s| s == AWSCURRENT);
            if !pending_is_current {
                return Err(StoreError::new(
                    StoreErrorKind::InvalidRequest,
                    OP,
                    PREVIOUS_ROTATION_INCOMPLETE,
                ));
            }
            secret.remove_stage(&pending, AWSPENDING);
        }
        if secret.versions.contains_key(token) {
            return Err(StoreError::new(
                StoreErrorKind::ResourceExists,
                OP,
                "A resource with the ID you requested already exists.",
            ));
        }
        secret.versions.insert(
            token.to_string(),
            Version {
                payload: None,
                stages: vec![AWSPENDING.to_string()],
                created: OffsetDateTime::now_utc(),
                seq,
            },
        );
        secret.rotation_enabled = Some(true);
        state.next_seq += 1;
        Ok(token.to_string())
    }

    /// What the service does when finishSecret returned: take AWSPENDING off the token's
    /// version once it holds AWSCURRENT, and record `LastRotatedDate`. Returns whether
    /// the rotation had completed (the token is AWSCURRENT).
    pub fn complete_rotation(&self, secret_id: &str, token: &str) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let secret = Self::find_mut(&mut state, secret_id, "RotateSecret")?;
        let done = secret
            .versions
            .get(token)
            .is_some_and(|v| v.stages.iter().any(|s| s == AWSCURRENT));
        if done {
            secret.remove_stage(token, AWSPENDING);
            secret.last_rotated = Some(OffsetDateTime::now_utc());
        }
        Ok(done)
    }

    /// Every secret's description, by name (what `ListSecrets` lists).
    pub fn descriptions(&self) -> Vec<SecretDescription> {
        self.lock().secrets.values().map(Secret::describe).collect()
    }

    /// A comparable copy of everything in the store.
    pub fn snapshot(&self) -> StoreSnapshot {
        let state = self.lock();
        StoreSnapshot {
            secrets: state
                .secrets
                .values()
                .map(|s| {
                    let mut versions: Vec<_> = s.versions.iter().collect();
                    versions.sort_by_key(|(_, v)| v.seq);
                    SnapshotSecret {
                        arn: s.arn.clone(),
                        rotation: (
                            s.rotation_enabled,
                            s.rotation_lambda_arn.clone(),
                            s.rotation_days,
                            s.rotation_schedule.clone(),
                        ),
                        last_rotated: s.last_rotated,
                        tags: s.tags.clone(),
                        versions: versions
                            .into_iter()
                            .map(|(id, v)| {
                                let mut stages = v.stages.clone();
                                stages.sort();
                                (
                                    id.clone(),
                                    stages,
                                    Redacted(v.payload.as_ref().map(payload_bytes)),
                                )
                            })
                            .collect(),
                    }
                })
                .collect(),
        }
    }

    fn find<'a>(
        state: &'a State,
        secret_id: &str,
        operation: &'static str,
    ) -> Result<&'a Secret, StoreError> {
        state
            .secrets
            .get(secret_id)
            .or_else(|| state.secrets.values().find(|s| s.arn == secret_id))
            .ok_or_else(|| secret_not_found(operation))
    }

    fn find_mut<'a>(
        state: &'a mut State,
        secret_id: &str,
        operation: &'static str,
    ) -> Result<&'a mut Secret, StoreError> {
        let name = Self::find(state, secret_id, operation)?.name.clone();
        state
            .secrets
            .get_mut(&name)
            .ok_or_else(|| secret_not_found(operation))
    }

    fn create_locked(state: &mut State, input: CreateSecret) -> Result<PutOutput, StoreError> {
        const OP: &str = "CreateSecret";
        if input.name.is_empty() || input.name.len() > 512 {
            return Err(StoreError::new(
                StoreErrorKind::InvalidParameter,
                OP,
                "Name must be 1 to 512 characters long.",
            ));
        }
        if state.secrets.contains_key(&input.name) {
            return Err(StoreError::new(
                StoreErrorKind::ResourceExists,
                OP,
                format!(
                    "The operation failed because the secret {} already exists.",
                    input.name
                ),
            ));
        }
        let token = match input.token {
            Some(t) => {
                validate_token(OP, &t)?;
                t
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        let arn = format!(
            "arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{}-{}",
            input.name,
            random_suffix()
        );
        let mut versions = BTreeMap::new();
        let mut stages = Vec::new();
        if let Some(payload) = input.payload {
            stages.push(AWSCURRENT.to_string());
            versions.insert(
                token.clone(),
                Version {
                    payload: Some(payload),
                    stages: stages.clone(),
                    created: OffsetDateTime::now_utc(),
                    seq: state.next_seq,
                },
            );
            state.next_seq += 1;
        }
        state.secrets.insert(
            input.name.clone(),
            Secret {
                arn: arn.clone(),
                name: input.name,
                description: input.description,
                rotation_enabled: None,
                rotation_lambda_arn: None,
                rotation_days: None,
                rotation_schedule: None,
                last_rotated: None,
                versions,
                tags: BTreeMap::new(),
                kms_key_id: input.kms_key_id,
            },
        );
        Ok(PutOutput {
            arn,
            version_id: token,
            stages,
        })
    }
}

#[async_trait]
impl SecretStore for MemoryStore {
    async fn describe_secret(&self, secret_id: &str) -> Result<SecretDescription, StoreError> {
        let state = self.lock();
        Ok(Self::find(&state, secret_id, "DescribeSecret")?.describe())
    }

    async fn get_secret_value(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<SecretVersion, StoreError> {
        const OP: &str = "GetSecretValue";
        let state = self.lock();
        let secret = Self::find(&state, secret_id, OP)?;
        let stage = match (version_id, stage) {
            (None, None) => Some(AWSCURRENT),
            (_, s) => s,
        };
        let id = match (version_id, stage) {
            (Some(id), _) => id.to_string(),
            (None, Some(stage)) => secret.holder_of(stage).ok_or_else(|| {
                not_found(
                    OP,
                    format!(
                        "Secrets Manager can't find the specified secret value for staging label: {stage}"
                    ),
                )
            })?,
            (None, None) => unreachable!("stage defaults to AWSCURRENT above"),
        };
        let missing = || {
            not_found(
                OP,
                match stage {
                    Some(stage) => format!(
                        "Secrets Manager can't find the specified secret value for VersionId: {id} and staging label: {stage}"
                    ),
                    None => format!(
                        "Secrets Manager can't find the specified secret value for VersionId: {id}"
                    ),
                },
            )
        };
        let version = secret.versions.get(&id).ok_or_else(missing)?;
        if let Some(stage) = stage
            && !version.stages.iter().any(|s| s == stage)
        {
            // The version exists but does not hold the stage: the service checks that
            // the two agree and refuses with InvalidRequest, not ResourceNotFound.
            return Err(StoreError::new(
                StoreErrorKind::InvalidRequest,
                OP,
                "You provided a VersionStage that is not associated to the provided VersionId.",
            ));
        }
        let payload = version.payload.clone().ok_or_else(missing)?;
        Ok(SecretVersion {
            arn: secret.arn.clone(),
            name: secret.name.clone(),
            version_id: id.clone(),
            stages: version.stages.clone(),
            payload,
            created: Some(version.created),
        })
    }

    async fn put_secret_value(&self, input: PutSecretValue) -> Result<PutOutput, StoreError> {
        const OP: &str = "PutSecretValue";
        validate_token(OP, &input.token)?;
        let mut state = self.lock();
        let seq = state.next_seq;
        let secret = Self::find_mut(&mut state, &input.secret_id, OP)?;
        let stages = if input.stages.is_empty() {
            vec![AWSCURRENT.to_string()]
        } else {
            input.stages.clone()
        };
        match secret.versions.get_mut(&input.token) {
            Some(existing) => match &existing.payload {
                Some(p) if p.same_value(&input.payload) => {
                    // Idempotent repeat: the service answers with the version as it is.
                    return Ok(PutOutput {
                        arn: secret.arn.clone(),
                        version_id: input.token,
                        stages: existing.stages.clone(),
                    });
                }
                Some(_) => {
                    return Err(StoreError::new(
                        StoreErrorKind::ResourceExists,
                        OP,
                        "You can't modify an existing version, you can only create a new version.",
                    ));
                }
                // The value-less version RotateSecret made: this put gives it its value.
                None => existing.payload = Some(input.payload),
            },
            None => {
                secret.versions.insert(
                    input.token.clone(),
                    Version {
                        payload: Some(input.payload),
                        stages: Vec::new(),
                        created: OffsetDateTime::now_utc(),
                        seq,
                    },
                );
            }
        }
        for stage in &stages {
            secret.attach_stage(&input.token, stage);
        }
        let out = PutOutput {
            arn: secret.arn.clone(),
            version_id: input.token.clone(),
            stages: secret.versions[&input.token].stages.clone(),
        };
        state.next_seq += 1;
        Ok(out)
    }

    async fn update_secret_version_stage(
        &self,
        input: UpdateVersionStage,
    ) -> Result<(), StoreError> {
        const OP: &str = "UpdateSecretVersionStage";
        let mut state = self.lock();
        let secret = Self::find_mut(&mut state, &input.secret_id, OP)?;
        let holder = secret.holder_of(&input.stage);
        for id in [&input.move_to, &input.remove_from].into_iter().flatten() {
            if !secret.versions.contains_key(id) {
                return Err(not_found(
                    OP,
                    format!("Secrets Manager can't find the specified secret version: {id}"),
                ));
            }
        }
        if let Some(from) = &input.remove_from
            && holder.as_deref() != Some(from.as_str())
        {
            return Err(StoreError::new(
                StoreErrorKind::InvalidParameter,
                OP,
                format!(
                    "The staging label {} is not attached to version {from}.",
                    input.stage
                ),
            ));
        }
        match &input.move_to {
            Some(to) => {
                if let Some(h) = &holder
                    && h != to
                    && input.remove_from.is_none()
                {
                    return Err(StoreError::new(
                        StoreErrorKind::InvalidParameter,
                        OP,
                        format!(
                            "The parameter RemoveFromVersionId can't be empty. Staging label {} is currently attached to version {h}, so you must explicitly reference that version in RemoveFromVersionId.",
                            input.stage
                        ),
                    ));
                }
                secret.attach_stage(to, &input.stage);
            }
            None => {
                let Some(from) = &input.remove_from else {
                    return Err(StoreError::new(
                        StoreErrorKind::InvalidParameter,
                        OP,
                        "You must specify MoveToVersionId, RemoveFromVersionId, or both.",
                    ));
                };
                if input.stage == AWSCURRENT {
                    return Err(StoreError::new(
                        StoreErrorKind::InvalidParameter,
                        OP,
                        "You can't remove the staging label AWSCURRENT from a version; move it to another version instead.",
                    ));
                }
                secret.remove_stage(from, &input.stage);
            }
        }
        Ok(())
    }

    async fn get_random_password(
        &self,
        policy: &PasswordPolicy,
    ) -> Result<SecretString, StoreError> {
        policy.generate().map_err(|e| {
            StoreError::new(
                StoreErrorKind::InvalidParameter,
                "GetRandomPassword",
                e.to_string(),
            )
        })
    }

    async fn create_secret(&self, input: CreateSecret) -> Result<PutOutput, StoreError> {
        let mut state = self.lock();
        Self::create_locked(&mut state, input)
    }

    async fn list_secret_version_ids(
        &self,
        secret_id: &str,
    ) -> Result<Vec<VersionSummary>, StoreError> {
        let state = self.lock();
        let secret = Self::find(&state, secret_id, "ListSecretVersionIds")?;
        let mut versions: Vec<_> = secret.versions.iter().collect();
        versions.sort_by_key(|(_, v)| v.seq);
        Ok(versions
            .into_iter()
            .map(|(id, v)| VersionSummary {
                version_id: id.clone(),
                stages: v.stages.clone(),
                created: Some(v.created),
            })
            .collect())
    }
}

// Save/load as JSON (the CLI's development file store); a child module so it sees the private state.
#[path = "persist.rs"]
mod persist;
