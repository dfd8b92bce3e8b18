//! The development store: a JSON file of secrets with the in-memory store's semantics.
//!
//! Every call takes an exclusive advisory lock on `<file>.lock`, loads the file into a
//! [`MemoryStore`], runs the operation there (so the semantics are exactly the
//! in-memory store's, which the core's contract suite proves faithful to the
//! service), and writes the file back only when something changed. Writes are crash
//! safe: a temporary file in the same directory (mode 0600), `fsync`, `rename` over the
//! old file, `fsync` of the directory. Values are stored in plaintext: this store is for
//! a developer's machine, never for real secrets.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use rotwise_core::password::PasswordPolicy;
use rotwise_core::store::{
    CreateSecret, MemoryStore, PutOutput, PutSecretValue, SecretDescription, SecretStore,
    SecretVersion, StoreError, StoreErrorKind, UpdateVersionStage, VersionSummary,
};
use secrecy::SecretString;

/// A [`SecretStore`] kept in a local JSON file.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    lock_path: PathBuf,
}

fn io_err(operation: &'static str, what: &str, path: &Path, e: io::Error) -> StoreError {
    StoreError::new(
        StoreErrorKind::Service,
        operation,
        format!("cannot {what} {}: {e}", path.display()),
    )
}

/// The default location: `$ROTWISE_STORE`, else `$XDG_DATA_HOME/rotwise/secrets.json`,
/// else `~/.local/share/rotwise/secrets.json`.
pub fn default_path() -> Option<PathBuf> {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(p) = non_empty("ROTWISE_STORE") {
        return Some(PathBuf::from(p));
    }
    if let Some(d) = non_empty("XDG_DATA_HOME") {
        return Some(PathBuf::from(d).join("rotwise").join("secrets.json"));
    }
    non_empty("HOME").map(|h| {
        PathBuf::from(h)
            .join(".local")
            .join("share")
            .join("rotwise")
            .join("secrets.json")
    })
}

impl FileStore {
    /// Open the store at `path`, creating the directory (0700) and an empty store file
    /// (0600) on first use.
    pub fn open(path: PathBuf) -> Result<FileStore, StoreError> {
        const OP: &str = "OpenStore";
        let mut lock_name = path.file_name().unwrap_or_default().to_os_string();
        lock_name.push(".lock");
        let lock_path = path.with_file_name(lock_name);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| io_err(OP, "create the directory", dir, e))?;
        }
        let store = FileStore { path, lock_path };
        let _guard = store.lock()?;
        if !store.path.exists() {
            store.save(&MemoryStore::new())?;
        }
        Ok(store)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> Result<File, StoreError> {
        const OP: &str = "LockStore";
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&self.lock_path)
            .map_err(|e| io_err(OP, "open the lock file", &self.lock_path, e))?;
        file.lock()
            .map_err(|e| io_err(OP, "lock", &self.lock_path, e))?;
        Ok(file)
    }

    fn load(&self) -> Result<MemoryStore, StoreError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(MemoryStore::new()),
            Err(e) => return Err(io_err("LoadStore", "read", &self.path, e)),
        };
        MemoryStore::import_json(&text).map_err(|e| {
            StoreError::new(
                StoreErrorKind::Service,
                "LoadStore",
                format!(
                    "{} is not a rotwise store: {}",
                    self.path.display(),
                    e.message
                ),
            )
        })
    }

    fn save(&self, store: &MemoryStore) -> Result<(), StoreError> {
        const OP: &str = "SaveStore";
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = dir.join(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let write = || -> io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(store.export_json().as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, &self.path)?;
            // Make the rename itself durable.
            File::open(&dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err(OP, "write", &self.path, e)
        })
    }

    /// What `RotateSecret` does before invoking the function (see
    /// [`MemoryStore::begin_rotation`]).
    pub fn begin_rotation(&self, secret_id: &str) -> Result<String, StoreError> {
        self.sync(|m| m.begin_rotation(secret_id))
    }

    /// What the service does after finishSecret (see [`MemoryStore::complete_rotation`]).
    pub fn complete_rotation(&self, secret_id: &str, token: &str) -> Result<bool, StoreError> {
        self.sync(|m| m.complete_rotation(secret_id, token))
    }

    /// Rotation settings (see [`MemoryStore::configure_rotation`]).
    pub fn configure_rotation(
        &self,
        secret_id: &str,
        enabled: Option<bool>,
        lambda_arn: Option<&str>,
        days: Option<i64>,
    ) -> Result<(), StoreError> {
        self.sync(|m| m.configure_rotation(secret_id, enabled, lambda_arn, days))
    }

    fn sync<T>(
        &self,
        f: impl FnOnce(&MemoryStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _guard = self.lock()?;
        let mem = self.load()?;
        let before = mem.snapshot();
        let result = f(&mem);
        if mem.snapshot() != before {
            self.save(&mem)?;
        }
        result
    }
}

/// Lock, load, run `$body` on the loaded store `$mem`, save when it changed.
macro_rules! transact {
    ($self:ident, |$mem:ident| $body:expr) => {{
        let _guard = $self.lock()?;
        let $mem = $self.load()?;
        let before = $mem.snapshot();
        let result = $body;
        if $mem.snapshot() != before {
            $self.save(&$mem)?;
        }
        result
    }};
}

#[async_trait]
impl SecretStore for FileStore {
    async fn describe_secret(&self, secret_id: &str) -> Result<SecretDescription, StoreError> {
        transact!(self, |m| m.describe_secret(secret_id).await)
    }

    async fn get_secret_value(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<SecretVersion, StoreError> {
        transact!(self, |m| m
            .get_secret_value(secret_id, version_id, stage)
            .await)
    }

    async fn put_secret_value(&self, input: PutSecretValue) -> Result<PutOutput, StoreError> {
        transact!(self, |m| m.put_secret_value(input).await)
    }

    async fn update_secret_version_stage(
        &self,
        input: UpdateVersionStage,
    ) -> Result<(), StoreError> {
        transact!(self, |m| m.update_secret_version_stage(input).await)
    }

    async fn get_random_password(
        &self,
        policy: &PasswordPolicy,
    ) -> Result<SecretString, StoreError> {
        MemoryStore::new().get_random_password(policy).await
    }

    async fn create_secret(&self, input: CreateSecret) -> Result<PutOutput, StoreError> {
        transact!(self, |m| m.create_secret(input).await)
    }

    async fn list_secret_version_ids(
        &self,
        secret_id: &str,
    ) -> Result<Vec<VersionSummary>, StoreError> {
        transact!(self, |m| m.list_secret_version_ids(secret_id).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_path() -> PathBuf {
        std::env::temp_dir()
            .join(format!("rotwise-fs-{}", uuid::Uuid::new_v4().simple()))
            .join("sub")
            .join("secrets.json")
    }

    #[tokio::test]
    async fn persists_with_private_modes() {
        let path = temp_path();
        let store = FileStore::open(path.clone()).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        store
            .create_secret(CreateSecret {
                name: "x".into(),
                payload: Some("v".into()),
                token: None,
                description: None,
            })
            .await
            .unwrap();
        let token = store.begin_rotation("x").unwrap();
        let again = FileStore::open(path.clone()).unwrap();
        let d = again.describe_secret("x").await.unwrap();
        assert!(d.has_stage(&token, "AWSPENDING"));
        assert_eq!(mode(&path), 0o600);
        // No temporary files left behind.
        let entries = fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(entries, 2, "secrets.json and its lock file only");
        fs::remove_dir_all(path.parent().unwrap().parent().unwrap()).unwrap();
    }

    #[tokio::test]
    async fn reads_do_not_rewrite() {
        let path = temp_path();
        let store = FileStore::open(path.clone()).unwrap();
        let before = fs::metadata(&path).unwrap().modified().unwrap();
        assert!(store.describe_secret("nope").await.is_err());
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
        fs::remove_dir_all(path.parent().unwrap().parent().unwrap()).unwrap();
    }
}
