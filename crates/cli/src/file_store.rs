//! The development store: a JSON file of secrets with the in-memory store's semantics.
//!
//! [`FileLayer`] is a [`StoreLayer`]: every call takes an exclusive advisory lock on
//! `<file>.lock`, loads the file into a [`MemoryStore`], runs the operation there (so the
//! semantics are exactly the in-memory store's, which the core's contract suite proves
//! faithful to the service), and writes the file back when the operation writes and
//! succeeded. Writes are crash safe: a temporary file in the same directory (mode 0600),
//! `fsync`, `rename` over the old file, `fsync` of the directory. Values are stored in
//! plaintext: this store is for a developer's machine, never for real secrets.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rotwise_core::store::{
    Layered, MemoryStore, Operation, SecretStore, StoreCall, StoreError, StoreErrorKind,
    StoreFuture, StoreLayer,
};

/// The file store as a [`SecretStore`].
pub type FileStore = Layered<FileLayer>;

/// Open the store at `path`, creating the directory (0700) and an empty store file (0600)
/// on first use.
pub fn open(path: PathBuf) -> Result<FileStore, StoreError> {
    FileLayer::open(path).map(Layered)
}

/// A local JSON file of secrets, as a [`StoreLayer`] around a [`MemoryStore`] loaded for
/// each call.
#[derive(Debug)]
pub struct FileLayer {
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

impl FileLayer {
    /// Open the store at `path`, creating the directory (0700) and an empty store file
    /// (0600) on first use.
    pub fn open(path: PathBuf) -> Result<FileLayer, StoreError> {
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
        let store = FileLayer { path, lock_path };
        let _guard = store.lock()?;
        if !store.path.exists() {
            store.save(&MemoryStore::new())?;
        }
        Ok(store)
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

impl StoreLayer for FileLayer {
    /// Lock, load, run the call on the loaded store, save when the operation writes and
    /// succeeded, unlock. `GetRandomPassword` reads no secret: it runs on an empty store
    /// without touching the file.
    fn around<'a, T: Send + 'a>(
        &'a self,
        op: Operation,
        call: StoreCall<'a, T>,
    ) -> StoreFuture<'a, T> {
        Box::pin(async move {
            if op == Operation::GetRandomPassword {
                return call(Arc::new(MemoryStore::new())).await;
            }
            let _guard = self.lock()?;
            let memory = Arc::new(self.load()?);
            let result = call(memory.clone() as Arc<dyn SecretStore>).await;
            if op.writes() && result.is_ok() {
                self.save(&memory)?;
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotwise_core::password::PasswordPolicy;
    use rotwise_core::store::{CreateSecret, PutSecretValue};
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
        let store = open(path.clone()).unwrap();
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
        let token = store.0.begin_rotation("x").unwrap();
        let again = open(path.clone()).unwrap();
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
        let store = open(path.clone()).unwrap();
        let before = fs::metadata(&path).unwrap().modified().unwrap();
        assert!(store.describe_secret("nope").await.is_err());
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
        fs::remove_dir_all(path.parent().unwrap().parent().unwrap()).unwrap();
    }

    #[tokio::test]
    async fn a_failed_write_leaves_the_file_alone() {
        let path = temp_path();
        let store = open(path.clone()).unwrap();
        let before = fs::read(&path).unwrap();
        let put = store
            .put_secret_value(PutSecretValue {
                secret_id: "nope".into(),
                token: uuid::Uuid::new_v4().to_string(),
                payload: "v".into(),
                stages: vec!["AWSCURRENT".into()],
                rotation_token: None,
            })
            .await;
        assert!(put.unwrap_err().is_not_found());
        assert_eq!(fs::read(&path).unwrap(), before);
        // GetRandomPassword does not read the file: it works even on a corrupt one.
        fs::write(&path, "not a store").unwrap();
        let policy = PasswordPolicy::default();
        assert!(store.get_random_password(&policy).await.is_ok());
        let e = store.describe_secret("x").await.unwrap_err();
        assert!(e.message.contains("is not a rotwise store"), "{e}");
        fs::remove_dir_all(path.parent().unwrap().parent().unwrap()).unwrap();
    }
}
