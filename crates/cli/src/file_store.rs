//! The development store: a JSON file of secrets with the in-memory store's semantics.
//!
//! [`FileLayer`] is a [`StoreLayer`]: every call takes an exclusive advisory lock on
//! `<file>.lock`, loads the file into a [`MemoryStore`], runs the operation there (so the
//! semantics are exactly the in-memory store's, which the core's contract suite proves
//! faithful to the service), and writes the file back when the operation writes and
//! succeeded. Writes are crash safe: a temporary file in the same directory (mode 0600),
//! `fsync`, `rename` over the old file, `fsync` of the directory. Values are stored in
//! plaintext: this store is for a developer's machine, never for real secrets.
//!
//! Nobody else may steer the files: an existing directory must belong to the user running
//! `rotwise` and must not be writable by group or others (else the store refuses to open,
//! saying what to `chown`/`chmod`), and the lock and store files are opened with
//! `O_NOFOLLOW`, so a symbolic link planted in their place is refused, never followed.
//! Sequence numbers in the file that would overflow are refused when it is loaded
//! (`MemoryStore::import_json`), before anything is written.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
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

/// [`io_err`], saying what to do when `path` is a symbolic link (`O_NOFOLLOW` fails with
/// `ELOOP`).
fn nofollow_err(operation: &'static str, what: &str, path: &Path, e: io::Error) -> StoreError {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return StoreError::new(
            StoreErrorKind::InvalidParameter,
            operation,
            format!(
                "cannot {what} {}: it is a symbolic link, which rotwise never follows; remove \
                 it (and check who else can write to its directory)",
                path.display()
            ),
        );
    }
    io_err(operation, what, path, e)
}

/// Refuse an existing store directory that another user owns or that group or others may
/// write to: whoever can write there can plant a symbolic link or swap the store.
fn check_directory(dir: &Path) -> Result<(), StoreError> {
    const OP: &str = "OpenStore";
    let meta = fs::metadata(dir).map_err(|e| io_err(OP, "inspect the directory", dir, e))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(StoreError::new(
            StoreErrorKind::InvalidParameter,
            OP,
            format!(
                "the store directory {} is owned by uid {}, not by you (uid {me}); use a \
                 directory of your own (--store or ROTWISE_STORE), or `chown {me} {}` if it \
                 is yours",
                dir.display(),
                meta.uid(),
                dir.display()
            ),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(StoreError::new(
            StoreErrorKind::InvalidParameter,
            OP,
            format!(
                "the store directory {} is writable by group or others (mode {mode:o}); run \
                 `chmod go-w {}` or use a private directory (--store or ROTWISE_STORE)",
                dir.display(),
                dir.display()
            ),
        ));
    }
    Ok(())
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
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if dir.exists() {
            check_directory(&dir)?;
        } else {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| io_err(OP, "create the directory", &dir, e))?;
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
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.lock_path)
            .map_err(|e| nofollow_err(OP, "open the lock file", &self.lock_path, e))?;
        file.lock()
            .map_err(|e| io_err(OP, "lock", &self.lock_path, e))?;
        Ok(file)
    }

    fn load(&self) -> Result<MemoryStore, StoreError> {
        let read = || -> io::Result<String> {
            let mut text = String::new();
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&self.path)?
                .read_to_string(&mut text)?;
            Ok(text)
        };
        let text = match read() {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(MemoryStore::new()),
            Err(e) => return Err(nofollow_err("LoadStore", "read", &self.path, e)),
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
                kms_key_id: None,
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

    fn cleanup(path: &Path) {
        let _ = fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    /// Issue 19, item 8: a symbolic link planted as the lock file is not followed (the
    /// file it points to is neither created nor truncated) and the error says what to do.
    #[tokio::test]
    async fn a_symlinked_lock_file_is_not_followed() {
        let path = temp_path();
        let store = open(path.clone()).unwrap();
        let lock = path.with_file_name("secrets.json.lock");
        fs::remove_file(&lock).unwrap();
        let victim = path.with_file_name("victim");
        fs::write(&victim, "keep me").unwrap();
        std::os::unix::fs::symlink(&victim, &lock).unwrap();
        let e = store.describe_secret("x").await.unwrap_err();
        assert!(e.message.contains("symbolic link"), "{e}");
        assert_eq!(
            e.kind,
            StoreErrorKind::InvalidParameter,
            "bad input: exit 2"
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
        // A dangling link is not followed either (nothing is created at its target).
        fs::remove_file(&lock).unwrap();
        let target = path.with_file_name("created-through-the-link");
        std::os::unix::fs::symlink(&target, &lock).unwrap();
        assert!(open(path.clone()).is_err());
        assert!(!target.exists());
        cleanup(&path);
    }

    /// An existing directory writable by group or others (anyone could plant a link or
    /// swap the store) is refused with the chmod to run; nothing is created in it.
    #[test]
    fn a_directory_writable_by_others_is_refused() {
        let path = temp_path();
        let dir = path.parent().unwrap();
        fs::create_dir_all(dir).unwrap();
        for mode in [0o777, 0o770, 0o1777, 0o702] {
            fs::set_permissions(dir, fs::Permissions::from_mode(mode)).unwrap();
            let e = open(path.clone()).unwrap_err();
            assert!(e.message.contains("chmod go-w"), "{mode:o}: {e}");
            assert!(e.message.contains(&dir.display().to_string()), "{e}");
            assert_eq!(fs::read_dir(dir).unwrap().count(), 0, "{mode:o}");
        }
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(open(path.clone()).is_ok(), "0755 and owned by us is fine");
        cleanup(&path);
    }

    /// An existing directory owned by another user is refused (needs root to set up).
    #[test]
    fn a_directory_owned_by_another_user_is_refused() {
        let path = temp_path();
        let dir = path.parent().unwrap();
        fs::create_dir_all(dir).unwrap();
        if std::os::unix::fs::chown(dir, Some(65534), None).is_err() {
            eprintln!("skipped: cannot chown (not root)");
            cleanup(&path);
            return;
        }
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
        let e = open(path.clone()).unwrap_err();
        assert!(e.message.contains("owned by uid 65534"), "{e}");
        assert!(e.message.contains("chown"), "{e}");
        assert_eq!(fs::read_dir(dir).unwrap().count(), 0);
        cleanup(&path);
    }

    /// A crafted sequence number that would overflow on the next write is refused with a
    /// clear error, and the file is left as it was.
    #[tokio::test]
    async fn a_sequence_number_that_would_overflow_is_refused() {
        let path = temp_path();
        let store = open(path.clone()).unwrap();
        store
            .create_secret(CreateSecret {
                name: "x".into(),
                payload: Some("canary-seq-value".into()),
                token: None,
                description: None,
                kms_key_id: None,
            })
            .await
            .unwrap();
        let good = fs::read_to_string(&path).unwrap();
        let max = u64::MAX.to_string();
        let crafted = [
            good.replacen("\"next_seq\": 1", &format!("\"next_seq\": {max}"), 1),
            good.replacen("\"seq\": 0", &format!("\"seq\": {max}"), 1),
        ];
        for text in crafted {
            assert_ne!(text, good, "the test edits the document");
            fs::write(&path, &text).unwrap();
            let put = store
                .put_secret_value(PutSecretValue {
                    secret_id: "x".into(),
                    token: uuid::Uuid::new_v4().to_string(),
                    payload: "v".into(),
                    stages: vec!["AWSCURRENT".into()],
                    rotation_token: None,
                })
                .await;
            let e = put.unwrap_err();
            assert!(e.message.contains("seq"), "{e}");
            assert!(!e.message.contains("canary-seq-value"), "{e}");
            assert_eq!(fs::read_to_string(&path).unwrap(), text, "nothing written");
        }
        cleanup(&path);
    }
}
