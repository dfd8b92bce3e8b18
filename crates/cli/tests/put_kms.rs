//! `put --kms-key-id` (issue 18): a secret created on Secrets Manager (the test kit's local
//! endpoint) is encrypted with the key given; an existing secret is never silently left on
//! another key; the file store refuses the option.

use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use rotwise_core::store::{MemoryStore, SecretStore};
use rotwise_testkit::endpoint::LocalEndpoint;

fn rotwise(args: &[&str]) -> Output {
    tokio::task::block_in_place(|| {
        Command::new(env!("CARGO_BIN_EXE_rotwise"))
            .args(args)
            .env_remove("ROTWISE_STORE")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn put_creates_the_secret_with_the_key_and_refuses_another() {
    let memory = Arc::new(MemoryStore::new());
    let endpoint = LocalEndpoint::start(memory.clone()).unwrap();
    let url = endpoint.url();
    let dir = std::env::temp_dir().join(format!("rotwise-kms-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let value = dir.join("v.json");
    std::fs::write(&value, r#"{"username":"app","password":"kms-canary"}"#).unwrap();
    let value = value.to_str().unwrap();
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    let out = rotwise(&[
        "--endpoint",
        &url,
        "put",
        "app/db",
        "--from-json",
        value,
        "--kms-key-id",
        key,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let d = memory.describe_secret("app/db").await.unwrap();
    assert_eq!(d.kms_key_id.as_deref(), Some(key));

    // The same key again: a new version, as without the option.
    let out = rotwise(&[
        "--endpoint",
        &url,
        "put",
        "app/db",
        "--from-json",
        value,
        "--kms-key-id",
        key,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        memory
            .list_secret_version_ids("app/db")
            .await
            .unwrap()
            .len(),
        2
    );

    // Another key: refused, nothing written, and the message says how to change the key.
    let before = memory.snapshot();
    let out = rotwise(&[
        "--endpoint",
        &url,
        "put",
        "app/db",
        "--from-json",
        value,
        "--kms-key-id",
        "alias/other",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("update-secret") && err.contains(key), "{err}");
    assert!(!err.contains("kms-canary"), "{err}");
    assert_eq!(memory.snapshot(), before);

    // A secret made without the option is on the default key: asking for one is refused too.
    let out = rotwise(&["--endpoint", &url, "put", "plain/db", "--from-json", value]);
    assert!(out.status.success(), "{}", text(&out));
    let out = rotwise(&[
        "--endpoint",
        &url,
        "put",
        "plain/db",
        "--from-json",
        value,
        "--kms-key-id",
        key,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("default key"),
        "{}",
        text(&out)
    );

    // The file store is not encrypted: the option is refused before anything is created.
    let store = dir.join("store").join("secrets.json");
    let out = rotwise(&[
        "--store",
        store.to_str().unwrap(),
        "put",
        "x",
        "--from-json",
        value,
        "--kms-key-id",
        key,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--aws or --endpoint"),
        "{}",
        text(&out)
    );
    assert!(!store.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
