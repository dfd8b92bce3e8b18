//! `--aws` with the profile kinds people use on their workstations (issue 18): a
//! `credential_process` profile and an IAM Identity Center (SSO) profile, from profile
//! files in a temporary HOME, with no network: Secrets Manager is the test kit's local
//! endpoint (`SECRETS_MANAGER_ENDPOINT`) and the SSO portal a fake on 127.0.0.1.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use rotwise_core::store::MemoryStore;
use rotwise_testkit::endpoint::LocalEndpoint;

struct Home(PathBuf);

impl Home {
    fn new() -> Home {
        let dir = std::env::temp_dir().join(format!(
            "rotwise-profiles-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(dir.join(".aws")).unwrap();
        Home(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `rotwise --aws status NAME` with only the profile files of `home` to find credentials
/// (on a blocking-allowed thread: the local endpoint runs on the test's runtime).
fn status(home: &Home, profile: &str, endpoint: &str, extra: &[(&str, &str)]) -> Output {
    tokio::task::block_in_place(|| run_status(home, profile, endpoint, extra))
}

fn run_status(home: &Home, profile: &str, endpoint: &str, extra: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rotwise"));
    cmd.args(["--aws", "status", "svc/db"]).stdin(Stdio::null());
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_ENDPOINT_URL",
        "ROTWISE_STORE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", &home.0)
        .env("AWS_CONFIG_FILE", home.0.join(".aws/config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.0.join(".aws/credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PROFILE", profile)
        .env("AWS_REGION", "us-east-1")
        .env("SECRETS_MANAGER_ENDPOINT", endpoint);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn endpoint_with_secret() -> LocalEndpoint {
    let memory = Arc::new(MemoryStore::new());
    memory
        .insert_secret(
            "svc/db",
            r#"{"engine":"postgres","host":"db","username":"app","password":"pw-canary"}"#,
        )
        .unwrap();
    LocalEndpoint::start(memory).unwrap()
}

fn script(home: &Home, name: &str, body: &str) -> PathBuf {
    let p = home.write(name, &format!("#!/bin/sh\n{body}\n"));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn credential_process_profile() {
    let home = Home::new();
    let endpoint = endpoint_with_secret();
    let marker = home.0.join("process-ran");
    let good = script(
        &home,
        "creds.sh",
        &format!(
            "touch '{}'\necho '{{\"Version\":1,\"AccessKeyId\":\"AKIDPROCESS\",\"SecretAccessKey\":\"process-secret\"}}'",
            marker.display()
        ),
    );
    let bad = script(&home, "fail.sh", "echo 'no credentials today' >&2\nexit 1");
    home.write(
        ".aws/config",
        &format!(
            "[profile proc]\ncredential_process = {}\n\n[profile broken]\ncredential_process = {}\n",
            good.display(),
            bad.display()
        ),
    );
    let out = status(&home, "proc", &endpoint.url(), &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(marker.exists(), "the credential process ran");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("svc/db"),
        "{}",
        text(&out)
    );
    assert_eq!(endpoint.calls_to("DescribeSecret"), 1);

    // Negative control: when the process fails, so does the command, and no request
    // reaches Secrets Manager unsigned.
    let out = status(&home, "broken", &endpoint.url(), &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        !text(&out).contains("requires following cargo feature"),
        "{}",
        text(&out)
    );
    assert_eq!(endpoint.calls_to("DescribeSecret"), 1, "{}", text(&out));
}

/// A fake IAM Identity Center portal: answers `GetRoleCredentials` for one bearer token
/// and records the requests it saw.
fn fake_sso_portal(token: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = vec![0u8; 16 * 1024];
            let n = stream.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            log.lock().unwrap().push(head.clone());
            let authorised = head
                .lines()
                .any(|l| l.to_ascii_lowercase() == format!("x-amz-sso_bearer_token: {token}"));
            let (status, body) = if authorised && head.starts_with("GET /federation/credentials?") {
                (
                    "200 OK",
                    r#"{"roleCredentials":{"accessKeyId":"AKIDSSO","secretAccessKey":"sso-secret","sessionToken":"sso-session","expiration":4102444800000}}"#,
                )
            } else {
                (
                    "401 Unauthorized",
                    r#"{"message":"Session token not found or invalid"}"#,
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

fn sso_cache_file(home: &Home, key: &str, token: &str) {
    // The SDKs' cache file name: the sha1 of the start URL (legacy profile) in hex.
    let name = sha1_hex(key);
    home.write(
        &format!(".aws/sso/cache/{name}.json"),
        &format!(
            r#"{{"startUrl":"{key}","region":"us-east-1","accessToken":"{token}","expiresAt":"2099-01-01T00:00:00Z"}}"#
        ),
    );
}

fn sha1_hex(s: &str) -> String {
    let out = Command::new("sha1sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(s.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..40].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn sso_profile() {
    let home = Home::new();
    let endpoint = endpoint_with_secret();
    let token = "cached-sso-access-token";
    let (portal, seen) = fake_sso_portal(token);
    let start_url = "https://example-team.awsapps.com/start";
    home.write(
        ".aws/config",
        &format!(
            "[profile sso]\nsso_start_url = {start_url}\nsso_region = us-east-1\nsso_account_id = 111122223333\nsso_role_name = RotationOperator\nregion = us-east-1\n"
        ),
    );
    sso_cache_file(&home, start_url, token);
    let out = status(
        &home,
        "sso",
        &endpoint.url(),
        &[("AWS_ENDPOINT_URL_SSO", &portal)],
    );
    assert!(out.status.success(), "{}", text(&out));
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].starts_with("GET /federation/credentials?")
            && requests[0].contains("role_name=RotationOperator")
            && requests[0].contains("account_id=111122223333"),
        "{}",
        requests[0]
    );
    assert_eq!(endpoint.calls_to("DescribeSecret"), 1);

    // Negative control: a cached token the portal does not accept fails the command.
    sso_cache_file(&home, start_url, "stale-token");
    let out = status(
        &home,
        "sso",
        &endpoint.url(),
        &[("AWS_ENDPOINT_URL_SSO", &portal)],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        !text(&out).contains("requires following cargo feature"),
        "{}",
        text(&out)
    );
    assert_eq!(endpoint.calls_to("DescribeSecret"), 1);
}
