//! Drive the real `rotwise` binary: every test has its own store file.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

struct Store {
    dir: PathBuf,
    file: PathBuf,
}

impl Store {
    fn new() -> Store {
        let dir = std::env::temp_dir().join(format!(
            "rotwise-cli-test-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let file = dir.join("store").join("secrets.json");
        Store { dir, file }
    }

    fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.file).unwrap()
    }

    fn json_file(&self, name: &str, text: &str) -> PathBuf {
        std::fs::create_dir_all(&self.dir).unwrap();
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn run(&self, args: &[&str]) -> Output {
        run_with(
            &[&["--store", self.file.to_str().unwrap()], args].concat(),
            &[],
        )
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rotwise"));
    cmd.args(args)
        .env_remove("ROTWISE_STORE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// [`run_with`], with `input` on standard input.
fn run_with_input(args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rotwise"));
    cmd.args(args)
        .env_remove("ROTWISE_STORE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) -> &Output {
    assert_eq!(code(o), 0, "stdout:\n{}\nstderr:\n{}", stdout(o), stderr(o));
    o
}

fn json_out(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(o), stderr(o)))
}

const PG_LIKE: &str =
    r#"{"engine":"postgres","host":"127.0.0.1","username":"app","password":"canary-pw-1"}"#;

#[test]
fn put_status_round_trip_and_json_shape() {
    let s = Store::new();
    let f = s.json_file("a.json", r#"{"password":"canary-pw-1","x":1}"#);
    let out = s.run(&[
        "put",
        "app/key",
        "--from-json",
        f.to_str().unwrap(),
        "--json",
    ]);
    let put = json_out(ok(&out));
    assert_eq!(put["created"], true);
    assert_eq!(put["secret"], "app/key");
    assert!(stderr(&out).contains("plaintext"), "the dev-store warning");
    let first = put["version_id"].as_str().unwrap().to_string();
    assert_eq!(
        std::fs::metadata(&s.file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(s.file.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );

    let put2 = json_out(ok(&s.run(&[
        "put",
        "app/key",
        "--from-json",
        f.to_str().unwrap(),
        "--json",
    ])));
    assert_eq!(put2["created"], false);

    let out = s.run(&["status", "app/key", "--json"]);
    let st = json_out(ok(&out));
    assert!(
        !stdout(&out).contains("canary-pw-1"),
        "status never prints values"
    );
    assert_eq!(st["name"], "app/key");
    assert!(
        st["arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:secretsmanager:")
    );
    for key in [
        "enabled",
        "lambda_arn",
        "automatically_after_days",
        "schedule_expression",
        "last_rotated",
    ] {
        assert!(st["rotation"].get(key).is_some(), "rotation.{key}");
    }
    let versions = st["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    let v1 = versions
        .iter()
        .find(|v| v["version_id"] == first.as_str())
        .unwrap();
    assert_eq!(v1["stages"], serde_json::json!(["AWSPREVIOUS"]));
    assert_eq!(v1["deprecated"], false);
    assert!(v1["created"].is_string());

    // Human output names the labels too.
    let text = stdout(ok(&s.run(&["status", "app/key"])));
    assert!(
        text.contains("AWSCURRENT") && text.contains("AWSPREVIOUS"),
        "{text}"
    );

    // stdin works for put.
    let mut child = Command::new(env!("CARGO_BIN_EXE_rotwise"))
        .args([
            "--store",
            s.file.to_str().unwrap(),
            "put",
            "from/stdin",
            "--from-json",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"a\":\"b\"}")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
}

#[test]
fn bad_input_exits_2_and_leaves_the_store_unchanged() {
    let s = Store::new();
    let good = s.json_file("good.json", PG_LIKE);
    ok(&s.run(&["put", "db", "--from-json", good.to_str().unwrap()]));
    let unknown_engine = s.json_file(
        "oracle.json",
        r#"{"engine":"oracle","host":"h","username":"u","password":"canary-pw-2"}"#,
    );
    ok(&s.run(&[
        "put",
        "ora",
        "--from-json",
        unknown_engine.to_str().unwrap(),
    ]));
    let malformed = s.json_file("bad.json", r#"{"password": "canary-pw-3", "#);
    let array = s.json_file("array.json", r#"["canary-pw-4"]"#);
    let before = s.bytes();

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["status", "nope"], "unknown secret"),
        (vec!["rotate", "nope"], "unknown secret"),
        (vec!["doctor", "nope"], "unknown secret"),
        (
            vec!["put", "db", "--from-json", malformed.to_str().unwrap()],
            "malformed JSON",
        ),
        (
            vec!["put", "new", "--from-json", malformed.to_str().unwrap()],
            "malformed JSON",
        ),
        (
            vec!["put", "db", "--from-json", array.to_str().unwrap()],
            "must be a JSON object",
        ),
        (
            vec!["put", "db", "--from-json", "/nonexistent/x.json"],
            "cannot read",
        ),
        (vec!["rotate", "ora"], "unknown engine"),
        (vec!["rotate", "db", "--engine", "oracle"], "unknown engine"),
        (vec!["rotate", "db", "--example", "nope"], "unknown example"),
        (
            vec!["init-demo", "--engine", "oracle", "--name", "db"],
            "unknown engine",
        ),
        (
            vec!["init-demo", "--engine", "mysql", "--pg-url-stdin"],
            "--pg-url-stdin is for --engine postgres",
        ),
        (
            vec!["init-demo", "--mysql-url-stdin"],
            "--mysql-url-stdin is for --engine mysql",
        ),
        (vec!["status"], "Usage"),
    ];
    for (args, expect) in cases {
        let out = s.run(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(expect),
            "{args:?}: expected {expect:?} in {err}"
        );
        for canary in ["canary-pw-1", "canary-pw-2", "canary-pw-3", "canary-pw-4"] {
            assert!(
                !err.contains(canary) && !stdout(&out).contains(canary),
                "{args:?} leaked a value"
            );
        }
        assert_eq!(s.bytes(), before, "{args:?} changed the store");
    }
}

/// Issue 19, item 8: the admin password is never taken in argv (`ps`, shell history). A
/// URL with a password on the command line is refused before any connection (exit 2, the
/// message names the environment variable and the stdin flag, never the password), and the
/// store is not touched; an empty standard input is bad input too.
#[test]
fn admin_urls_with_a_password_are_refused_on_the_command_line() {
    let s = Store::new();
    let f = s.json_file("a.json", r#"{"password":"canary-pw-1"}"#);
    ok(&s.run(&["put", "keep", "--from-json", f.to_str().unwrap()]));
    let before = s.bytes();
    let port = closed_port().to_string();
    let pg = format!("postgres://admin:canary-admin-pw@127.0.0.1:{port}/db");
    let my = format!("mysql://admin:canary-admin-pw@127.0.0.1:{port}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["init-demo", "--pg-url", &pg], "ROTWISE_PG_URL"),
        (
            vec!["init-demo", "--engine", "mysql", "--mysql-url", &my],
            "ROTWISE_MYSQL_URL",
        ),
        // The engine mismatch must not hide the refusal.
        (
            vec!["init-demo", "--engine", "mysql", "--pg-url", &pg],
            "ROTWISE_PG_URL",
        ),
    ];
    for (args, var) in cases {
        let out = s.run(&args);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{args:?}: {err}");
        assert!(err.contains(var), "{args:?}: {err}");
        assert!(err.contains("-url-stdin"), "{args:?}: {err}");
        assert!(err.contains("command line"), "{args:?}: {err}");
        assert!(
            !err.contains("canary-admin-pw") && !stdout(&out).contains("canary-admin-pw"),
            "{args:?} echoed the password"
        );
        assert_eq!(s.bytes(), before, "{args:?} changed the store");
    }
    // Refused before anything is opened: a fresh store is not even created.
    let fresh = Store::new();
    let out = fresh.run(&["init-demo", "--pg-url", &pg]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        !fresh.file.exists(),
        "the store was opened before the refusal"
    );
    // An empty standard input: bad input, nothing changed.
    let store = s.file.to_str().unwrap().to_string();
    for args in [
        vec!["--store", &store, "init-demo", "--pg-url-stdin"],
        vec![
            "--store",
            &store,
            "init-demo",
            "--engine",
            "mysql",
            "--mysql-url-stdin",
        ],
    ] {
        let out = run_with_input(&args, &[], "");
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("standard input"), "{}", stderr(&out));
        assert_eq!(s.bytes(), before);
    }
}

/// A secret whose database cannot be reached (a closed port): doctor reports the stuck
/// AWSPENDING and that AWSCURRENT could not be checked, and `--fix` refuses to remove the
/// label (it could be the only value the database accepts) and changes nothing.
#[test]
fn doctor_never_clears_a_pending_it_cannot_check_on_the_file_store() {
    let s = Store::new();
    let f = s.json_file("pg.json", &pg_secret(closed_port(), "app", "canary-pw-1"));
    ok(&s.run(&["put", "db", "--from-json", f.to_str().unwrap()]));
    let clean = json_out(&s.run(&["doctor", "db", "--json"]));
    assert_eq!(clean["current_login"], "error", "{clean}");
    assert_eq!(clean["pending"]["state"], "absent", "{clean}");
    assert_eq!(
        clean["findings"][0]["code"], "current_login_failed",
        "{clean}"
    );

    let token = stdout(ok(&s.run(&["debug", "begin-rotation", "db"])))
        .trim()
        .to_string();

    // The stale AWSPENDING blocks a new rotation before any login.
    let out = s.run(&["rotate", "db"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("A previous rotation isn't complete"),
        "{}",
        stderr(&out)
    );

    let out = s.run(&["doctor", "db"]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(
        text.contains("stale_pending") && text.contains(&token) && text.contains("no value"),
        "{text}"
    );

    let before = s.bytes();
    for args in [
        vec!["doctor", "db", "--fix"],
        vec!["doctor", "db", "--fix", "--yes"],
    ] {
        let out = s.run(&args);
        assert_eq!(code(&out), 1, "{args:?}");
        assert!(
            stderr(&out).contains("AWSCURRENT could not be checked"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_eq!(s.bytes(), before, "{args:?} changed the store");
    }
    let r = json_out(&s.run(&["doctor", "db", "--fix", "--yes", "--json"]));
    assert_eq!(r["fix"], "refuse", "{r}");
    assert_eq!(r["pending"]["state"], "no_value", "{r}");
    assert!(!r.to_string().contains("canary-pw-1"), "{r}");
    assert_eq!(s.bytes(), before);
}

/// `--example random-string` changes no system: refused for a database secret (the secret
/// would no longer match the database), loud on any other.
#[test]
fn random_string_is_refused_on_a_database_secret_and_warns_elsewhere() {
    let s = Store::new();
    let f = s.json_file("pg.json", PG_LIKE);
    ok(&s.run(&["put", "db", "--from-json", f.to_str().unwrap()]));
    let before = s.bytes();
    let out = s.run(&["rotate", "db", "--example", "random-string"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("changes no system"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.bytes(), before, "nothing changed");

    let f = s.json_file("token.json", r#"{"password":"canary-pw-1"}"#);
    ok(&s.run(&["put", "token", "--from-json", f.to_str().unwrap()]));
    let out = s.run(&["rotate", "token", "--example", "random-string", "--json"]);
    let r = json_out(ok(&out));
    assert_eq!(r["steps"].as_array().unwrap().len(), 4);
    assert!(
        stderr(&out).contains("changes NO system"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("canary-pw-1"));

    // Errors for secrets no engine handles point at custom rotators, never at random-string.
    let out = s.run(&["rotate", "token"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("custom-rotator"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("random-string"), "{}", stderr(&out));
}

#[test]
fn doctor_reports_disabled_rotation_missing_keys_and_long_clone_names() {
    let s = Store::new();
    let long_user = "u".repeat(60);
    let f = s.json_file(
        "alt.json",
        &format!(r#"{{"engine":"postgres","username":"{long_user}","password":"p","masterarn":"no/such/master"}}"#),
    );
    ok(&s.run(&["put", "alt", "--from-json", f.to_str().unwrap()]));
    ok(&s.run(&["debug", "set-rotation", "alt"]));
    let out = s.run(&["doctor", "alt", "--json"]);
    assert_eq!(code(&out), 1);
    let r = json_out(&out);
    let codes: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    for c in [
        "rotation_disabled",
        "missing_keys",
        "clone_name_too_long",
        "master_missing",
    ] {
        assert!(codes.contains(&c), "{c} in {codes:?}");
    }
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["fix"].as_str().is_some_and(|s| !s.is_empty()))
    );
}

#[test]
fn doctor_on_moto_refuses_to_clear_a_pending_it_cannot_check() {
    let Some(endpoint) = rotwise_test_services::require_sm_endpoint() else {
        return;
    };
    let s = Store::new();
    let name = format!("cli-test/{}", uuid::Uuid::new_v4().simple());
    let f = s.json_file("pg.json", &pg_secret(closed_port(), "app", "canary-pw-1"));
    let sm = |args: &[&str]| run_with(&[&["--endpoint", endpoint.as_str()], args].concat(), &[]);
    ok(&sm(&["put", &name, "--from-json", f.to_str().unwrap()]));
    let pending = stdout(ok(&sm(&[
        "debug",
        "put-pending",
        &name,
        "--from-json",
        f.to_str().unwrap(),
    ])))
    .trim()
    .to_string();

    let out = sm(&["doctor", &name, "--json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let r = json_out(&out);
    let stale = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "stale_pending")
        .unwrap_or_else(|| panic!("stale_pending in {r}"));
    assert!(stale["message"].as_str().unwrap().contains(&pending), "{r}");
    assert_eq!(r["pending"]["state"], "not_checked", "{r}");

    // The database cannot say which value it accepts: no fix, asked or not.
    for args in [
        vec!["doctor", name.as_str(), "--fix"],
        vec!["doctor", name.as_str(), "--fix", "--yes"],
    ] {
        let out = sm(&args);
        assert_eq!(code(&out), 1, "{args:?}");
        assert!(stderr(&out).contains("is unknown"), "{}", stderr(&out));
    }
    let st = json_out(ok(&sm(&["status", &name, "--json"])));
    assert!(st.to_string().contains("AWSPENDING"), "{st}");

    // Unknown secret on the service: exit 2 too.
    assert_eq!(code(&sm(&["status", "cli-test/does-not-exist"])), 2);
    // On the service, the secret's own rotation function runs the steps: local-only
    // options are bad input. (RotateSecret itself is tested on the local endpoint:
    // moto's RotateSecret corrupts state, see the moto notes.)
    let out = sm(&["rotate", &name, "--example", "random-string"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("file store only"), "{}", stderr(&out));
    assert!(
        !s.file.exists(),
        "the file store is never touched with --endpoint"
    );
}

fn stored_current(store: &Path, name: &str) -> Value {
    stored_current_version(store, name).1
}

#[tokio::test]
async fn init_demo_then_rotate_changes_the_real_password() {
    let Some(pg) = rotwise_test_services::require_pg() else {
        return;
    };
    let s = Store::new();
    let name = format!("demo/{}", uuid::Uuid::new_v4().simple());
    let ca = pg.ca.to_str().unwrap().to_string();
    let url = pg.url.clone();
    // ROTWISE_PG_URL wins over the test servers' variable (pointed at a closed port here).
    let broken = format!("postgres://x:y@127.0.0.1:{}/db", closed_port());
    let env = [
        ("ROTWISE_PG_URL", url.as_str()),
        ("ROTATION_TEST_PG_URL", broken.as_str()),
        ("ROTATION_CA_FILE", ca.as_str()),
    ];
    let store_arg = s.file.to_str().unwrap().to_string();
    let out = run_with(
        &[
            "--store",
            &store_arg,
            "init-demo",
            "--name",
            &name,
            "--json",
        ],
        &env,
    );
    let demo = json_out(ok(&out));
    let role = demo["role"].as_str().unwrap().to_string();
    let old = stored_current(&s.file, &name);
    let old_pw = old["password"].as_str().unwrap().to_string();
    assert!(!stdout(&out).contains(&old_pw) && !stderr(&out).contains(&old_pw));
    assert_eq!(old["engine"], "postgres");

    let role_for_cleanup = role.clone();
    let pg2 = pg.clone();
    rotwise_test_services::run_then_cleanup(
        async move {
            let env = [
                ("ROTATION_TEST_PG_URL", url.as_str()),
                ("ROTATION_CA_FILE", ca.as_str()),
            ];
            pg.connect_as(&role, &old_pw)
                .await
                .expect("the demo role logs in before rotation");
            let out = run_with(&["--store", &store_arg, "rotate", &name], &env);
            ok(&out);
            let text = stdout(&out);
            for step in [
                "createSecret",
                "setSecret",
                "testSecret",
                "finishSecret",
                "labels after",
            ] {
                assert!(text.contains(step), "{step} in {text}");
            }
            assert!(text.contains("new password login: accepted"), "{text}");
            assert!(text.contains("old password login: refused"), "{text}");
            assert!(!stderr(&out).contains("WARNING"), "{}", stderr(&out));

            let new = stored_current(std::path::Path::new(&store_arg), &name);
            let new_pw = new["password"].as_str().unwrap().to_string();
            assert_ne!(new_pw, old_pw);
            assert!(
                !text.contains(&new_pw)
                    && !stderr(&out).contains(&new_pw)
                    && !text.contains(&old_pw)
            );
            pg.connect_as(&role, &new_pw)
                .await
                .expect("the new password logs in");
            assert!(
                pg.connect_as(&role, &old_pw).await.is_err(),
                "the old password must not log in"
            );
            let mode = std::fs::metadata(&store_arg).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);

            // --json: a stable object with the proof.
            let out = run_with(&["--store", &store_arg, "rotate", &name, "--json"], &env);
            let r = json_out(ok(&out));
            assert_eq!(r["ok"], true);
            assert_eq!(r["engine"], "postgres");
            assert_eq!(r["proof"]["new_login"]["result"], "accepted");
            assert_eq!(r["proof"]["old_login"]["result"], "refused");
            assert!(r["labels_before"].is_object() && r["labels_after"].is_object());
            // The Lambda's metrics, per step: 10 Secrets Manager calls in all (single
            // user), logins only where the engine makes them, none refused.
            let steps = r["steps"].as_array().unwrap();
            let total = |k: &str| steps.iter().map(|s| s[k].as_u64().unwrap()).sum::<u64>();
            assert_eq!(total("secrets_manager_calls"), 10, "{r}");
            assert_eq!(total("failed_database_logins"), 0, "{r}");
            assert_eq!(
                steps[0]["database_logins"], 0,
                "createSecret logs in nowhere: {r}"
            );
            assert!(steps[1]["database_logins"].as_u64() >= Some(1), "{r}");
        },
        async move {
            let admin = pg2.admin().await;
            let _ = admin
                .batch_execute(&format!("DROP ROLE IF EXISTS \"{role_for_cleanup}\""))
                .await;
        },
    )
    .await;
}

#[test]
fn concurrent_processes_do_not_lose_writes() {
    let s = Store::new();
    let f = s.json_file("a.json", r#"{"password":"p"}"#);
    ok(&s.run(&["put", "busy", "--from-json", f.to_str().unwrap()]));
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_rotwise"))
                .args([
                    "--store",
                    s.file.to_str().unwrap(),
                    "put",
                    "busy",
                    "--from-json",
                ])
                .arg(&f)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let st = json_out(ok(&s.run(&["status", "busy", "--json"])));
    assert_eq!(st["versions"].as_array().unwrap().len(), 9, "{st}");
}

/// `rotate --endpoint` asks the service to rotate (RotateSecret), here the test kit's
/// local Secrets Manager endpoint; a second request while that rotation is incomplete
/// is refused with the service's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_on_the_service_calls_rotate_secret() {
    use rotwise_core::store::{AWSCURRENT, AWSPENDING, MemoryStore, SecretStore};
    let memory = std::sync::Arc::new(MemoryStore::new());
    let endpoint = rotwise_testkit::endpoint::LocalEndpoint::start(memory.clone()).unwrap();
    let url = endpoint.url();
    let s = Store::new();
    let file = s.json_file("v.json", PG_LIKE);
    let file = file.to_str().unwrap().to_string();
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_with(&args, &[])
        })
    };
    let args = |rest: &[&str]| -> Vec<String> {
        ["--endpoint", url.as_str()]
            .iter()
            .chain(rest)
            .map(|a| a.to_string())
            .collect()
    };
    ok(&run(args(&["put", "svc/db", "--from-json", &file]))
        .await
        .unwrap());

    let out = run(args(&["--json", "rotate", "svc/db"])).await.unwrap();
    ok(&out);
    let version = json_out(&out)["version_id"].as_str().unwrap().to_string();
    let d = memory.describe_secret("svc/db").await.unwrap();
    assert!(d.has_stage(&version, AWSPENDING), "{d:?}");
    assert_ne!(d.version_with_stage(AWSCURRENT), Some(version.as_str()));

    let again = run(args(&["rotate", "svc/db"])).await.unwrap();
    assert_eq!(code(&again), 1, "{}", stderr(&again));
    assert!(
        stderr(&again).contains("A previous rotation isn't complete"),
        "{}",
        stderr(&again)
    );
    assert!(
        stderr(&again).contains("rotwise doctor"),
        "{}",
        stderr(&again)
    );

    let unknown = run(args(&["rotate", "no/such"])).await.unwrap();
    assert_eq!(code(&unknown), 2, "{}", stderr(&unknown));
    let local_only = run(args(&["rotate", "svc/db", "--engine", "postgres"]))
        .await
        .unwrap();
    assert_eq!(code(&local_only), 2, "{}", stderr(&local_only));
    assert!(
        stderr(&local_only).contains("file store only"),
        "{}",
        stderr(&local_only)
    );
    assert_eq!(endpoint.calls_to("RotateSecret"), 3);
}

/// A MySQL secret whose user name fits but whose `_clone` does not: 30 characters, so
/// `<user>_clone` is 36 > 32 for engine `mysql`; MariaDB's 128 allows it.
#[test]
fn mysql_doctor_reports_a_clone_name_too_long_for_the_engine() {
    let s = Store::new();
    let user = "m".repeat(30);
    // A closed port: doctor's AWSCURRENT login must never reach the system server on 3306.
    let port = closed_port();
    let secret = |engine: &str| {
        format!(
            r#"{{"engine":"{engine}","host":"127.0.0.1","port":{port},"username":"{user}","password":"canary-pw-5","masterarn":"no/such/master"}}"#
        )
    };
    let f = s.json_file("my.json", &secret("mysql"));
    ok(&s.run(&["put", "my", "--from-json", f.to_str().unwrap()]));
    let out = s.run(&["doctor", "my", "--json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let r = json_out(&out);
    let findings = r["findings"].as_array().unwrap();
    let clone = findings
        .iter()
        .find(|f| f["code"] == "clone_name_too_long")
        .unwrap_or_else(|| panic!("clone_name_too_long in {r}"));
    let message = clone["message"].as_str().unwrap();
    assert!(
        message.contains("36 characters") && message.contains("32"),
        "{message}"
    );
    assert!(message.contains("MySQL"), "{message}");
    assert!(
        !findings.iter().any(|f| f["code"] == "username_too_long"),
        "{r}"
    );
    assert!(!stdout(&out).contains("canary-pw-5"));

    // USERNAME_CHARACTER_LIMIT (the MySQL Lambda's variable) overrides the engine's limit.
    let args = [
        "--store",
        s.file.to_str().unwrap(),
        "doctor",
        "my",
        "--json",
    ];
    let out = run_with(&args, &[("USERNAME_CHARACTER_LIMIT", "40")]);
    let r = json_out(&out);
    assert!(
        !r.to_string().contains("clone_name_too_long"),
        "40 allows the clone: {r}"
    );
    let out = run_with(&args, &[("USERNAME_CHARACTER_LIMIT", "many")]);
    let r = json_out(&out);
    assert!(
        r.to_string().contains("invalid_environment")
            && r.to_string().contains("USERNAME_CHARACTER_LIMIT"),
        "{r}"
    );

    // The same secret for MariaDB (128): the clone fits.
    let f = s.json_file("maria.json", &secret("mariadb"));
    ok(&s.run(&["put", "maria", "--from-json", f.to_str().unwrap()]));
    let r = json_out(&s.run(&["doctor", "maria", "--json"]));
    assert!(!r.to_string().contains("clone_name_too_long"), "{r}");
    assert!(r.to_string().contains("master_missing"), "{r}");
}

/// `init-demo --engine mysql` on the private MariaDB, then `rotate`: the new password logs
/// in, the old one is refused (checked here over TCP with mysql_async, not only by the CLI's
/// own proof). In the nextest `mariadb` group: the proof fails a login on purpose.
#[tokio::test]
async fn mysql_init_demo_then_rotate_changes_the_real_password() {
    use rotwise_test_services::mysql_async::prelude::Queryable;
    let Some(my) = rotwise_test_services::require_mysql() else {
        return;
    };
    let s = Store::new();
    let name = format!("demo/{}", uuid::Uuid::new_v4().simple());
    let ca = my.ca.to_str().unwrap().to_string();
    let url = my.url.clone();
    let store_arg = s.file.to_str().unwrap().to_string();
    // The URL on standard input wins over the test servers' variable (a closed port here).
    let broken = format!("mysql://x:y@127.0.0.1:{}", closed_port());
    let env = [
        ("ROTATION_TEST_MYSQL_URL", broken.as_str()),
        ("ROTATION_CA_FILE", ca.as_str()),
    ];
    let out = run_with_input(
        &[
            "--store",
            &store_arg,
            "init-demo",
            "--engine",
            "mysql",
            "--mysql-url-stdin",
            "--name",
            &name,
            "--json",
        ],
        &env,
        &format!("{url}\n"),
    );
    let demo = json_out(ok(&out));
    let user = demo["user"].as_str().unwrap().to_string();
    assert_eq!(demo["engine"], "mariadb", "{demo}");
    let old = stored_current(&s.file, &name);
    let old_pw = old["password"].as_str().unwrap().to_string();
    assert!(!stdout(&out).contains(&old_pw) && !stderr(&out).contains(&old_pw));
    assert_eq!(old["engine"], "mariadb");
    assert_eq!(old["host"], "127.0.0.1");
    assert!(old["port"].is_u64(), "{old:?}");
    assert_eq!(old["username"], user.as_str());

    // TCP (prefer_socket(false) in the test kit's options), TLS verified against the CA.
    async fn logs_in(my: &rotwise_test_services::MysqlService, user: &str, pw: &str) -> bool {
        match my.connect_as(user, pw).await {
            Ok(mut conn) => {
                let one: Option<u8> = conn.query_first("SELECT 1").await.unwrap();
                assert_eq!(one, Some(1));
                let _ = conn.disconnect().await;
                true
            }
            Err(_) => false,
        }
    }

    let user_for_cleanup = user.clone();
    let my2 = my.clone();
    rotwise_test_services::run_then_cleanup(
        async move {
            let env = [
                ("ROTATION_TEST_MYSQL_URL", url.as_str()),
                ("ROTATION_CA_FILE", ca.as_str()),
            ];
            assert!(
                logs_in(&my, &user, &old_pw).await,
                "the demo user logs in before rotation"
            );
            let out = run_with(&["--store", &store_arg, "rotate", &name], &env);
            ok(&out);
            let text = stdout(&out);
            for step in [
                "with mysql",
                "createSecret",
                "setSecret",
                "testSecret",
                "finishSecret",
                "labels after",
            ] {
                assert!(text.contains(step), "{step} in {text}");
            }
            assert!(text.contains("new password login: accepted"), "{text}");
            assert!(text.contains("old password login: refused"), "{text}");
            assert!(!stderr(&out).contains("WARN"), "{}", stderr(&out));

            let new = stored_current(Path::new(&store_arg), &name);
            let new_pw = new["password"].as_str().unwrap().to_string();
            assert_ne!(new_pw, old_pw);
            assert_eq!(new["engine"], "mariadb");
            // MYSQL_DEFAULT_EXCLUDE, as the MySQL Lambda: no / @ " ' \ in the password.
            assert!(
                !new_pw.contains(['/', '@', '"', '\'', '\\']),
                "the MySQL default exclusions apply"
            );
            assert!(
                !text.contains(&new_pw)
                    && !stderr(&out).contains(&new_pw)
                    && !text.contains(&old_pw)
            );
            assert!(
                logs_in(&my, &user, &new_pw).await,
                "the new password logs in"
            );
            assert!(
                !logs_in(&my, &user, &old_pw).await,
                "the old password must not log in"
            );

            // --json: the proof in the stable object.
            let out = run_with(&["--store", &store_arg, "rotate", &name, "--json"], &env);
            let r = json_out(ok(&out));
            assert_eq!(r["ok"], true);
            assert_eq!(r["engine"], "mysql");
            assert_eq!(r["proof"]["new_login"]["result"], "accepted");
            assert_eq!(r["proof"]["old_login"]["result"], "refused");
            let newest = stored_current(Path::new(&store_arg), &name);
            let newest_pw = newest["password"].as_str().unwrap();
            assert!(logs_in(&my, &user, newest_pw).await);
            assert!(!logs_in(&my, &user, &new_pw).await);
        },
        async move {
            let mut admin = my2.admin().await;
            let _ = admin
                .query_drop(format!("DROP USER IF EXISTS `{user_for_cleanup}`@'%'"))
                .await;
            let _ = admin.disconnect().await;
        },
    )
    .await;
}

// ------------------------------------------------------------------------------------------------
// Exit codes by kind (docs/src/guides/cli.md, "Exit codes").

/// The AWSCURRENT version of `name` in the store file: its id and its value.
fn stored_current_version(store: &Path, name: &str) -> (String, Value) {
    let doc: Value = serde_json::from_slice(&std::fs::read(store).unwrap()).unwrap();
    let secret = doc["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap();
    let v = secret["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| {
            v["stages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == "AWSCURRENT")
        })
        .unwrap();
    let value = serde_json::from_str(v["secret_string"].as_str().unwrap()).unwrap();
    (v["id"].as_str().unwrap().to_string(), value)
}

/// A local TCP port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

/// The private PostgreSQL's port.
fn pg_port(pg: &rotwise_test_services::PgService) -> u16 {
    pg.admin_config()
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
}

fn pg_secret(port: u16, user: &str, password: &str) -> String {
    serde_json::json!({
        "engine": "postgres", "host": "127.0.0.1", "port": port, "username": user,
        "password": password, "dbname": "postgres",
    })
    .to_string()
}

/// `rotate` failed at setSecret with `code`: the rotation's pending version is left for
/// `--resume`, AWSCURRENT (version and value) is unchanged, and no value is printed.
fn assert_rotation_failed(s: &Store, name: &str, env: &[(&str, &str)], code_: i32, kind: &str) {
    let (current_id, current) = stored_current_version(&s.file, name);
    let store_arg = s.file.to_str().unwrap();
    let out = run_with(&["--store", store_arg, "rotate", name], env);
    let err = stderr(&out);
    assert_eq!(
        code(&out),
        code_,
        "stdout:\n{}\nstderr:\n{err}",
        stdout(&out)
    );
    assert!(
        err.contains("failed at setSecret") && err.contains("--resume"),
        "{err}"
    );
    assert_eq!(
        stored_current_version(&s.file, name),
        (current_id.clone(), current.clone()),
        "AWSCURRENT must not change"
    );
    let password = current["password"].as_str().unwrap();
    assert!(!err.contains(password) && !stdout(&out).contains(password));
    // The same failure with --json (resuming the pending version): the error's kind.
    let out = run_with(
        &["--store", store_arg, "--json", "rotate", name, "--resume"],
        env,
    );
    assert_eq!(code(&out), code_, "{}", stderr(&out));
    let r = json_out(&out);
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["error"]["step"], "setSecret", "{r}");
    assert_eq!(r["error"]["kind"], kind, "{r}");
    assert_eq!(stored_current_version(&s.file, name), (current_id, current));
}

/// `doctor` on an alternating secret whose master secret `master` does not log in: the
/// finding `master_login_failed` with the fix hint for the failure's kind; nothing changes.
fn assert_master_hint(s: &Store, master: &str, env: &[(&str, &str)], hint: &str) {
    let user = "rotwise_alt";
    let f = s.json_file(
        "alt.json",
        &serde_json::json!({
            "engine": "postgres", "host": "127.0.0.1", "port": closed_port(), "username": user,
            "password": "canary-alt-pw", "masterarn": "master",
        })
        .to_string(),
    );
    ok(&s.run(&["put", "alt", "--from-json", f.to_str().unwrap()]));
    let f = s.json_file("master.json", master);
    ok(&s.run(&["put", "master", "--from-json", f.to_str().unwrap()]));
    let before = s.bytes();
    let args = [
        "--store",
        s.file.to_str().unwrap(),
        "doctor",
        "alt",
        "--json",
    ];
    let out = run_with(&args, env);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let r = json_out(&out);
    let finding = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "master_login_failed")
        .unwrap_or_else(|| panic!("master_login_failed in {r}"));
    let fix = finding["fix"].as_str().unwrap();
    assert!(fix.contains(hint), "{hint:?} in {fix:?}");
    assert!(!r.to_string().contains("canary"), "{r}");
    assert_eq!(s.bytes(), before, "doctor without --fix changes nothing");
}

#[test]
fn unreachable_target_exits_3() {
    let s = Store::new();
    let port = closed_port();
    let f = s.json_file("db.json", &pg_secret(port, "app", "canary-unreachable-pw"));
    ok(&s.run(&["put", "db", "--from-json", f.to_str().unwrap()]));
    let env = [("ROTATION_CONNECT_TIMEOUT_MS", "2000")];
    assert_rotation_failed(&s, "db", &env, 3, "TargetUnreachable");
    let master = pg_secret(port, "master_user", "canary-master-pw");
    assert_master_hint(&s, &master, &env, "\"port\"");
}

#[tokio::test]
async fn refused_current_password_exits_4() {
    let Some(pg) = rotwise_test_services::require_pg() else {
        return;
    };
    let role = rotwise_test_services::unique_name("rw_cli_refused");
    let real_pw = uuid::Uuid::new_v4().simple().to_string();
    pg.admin()
        .await
        .batch_execute(&format!("CREATE ROLE {role} LOGIN PASSWORD '{real_pw}'"))
        .await
        .unwrap();
    let (role2, pg2) = (role.clone(), pg.clone());
    rotwise_test_services::run_then_cleanup(
        async move {
            let s = Store::new();
            let port = pg_port(&pg);
            let wrong = pg_secret(port, &role, "canary-wrong-pw");
            let f = s.json_file("db.json", &wrong);
            ok(&s.run(&["put", "db", "--from-json", f.to_str().unwrap()]));
            let ca = pg.ca.to_str().unwrap().to_string();
            let env = [("ROTATION_CA_FILE", ca.as_str())];
            assert_rotation_failed(&s, "db", &env, 4, "LoginRefused");
            assert_master_hint(&s, &wrong, &env, "changed outside rotation");
            pg.connect_as(&role, &real_pw)
                .await
                .expect("the role's real password is unchanged");
        },
        async move {
            let _ = pg2
                .admin()
                .await
                .batch_execute(&format!("DROP ROLE IF EXISTS {role2}"))
                .await;
        },
    )
    .await;
}

#[test]
fn tls_verification_failure_exits_5() {
    let Some(pg) = rotwise_test_services::require_pg() else {
        return;
    };
    let s = Store::new();
    // No such role: TLS fails before authentication, so no login is ever tried.
    let secret = pg_secret(pg_port(&pg), "rotwise_tls_nobody", "canary-tls-pw");
    let f = s.json_file("db.json", &secret);
    ok(&s.run(&["put", "db", "--from-json", f.to_str().unwrap()]));
    let other_ca = pg.other_ca.to_str().unwrap();
    let env = [
        ("ROTATION_TLS_MODE", "verify-full"),
        ("ROTATION_CA_FILE", other_ca),
    ];
    assert_rotation_failed(&s, "db", &env, 5, "TlsFailed");
    assert_master_hint(&s, &secret, &env, "ROTATION_CA_FILE");
}

#[test]
fn invalid_secret_or_configuration_exits_2_and_changes_nothing() {
    let s = Store::new();
    let secrets = [
        (
            "no-password",
            r#"{"engine":"postgres","host":"127.0.0.1","username":"app"}"#,
        ),
        (
            "bad-port",
            r#"{"engine":"postgres","host":"127.0.0.1","port":"fifty","username":"app","password":"canary-pw-6"}"#,
        ),
        (
            "mysql-no-host",
            r#"{"engine":"mysql","username":"app","password":"canary-pw-7"}"#,
        ),
    ];
    for (name, value) in secrets {
        let f = s.json_file("v.json", value);
        ok(&s.run(&["put", name, "--from-json", f.to_str().unwrap()]));
    }
    let f = s.json_file("ok.json", PG_LIKE);
    ok(&s.run(&["put", "good", "--from-json", f.to_str().unwrap()]));
    let before = s.bytes();
    let store_arg = s.file.to_str().unwrap();
    // (secret, environment, expected in the message)
    let no_env: &[(&str, &str)] = &[];
    let mut cases = secrets.map(|(name, _)| (name, no_env, "engine ")).to_vec();
    cases.push((
        "good",
        &[("ROTATION_TLS_MODE", "loose")],
        "ROTATION_TLS_MODE",
    ));
    cases.push(("good", &[("PASSWORD_LENGTH", "0")], "PASSWORD_LENGTH"));
    for (name, env, expect) in cases {
        let out = run_with(&["--store", store_arg, "rotate", name], env);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{name} {env:?}: {err}");
        assert!(err.contains(expect), "{name}: {expect:?} in {err}");
        for canary in ["canary-pw-1", "canary-pw-6", "canary-pw-7"] {
            assert!(!err.contains(canary) && !stdout(&out).contains(canary));
        }
        assert_eq!(s.bytes(), before, "{name} {env:?} changed the store");
    }
}

/// The most specific `ROTWISE_LOG` a user can write for each dependency that logs secrets.
const SPECIFIC_LOG: &str = "trace,tokio_postgres=trace,tokio_postgres::query=trace,\
    tokio_postgres::simple_query=trace,tokio_postgres::prepare=trace,\
    tokio_postgres::connect_raw=trace,postgres_protocol=trace,mysql_async=trace,\
    mysql_async::conn=trace,mysql_async::conn::routines=trace,mysql_common=trace,\
    aws_smithy_runtime=trace,aws_sdk_secretsmanager=trace,aws_config=trace,hyper=trace,\
    hyper_util=trace,rustls=trace,lambda_runtime=trace,rotwise_db=trace";

/// Which of `secrets` (named) appear in `text`, with the first line holding each.
fn leaks_in(text: &str, secrets: &[(String, String)]) -> Vec<String> {
    secrets
        .iter()
        .filter_map(|(name, value)| {
            text.lines()
                .find(|l| l.contains(value.as_str()))
                .map(|l| format!("{name} in: {}", l.chars().take(300).collect::<String>()))
        })
        .collect()
}

/// Issue 19, item 5: `init-demo` and `rotate` on PostgreSQL with the most specific
/// `ROTWISE_LOG` (before, `tokio_postgres::simple_query=debug` beat the cap and logged the
/// ALTER ROLE with its SCRAM verifier): neither password nor verifier (old or new) is in
/// stdout or stderr. Positive controls: rotwise's own DEBUG lines are there, and the
/// planted canary in the secret's name is found.
#[tokio::test]
async fn rotate_with_the_most_specific_log_directives_prints_no_secret() {
    let Some(pg) = rotwise_test_services::require_pg() else {
        return;
    };
    let s = Store::new();
    let planted = format!("Planted{}", uuid::Uuid::new_v4().simple());
    let name = format!("trace/{planted}");
    let ca = pg.ca.to_str().unwrap().to_string();
    let url = pg.url.clone();
    let store_arg = s.file.to_str().unwrap().to_string();
    let init_env = [
        ("ROTWISE_PG_URL", url.as_str()),
        ("ROTATION_CA_FILE", ca.as_str()),
        ("ROTWISE_LOG", SPECIFIC_LOG),
    ];
    let init = run_with(
        &[
            "--store",
            &store_arg,
            "init-demo",
            "--name",
            &name,
            "--json",
        ],
        &init_env,
    );
    let demo = json_out(ok(&init));
    let role = demo["role"].as_str().unwrap().to_string();
    let role_for_cleanup = role.clone();
    let pg2 = pg.clone();
    rotwise_test_services::run_then_cleanup(
        async move {
            let verifier = |role: String| {
                let pg = pg.clone();
                async move {
                    let v: String = pg
                        .admin()
                        .await
                        .query_one(
                            "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
                            &[&role],
                        )
                        .await
                        .unwrap()
                        .get(0);
                    assert!(v.starts_with("SCRAM-SHA-256$"));
                    let mut parts = vec![v.clone()];
                    parts.extend(v.split(['$', ':']).skip(2).map(str::to_string));
                    parts
                }
            };
            let old_pw = stored_current(&s.file, &name)["password"]
                .as_str()
                .unwrap()
                .to_string();
            let old_verifier = verifier(role.clone()).await;
            let env = [
                ("ROTATION_CA_FILE", ca.as_str()),
                ("ROTWISE_LOG", SPECIFIC_LOG),
            ];
            let out = run_with(&["--store", &store_arg, "rotate", &name], &env);
            ok(&out);
            let new_pw = stored_current(&s.file, &name)["password"]
                .as_str()
                .unwrap()
                .to_string();
            assert_ne!(new_pw, old_pw);
            let new_verifier = verifier(role.clone()).await;

            let mut secrets = vec![
                ("the old password".to_string(), old_pw),
                ("the new password".to_string(), new_pw),
            ];
            for (i, p) in old_verifier.into_iter().enumerate() {
                secrets.push((format!("the old verifier (part {i})"), p));
            }
            for (i, p) in new_verifier.into_iter().enumerate() {
                secrets.push((format!("the new verifier (part {i})"), p));
            }
            let all = format!(
                "{}{}{}{}",
                stdout(&init),
                stderr(&init),
                stdout(&out),
                stderr(&out)
            );
            let found = leaks_in(&all, &secrets);
            assert!(found.is_empty(), "secrets printed:\n{}", found.join("\n"));
            // Positive controls.
            assert!(all.contains(&planted), "the planted canary is found");
            assert!(
                stderr(&out).lines().any(|l| l.contains("DEBUG")),
                "rotwise's own DEBUG lines are printed:\n{}",
                stderr(&out)
            );
        },
        async move {
            let _ = pg2
                .admin()
                .await
                .batch_execute(&format!("DROP ROLE IF EXISTS \"{role_for_cleanup}\""))
                .await;
        },
    )
    .await;
}

/// The same on the private MariaDB: neither password nor the `mysql_native_password` hash
/// (old or new) is printed with the most specific `ROTWISE_LOG`.
#[tokio::test]
async fn mysql_rotate_with_the_most_specific_log_directives_prints_no_secret() {
    use rotwise_test_services::mysql_async::prelude::Queryable;
    let Some(my) = rotwise_test_services::require_mysql() else {
        return;
    };
    let s = Store::new();
    let planted = format!("Planted{}", uuid::Uuid::new_v4().simple());
    let name = format!("trace/{planted}");
    let ca = my.ca.to_str().unwrap().to_string();
    let store_arg = s.file.to_str().unwrap().to_string();
    let env = [
        ("ROTWISE_MYSQL_URL", my.url.as_str()),
        ("ROTATION_CA_FILE", ca.as_str()),
        ("ROTWISE_LOG", SPECIFIC_LOG),
    ];
    let init = run_with(
        &[
            "--store",
            &store_arg,
            "init-demo",
            "--engine",
            "mysql",
            "--name",
            &name,
            "--json",
        ],
        &env,
    );
    let demo = json_out(ok(&init));
    let user = demo["user"].as_str().unwrap().to_string();
    let hash = |user: String| {
        let my = my.clone();
        async move {
            let mut admin = my.admin().await;
            let h: Option<String> = admin
                .exec_first(
                    "SELECT authentication_string FROM mysql.user WHERE User = ?",
                    (user,),
                )
                .await
                .unwrap();
            let _ = admin.disconnect().await;
            let h = h.unwrap_or_default();
            assert!(h.starts_with('*') && h.len() == 41, "a native hash");
            h
        }
    };
    let old_pw = stored_current(&s.file, &name)["password"]
        .as_str()
        .unwrap()
        .to_string();
    let old_hash = hash(user.clone()).await;
    let out = run_with(&["--store", &store_arg, "rotate", &name], &env);
    let new_pw = stored_current(&s.file, &name)["password"]
        .as_str()
        .unwrap()
        .to_string();
    let new_hash = hash(user.clone()).await;
    let mut admin = my.admin().await;
    let _ = admin
        .query_drop(format!(
            "DROP USER IF EXISTS '{user}'@'%', '{user}'@'localhost'"
        ))
        .await;
    let _ = admin.disconnect().await;
    ok(&out);
    assert_ne!(new_pw, old_pw);
    let secrets = vec![
        ("the old password".to_string(), old_pw),
        ("the new password".to_string(), new_pw),
        ("the old hash".to_string(), old_hash.clone()),
        ("the new hash".to_string(), new_hash.clone()),
        // Also without the leading '*' (as a statement or a Debug form may print it).
        ("the old hash's hex".to_string(), old_hash[1..].to_string()),
        ("the new hash's hex".to_string(), new_hash[1..].to_string()),
    ];
    let all = format!(
        "{}{}{}{}",
        stdout(&init),
        stderr(&init),
        stdout(&out),
        stderr(&out)
    );
    let found = leaks_in(&all, &secrets);
    assert!(found.is_empty(), "secrets printed:\n{}", found.join("\n"));
    assert!(all.contains(&planted), "the planted canary is found");
    assert!(
        stderr(&out).lines().any(|l| l.contains("DEBUG")),
        "rotwise's own DEBUG lines are printed:\n{}",
        stderr(&out)
    );
}

// ------------------------------------------------------------------------------------------------
// `doctor` against the private servers: each state of a secret, the verdict, and what
// `--fix` does about it (issue 20: never strand a secret).

/// One of the private servers, as the doctor tests use it.
#[derive(Clone)]
enum Db {
    Pg(rotwise_test_services::PgService),
    My(rotwise_test_services::MysqlService),
}

impl Db {
    fn pg() -> Option<Db> {
        rotwise_test_services::require_pg().map(Db::Pg)
    }

    fn mysql() -> Option<Db> {
        rotwise_test_services::require_mysql().map(Db::My)
    }

    /// What every CLI call needs: the server's CA; `init-demo`'s admin URL.
    fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Db::Pg(pg) => vec![
                ("ROTATION_CA_FILE", pg.ca.to_str().unwrap().to_string()),
                ("ROTWISE_PG_URL", pg.url.clone()),
            ],
            Db::My(my) => vec![
                ("ROTATION_CA_FILE", my.ca.to_str().unwrap().to_string()),
                ("ROTWISE_MYSQL_URL", my.url.clone()),
            ],
        }
    }

    fn init_args(&self) -> &'static [&'static str] {
        match self {
            Db::Pg(_) => &[],
            Db::My(_) => &["--engine", "mysql"],
        }
    }

    /// The user `init-demo` reported, as SQL names it.
    fn account(&self, demo: &Value) -> (String, String) {
        match self {
            Db::Pg(_) => (demo["role"].as_str().unwrap().to_string(), String::new()),
            Db::My(_) => (
                demo["user"].as_str().unwrap().to_string(),
                demo["account_host"].as_str().unwrap().to_string(),
            ),
        }
    }

    /// An out-of-band password change, as an administrator makes it.
    async fn set_password(&self, (user, host): &(String, String), password: &str) {
        match self {
            Db::Pg(pg) => pg
                .admin()
                .await
                .batch_execute(&format!("ALTER ROLE \"{user}\" PASSWORD '{password}'"))
                .await
                .unwrap(),
            Db::My(my) => {
                use rotwise_test_services::mysql_async::prelude::Queryable;
                let mut conn = my.admin().await;
                conn.query_drop(format!(
                    "ALTER USER '{user}'@'{host}' IDENTIFIED BY '{password}'"
                ))
                .await
                .unwrap();
                let _ = conn.disconnect().await;
            }
        }
    }

    /// What an application holding `value` sees: does it log in?
    async fn logs_in(&self, value: &Value) -> bool {
        let (user, pw) = (
            value["username"].as_str().unwrap(),
            value["password"].as_str().unwrap(),
        );
        match self {
            Db::Pg(pg) => pg.connect_as(user, pw).await.is_ok(),
            Db::My(my) => match my.connect_as(user, pw).await {
                Ok(conn) => {
                    let _ = conn.disconnect().await;
                    true
                }
                Err(_) => false,
            },
        }
    }

    async fn drop_user(&self, (user, host): &(String, String)) {
        match self {
            Db::Pg(pg) => {
                let _ = pg
                    .admin()
                    .await
                    .batch_execute(&format!("DROP ROLE IF EXISTS \"{user}\""))
                    .await;
            }
            Db::My(my) => {
                use rotwise_test_services::mysql_async::prelude::Queryable;
                let mut conn = my.admin().await;
                let _ = conn
                    .query_drop(format!("DROP USER IF EXISTS '{user}'@'{host}'"))
                    .await;
                let _ = conn.disconnect().await;
            }
        }
    }
}

/// Where the secret lives: the file store, or the test kit's local Secrets Manager
/// endpoint (in this process, over its memory store).
enum Place {
    File(Store),
    Endpoint {
        memory: std::sync::Arc<rotwise_core::store::MemoryStore>,
        endpoint: rotwise_testkit::endpoint::LocalEndpoint,
    },
}

impl Place {
    fn file() -> Place {
        Place::File(Store::new())
    }

    fn endpoint() -> Place {
        let memory = std::sync::Arc::new(rotwise_core::store::MemoryStore::new());
        let endpoint = rotwise_testkit::endpoint::LocalEndpoint::start(memory.clone()).unwrap();
        Place::Endpoint { memory, endpoint }
    }

    /// Run the CLI on this store (blocking this test's worker; the endpoint is served by
    /// the runtime's other thread).
    fn run(&self, db: &Db, args: &[&str]) -> Output {
        let (flag, at) = match self {
            Place::File(s) => ("--store", s.file.to_str().unwrap().to_string()),
            Place::Endpoint { endpoint, .. } => ("--endpoint", endpoint.url()),
        };
        let env = db.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let args = [&[flag, at.as_str()], args].concat();
        tokio::task::block_in_place(|| run_with(&args, &env))
    }

    /// What RotateSecret does first: a value-less AWSPENDING version.
    fn begin(&self, db: &Db, name: &str) -> String {
        match self {
            Place::File(_) => stdout(ok(&self.run(db, &["debug", "begin-rotation", name])))
                .trim()
                .to_string(),
            Place::Endpoint { memory, .. } => memory.begin_rotation(name).unwrap(),
        }
    }

    /// The rotation function's `step` for `token`, run locally.
    fn step(&self, db: &Db, name: &str, step: &str, token: &str) {
        ok(&self.run(db, &["debug", "step", name, step, "--token", token]));
    }

    /// A whole rotation, as the service and its function run it.
    fn rotate(&self, db: &Db, name: &str) {
        match self {
            Place::File(_) => {
                ok(&self.run(db, &["rotate", name]));
            }
            Place::Endpoint { memory, .. } => {
                let token = self.begin(db, name);
                for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
                    self.step(db, name, step, &token);
                }
                assert!(memory.complete_rotation(name, &token).unwrap());
            }
        }
    }

    /// Everything the store holds, to compare before and after.
    fn snapshot(&self) -> String {
        match self {
            Place::File(s) => String::from_utf8(s.bytes()).unwrap(),
            Place::Endpoint { memory, .. } => format!("{:?}", memory.snapshot()),
        }
    }

    /// The version ids holding AWSCURRENT, AWSPENDING and AWSPREVIOUS.
    fn labels(&self, db: &Db, name: &str) -> [Option<String>; 3] {
        let st = json_out(ok(&self.run(db, &["status", name, "--json"])));
        let holder = |label: &str| {
            st["versions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["stages"].as_array().unwrap().iter().any(|s| s == label))
                .map(|v| v["version_id"].as_str().unwrap().to_string())
        };
        [
            holder("AWSCURRENT"),
            holder("AWSPENDING"),
            holder("AWSPREVIOUS"),
        ]
    }

    /// The AWSCURRENT value, as an application reads it.
    async fn current(&self, name: &str) -> Value {
        use rotwise_core::store::{AWSCURRENT, SecretStore};
        use secrecy::ExposeSecret;
        match self {
            Place::File(s) => stored_current(&s.file, name),
            Place::Endpoint { memory, .. } => {
                let v = memory
                    .get_secret_value(name, None, Some(AWSCURRENT))
                    .await
                    .unwrap();
                serde_json::from_str(v.payload.as_string().unwrap().expose_secret()).unwrap()
            }
        }
    }
}

/// `doctor --json` on `name`: its exit code and report.
fn doctor(place: &Place, db: &Db, name: &str, fix: bool) -> (i32, Value) {
    let mut args = vec!["doctor", name, "--json"];
    if fix {
        args.extend(["--fix", "--yes"]);
    }
    let out = place.run(db, &args);
    (code(&out), json_out(&out))
}

fn codes(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

fn finding<'a>(report: &'a Value, code: &str) -> &'a str {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .and_then(|f| f["message"].as_str())
        .unwrap_or_else(|| panic!("{code} in {report}"))
}

/// Every state doctor tells apart, on one engine and one store: a healthy secret, drift,
/// a rotation stopped before createSecret, after createSecret (with and without drift),
/// and after setSecret (the never-strands case), each with the verdict and `--fix`.
async fn doctor_states(db: Db, place: Place) {
    let name = format!("doctor/{}", uuid::Uuid::new_v4().simple());
    let mut init = vec!["init-demo", "--name", name.as_str(), "--json"];
    init.extend(db.init_args());
    let demo = json_out(ok(&place.run(&db, &init)));
    let account = db.account(&demo);
    let (db2, account2) = (db.clone(), account.clone());
    rotwise_test_services::run_then_cleanup(
        async move {
            let original = place.current(&name).await;
            let pw0 = original["password"].as_str().unwrap().to_string();
            if let Place::Endpoint { memory, .. } = &place {
                // Rotation on with no function to run it: said, then set up.
                memory.configure_rotation(&name, Some(true), None, None).unwrap();
                let (code_, r) = doctor(&place, &db, &name, false);
                assert_eq!(code_, 1, "{r}");
                assert_eq!(codes(&r), ["no_rotation_function"], "{r}");
                let lambda = "arn:aws:lambda:us-east-1:123456789012:function:rotwise";
                memory
                    .configure_rotation(&name, Some(true), Some(lambda), Some(30))
                    .unwrap();
            }

            // Healthy.
            let (code_, r) = doctor(&place, &db, &name, false);
            assert_eq!(code_, 0, "{r}");
            assert_eq!(r["schema"], 2);
            assert_eq!(r["current_login"], "accepted", "{r}");
            assert_eq!(r["pending"]["state"], "absent", "{r}");
            assert_eq!(r["fix"], "none", "{r}");

            // Drift: the password changed by hand. Nothing to fix from the store.
            let drift = format!("Drift-{}", uuid::Uuid::new_v4().simple());
            db.set_password(&account, &drift).await;
            let (code_, r) = doctor(&place, &db, &name, false);
            assert_eq!(code_, 1, "{r}");
            assert_eq!(r["current_login"], "refused", "{r}");
            assert!(
                finding(&r, "current_refused").starts_with(
                    "AWSCURRENT is refused by the database: the password was changed outside rotation"
                ),
                "{r}"
            );
            let before = place.snapshot();
            let (code_, r) = doctor(&place, &db, &name, true);
            assert_eq!((code_, r["fix"].as_str()), (1, Some("none")), "{r}");
            assert_eq!(place.snapshot(), before);
            db.set_password(&account, &pw0).await;

            // Stopped before createSecret: no value; AWSCURRENT works, so the label goes.
            let token = place.begin(&db, &name);
            let (code_, r) = doctor(&place, &db, &name, false);
            assert_eq!(code_, 1, "{r}");
            assert_eq!(r["pending"]["state"], "no_value", "{r}");
            assert_eq!(r["pending"]["version_id"], token.as_str(), "{r}");
            assert!(finding(&r, "stale_pending").contains("holds no value"), "{r}");
            assert_eq!(r["fix"], "clear", "{r}");
            let (code_, r) = doctor(&place, &db, &name, true);
            assert_eq!(code_, 0, "{r}");
            assert_eq!(place.labels(&db, &name)[1], None);

            // Stopped after createSecret, and the password changed by hand: neither value
            // logs in, so --fix changes nothing and says what a person must do.
            let token = place.begin(&db, &name);
            place.step(&db, &name, "createSecret", &token);
            db.set_password(&account, &drift).await;
            let (code_, r) = doctor(&place, &db, &name, false);
            assert_eq!(code_, 1, "{r}");
            assert_eq!(r["pending"]["state"], "refused", "{r}");
            assert_eq!(r["fix"], "refuse", "{r}");
            let before = place.snapshot();
            let out = place.run(&db, &["doctor", &name, "--fix", "--yes"]);
            assert_eq!(code(&out), 1);
            assert!(
                stderr(&out).contains("accepts neither AWSCURRENT nor AWSPENDING")
                    && stderr(&out).contains("rotwise put"),
                "{}",
                stderr(&out)
            );
            assert_eq!(place.snapshot(), before, "a refused fix changed the store");

            // The same with AWSCURRENT working again: the label goes, the next rotation runs.
            db.set_password(&account, &pw0).await;
            let (code_, r) = doctor(&place, &db, &name, false);
            assert_eq!(code_, 1, "{r}");
            assert!(
                finding(&r, "stale_pending").contains("refuses its value"),
                "{r}"
            );
            assert_eq!(r["fix"], "clear", "{r}");
            let (code_, r) = doctor(&place, &db, &name, true);
            assert_eq!(code_, 0, "{r}");
            let [current, pending, _] = place.labels(&db, &name);
            assert_eq!(pending, None);
            assert_ne!(current.as_deref(), Some(token.as_str()));

            // Stopped after setSecret (single user): the database holds only AWSPENDING's
            // value. Clearing the label would strand the secret; --fix finishes instead.
            let [old_current, ..] = place.labels(&db, &name);
            let token = place.begin(&db, &name);
            place.step(&db, &name, "createSecret", &token);
            place.step(&db, &name, "setSecret", &token);
            assert!(!db.logs_in(&place.current(&name).await).await);
            let (code_, r) = doctor(&place, &db, &name, false);
            assert_eq!(code_, 1, "{r}");
            assert_eq!(r["current_login"], "refused", "{r}");
            assert_eq!(r["pending"]["state"], "accepted", "{r}");
            assert_eq!(r["fix"], "finish", "{r}");
            assert!(finding(&r, "pending_set").contains("setSecret ran"), "{r}");
            assert!(
                finding(&r, "current_refused").contains("the rotation did not finish"),
                "{r}"
            );
            let (code_, r) = doctor(&place, &db, &name, true);
            assert_eq!(code_, 0, "{r}");
            assert!(
                r["findings"].as_array().unwrap().iter().all(|f| f["fixed"] == true),
                "{r}"
            );
            assert_eq!(
                place.labels(&db, &name),
                [Some(token.clone()), None, old_current.clone()]
            );
            let now = place.current(&name).await;
            assert!(db.logs_in(&now).await, "AWSCURRENT logs in after the fix");
            let (code_, r) = doctor(&place, &db, &name, false);
            assert_eq!(code_, 0, "{r}");

            // And a normal rotation runs; the application's AWSCURRENT logs in after it.
            place.rotate(&db, &name);
            let after = place.current(&name).await;
            assert_ne!(after["password"], now["password"]);
            assert!(db.logs_in(&after).await, "AWSCURRENT logs in after rotating");
            assert!(!db.logs_in(&now).await, "the replaced password is refused");
            let everything = place.snapshot();
            assert!(codes(&doctor(&place, &db, &name, false).1).is_empty());
            assert_eq!(place.snapshot(), everything, "doctor without --fix writes nothing");
        },
        async move { db2.drop_user(&account2).await },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_states_postgres_file_store() {
    if let Some(db) = Db::pg() {
        doctor_states(db, Place::file()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_states_postgres_local_endpoint() {
    if let Some(db) = Db::pg() {
        doctor_states(db, Place::endpoint()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_states_mysql_file_store() {
    if let Some(db) = Db::mysql() {
        doctor_states(db, Place::file()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_states_mysql_local_endpoint() {
    if let Some(db) = Db::mysql() {
        doctor_states(db, Place::endpoint()).await;
    }
}

/// `get`: AWSCURRENT by default, any stage or version on request, `--json` with the
/// version's metadata; an unknown stage exits 2 and prints no value.
#[test]
fn get_prints_the_value_of_a_stage_or_version() {
    let s = Store::new();
    let f = s.json_file("t.json", r#"{"password":"first-value-canary"}"#);
    ok(&s.run(&["put", "token", "--from-json", f.to_str().unwrap()]));
    let first: Value = serde_json::from_str(&stdout(ok(&s.run(&["get", "token"])))).unwrap();
    assert_eq!(first["password"], "first-value-canary");
    ok(&s.run(&["rotate", "token", "--example", "random-string"]));

    let current = json_out(ok(&s.run(&["get", "token", "--json"])));
    assert_eq!(
        current["stages"],
        serde_json::json!(["AWSCURRENT"]),
        "{current}"
    );
    let value: Value = serde_json::from_str(current["secret_string"].as_str().unwrap()).unwrap();
    assert_ne!(value["password"], "first-value-canary");
    let previous = json_out(ok(&s.run(&[
        "get",
        "token",
        "--version-stage",
        "AWSPREVIOUS",
        "--json",
    ])));
    assert_eq!(
        previous["secret_string"],
        r#"{"password":"first-value-canary"}"#
    );
    let id = previous["version_id"].as_str().unwrap();
    let by_id = stdout(ok(&s.run(&["get", "token", "--version-id", id])));
    assert_eq!(by_id.trim(), r#"{"password":"first-value-canary"}"#);

    let out = s.run(&["get", "token", "--version-stage", "AWSPENDING"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stdout(&out).is_empty() && !stderr(&out).contains("canary"));
    assert_eq!(code(&s.run(&["get", "nope"])), 2);
}

/// `rotate --endpoint` with set-up and `--wait`: RotateSecret sets the function and the
/// schedule, then the CLI follows the rotation (run here by a stand-in "rotation function",
/// the test kit's toy rotator driven as the service would invoke it) to its end; when no
/// function runs, `--wait` times out, says where the rotation stopped and what doctor finds,
/// and exits 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_on_the_service_sets_up_waits_and_reports() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use rotwise_core::store::{AWSCURRENT, AWSPENDING, MemoryStore, SecretStore};
    use rotwise_testkit::toy::{ToyRotator, ToyTarget};

    let memory = Arc::new(MemoryStore::new());
    let endpoint = rotwise_testkit::endpoint::LocalEndpoint::start(memory.clone()).unwrap();
    let url = endpoint.url();
    let target = ToyTarget::with_user("svc", "first-pw-canary");
    memory
        .insert_secret(
            "svc/token",
            r#"{"username":"svc","password":"first-pw-canary"}"#,
        )
        .unwrap();
    let running = Arc::new(AtomicBool::new(true));
    let function = {
        let (memory, target, running) = (memory.clone(), target.clone(), running.clone());
        tokio::spawn(async move {
            let driver =
                rotwise_core::Driver::new(memory.clone(), Arc::new(ToyRotator::new(target)));
            loop {
                let d = memory.describe_secret("svc/token").await.unwrap();
                let pending = d
                    .version_with_stage(AWSPENDING)
                    .filter(|v| !d.has_stage(v, AWSCURRENT))
                    .map(str::to_string);
                if let (Some(token), true) = (pending, running.load(Ordering::SeqCst)) {
                    for step in rotwise_core::Step::ALL {
                        let event =
                            rotwise_core::RotationEvent::new(step, d.arn.clone(), token.clone());
                        driver.handle(&event).await.unwrap();
                    }
                    memory.complete_rotation(&d.arn, &token).unwrap();
                }
                tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            }
        })
    };
    let cli = |args: &[&str]| {
        let args = [&["--endpoint", url.as_str()], args].concat();
        tokio::task::block_in_place(|| run_with(&args, &[]))
    };
    let lambda = "arn:aws:lambda:us-east-1:123456789012:function:rotwise-toy";

    // Set up (function and days) and wait for the end.
    let out = cli(&[
        "--json",
        "rotate",
        "svc/token",
        "--lambda-arn",
        lambda,
        "--every",
        "30",
        "--wait",
        "--timeout",
        "60",
        "--poll",
        "0.05",
    ]);
    let r = json_out(ok(&out));
    assert_eq!(r["outcome"], "rotated", "{r}");
    let d = memory.describe_secret("svc/token").await.unwrap();
    assert_eq!(d.version_with_stage(AWSCURRENT), r["version_id"].as_str());
    assert_eq!(
        (
            d.rotation_enabled,
            d.rotation_lambda_arn.as_deref(),
            d.rotation_days
        ),
        (Some(true), Some(lambda), Some(30))
    );
    let now: Value = serde_json::from_str(&stdout(ok(&cli(&["get", "svc/token"])))).unwrap();
    assert!(target.login("svc", now["password"].as_str().unwrap()));
    assert!(!target.login("svc", "first-pw-canary"));

    // A schedule instead of days; text output.
    let out = cli(&[
        "rotate",
        "svc/token",
        "--schedule",
        "rate(12 hours)",
        "--wait",
        "--poll",
        "0.05",
    ]);
    assert!(
        stdout(ok(&out)).contains("is AWSCURRENT"),
        "{}",
        stdout(&out)
    );
    let d = memory.describe_secret("svc/token").await.unwrap();
    assert_eq!(
        (d.rotation_schedule.as_deref(), d.rotation_days),
        (Some("rate(12 hours)"), None)
    );

    // No function runs: --wait gives up, says where it stopped and what doctor finds.
    running.store(false, Ordering::SeqCst);
    let out = cli(&[
        "rotate",
        "svc/token",
        "--wait",
        "--timeout",
        "1",
        "--poll",
        "0.05",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "did not finish within 1 s",
        "createSecret did not finish",
        "[stale_pending]",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    assert!(!text.contains("canary") && !stderr(&out).contains("canary"));
    // The rotation is still pending: a second --wait is refused by the service, exit 1.
    let out = cli(&["--json", "rotate", "svc/token", "--wait", "--timeout", "1"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("A previous rotation isn't complete"),
        "{}",
        stderr(&out)
    );

    // Bad input: exit 2, no call made.
    let calls = endpoint.calls_to("RotateSecret");
    for (args, expected) in [
        (
            vec!["rotate", "svc/token", "--schedule", "weekly"],
            "--schedule",
        ),
        (vec!["rotate", "svc/token", "--every", "0"], "--every"),
        (
            vec![
                "rotate",
                "svc/token",
                "--every",
                "3",
                "--schedule",
                "rate(1 day)",
            ],
            "cannot be used with",
        ),
    ] {
        let out = cli(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(endpoint.calls_to("RotateSecret"), calls);
    let s = Store::new();
    let out = s.run(&["rotate", "x", "--wait"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("are for Secrets Manager"),
        "{}",
        stderr(&out)
    );
    function.abort();
}

/// `rotate --endpoint --filter … --wait` on 300 secrets of a set of 310, with throttling
/// injected on RotateSecret and DescribeSecret and 12 secrets whose rotation cannot start
/// (a rotation already in progress): the other 288 rotate (a stand-in rotation function
/// runs their steps), every failure is listed, nothing outside the filter is touched, and
/// the exit code is 1. Then a smaller run on a pseudo-terminal shows the progress bar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_many_secrets_with_throttling_and_failures() {
    use std::sync::Arc;

    use rotwise_core::store::{AWSCURRENT, AWSPENDING, MemoryStore};
    use rotwise_testkit::toy::{ToyRotator, ToyTarget};

    let memory = Arc::new(MemoryStore::new());
    let endpoint = rotwise_testkit::endpoint::LocalEndpoint::start(memory.clone()).unwrap();
    let url = endpoint.url();
    let target = ToyTarget::default();
    let mut stuck = Vec::new();
    for i in 0..310 {
        let (name, user) = (format!("fleet/{i:03}"), format!("u{i}"));
        target.set_password(&user, "first-pw");
        let arn = memory
            .insert_secret(
                &name,
                &format!(r#"{{"username":"{user}","password":"first-pw"}}"#),
            )
            .unwrap();
        memory
            .tag_secret(&arn, "team", if i < 300 { "payments" } else { "search" })
            .unwrap();
        if i < 300 && i % 25 == 7 {
            memory.begin_rotation(&arn).unwrap();
            stuck.push(name);
        }
    }
    assert_eq!(stuck.len(), 12);
    let before = memory.snapshot();
    // The stand-in rotation function: finishes every rotation RotateSecret starts (not the
    // ones stuck before the run).
    let function = {
        let (memory, stuck) = (memory.clone(), stuck.clone());
        tokio::spawn(async move {
            let driver =
                rotwise_core::Driver::new(memory.clone(), Arc::new(ToyRotator::new(target)));
            loop {
                for d in memory.descriptions() {
                    let Some(token) = d
                        .version_with_stage(AWSPENDING)
                        .filter(|v| !d.has_stage(v, AWSCURRENT))
                        .map(str::to_string)
                    else {
                        continue;
                    };
                    if stuck.contains(&d.name) {
                        continue;
                    }
                    for step in rotwise_core::Step::ALL {
                        let event =
                            rotwise_core::RotationEvent::new(step, d.arn.clone(), token.clone());
                        driver.handle(&event).await.unwrap();
                    }
                    memory.complete_rotation(&d.arn, &token).unwrap();
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
    };
    endpoint.throttle("RotateSecret", 5);
    endpoint.throttle("DescribeSecret", 13);
    let cli = |args: &[&str]| {
        let args = [&["--endpoint", url.as_str()], args].concat();
        tokio::task::block_in_place(|| run_with(&args, &[]))
    };

    let started = std::time::Instant::now();
    let out = cli(&[
        "rotate",
        "--filter",
        "tag:team=payments",
        "--wait",
        "--concurrency",
        "16",
        "--poll",
        "0.05",
        "--timeout",
        "120",
    ]);
    let took = started.elapsed();
    eprintln!("300 secrets rotated through the local endpoint in {took:?}");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("rotated ")).count(),
        288,
        "{text}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("FAILED ")).count(),
        12,
        "{text}"
    );
    assert!(
        text.contains("summary: 300 secrets, 288 rotated, 12 failed"),
        "{text}"
    );
    for name in &stuck {
        assert!(
            lines.iter().any(|l| l.starts_with(name.as_str())
                && l.contains("A previous rotation isn't complete")),
            "{name} in the summary table: {text}"
        );
    }
    assert!(
        stderr(&out).contains("12 of 300 secrets did not rotate"),
        "{}",
        stderr(&out)
    );
    assert!(
        endpoint.throttled() > 20,
        "throttling was injected: {}",
        endpoint.throttled()
    );
    // Every payments secret that could rotate did; the others are as they were.
    for d in memory.descriptions() {
        let i: usize = d.name["fleet/".len()..].parse().unwrap();
        let moved = d.versions.len() > 1 && d.version_with_stage(AWSPENDING).is_none();
        assert_eq!(
            moved,
            i < 300 && !stuck.contains(&d.name),
            "{}: {:?}",
            d.name,
            d.versions
        );
    }
    assert_ne!(memory.snapshot(), before);

    // --json, three named secrets without --wait: started, one refused.
    endpoint.throttle("RotateSecret", 0);
    endpoint.throttle("DescribeSecret", 0);
    let out = cli(&["--json", "rotate", "fleet/300", "fleet/301", &stuck[0]]);
    assert_eq!(code(&out), 1);
    let r = json_out(&out);
    assert_eq!(
        (
            r["total"].as_u64(),
            r["started"].as_u64(),
            r["failed"].as_u64()
        ),
        (Some(3), Some(2), Some(1)),
        "{r}"
    );

    // A pseudo-terminal: the progress bar, then the summary.
    let script = format!(
        "{} --endpoint {url} rotate --filter name=fleet/30 --wait --poll 0.05",
        env!("CARGO_BIN_EXE_rotwise")
    );
    let pty = tokio::task::block_in_place(|| {
        Command::new("script")
            .args(["-qec", &script, "/dev/null"])
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("ROTWISE_STORE")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    });
    let screen = String::from_utf8_lossy(&pty.stdout).into_owned();
    assert!(
        screen.contains("/10 secrets"),
        "the bar counts secrets: {screen:?}"
    );
    assert!(
        screen.contains("summary: 10 secrets, 10 rotated, 0 failed"),
        "{screen:?}"
    );
    assert!(
        !screen.contains("\nrotated "),
        "no plain lines on a terminal: {screen:?}"
    );

    // Bad input: no call.
    let calls = endpoint.calls_to("ListSecrets");
    for args in [
        vec!["rotate", "--filter", "owner=me"],
        vec!["rotate", "--all", "--filter", "name=x"],
        vec!["rotate", "--all", "fleet/001"],
    ] {
        let out = cli(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
    }
    assert_eq!(endpoint.calls_to("ListSecrets"), calls);
    let out = cli(&["rotate", "--filter", "name=nothing/"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("no secret matches"),
        "{}",
        stderr(&out)
    );
    function.abort();
}

// ------------------------------------------------------------------------------------------------
// `rotate --dry-run` (issue 20 item 3): the checks, the reads and the current login, the
// statements setSecret would run (redacted), the users and the label moves; nothing
// written to the store, the database, or the server's statement log.

impl Db {
    /// A master user for the alternating strategy, made for one test (so its statements
    /// can be told from other tests' in the server log).
    async fn create_master(&self, user: &str, password: &str) {
        match self {
            Db::Pg(pg) => pg
                .admin()
                .await
                .batch_execute(&format!(
                    "CREATE ROLE \"{user}\" LOGIN CREATEROLE PASSWORD '{password}'"
                ))
                .await
                .unwrap(),
            Db::My(my) => {
                use rotwise_test_services::mysql_async::prelude::Queryable;
                let mut conn = my.admin().await;
                conn.query_drop(format!(
                    "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'; \
                     GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%' WITH GRANT OPTION"
                ))
                .await
                .unwrap();
                let _ = conn.disconnect().await;
            }
        }
    }

    /// Everything the server keeps about `users` that a rotation could change: password
    /// hashes, attributes, comments, memberships and settings (PostgreSQL), accounts,
    /// plugins and grants (MariaDB).
    async fn users_snapshot(&self, users: &[&str]) -> Vec<String> {
        let users: Vec<String> = users.iter().map(|u| u.to_string()).collect();
        match self {
            Db::Pg(pg) => {
                let admin = pg.admin().await;
                let mut out = Vec::new();
                for query in [
                    "SELECT rolname, rolpassword, rolconnlimit::text, rolvaliduntil::text, \
                     shobj_description(oid, 'pg_authid') FROM pg_authid \
                     WHERE rolname = ANY($1) ORDER BY 1",
                    "SELECT m.rolname, r.rolname, '', '', '' FROM pg_auth_members a \
                     JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member \
                     WHERE m.rolname = ANY($1) OR r.rolname = ANY($1) ORDER BY 1, 2",
                    "SELECT r.rolname, array_to_string(s.setconfig, ','), '', '', '' \
                     FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole \
                     WHERE r.rolname = ANY($1) ORDER BY 1",
                ] {
                    for row in admin.query(query, &[&users]).await.unwrap() {
                        let cols: Vec<Option<String>> = (0..5).map(|i| row.get(i)).collect();
                        out.push(format!("{cols:?}"));
                    }
                }
                out
            }
            Db::My(my) => {
                use rotwise_test_services::mysql_async::prelude::Queryable;
                let mut conn = my.admin().await;
                let mut out = Vec::new();
                for user in &users {
                    let rows: Vec<(String, String, String, String)> = conn
                        .exec(
                            "SELECT User, Host, CAST(authentication_string AS CHAR), plugin \
                             FROM mysql.user WHERE User = ? ORDER BY Host",
                            (user,),
                        )
                        .await
                        .unwrap();
                    for (u, h, auth, plugin) in rows {
                        out.push(format!("{u}@{h} {auth} {plugin}"));
                        let grants: Vec<String> = conn
                            .query(format!("SHOW GRANTS FOR '{u}'@'{h}'"))
                            .await
                            .unwrap();
                        out.extend(grants);
                    }
                }
                let _ = conn.disconnect().await;
                out
            }
        }
    }

    /// A cursor at the end of the statement log (PostgreSQL's server log, MariaDB's
    /// general log).
    fn log_cursor(&self) -> rotwise_test_services::LogCursor {
        match self {
            Db::Pg(pg) => pg.log_cursor(),
            Db::My(my) => my.log_cursor(),
        }
    }

    /// What the statement log holds since `cursor`, up to a marker statement run now: the
    /// lines of sessions that already ended are all in (PostgreSQL's logging collector may
    /// write them a moment after the client got its answer).
    async fn log_since(&self, cursor: &rotwise_test_services::LogCursor) -> String {
        let marker = format!("rotwise-log-marker-{}", uuid::Uuid::new_v4().simple());
        match self {
            Db::Pg(pg) => {
                pg.admin()
                    .await
                    .batch_execute(&format!("SELECT '{marker}'"))
                    .await
                    .unwrap();
            }
            Db::My(my) => {
                use rotwise_test_services::mysql_async::prelude::Queryable;
                let mut conn = my.admin().await;
                conn.query_drop(format!("SELECT '{marker}'")).await.unwrap();
                let _ = conn.disconnect().await;
            }
        }
        let text = cursor
            .wait_for(&marker, std::time::Duration::from_secs(10))
            .await;
        assert!(
            text.contains(&marker),
            "the log marker never reached the log"
        );
        text
    }

    /// The statements `users`' sessions ran, from a stretch of the statement log.
    /// PostgreSQL's lines carry `user@db` (log_line_prefix); MariaDB's carry a thread id,
    /// named by its `Connect user@host` line.
    fn statements_of(&self, log: &str, users: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        match self {
            Db::Pg(_) => {
                for line in log.lines() {
                    let ours = users.iter().any(|u| line.contains(&format!("] {u}@")));
                    if let (true, Some((_, stmt))) = (ours, line.split_once(" statement: ")) {
                        out.push(stmt.to_string());
                    }
                }
            }
            Db::My(_) => {
                // `[YYMMDD HH:MM:SS]\t  <thread> <Command>\t<argument>`: the timestamp only
                // on a second's first line.
                let mut threads = std::collections::HashSet::new();
                for line in log.lines() {
                    for command in ["Connect", "Query"] {
                        let Some((head, rest)) = line.split_once(&format!(" {command}\t")) else {
                            continue;
                        };
                        let Some(thread) = head.split_whitespace().last() else {
                            continue;
                        };
                        if command == "Connect" {
                            if users.iter().any(|u| rest.starts_with(&format!("{u}@"))) {
                                threads.insert(thread.to_string());
                            }
                        } else if threads.contains(thread) {
                            out.push(rest.to_string());
                        }
                    }
                }
            }
        }
        out
    }
}

/// Whether a logged statement writes: anything but a read, a session setting or a
/// transaction boundary (the dry run's own transaction is checked to be `READ ONLY`).
fn writes(statement: &str) -> bool {
    let s = statement.trim_start().to_ascii_uppercase();
    let reads = [
        "SELECT",
        "SHOW",
        "SET SESSION",
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
    ];
    !reads.iter().any(|r| s.starts_with(r))
}

/// The statement a real rotation logged, with its password hash in the shape the dry run
/// prints it: PostgreSQL's SCRAM verifier and MariaDB's `*HEX` native hash replaced.
fn redact_logged(statement: &str) -> String {
    let mut out = String::new();
    let mut rest = statement;
    while let Some(start) = rest.find('\'') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('\'').map_or(after.len(), |e| e);
        let literal = &after[..end];
        let hashed = literal.starts_with("SCRAM-SHA-256$")
            || (literal.len() == 41
                && literal.starts_with('*')
                && literal[1..].chars().all(|c| c.is_ascii_hexdigit()));
        out.push('\'');
        out.push_str(if hashed { "<redacted hash>" } else { literal });
        out.push('\'');
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// One engine, one store, both strategies: a dry run prints the plan and changes
/// nothing (store, users, statement log); then the real rotation runs exactly the
/// statements the dry run printed (the positive control: the same log check finds them).
async fn dry_run_changes_nothing(db: Db, place: Place) {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("dry/{tag}");
    let mut init = vec!["init-demo", "--name", name.as_str(), "--json"];
    init.extend(db.init_args());
    let demo = json_out(ok(&place.run(&db, &init)));
    let account = db.account(&demo);
    let master_user = format!("dry_master_{}", &tag[..12]);
    let master_pw = format!("Master-{tag}");
    let clone = (format!("{}_clone", account.0), account.1.clone());
    let (db2, cleanup) = (
        db.clone(),
        vec![
            account.clone(),
            clone.clone(),
            (master_user.clone(), "%".to_string()),
        ],
    );
    rotwise_test_services::run_then_cleanup(
        async move {
            db.create_master(&master_user, &master_pw).await;
            let current = place.current(&name).await;
            let mut master = current.clone();
            master["username"] = master_user.clone().into();
            master["password"] = master_pw.clone().into();
            let master_name = format!("{name}/master");
            let alt_name = format!("{name}/alternating");
            place.insert(&master_name, &master);
            let user = account.0.as_str();
            let users = [user, clone.0.as_str(), master_user.as_str()];

            for (secret, strategy) in [(&name, "single"), (&alt_name, "alternating")] {
                if strategy == "alternating" {
                    if let Db::My(my) = &db {
                        // A privilege for the clone to get (the demo user has only USAGE).
                        use rotwise_test_services::mysql_async::prelude::Queryable;
                        let mut conn = my.admin().await;
                        conn.query_drop(format!(
                            "GRANT SELECT ON `dry_{tag}`.* TO '{user}'@'{}'",
                            account.1
                        ))
                        .await
                        .unwrap();
                        let _ = conn.disconnect().await;
                    }
                    // The base user's password as the single-user rotation left it.
                    let mut alternating = place.current(&name).await;
                    alternating["masterarn"] = master_name.clone().into();
                    place.insert(&alt_name, &alternating);
                }
                let store_before = place.snapshot();
                let db_before = db.users_snapshot(&users).await;
                let mut cursor = db.log_cursor();
                let out = place.run(&db, &["rotate", secret, "--dry-run", "--json"]);
                let plan = json_out(ok(&out));
                let text = format!("{}{}", stdout(&out), stderr(&out));
                assert_eq!(plan["dry_run"], true, "{plan}");
                assert_eq!(plan["changed"], false, "{plan}");
                assert_eq!(
                    place.snapshot(),
                    store_before,
                    "{strategy}: the dry run wrote to the store"
                );
                assert_eq!(
                    db.users_snapshot(&users).await,
                    db_before,
                    "{strategy}: the dry run changed a user"
                );
                let log = db.log_since(&cursor).await;
                let logged = db.statements_of(&log, &users);
                let login_line = match &db {
                    Db::Pg(_) => format!("connection authorized: user={user} "),
                    Db::My(_) => format!("Connect\t{user}@"),
                };
                assert!(
                    log.contains(&login_line),
                    "{strategy}: the dry run's login is not in the log"
                );
                let written: Vec<&String> = logged.iter().filter(|s| writes(s)).collect();
                assert!(
                    written.is_empty(),
                    "{strategy}: the dry run wrote: {written:?}"
                );
                let begins: Vec<&String> = logged
                    .iter()
                    .filter(|s| s.to_ascii_uppercase().starts_with("BEGIN"))
                    .collect();
                assert!(
                    begins.iter().all(|b| b.as_str() == "BEGIN READ ONLY"),
                    "{strategy}: {begins:?}"
                );
                let now = place.current(&name).await;
                for secret_text in [&now["password"], &master["password"]] {
                    assert!(
                        !text.contains(secret_text.as_str().unwrap()),
                        "{strategy}: a password printed"
                    );
                }
                assert_eq!(plan["failed_database_logins"], 0, "{plan}");

                let statements: Vec<String> = plan["statements"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["statement"].as_str().unwrap().to_string())
                    .collect();
                assert!(
                    statements.iter().any(|s| s.contains("'<redacted")),
                    "{strategy}: {statements:?}"
                );
                let logins: Vec<&str> = plan["logins"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["user"].as_str().unwrap())
                    .collect();
                let actions: Vec<(String, String)> = plan["users"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| (u["user"].to_string(), u["action"].to_string()))
                    .collect();
                let q = |s: &str| format!("\"{s}\"");
                if strategy == "single" {
                    assert_eq!(logins, [user], "{plan}");
                    assert_eq!(actions, [(q(user), q("set-password"))], "{plan}");
                    assert_eq!(plan["next_user"], user, "{plan}");
                } else {
                    assert_eq!(logins, [user, master_user.as_str()], "{plan}");
                    assert_eq!(
                        actions,
                        [
                            (q(&clone.0), q("create")),
                            (q(&clone.0), q("match-base-user"))
                        ],
                        "{plan}"
                    );
                    assert_eq!(plan["next_user"], clone.0.as_str(), "{plan}");
                }
                let moves: Vec<String> = plan["label_moves"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| format!("{} {} {} {}", m["step"], m["label"], m["from"], m["to"]))
                    .collect();
                let [cur, _, _] = place.labels(&db, secret);
                assert_eq!(
                    moves[1],
                    format!(
                        "\"finishSecret\" \"AWSCURRENT\" \"{}\" \"(new version)\"",
                        cur.unwrap()
                    ),
                    "{moves:?}"
                );

                // The text form says the same, and that nothing changed.
                let out = place.run(&db, &["rotate", secret, "--dry-run"]);
                let shown = stdout(ok(&out));
                assert!(shown.contains("nothing was changed"), "{shown}");
                for s in &statements {
                    assert!(shown.contains(s.as_str()), "{s} not in\n{shown}");
                }

                // Positive control: the real rotation runs exactly the statements shown,
                // and the same log check sees them as writes.
                cursor.advance();
                place.rotate(&db, secret);
                let logged = db.statements_of(&db.log_since(&cursor).await, &users);
                let real: Vec<String> = logged
                    .iter()
                    .filter(|s| writes(s))
                    .map(|s| redact_logged(s))
                    .collect();
                assert_eq!(
                    real, statements,
                    "{strategy}: the real rotation ran other statements"
                );
            }

            // Refused AWSCURRENT: the dry run says so, exits as a refused login, tries
            // nothing else and changes nothing.
            db.set_password(&account, &format!("Drift-{tag}")).await;
            let before = place.snapshot();
            let out = place.run(&db, &["rotate", &name, "--dry-run"]);
            assert_eq!(code(&out), 4, "{}", stderr(&out));
            assert!(stderr(&out).contains("does not log in"), "{}", stderr(&out));
            assert!(
                stderr(&out).contains("nothing was changed"),
                "{}",
                stderr(&out)
            );
            assert_eq!(place.snapshot(), before);

            // A rotation in progress: refused before any login.
            let token = place.begin(&db, &alt_name);
            let before = place.snapshot();
            let out = place.run(&db, &["rotate", &alt_name, "--dry-run"]);
            assert_ne!(code(&out), 0);
            assert!(
                stderr(&out).contains("a rotation is in progress"),
                "{}",
                stderr(&out)
            );
            assert!(stderr(&out).contains(&token), "{}", stderr(&out));
            assert_eq!(place.snapshot(), before);
        },
        async move {
            for account in &cleanup {
                db2.drop_user(account).await;
            }
        },
    )
    .await;
}

impl Place {
    /// A new secret holding `value` as AWSCURRENT.
    fn insert(&self, name: &str, value: &Value) {
        match self {
            Place::File(s) => {
                let file = s.json_file(
                    &format!("{}.json", uuid::Uuid::new_v4().simple()),
                    &value.to_string(),
                );
                ok(&s.run(&["put", name, "--from-json", file.to_str().unwrap()]));
            }
            Place::Endpoint { memory, .. } => {
                memory.insert_secret(name, &value.to_string()).unwrap();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_postgres_file_store() {
    if let Some(db) = Db::pg() {
        dry_run_changes_nothing(db, Place::file()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_postgres_local_endpoint() {
    if let Some(db) = Db::pg() {
        dry_run_changes_nothing(db, Place::endpoint()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_dry_run_file_store() {
    if let Some(db) = Db::mysql() {
        dry_run_changes_nothing(db, Place::file()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_dry_run_local_endpoint() {
    if let Some(db) = Db::mysql() {
        dry_run_changes_nothing(db, Place::endpoint()).await;
    }
}

/// `--dry-run` with what starts, sets up or resumes a rotation is bad input (exit 2).
#[test]
fn dry_run_refuses_what_would_start_a_rotation() {
    let s = Store::new();
    for (args, needle) in [
        (vec!["rotate", "a", "--dry-run", "--resume"], "--resume"),
        (
            vec!["rotate", "a", "--dry-run", "--example", "random-string"],
            "--example",
        ),
    ] {
        let out = s.run(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
    }
    let out = run_with(
        &[
            "--endpoint",
            "http://127.0.0.1:9",
            "rotate",
            "a",
            "b",
            "--dry-run",
        ],
        &[],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--dry-run takes one secret"),
        "{}",
        stderr(&out)
    );
}

/// moto (Secrets Manager and RDS): an RDS instance on `port` and its master secret as RDS
/// makes it (only username and password, the system tag); the secret's ARN and the
/// instance's endpoint address. `tagged: false` leaves the tag off.
fn moto_rds_master(endpoint: &str, port: u16, tagged: bool) -> (String, String) {
    use rotwise_test_services::moto;
    let id = format!("cli-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let rds = moto::rds_client(endpoint);
        let (instance_arn, address) = moto::rds_instance(&rds, &id, "postgres", port).await;
        let store = rotwise_core::store::AwsStore::for_endpoint(endpoint, "us-east-1");
        let mut create = store
            .client()
            .create_secret()
            .name(format!("rds!db-{id}"))
            .secret_string(r#"{"username": "admin", "password": "canary-master-9"}"#);
        if tagged {
            create = create.tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key("aws:rds:primarydbinstancearn")
                    .value(instance_arn)
                    .build(),
            );
        }
        let arn = create.send().await.unwrap().arn.unwrap();
        (arn, address)
    })
}

/// doctor reads where an RDS-managed master secret's database is (its tag, then moto's
/// RDS) and tries the master login there: the finding names the endpoint RDS reported (the
/// name does not resolve here, so the login fails as unreachable). Without the tag, the
/// master is reported incomplete. The master's password is never printed.
#[test]
fn doctor_locates_an_rds_managed_master_through_the_rds_api() {
    let Some(endpoint) = rotwise_test_services::require_sm_endpoint() else {
        return;
    };
    let env = [
        ("AWS_ENDPOINT_URL_RDS", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("ROTATION_STRATEGY", "alternating"),
    ];
    let s = Store::new();
    for tagged in [true, false] {
        let port = closed_port();
        let (master, address) = moto_rds_master(&endpoint, port, tagged);
        let mut user: Value = serde_json::from_str(&pg_secret(port, "app", "canary-pw-9")).unwrap();
        user["masterarn"] = json!(master);
        let name = format!("cli-test/{}", uuid::Uuid::new_v4().simple());
        let f = s.json_file("managed.json", &user.to_string());
        let sm =
            |args: &[&str]| run_with(&[&["--endpoint", endpoint.as_str()], args].concat(), &env);
        ok(&sm(&["put", &name, "--from-json", f.to_str().unwrap()]));
        let out = sm(&["doctor", &name, "--json"]);
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!text.contains("canary-master-9"), "{text}");
        let r = json_out(&out);
        let finding = |code: &str| {
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["code"] == code)
                .cloned()
        };
        if tagged {
            let login = finding("master_login_failed").unwrap_or_else(|| panic!("{r}"));
            let message = login["message"].as_str().unwrap();
            assert!(
                message.contains(&format!("to {address} as admin")),
                "{message}"
            );
            assert!(finding("master_incomplete").is_none(), "{r}");
        } else {
            assert!(finding("master_incomplete").is_some(), "{r}");
            assert!(finding("master_login_failed").is_none(), "{r}");
        }
    }
}
