//! The only secrets a function reads: the one it rotates and, when the deployment names
//! it, one master secret.
//!
//! IAM cannot tell a read of a rotated secret from a read of a master secret: a function
//! allowed to rotate every secret under `prod/db/*` may read all of them, so without this
//! guard any secret under the prefix could name any other as its `masterarn` and have
//! the function log in with that secret's credentials. With `ROTATION_MASTER_SECRET_ARN`
//! set (the templates in `deploy/` pass their `MasterSecretArn` parameter),
//! `GetSecretValue` is allowed for the secret of the current invocation (its `SecretId`,
//! and the ARN and name `DescribeSecret` returned for it) and for that one ARN, and
//! refused for anything else before any call is made. Unset, reads are not restricted
//! here (IAM alone decides), as in AWS's own functions.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rotwise_core::SecretString;
use rotwise_core::config::{ConfigError, Env};
use rotwise_core::password::PasswordPolicy;
use rotwise_core::store::{
    CreateSecret, PutOutput, PutSecretValue, SecretDescription, SecretStore, SecretVersion,
    StoreError, StoreErrorKind, UpdateVersionStage, VersionSummary,
};

/// The master secret the function may read besides the rotated one.
pub const ENV_MASTER_SECRET_ARN: &str = "ROTATION_MASTER_SECRET_ARN";

tokio::task_local! {
    /// The ids of the secret the current invocation rotates.
    static ROTATED: Mutex<Vec<String>>;
}

/// `ROTATION_MASTER_SECRET_ARN`: unset or blank is `None`; else the full ARN of one secret.
///
/// # Errors
///
/// A value that is not a secret's ARN, or that holds a wildcard.
pub fn master_from_env(env: &Env) -> Result<Option<String>, ConfigError> {
    let Some(v) = env.get_set(ENV_MASTER_SECRET_ARN) else {
        return Ok(None);
    };
    let v = v.trim();
    let parts: Vec<&str> = v.splitn(7, ':').collect();
    let ok = parts.len() == 7
        && parts[0] == "arn"
        && parts[2] == "secretsmanager"
        && parts[5] == "secret"
        && !parts[6].is_empty()
        && !v.contains(['*', '?']);
    if !ok {
        return Err(ConfigError::invalid(
            ENV_MASTER_SECRET_ARN,
            v,
            "the full ARN of one secret (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX), without wildcards",
        ));
    }
    Ok(Some(v.to_string()))
}

/// Run one invocation for `secret_id`: inside, a [`ReadGuard`] lets the function read that
/// secret (and the master).
pub async fn for_secret<F: Future>(secret_id: Option<&str>, invocation: F) -> F::Output {
    let ids = secret_id.map(str::to_string).into_iter().collect();
    ROTATED.scope(Mutex::new(ids), invocation).await
}

fn is_rotated(id: &str) -> bool {
    ROTATED
        .try_with(|ids| ids.lock().is_ok_and(|ids| ids.iter().any(|i| i == id)))
        .unwrap_or(false)
}

/// A store that refuses `GetSecretValue` on any secret but the rotated one and the master
/// (see the module's docs). Every other call goes through unchanged.
pub struct ReadGuard {
    inner: Arc<dyn SecretStore>,
    master: Option<String>,
}

impl ReadGuard {
    /// Guard `inner`; with `master` `None` nothing is restricted.
    pub fn new(inner: Arc<dyn SecretStore>, master: Option<String>) -> Self {
        ReadGuard { inner, master }
    }
}

#[async_trait]
impl SecretStore for ReadGuard {
    async fn describe_secret(&self, secret_id: &str) -> Result<SecretDescription, StoreError> {
        let d = self.inner.describe_secret(secret_id).await?;
        if is_rotated(secret_id) {
            let _ = ROTATED.try_with(|ids| {
                if let Ok(mut ids) = ids.lock() {
                    ids.push(d.arn.clone());
                    ids.push(d.name.clone());
                }
            });
        }
        Ok(d)
    }

    async fn get_secret_value(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<SecretVersion, StoreError> {
        if let Some(master) = &self.master
            && secret_id != master
            && !is_rotated(secret_id)
        {
            return Err(StoreError::new(
                StoreErrorKind::InvalidParameter,
                "GetSecretValue",
                format!(
                    "refused to read {secret_id}: this function reads only the secret it \
                     rotates and the master secret {master} ({ENV_MASTER_SECRET_ARN}); set the \
                     secret's masterarn to that ARN, or deploy a function for the other master"
                ),
            ));
        }
        self.inner
            .get_secret_value(secret_id, version_id, stage)
            .await
    }

    async fn put_secret_value(&self, input: PutSecretValue) -> Result<PutOutput, StoreError> {
        self.inner.put_secret_value(input).await
    }

    async fn update_secret_version_stage(
        &self,
        input: UpdateVersionStage,
    ) -> Result<(), StoreError> {
        self.inner.update_secret_version_stage(input).await
    }

    async fn get_random_password(
        &self,
        policy: &PasswordPolicy,
    ) -> Result<SecretString, StoreError> {
        self.inner.get_random_password(policy).await
    }

    async fn create_secret(&self, input: CreateSecret) -> Result<PutOutput, StoreError> {
        self.inner.create_secret(input).await
    }

    async fn list_secret_version_ids(
        &self,
        secret_id: &str,
    ) -> Result<Vec<VersionSummary>, StoreError> {
        self.inner.list_secret_version_ids(secret_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotwise_core::store::MemoryStore;

    fn env(v: &str) -> Env {
        Env::from_pairs([(ENV_MASTER_SECRET_ARN, v)])
    }

    #[test]
    fn the_variable_is_one_full_secret_arn() {
        assert_eq!(master_from_env(&env("")).unwrap(), None);
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1-AbCdEf";
        assert_eq!(master_from_env(&env(arn)).unwrap().as_deref(), Some(arn));
        for bad in [
            "prod/master",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:*",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/*",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
            "arn:aws:s3:::bucket",
        ] {
            let e = master_from_env(&env(bad)).unwrap_err();
            assert_eq!(e.var, ENV_MASTER_SECRET_ARN, "{bad}");
        }
    }

    /// Issue 19, item 7: a secret under the rotated prefix names another readable secret
    /// as its master; the guard refuses the read (and makes no call), allows the rotated
    /// secret (by id, ARN or name) and the master; unset, it allows everything.
    #[tokio::test]
    async fn only_the_rotated_secret_and_the_master_are_read() {
        let mem = Arc::new(MemoryStore::new());
        let rotated = mem.insert_secret("prod/db/app", "{}").unwrap();
        let master = mem.insert_secret("prod/db/master", "{}").unwrap();
        let other = mem.insert_secret("prod/db/other-app", "{}").unwrap();
        let guard = ReadGuard::new(mem.clone(), Some(master.clone()));
        let read = |id: String| {
            let guard = &guard;
            async move { guard.get_secret_value(&id, None, Some("AWSCURRENT")).await }
        };
        for_secret(Some("prod/db/app"), async {
            let d = guard.describe_secret("prod/db/app").await.unwrap();
            assert_eq!(d.arn, rotated);
            assert!(read(rotated.clone()).await.is_ok());
            assert!(read("prod/db/app".into()).await.is_ok());
            assert!(read(master.clone()).await.is_ok());
            let e = read(other.clone()).await.unwrap_err();
            assert!(e.message.contains(ENV_MASTER_SECRET_ARN), "{e}");
            assert!(e.message.contains(&master), "{e}");
            assert!(read("prod/db/other-app".into()).await.is_err());
        })
        .await;
        // Another invocation: the previous secret is no longer readable.
        for_secret(Some(&other), async {
            assert!(read(other.clone()).await.is_ok());
            assert!(read(rotated.clone()).await.is_err());
        })
        .await;
        // Outside an invocation, only the master.
        assert!(read(rotated.clone()).await.is_err());
        assert!(read(master.clone()).await.is_ok());
        // Unset: no restriction (IAM alone).
        let open = ReadGuard::new(mem.clone(), None);
        assert!(
            open.get_secret_value(&other, None, Some("AWSCURRENT"))
                .await
                .is_ok()
        );
    }
}
