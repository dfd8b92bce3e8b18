//! Integration tests against the private PostgreSQL 15 of `scripts/services up`
//! (scram-sha-256, ssl=on, log_statement=all). Every test creates its own roles and
//! drops them at the end.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rotwise_core::SecretString;
use rotwise_core::password::PasswordPolicy;
use rotwise_core::store::{AWSCURRENT, AWSPENDING, MemoryStore, SecretStore};
use rotwise_core::{Driver, ExposeSecret, PasswordSource, SecretPayload, Strategy};
use rotwise_postgres::sql::{quote_ident, quote_literal, scram_verifier};
use rotwise_postgres::{DbOptions, PgRotator, PgSecret, TlsMode};
use rotwise_test_services::{
    PgService, plaintext_hits, record_reliability, require_pg, run_then_cleanup, unique_name,
};
use rotwise_testkit::{Conformance, LocalService, Recorded};
use serde_json::{Value, json};
use tokio_postgres::Client;

// ---------------------------------------------------------------------------------------
// Fixtures

fn port(pg: &PgService) -> u16 {
    pg.admin_config()
        .get_ports()
        .first()
        .copied()
        // Never fall back to the system server: it trusts every login.
        .expect("ROTATION_TEST_PG_URL names the private server's port")
}

fn secret_value(pg: &PgService, user: &str, password: &str, masterarn: Option<&str>) -> String {
    let mut v = json!({
        "engine": "postgres",
        "host": "127.0.0.1",
        "port": port(pg),
        "username": user,
        "password": password,
        "dbname": "postgres",
        "ssl": true,
        "note": {"kept": [1, "two", null]},
    });
    if let Some(arn) = masterarn {
        v["masterarn"] = Value::String(arn.to_owned());
    }
    v.to_string()
}

fn options(pg: &PgService, strategy: Strategy) -> DbOptions {
    DbOptions {
        tls: Some(TlsMode::VerifyFull),
        ca_file: Some(pg.ca.clone()),
        connect_timeout: Duration::from_secs(5),
        strategy: Some(strategy),
        ..DbOptions::default()
    }
}

fn hexpw() -> String {
    format!("Init-{}", &unique_name("p")[2..])
}

async fn create_role(admin: &Client, name: &str, password: &str, attrs: &str) {
    admin
        .batch_execute(&format!(
            "CREATE ROLE {} LOGIN {attrs} PASSWORD {}",
            quote_ident(name),
            quote_literal(&scram_verifier(&SecretString::from(password)))
        ))
        .await
        .unwrap_or_else(|e| panic!("create role {name:?}: {e:?}"));
}

/// Drop roles (and what they own) if they exist; errors are ignored (cleanup).
async fn drop_roles(pg: &PgService, names: &[String]) {
    let admin = pg.admin().await;
    for name in names {
        let exists = admin
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[name])
            .await
            .map(|r| r.is_some())
            .unwrap_or(false);
        if exists {
            let q = quote_ident(name);
            let _ = admin
                .batch_execute(&format!("DROP OWNED BY {q}; DROP ROLE {q}"))
                .await;
        }
    }
}

/// A master like RDS's: LOGIN CREATEROLE, not a superuser.
async fn create_master(admin: &Client, name: &str, password: &str) {
    create_role(admin, name, password, "CREATEROLE").await;
    let row = admin
        .query_one("SELECT rolsuper FROM pg_roles WHERE rolname = $1", &[&name])
        .await
        .unwrap();
    assert!(!row.get::<_, bool>(0), "the master must not be a superuser");
}

async fn value_of(
    store: &MemoryStore,
    arn: &str,
    version: Option<&str>,
    stage: Option<&str>,
) -> SecretPayload {
    store
        .get_secret_value(arn, version, stage)
        .await
        .unwrap()
        .payload
}

fn password_of(value: &SecretPayload) -> String {
    PgSecret::parse(value)
        .unwrap()
        .password
        .expose_secret()
        .to_owned()
}

/// Everything the server logged since `cursor`, up to a marker statement run now (lines
/// written before the marker by sessions that already ended are in).
async fn log_until_now(admin: &Client, cursor: &rotwise_test_services::LogCursor) -> String {
    let marker = unique_name("fence");
    admin
        .batch_execute(&format!("SELECT '{marker}'"))
        .await
        .unwrap();
    cursor.wait_for(&marker, Duration::from_secs(5)).await
}

fn failed_logins(log: &str, user: &str) -> usize {
    log.matches(&format!(
        "password authentication failed for user \"{user}\""
    ))
    .count()
}

/// Captures tracing output (for "no password in logs" with a positive control).
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process-wide capture: every test in this binary logs into it at TRACE (with
/// `tokio_postgres` capped at INFO, as the Lambdas do). A global subscriber, because a
/// thread-scoped one misses events whose callsite interest another test thread cached.
fn capture() -> &'static Capture {
    static CAPTURE: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        tracing::subscriber::set_global_default(capture.subscriber())
            .expect("no other global subscriber in this test binary");
        capture
    })
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
        let me = self.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "trace,tokio_postgres=info",
            ))
            .with_writer(move || me.clone())
            .with_ansi(false)
            .finish()
    }
}

// ---------------------------------------------------------------------------------------
// Single user

#[tokio::test]
async fn single_user_rotates_three_times_with_no_leak_and_no_failed_login() {
    let Some(pg) = require_pg() else { return };
    let user = unique_name("rw_pg_single");
    let roles = vec![user.clone()];
    let body = {
        let pg = pg.clone();
        let user = user.clone();
        async move {
            let capture = capture();
            let admin = pg.admin().await;
            let initial = hexpw();
            create_role(&admin, &user, &initial, "").await;
            let store = Arc::new(MemoryStore::new());
            let arn = store
                .insert_secret("pg/single", &secret_value(&pg, &user, &initial, None))
                .unwrap();
            let rotator = Arc::new(PgRotator::new(options(&pg, Strategy::Single)));
            let driver = Driver::new(store.clone(), rotator.clone());
            let service = LocalService::new(store.clone());
            let log = pg.log_cursor();
            let mut passwords = vec![initial.clone()];
            let mut values = vec![value_of(&store, &arn, None, Some(AWSCURRENT)).await];
            let mut rotation_log = String::new();
            for round in 1..=3 {
                let started = Instant::now();
                let window = pg.log_cursor();
                let run = service.rotate(&arn, &driver).await.unwrap_or_else(|e| {
                    panic!("rotation {round} failed: {e}");
                });
                eprintln!(
                    "single rotation {round}: {:?} {:?}",
                    started.elapsed(),
                    run.steps
                );
                rotation_log.push_str(&log_until_now(&admin, &window).await);
                let current = value_of(&store, &arn, None, Some(AWSCURRENT)).await;
                assert!(
                    rotator.login_works(&current).await.unwrap(),
                    "round {round}: AWSCURRENT logs in"
                );
                assert!(
                    !rotator.login_works(values.last().unwrap()).await.unwrap(),
                    "round {round}: the old password no longer logs in"
                );
                if values.len() >= 2 {
                    assert!(
                        !rotator
                            .login_works(&values[values.len() - 2])
                            .await
                            .unwrap()
                    );
                }
                passwords.push(password_of(&current));
                values.push(current);
            }
            // Unknown keys kept with their types.
            let last: Value =
                serde_json::from_str(values.last().unwrap().as_string().unwrap().expose_secret())
                    .unwrap();
            assert_eq!(last["note"], json!({"kept": [1, "two", null]}));
            assert_eq!(last["port"], json!(port(&pg)));

            let text = log
                .wait_for("PASSWORD 'SCRAM-SHA-256$", Duration::from_secs(5))
                .await;
            // Positive control: the statement log captures the ALTER ROLE line.
            let alter = format!(
                "statement: ALTER ROLE {} PASSWORD 'SCRAM-SHA-256$4096:",
                quote_ident(&user)
            );
            assert_eq!(text.matches(&alter).count(), 3, "ALTER lines in the log");
            for p in &passwords {
                assert!(
                    !text.contains(p.as_str()),
                    "a plaintext password reached the server log"
                );
            }
            // 0 failed logins during the rotations (the test's own "old password
            // refused" checks between them are outside the windows)...
            assert_eq!(
                failed_logins(&rotation_log, &user),
                0,
                "failed logins during rotation"
            );
            assert_eq!(
                rotation_log.matches(&alter).count(),
                3,
                "the windows hold the rotations"
            );
            // ...and the count sees one when there is one (positive control).
            let mut log = log;
            log.advance();
            assert!(pg.connect_as(&user, "wrong-password").await.is_err());
            let text = log
                .wait_for("password authentication failed", Duration::from_secs(5))
                .await;
            assert_eq!(
                failed_logins(&text, &user),
                1,
                "positive control: one bad login counted"
            );

            // Tracing at TRACE never saw a password; the capture works (positive control).
            let traced = capture.text();
            let role_field = format!("role={user}");
            assert!(
                traced
                    .lines()
                    .any(|l| l.contains("password changed") && l.contains(&role_field)),
                "positive control: the capture saw this test's events"
            );
            assert!(traced.contains("logged in"));
            for p in &passwords {
                assert!(
                    !traced.contains(p.as_str()),
                    "a password reached the tracing output"
                );
            }
        }
    };
    run_then_cleanup(body, drop_roles(&pg, &roles)).await;
}

#[tokio::test]
async fn single_user_conformance() {
    let Some(pg) = require_pg() else { return };
    let user = unique_name("rw_pg_conf_single");
    let roles = vec![user.clone()];
    let body = {
        let pg = pg.clone();
        let user = user.clone();
        async move {
            let admin = pg.admin().await;
            let initial = hexpw();
            create_role(&admin, &user, &initial, "").await;
            let rotator = Arc::new(PgRotator::new(options(&pg, Strategy::Single)));
            let app_log = capture();
            let log = pg.log_cursor();
            let target = Arc::new(Recorded::new(rotator.clone()));
            let started = Instant::now();
            let report = Conformance::new(
                rotator.clone(),
                target.clone(),
                secret_value(&pg, &user, &initial, None),
                Strategy::Single,
            )
            .run()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            // Every password the suite produced, searched in the app's TRACE capture
            // and in the server's log (positive control: the capture is not empty).
            let passwords = target.passwords();
            let app_text = app_log.text();
            assert!(!app_text.is_empty(), "the app log is captured");
            let app_hits = plaintext_hits(&app_text, &passwords);
            let server_hits = plaintext_hits(&log_until_now(&admin, &log).await, &passwords);
            record_reliability(&[
                &"conformance",
                &"postgres",
                &"single",
                &report.scenarios,
                &report.fault_points,
                &passwords.len(),
                &app_hits,
                &server_hits,
            ]);
            assert_eq!(
                (app_hits, server_hits),
                (0, 0),
                "plaintext passwords in the logs"
            );
            eprintln!(
                "single conformance: {report} in {:?}; calls {:?}",
                started.elapsed(),
                report.calls_per_step
            );
            assert!(report.fault_points > 0);
        }
    };
    run_then_cleanup(body, drop_roles(&pg, &roles)).await;
}

#[tokio::test]
async fn wrong_passwords_name_the_credential_and_leak_nothing() {
    let Some(pg) = require_pg() else { return };
    let user = unique_name("rw_pg_wrong");
    let master = unique_name("rw_pg_wrongm");
    let roles = vec![user.clone(), format!("{user}_clone"), master.clone()];
    let body = {
        let pg = pg.clone();
        let user = user.clone();
        let master = master.clone();
        async move {
            let admin = pg.admin().await;
            create_role(&admin, &user, &hexpw(), "").await;
            let canary = "canary-WRONG-pw-4242";
            // Single: no credential logs in.
            let store = Arc::new(MemoryStore::new());
            let arn = store
                .insert_secret("pg/wrong", &secret_value(&pg, &user, canary, None))
                .unwrap();
            let driver = Driver::new(
                store.clone(),
                Arc::new(PgRotator::new(options(&pg, Strategy::Single))),
            );
            let err = LocalService::new(store.clone())
                .rotate(&arn, &driver)
                .await
                .unwrap_err();
            let pending = password_of(&value_of(&store, &arn, None, Some(AWSPENDING)).await);
            let msg = err.message;
            eprintln!("single: {msg}");
            assert!(msg.contains("Unable to log into database with previous, current, or pending secret of secret arn"), "{msg}");
            assert!(
                msg.contains("current credentials") && msg.contains("pending credentials"),
                "{msg}"
            );
            assert!(msg.contains("password authentication failed"), "{msg}");
            assert!(!msg.contains(canary) && !msg.contains(&pending), "{msg}");

            // Alternating: the master's password is wrong.
            let master_canary = "canary-MASTER-pw-77";
            create_master(&admin, &master, &hexpw()).await;
            let store = Arc::new(MemoryStore::new());
            let marn = store
                .insert_secret(
                    "pg/wrong-master",
                    &secret_value(&pg, &master, master_canary, None),
                )
                .unwrap();
            let good = hexpw();
            admin
                .batch_execute(&format!(
                    "ALTER ROLE {} PASSWORD {}",
                    quote_ident(&user),
                    quote_literal(&good)
                ))
                .await
                .unwrap();
            let arn = store
                .insert_secret(
                    "pg/wrong-child",
                    &secret_value(&pg, &user, &good, Some(&marn)),
                )
                .unwrap();
            let driver = Driver::new(
                store.clone(),
                Arc::new(PgRotator::new(options(&pg, Strategy::Alternating))),
            );
            let msg = LocalService::new(store.clone())
                .rotate(&arn, &driver)
                .await
                .unwrap_err()
                .message;
            eprintln!("alternating: {msg}");
            assert!(
                msg.contains(&format!(
                    "Unable to log into database using credentials in master secret {marn}"
                )),
                "{msg}"
            );
            assert!(msg.contains("master credentials"), "{msg}");
            assert!(
                !msg.contains(master_canary) && !msg.contains(&good),
                "{msg}"
            );
        }
    };
    run_then_cleanup(body, drop_roles(&pg, &roles)).await;
}

// ---------------------------------------------------------------------------------------
// Alternating users

struct Pair {
    store: Arc<MemoryStore>,
    arn: String,
    rotator: Arc<PgRotator>,
}

async fn alternating_pair(pg: &PgService, admin: &Client, base: &str, master: &str) -> Pair {
    let master_pw = hexpw();
    create_master(admin, master, &master_pw).await;
    let initial = hexpw();
    create_role(admin, base, &initial, "").await;
    // PostgreSQL 15 gives PUBLIC no CREATE on schema public.
    admin
        .batch_execute(&format!(
            "GRANT CREATE ON SCHEMA public TO {}",
            quote_ident(base)
        ))
        .await
        .unwrap();
    let store = Arc::new(MemoryStore::new());
    let marn = store
        .insert_secret(
            &format!("pg/master/{master}"),
            &secret_value(pg, master, &master_pw, None),
        )
        .unwrap();
    let arn = store
        .insert_secret(
            &format!("pg/alt/{master}"),
            &secret_value(pg, base, &initial, Some(&marn)),
        )
        .unwrap();
    Pair {
        store,
        arn,
        rotator: Arc::new(PgRotator::new(options(pg, Strategy::Alternating))),
    }
}

async fn login(rotator: &PgRotator, value: &SecretPayload) -> Client {
    rotator
        .connect(&PgSecret::parse(value).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn alternating_rotates_three_times_and_objects_stay_shared() {
    let Some(pg) = require_pg() else { return };
    let base = unique_name("rw_pg_alt");
    let master = unique_name("rw_pg_master");
    let clone = format!("{base}_clone");
    let roles = vec![clone.clone(), base.clone(), master.clone()];
    let body = {
        let pg = pg.clone();
        async move {
            let admin = pg.admin().await;
            let Pair {
                store,
                arn,
                rotator,
            } = alternating_pair(&pg, &admin, &base, &master).await;
            let driver = Driver::new(store.clone(), rotator.clone());
            let service = LocalService::new(store.clone());
            let log = pg.log_cursor();
            let mut values = vec![value_of(&store, &arn, None, Some(AWSCURRENT)).await];
            // A table the base user created before the clone existed.
            login(&rotator, &values[0])
                .await
                .batch_execute(&format!(
                    "CREATE TABLE {base}_before (v int); INSERT INTO {base}_before VALUES (1)"
                ))
                .await
                .unwrap();
            let mut rotation_log = String::new();
            for round in 1..=3 {
                let started = Instant::now();
                let window = pg.log_cursor();
                let run = service
                    .rotate(&arn, &driver)
                    .await
                    .unwrap_or_else(|e| panic!("rotation {round}: {e}"));
                eprintln!(
                    "alternating rotation {round}: {:?} {:?}",
                    started.elapsed(),
                    run.steps
                );
                rotation_log.push_str(&log_until_now(&admin, &window).await);
                let current = value_of(&store, &arn, None, Some(AWSCURRENT)).await;
                let cur = PgSecret::parse(&current).unwrap();
                assert_eq!(&cur.username, if round % 2 == 1 { &clone } else { &base });
                assert!(
                    rotator.login_works(&current).await.unwrap(),
                    "round {round}: current"
                );
                assert!(
                    rotator.login_works(values.last().unwrap()).await.unwrap(),
                    "round {round}: previous still works"
                );
                if values.len() >= 2 {
                    assert!(
                        !rotator
                            .login_works(&values[values.len() - 2])
                            .await
                            .unwrap(),
                        "round {round}: the value two rotations old no longer works"
                    );
                }
                // Objects made by either login are usable by the other.
                let now = login(&rotator, &current).await;
                let before = login(&rotator, values.last().unwrap()).await;
                let t = format!("{base}_r{round}");
                now.batch_execute(&format!(
                    "CREATE TABLE {t} (v int); INSERT INTO {t} VALUES (1); \
                     INSERT INTO {base}_before VALUES ({round})"
                ))
                .await
                .unwrap();
                before
                    .batch_execute(&format!(
                        "INSERT INTO {t} VALUES (2); UPDATE {t} SET v = v + 10; DELETE FROM {t} WHERE v = 11; \
                         ALTER TABLE {t} ADD COLUMN w int"
                    ))
                    .await
                    .unwrap_or_else(|e| panic!("round {round}: other user cannot use {t}: {e:?}"));
                let owner: String = admin
                    .query_one(
                        "SELECT tableowner::text FROM pg_tables WHERE tablename = $1",
                        &[&t],
                    )
                    .await
                    .unwrap()
                    .get(0);
                assert_eq!(owner, base, "objects belong to the base role");
                let who: String = now
                    .query_one("SELECT current_user::text", &[])
                    .await
                    .unwrap()
                    .get(0);
                assert_eq!(who, base);
                values.push(current);
            }
            let text = log.wait_for("SCRAM-SHA-256$", Duration::from_secs(5)).await;
            assert!(
                text.contains(&format!(
                    "statement: CREATE ROLE {} LOGIN PASSWORD 'SCRAM-SHA-256$4096:",
                    quote_ident(&clone)
                )),
                "positive control: the CREATE ROLE line is logged"
            );
            assert!(text.contains(&format!(
                "ALTER ROLE {} PASSWORD 'SCRAM-SHA-256$4096:",
                quote_ident(&base)
            )));
            for v in &values {
                assert!(
                    !text.contains(&password_of(v)),
                    "plaintext in the server log"
                );
            }
            assert!(
                rotation_log.contains("connection authorized: user=")
                    && rotation_log.contains(&master)
            );
            for u in [&base, &clone, &master] {
                assert_eq!(failed_logins(&rotation_log, u), 0, "failed logins for {u}");
            }
            // The clone has no more than the base's attributes.
            let row = admin
                .query_one(
                    "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls FROM pg_roles WHERE rolname = $1",
                    &[&clone],
                )
                .await
                .unwrap();
            assert!(!row.get::<_, bool>(0));
        }
    };
    run_then_cleanup(body, drop_roles(&pg, &roles)).await;
}

#[tokio::test]
async fn alternating_conformance() {
    let Some(pg) = require_pg() else { return };
    let base = unique_name("rw_pg_conf_alt");
    let master = unique_name("rw_pg_conf_m");
    let roles = vec![format!("{base}_clone"), base.clone(), master.clone()];
    let body = {
        let pg = pg.clone();
        async move {
            let admin = pg.admin().await;
            let Pair {
                store,
                arn,
                rotator,
            } = alternating_pair(&pg, &admin, &base, &master).await;
            let initial = value_of(&store, &arn, None, Some(AWSCURRENT)).await;
            let app_log = capture();
            let log = pg.log_cursor();
            let target = Arc::new(Recorded::new(rotator.clone()));
            let started = Instant::now();
            let report = Conformance::new(
                rotator.clone(),
                target.clone(),
                initial,
                Strategy::Alternating,
            )
            .with_store(store)
            .with_secret_name("pg/conformance-alt")
            .run()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            // Every password the suite produced, searched in the app's TRACE capture
            // and in the server's log (positive control: the capture is not empty).
            let passwords = target.passwords();
            let app_text = app_log.text();
            assert!(!app_text.is_empty(), "the app log is captured");
            let app_hits = plaintext_hits(&app_text, &passwords);
            let server_hits = plaintext_hits(&log_until_now(&admin, &log).await, &passwords);
            record_reliability(&[
                &"conformance",
                &"postgres",
                &"alternating",
                &report.scenarios,
                &report.fault_points,
                &passwords.len(),
                &app_hits,
                &server_hits,
            ]);
            assert_eq!(
                (app_hits, server_hits),
                (0, 0),
                "plaintext passwords in the logs"
            );
            eprintln!(
                "alternating conformance: {report} in {:?}; calls {:?}",
                started.elapsed(),
                report.calls_per_step
            );
        }
    };
    run_then_cleanup(body, drop_roles(&pg, &roles)).await;
}

// ---------------------------------------------------------------------------------------
// Nasty inputs

#[tokio::test]
async fn nasty_usernames_and_passwords_rotate() {
    let Some(pg) = require_pg() else { return };
    let tag = &unique_name("n")[2..];
    let nasty: Vec<String> = [
        r#"a"b"#,
        "O'Neil",
        "user name",
        "ünï",
        "MixedCase",
        r#""; DROP ROLE x; --"#,
        r"back\slash",
    ]
    .iter()
    .map(|n| format!("{n}{tag}"))
    .collect();
    let at_limit = format!("{}{tag}", "l".repeat(63 - tag.len()));
    let master = unique_name("rw_pg_nasty_m");
    let mut roles: Vec<String> = nasty
        .iter()
        .flat_map(|n| [format!("{n}_clone"), n.clone()])
        .collect();
    roles.push(at_limit.clone());
    roles.push(master.clone());
    let body = {
        let pg = pg.clone();
        async move {
            let admin = pg.admin().await;
            // Every punctuation character, EXCLUDE_CHARACTERS empty.
            let punct = rotwise_core::password::PUNCTUATION;
            let all_punct = format!("Aa1 {punct}");
            let policy = PasswordPolicy {
                length: 48,
                exclude_characters: String::new(),
                include_space: true,
                ..PasswordPolicy::default()
            };
            capture(); // from here on, the app log is captured at TRACE
            let log = pg.log_cursor();
            let mut seen = vec![all_punct.clone()];
            let master_pw = hexpw();
            create_master(&admin, &master, &master_pw).await;
            for strategy in [Strategy::Single, Strategy::Alternating] {
                let store = Arc::new(MemoryStore::new());
                let marn = store
                    .insert_secret(
                        "pg/nasty-master",
                        &secret_value(&pg, &master, &master_pw, None),
                    )
                    .unwrap();
                let users: Vec<&String> = match strategy {
                    Strategy::Single => nasty.iter().chain([&at_limit]).collect(),
                    Strategy::Alternating => nasty.iter().collect(),
                };
                for user in users {
                    if strategy == Strategy::Single {
                        create_role(&admin, user, &all_punct, "").await;
                    }
                    let masterarn = (strategy == Strategy::Alternating).then_some(marn.as_str());
                    let current_pw = if strategy == Strategy::Single {
                        all_punct.clone()
                    } else {
                        // After the single-user round the base holds its last password.
                        store_value_for(user, &admin).await
                    };
                    let arn = store
                        .insert_secret(
                            &format!("pg/nasty/{strategy}/{}", seen.len()),
                            &secret_value(&pg, user, &current_pw, masterarn),
                        )
                        .unwrap();
                    let rotator = Arc::new(PgRotator::new(options(&pg, strategy)));
                    let driver = Driver::new(store.clone(), rotator.clone())
                        .with_passwords(PasswordSource::Local(policy.clone()));
                    let service = LocalService::new(store.clone());
                    for round in 0..2 {
                        service
                            .rotate(&arn, &driver)
                            .await
                            .unwrap_or_else(|e| panic!("{strategy} {user:?} round {round}: {e}"));
                        let current = value_of(&store, &arn, None, Some(AWSCURRENT)).await;
                        assert!(rotator.login_works(&current).await.unwrap(), "{user:?}");
                        seen.push(password_of(&current));
                    }
                    let exists = admin
                        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[user])
                        .await
                        .unwrap();
                    assert!(
                        exists.is_some(),
                        "role {user:?} exists under its exact name"
                    );
                }
            }
            let text = log.wait_for("SCRAM-SHA-256$", Duration::from_secs(5)).await;
            assert!(
                text.contains("PASSWORD 'SCRAM-SHA-256$"),
                "positive control"
            );
            // The app's TRACE capture too (every test of this binary logs into it).
            let passwords: Vec<String> = seen.iter().skip(1).cloned().collect();
            let app_hits = plaintext_hits(&capture().text(), &passwords);
            record_reliability(&[
                &"adversarial",
                &"postgres",
                &"single+alternating",
                &0,
                &0,
                &(nasty.len() + 1 + seen.len()),
                &app_hits,
                &plaintext_hits(&text, &passwords),
            ]);
            assert_eq!(app_hits, 0, "plaintext in the app log");
            for p in seen.iter().skip(1) {
                assert!(!text.contains(p.as_str()), "plaintext in the server log");
            }
            assert!(
                seen.iter()
                    .skip(1)
                    .any(|p| p.chars().any(|c| punct.contains(c)))
            );
        }
    };
    run_then_cleanup(body, drop_roles(&pg, &roles)).await;
}

/// Give `user` a fresh known password (admin) and return it.
async fn store_value_for(user: &str, admin: &Client) -> String {
    let pw = format!("{}'\\\" ", hexpw());
    admin
        .batch_execute(&format!(
            "ALTER ROLE {} PASSWORD {}",
            quote_ident(user),
            quote_literal(&scram_verifier(&SecretString::from(pw.as_str())))
        ))
        .await
        .unwrap();
    pw
}

#[tokio::test]
async fn usernames_over_the_limit_are_refused_before_anything_changes() {
    let Some(pg) = require_pg() else { return };
    // 58 bytes + "_clone" = 64: refused in createSecret, with AWS's text.
    let long = format!("{}{}", "x".repeat(48), &unique_name("l")[2..]);
    assert_eq!(long.len(), 58);
    let store = Arc::new(MemoryStore::new());
    let arn = store
        .insert_secret(
            "pg/long",
            &secret_value(&pg, &long, "pw", Some("arn:master")),
        )
        .unwrap();
    let driver = Driver::new(
        store.clone(),
        Arc::new(PgRotator::new(options(&pg, Strategy::Alternating))),
    );
    let err = LocalService::new(store.clone())
        .rotate(&arn, &driver)
        .await
        .unwrap_err();
    assert!(
        err.message.contains("would exceed 63 characters"),
        "{}",
        err.message
    );
    assert_eq!(err.step, Some(rotwise_core::Step::CreateSecret));
    assert!(
        store
            .get_secret_value(&arn, None, Some(AWSPENDING))
            .await
            .is_err(),
        "no pending value"
    );
    // 64 bytes (32 two-byte characters) for a single user: refused, not truncated.
    let store = Arc::new(MemoryStore::new());
    let arn = store
        .insert_secret("pg/long2", &secret_value(&pg, &"ü".repeat(32), "pw", None))
        .unwrap();
    let driver = Driver::new(
        store.clone(),
        Arc::new(PgRotator::new(options(&pg, Strategy::Single))),
    );
    let err = LocalService::new(store.clone())
        .rotate(&arn, &driver)
        .await
        .unwrap_err();
    assert!(err.message.contains("at most 63 bytes"), "{}", err.message);
}

// ---------------------------------------------------------------------------------------
// TLS and timeouts

#[tokio::test]
async fn tls_modes_against_the_server() {
    let Some(pg) = require_pg() else { return };
    let user = unique_name("rw_pg_tls");
    let roles = vec![user.clone()];
    let body = {
        let pg = pg.clone();
        let user = user.clone();
        async move {
            let admin = pg.admin().await;
            let pw = hexpw();
            create_role(&admin, &user, &pw, "").await;
            let secret = PgSecret::parse_str(&secret_value(&pg, &user, &pw, None)).unwrap();
            let ssl_of = |c: Client| async move {
                c.query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .await
                .unwrap()
                .get::<_, bool>(0)
            };
            let with = |tls: TlsMode, ca: &std::path::Path| {
                PgRotator::new(DbOptions {
                    tls: Some(tls),
                    ca_file: Some(ca.to_path_buf()),
                    ..DbOptions::default()
                })
            };
            // verify-full with the test CA: TLS.
            let c = with(TlsMode::VerifyFull, &pg.ca)
                .connect(&secret)
                .await
                .unwrap();
            assert!(ssl_of(c).await);
            // require with the test CA: TLS.
            let c = with(TlsMode::Require, &pg.ca)
                .connect(&secret)
                .await
                .unwrap();
            assert!(ssl_of(c).await);
            // disable: plaintext.
            let c = with(TlsMode::Disable, &pg.ca)
                .connect(&secret)
                .await
                .unwrap();
            assert!(!ssl_of(c).await);
            // verify-full and require with another CA: refused, the reason says why.
            for mode in [TlsMode::VerifyFull, TlsMode::Require] {
                let err = with(mode, &pg.other_ca).connect(&secret).await.unwrap_err();
                let msg = err.to_string();
                assert!(
                    msg.contains("TLS") && msg.contains("UnknownIssuer"),
                    "{mode}: {msg}"
                );
                assert!(!err.is_auth_refused());
                assert!(!msg.contains(&pw));
            }
            // The secret's ssl key: absent → prefer; true → verify-full.
            let mut v: Value = serde_json::from_str(&secret_value(&pg, &user, &pw, None)).unwrap();
            v.as_object_mut().unwrap().remove("ssl");
            let no_ssl_key = PgSecret::parse_str(&v.to_string()).unwrap();
            let from_secret = |ca: &std::path::Path| {
                PgRotator::new(DbOptions {
                    ca_file: Some(ca.to_path_buf()),
                    ..DbOptions::default()
                })
            };
            assert!(
                from_secret(&pg.other_ca).connect(&secret).await.is_err(),
                "ssl: true is verify-full"
            );

            // prefer with the wrong CA: falls back to plaintext, with a WARN.
            let capture = capture();
            let warnings = |t: &str| t.matches("WITHOUT TLS").count();
            let before = warnings(&capture.text());
            let c = from_secret(&pg.other_ca)
                .connect(&no_ssl_key)
                .await
                .unwrap();
            assert!(!ssl_of(c).await, "fell back to plaintext");
            let traced = capture.text();
            assert!(traced.contains("WARN"));
            assert!(
                traced.contains("WITHOUT TLS") && traced.contains("host=127.0.0.1"),
                "the fallback warning names the host"
            );
            assert!(traced.contains("UnknownIssuer"));
            assert!(!traced.contains(&pw));
            // prefer with the right CA: TLS, no warning.
            let after_fallback = warnings(&traced);
            assert_eq!(
                after_fallback,
                before + 1,
                "exactly one warning for the fallback"
            );
            let c = from_secret(&pg.ca).connect(&no_ssl_key).await.unwrap();
            assert!(ssl_of(c).await);
            assert_eq!(
                warnings(&capture.text()),
                after_fallback,
                "no warning with TLS working"
            );
        }
    };
    run_then_cleanup(body, drop_roles(&pg, &roles)).await;
}

#[tokio::test]
async fn connect_timeout_is_enforced_and_named() {
    // A server that accepts TCP and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let secret = PgSecret::parse_str(
        &json!({"engine": "postgres", "host": "127.0.0.1", "port": addr.port(), "username": "u",
                "password": "canary-timeout-pw", "ssl": false})
        .to_string(),
    )
    .unwrap();
    let rotator = PgRotator::new(DbOptions {
        connect_timeout: Duration::from_millis(300),
        ..DbOptions::default()
    });
    let started = Instant::now();
    let err = rotator.connect(&secret).await.unwrap_err();
    let took = started.elapsed();
    eprintln!("timeout after {took:?}: {err}");
    assert!(err.to_string().contains("timed out after 300 ms"), "{err}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(!err.to_string().contains("canary"));
    hold.abort();
}

// ---------------------------------------------------------------------------------------
// Hardening (issue 19): no adopted clone, one pair derivation, no panic on server data,
// pending must connect as current.

/// The role's stored verifier (`None`: no such role or no password).
async fn verifier_of(admin: &Client, role: &str) -> Option<String> {
    admin
        .query_opt(
            "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
            &[&role],
        )
        .await
        .unwrap()
        .and_then(|row| row.get::<_, Option<String>>(0))
}

/// The roles `role` is a member of.
async fn memberships_of(admin: &Client, role: &str) -> Vec<String> {
    admin
        .query(
            "SELECT g.rolname::text FROM pg_auth_members m \
             JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member \
             WHERE u.rolname = $1 ORDER BY 1",
            &[&role],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn role_exists(admin: &Client, role: &str) -> bool {
    admin
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role])
        .await
        .unwrap()
        .is_some()
}

/// A pre-existing `<user>_clone` that rotwise did not create is not adopted: setSecret
/// stops before any change (its password, memberships and settings are untouched), and
/// the error names the role and the statement that adopts it. Positive control: after
/// running exactly that statement, the same rotation goes through and the role becomes
/// the clone; a clone rotwise creates itself rotates back and forth.
#[tokio::test]
async fn alternating_refuses_a_clone_rotwise_did_not_make() {
    let Some(pg) = require_pg() else { return };
    let base = unique_name("rw_pg_vic");
    let master = unique_name("rw_pg_vicm");
    let clone = format!("{base}_clone");
    let roles = vec![clone.clone(), base.clone(), master.clone()];
    let body = {
        let pg = pg.clone();
        async move {
            let admin = pg.admin().await;
            let Pair {
                store,
                arn,
                rotator,
            } = alternating_pair(&pg, &admin, &base, &master).await;
            // The victim: an unrelated role that happens to be named `<base>_clone`.
            let victim_pw = hexpw();
            create_role(&admin, &clone, &victim_pw, "").await;
            let before = verifier_of(&admin, &clone).await;
            assert!(before.is_some());
            let driver = Driver::new(store.clone(), rotator.clone());
            let service = LocalService::new(store.clone());
            let err = service.rotate(&arn, &driver).await.unwrap_err();
            let msg = &err.message;
            eprintln!("not adopted: {msg}");
            assert_eq!(err.step, Some(rotwise_core::Step::SetSecret), "{msg}");
            let adopt = rotwise_postgres::sql::adopt_clone_sql(&base, &clone);
            assert!(
                msg.contains(&format!(
                    "the role {clone:?} exists but was not created by rotwise"
                )),
                "{msg}"
            );
            assert!(msg.contains(&format!("`{adopt}`")), "{msg}");
            assert!(msg.contains("nothing was changed"), "{msg}");
            // Nothing changed: same verifier, no membership, no setting, old password works.
            assert_eq!(verifier_of(&admin, &clone).await, before, "password reset");
            assert_eq!(memberships_of(&admin, &clone).await, Vec::<String>::new());
            let settings = admin
                .query_opt(
                    "SELECT 1 FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole \
                     WHERE r.rolname = $1",
                    &[&clone],
                )
                .await
                .unwrap();
            assert!(settings.is_none(), "a role setting was added");
            let victim_value = PgSecret::parse_str(&secret_value(&pg, &clone, &victim_pw, None))
                .unwrap()
                .to_payload();
            assert!(rotator.login_works(&victim_value).await.unwrap());

            // Positive control: adopt on purpose with the printed statement, then retry.
            admin.batch_execute(&adopt).await.unwrap();
            service
                .resume(&arn, &err.token.clone().unwrap(), &driver)
                .await
                .unwrap_or_else(|e| panic!("after adoption: {}", e.message));
            let current = value_of(&store, &arn, None, Some(AWSCURRENT)).await;
            assert_eq!(PgSecret::parse(&current).unwrap().username, clone);
            assert!(rotator.login_works(&current).await.unwrap());
            assert!(!rotator.login_works(&victim_value).await.unwrap());
            assert_eq!(memberships_of(&admin, &clone).await, vec![base.clone()]);
            // Back to the base and to the (now marked) clone again.
            for round in 0..2 {
                service
                    .rotate(&arn, &driver)
                    .await
                    .unwrap_or_else(|e| panic!("round {round}: {}", e.message));
            }
        }
    };
    run_then_cleanup(body, drop_roles(&pg, &roles)).await;
}

/// For a current user `x_clone_clone`, every step takes the pair (`x_clone`,
/// `x_clone_clone`): the rotation never touches `x` (before the fix, setSecret created or
/// reset `x_clone`, granted it `x`, and the next rotation changed `x`'s password).
#[tokio::test]
async fn alternating_clone_clone_never_walks_down_to_the_base() {
    let Some(pg) = require_pg() else { return };
    let x = unique_name("rw_pg_cc");
    let master = unique_name("rw_pg_ccm");
    let x_clone = format!("{x}_clone");
    let x_cc = format!("{x}_clone_clone");
    let roles = vec![x_cc.clone(), x_clone.clone(), x.clone(), master.clone()];
    let body = {
        let pg = pg.clone();
        async move {
            let admin = pg.admin().await;
            create_role(&admin, &x, &hexpw(), "").await;
            let x_before = verifier_of(&admin, &x).await;
            // The secret's user is `x_clone_clone`, an ordinary role.
            let Pair {
                store,
                arn,
                rotator,
            } = alternating_pair(&pg, &admin, &x_cc, &master).await;
            let cc_before = verifier_of(&admin, &x_cc).await;
            let driver = Driver::new(store.clone(), rotator.clone());
            let service = LocalService::new(store.clone());
            // 1. `x_clone` does not exist: the pair's base is missing; nothing is created.
            let err = service.rotate(&arn, &driver).await.unwrap_err();
            eprintln!("clone_clone, no base: {}", err.message);
            let pending = value_of(&store, &arn, Some(err.token.as_deref().unwrap()), None).await;
            assert_eq!(PgSecret::parse(&pending).unwrap().username, x_clone);
            assert!(
                err.message.contains(&format!("the base role {x_clone:?} of the alternating pair {x_clone:?} / {x_cc:?} does not exist")),
                "{}",
                err.message
            );
            assert!(!role_exists(&admin, &x_clone).await, "x_clone was created");
            assert_eq!(verifier_of(&admin, &x).await, x_before);
            assert_eq!(verifier_of(&admin, &x_cc).await, cc_before);

            // 2. `x_clone` exists (a base whose name ends in _clone) and `x_clone_clone`
            // is not marked as its clone: refused, nothing changed.
            create_role(&admin, &x_clone, &hexpw(), "").await;
            let xc_before = verifier_of(&admin, &x_clone).await;
            let token = err.token.clone().unwrap();
            let err = service.resume(&arn, &token, &driver).await.unwrap_err();
            assert!(
                err.message.contains(&format!("the role {x_cc:?} exists but was not created by rotwise as the alternating-users clone of {x_clone:?}")),
                "{}",
                err.message
            );
            assert_eq!(verifier_of(&admin, &x_clone).await, xc_before);
            assert_eq!(verifier_of(&admin, &x_cc).await, cc_before);
            assert_eq!(memberships_of(&admin, &x_cc).await, Vec::<String>::new());

            // 3. Adopted as the clone of `x_clone`: the rotation sets `x_clone`'s password.
            admin
                .batch_execute(&rotwise_postgres::sql::adopt_clone_sql(&x_clone, &x_cc))
                .await
                .unwrap();
            service
                .resume(&arn, &token, &driver)
                .await
                .unwrap_or_else(|e| panic!("adopted: {}", e.message));
            assert_ne!(verifier_of(&admin, &x_clone).await, xc_before);
            assert_eq!(memberships_of(&admin, &x_cc).await, vec![x_clone.clone()]);
            let current = value_of(&store, &arn, None, Some(AWSCURRENT)).await;
            assert_eq!(PgSecret::parse(&current).unwrap().username, x_clone);

            // 4. From `x_clone` the pair is (`x`, `x_clone`), and `x_clone` is not rotwise's
            // clone of `x`: refused; `x` is never changed, `x_clone` gets no membership of `x`.
            let err = service.rotate(&arn, &driver).await.unwrap_err();
            assert!(
                err.message.contains(&format!("the role {x_clone:?} exists but was not created by rotwise as the alternating-users clone of {x:?}")),
                "{}",
                err.message
            );
            assert_eq!(
                verifier_of(&admin, &x).await,
                x_before,
                "x's password changed"
            );
            assert_eq!(memberships_of(&admin, &x_clone).await, Vec::<String>::new());
        }
    };
    run_then_cleanup(body, drop_roles(&pg, &roles)).await;
}

/// A planted AWSPENDING with `"ssl": false` (or another port) is refused by setSecret and
/// testSecret before any login: the user's password is unchanged and the server logged no
/// connection for the rotation.
#[tokio::test]
async fn planted_pending_connection_fields_are_refused() {
    let Some(pg) = require_pg() else { return };
    let user = unique_name("rw_pg_plant");
    let roles = vec![user.clone()];
    let body = {
        let pg = pg.clone();
        let user = user.clone();
        async move {
            let admin = pg.admin().await;
            let pw = hexpw();
            create_role(&admin, &user, &pw, "").await;
            let before = verifier_of(&admin, &user).await;
            let current: Value =
                serde_json::from_str(&secret_value(&pg, &user, &pw, None)).unwrap();
            for (field, value) in [
                ("ssl", json!(false)),
                ("port", json!(1)),
                ("dbname", json!("template1")),
            ] {
                let store = Arc::new(MemoryStore::new());
                let arn = store
                    .insert_secret(&format!("pg/plant/{field}"), &current.to_string())
                    .unwrap();
                let service = LocalService::new(store.clone());
                let token = service.begin(&arn).unwrap();
                let mut planted = current.clone();
                planted["password"] = json!(hexpw());
                planted[field] = value;
                store
                    .put_secret_value(rotwise_core::store::PutSecretValue {
                        secret_id: arn.clone(),
                        token: token.clone(),
                        payload: SecretPayload::String(SecretString::from(planted.to_string())),
                        stages: vec![AWSPENDING.to_owned()],
                        rotation_token: None,
                    })
                    .await
                    .unwrap();
                let driver = Driver::new(
                    store.clone(),
                    Arc::new(PgRotator::new(options(&pg, Strategy::Single))),
                );
                let log = pg.log_cursor();
                // setSecret refuses it before any login; the service then never invokes
                // testSecret (which reads only the pending version: the call budget).
                for step in [rotwise_core::Step::SetSecret] {
                    let err = service
                        .invoke(&arn, &token, step, &driver)
                        .await
                        .unwrap_err();
                    assert!(
                        err.message.contains(&format!(
                            "the pending secret's {field} differs from the current secret's"
                        )),
                        "{field}: {}",
                        err.message
                    );
                }
                let text = log_until_now(&admin, &log).await;
                assert!(
                    !text.contains(&format!("user={user}")),
                    "{field}: a login happened:\n{text}"
                );
                assert_eq!(verifier_of(&admin, &user).await, before, "{field}");
            }
            // Positive control: a login of the user does show in the log.
            let log = pg.log_cursor();
            let rotator = PgRotator::new(options(&pg, Strategy::Single));
            let value = PgSecret::parse_str(&current.to_string())
                .unwrap()
                .to_payload();
            assert!(rotator.login_works(&value).await.unwrap());
            let text = log_until_now(&admin, &log).await;
            assert!(
                text.contains(&format!("user={user}")),
                "the log shows logins:\n{text}"
            );
        }
    };
    run_then_cleanup(body, drop_roles(&pg, &roles)).await;
}

/// Server data that does not fit the expected type (NULL, another SQL type) gives an
/// error without the value, never a panic.
#[tokio::test]
async fn malformed_rows_give_errors_without_content() {
    let Some(pg) = require_pg() else { return };
    let admin = pg.admin().await;
    let canary = "SCRAM-SHA-256$4096:canary-row-content";
    let row = admin
        .query_one("SELECT NULL::text, $1::text, 987654321::int4", &[&canary])
        .await
        .unwrap();
    use rotwise_postgres::row::column;
    let cases = [
        (
            column::<String>(&row, 0, "ctx").map(|_| ()),
            "column 0 is NULL where String was expected",
        ),
        (
            column::<i32>(&row, 1, "ctx").map(|_| ()),
            "column 1 is of SQL type text, which does not read as i32",
        ),
        (
            column::<String>(&row, 2, "ctx").map(|_| ()),
            "column 2 is of SQL type int4, which does not read as String",
        ),
        (
            column::<String>(&row, 7, "ctx").map(|_| ()),
            "the answer has 3 column(s), no column 7",
        ),
    ];
    for (result, expected) in cases {
        let e = result.unwrap_err();
        let text = format!("{e} {e:?}");
        assert!(text.contains(expected), "{text}");
        assert!(
            !text.contains("canary") && !text.contains("987654321"),
            "{text}"
        );
        assert_eq!(e.kind(), rotwise_core::ErrorKind::Target);
    }
    assert_eq!(column::<Option<String>>(&row, 0, "ctx").unwrap(), None);
    assert_eq!(column::<i32>(&row, 2, "ctx").unwrap(), 987_654_321);
}

/// testSecret reads only the pending version and still knows which role a pending user must
/// act as: the clone's marker names its base. A clone whose `role` setting was dropped
/// between setSecret and testSecret fails testSecret (Conflict); setSecret repairs it.
#[tokio::test]
async fn test_secret_catches_a_clone_that_does_not_act_as_its_base() {
    let Some(pg) = require_pg() else { return };
    let base = unique_name("rw_pg_acts");
    let master = unique_name("rw_pg_acts_m");
    let clone = format!("{base}_clone");
    let roles = vec![clone.clone(), base.clone(), master.clone()];
    let body = {
        let pg = pg.clone();
        async move {
            let admin = pg.admin().await;
            let Pair {
                store,
                arn,
                rotator,
            } = alternating_pair(&pg, &admin, &base, &master).await;
            let driver = Driver::new(store.clone(), rotator.clone());
            let service = LocalService::new(store.clone());
            let token = service.begin(&arn).unwrap();
            let first = [
                rotwise_core::Step::CreateSecret,
                rotwise_core::Step::SetSecret,
            ];
            service
                .run_steps(&arn, &token, &driver, &first)
                .await
                .unwrap();
            // Positive control: as setSecret left it, testSecret passes.
            service
                .invoke(&arn, &token, rotwise_core::Step::TestSecret, &driver)
                .await
                .unwrap();
            admin
                .batch_execute(&format!("ALTER ROLE {} RESET role", quote_ident(&clone)))
                .await
                .unwrap();
            let err = service
                .invoke(&arn, &token, rotwise_core::Step::TestSecret, &driver)
                .await
                .unwrap_err();
            assert!(
                err.message.contains(&format!("acts as \"{clone}\""))
                    && err.message.contains("setSecret repairs it"),
                "{}",
                err.message
            );
            // The service retries from setSecret: repaired, and the rotation completes.
            service.resume(&arn, &token, &driver).await.unwrap();
            let current = value_of(&store, &arn, None, Some(AWSCURRENT)).await;
            let who: String = login(&rotator, &current)
                .await
                .query_one("SELECT current_user::text", &[])
                .await
                .unwrap()
                .get(0);
            assert_eq!(who, base);
            // The base user itself (the next rotation's pending user) passes as itself.
            service.rotate(&arn, &driver).await.unwrap();
        }
    };
    run_then_cleanup(body, drop_roles(&pg, &roles)).await;
}

/// What setSecret may change on the pair: the verifiers, whether the clone exists, its
/// memberships, comment, settings and limits.
async fn pair_state(admin: &Client, base: &str, clone: &str) -> Vec<String> {
    let mut state = vec![
        format!("{:?}", verifier_of(admin, base).await),
        format!("{:?}", verifier_of(admin, clone).await),
        format!("{}", role_exists(admin, clone).await),
        format!("{:?}", memberships_of(admin, clone).await),
    ];
    for row in admin
        .query(
            "SELECT shobj_description(r.oid, 'pg_authid'), rolconnlimit::text, \
             rolvaliduntil::text, array_to_string(s.setconfig, ',') FROM pg_roles r \
             LEFT JOIN pg_db_role_setting s ON s.setrole = r.oid WHERE rolname = $1",
            &[&clone],
        )
        .await
        .unwrap()
    {
        let cols: Vec<Option<String>> = (0..4).map(|i| row.get(i)).collect();
        state.push(format!("{cols:?}"));
    }
    state
}

/// Issue 18 item 4 on PostgreSQL: setSecret reads everything before its first change. A
/// failure injected at the first change (`write:password`) finds every read already made;
/// a failure injected at each read in turn leaves the pair exactly as it was; without a
/// fault the same rotation then goes through. Two rounds: the clone created, then the base
/// user's password set with the clone existing. Single user: a failure at the change
/// leaves the password as it was, and the retry changes it.
#[tokio::test]
async fn reads_everything_before_the_first_change() {
    let Some(pg) = require_pg() else { return };
    let base = unique_name("rw_pg_rb");
    let master = unique_name("rw_pg_rbm");
    let clone = format!("{base}_clone");
    let roles = vec![base.clone(), clone.clone(), master.clone()];
    let body = {
        let pg = pg.clone();
        let (base, clone, master) = (base.clone(), clone.clone(), master.clone());
        async move {
            let admin = pg.admin().await;
            let Pair {
                store,
                arn,
                rotator,
            } = alternating_pair(&pg, &admin, &base, &master).await;
            let driver = Driver::new(store.clone(), rotator.clone());
            let service = LocalService::new(store.clone());
            for round in 1..=2 {
                rotwise_postgres::fault::inject(Some("write:password"));
                let before = pair_state(&admin, &base, &clone).await;
                let err = service.rotate(&arn, &driver).await.unwrap_err();
                assert!(
                    err.message.contains("injected failure at write:password"),
                    "{}",
                    err.message
                );
                let token = err.token.clone().unwrap();
                let points = rotwise_postgres::fault::reached();
                let (reads, rest) = points.split_at(points.len() - 1);
                assert_eq!(rest, ["write:password"], "{points:?}");
                assert_eq!(
                    reads,
                    [
                        "read:version".to_owned(),
                        format!("read:base:{base}"),
                        format!("read:clone:{clone}"),
                    ],
                    "round {round}"
                );
                assert_eq!(pair_state(&admin, &base, &clone).await, before);
                for point in reads {
                    rotwise_postgres::fault::inject(Some(point));
                    let err = service.resume(&arn, &token, &driver).await.unwrap_err();
                    assert_eq!(err.step, Some(rotwise_core::Step::SetSecret));
                    assert!(
                        err.message
                            .contains(&format!("injected failure at {point}")),
                        "{point}: {}",
                        err.message
                    );
                    assert_eq!(
                        pair_state(&admin, &base, &clone).await,
                        before,
                        "round {round}: a failure at {point} changed the database"
                    );
                }
                // The last change too: the transaction rolls the password back.
                rotwise_postgres::fault::inject(Some("write:grants"));
                let err = service.resume(&arn, &token, &driver).await.unwrap_err();
                assert!(err.message.contains("write:grants"), "{}", err.message);
                assert_eq!(
                    pair_state(&admin, &base, &clone).await,
                    before,
                    "round {round}: a failure at write:grants left a change behind"
                );
                rotwise_postgres::fault::inject(None);
                service
                    .resume(&arn, &token, &driver)
                    .await
                    .unwrap_or_else(|e| panic!("round {round}, no fault: {}", e.message));
                assert_ne!(pair_state(&admin, &base, &clone).await, before);
                assert_eq!(
                    memberships_of(&admin, &clone).await,
                    std::slice::from_ref(&base)
                );
            }

            // Single user: the one change fails, nothing changed; the retry changes it.
            let single = Arc::new(PgRotator::new(options(&pg, Strategy::Single)));
            let single_arn = store
                .insert_secret(
                    &format!("pg/single/{base}"),
                    value_of(&store, &arn, None, Some(AWSCURRENT))
                        .await
                        .as_string()
                        .unwrap()
                        .expose_secret(),
                )
                .unwrap();
            let driver = Driver::new(store.clone(), single);
            let who = password_user(&store, &single_arn).await;
            let before = verifier_of(&admin, &who).await;
            rotwise_postgres::fault::inject(Some("write:password"));
            let err = service.rotate(&single_arn, &driver).await.unwrap_err();
            assert!(err.message.contains("write:password"), "{}", err.message);
            assert_eq!(verifier_of(&admin, &who).await, before);
            rotwise_postgres::fault::inject(None);
            service
                .resume(&single_arn, &err.token.unwrap(), &driver)
                .await
                .unwrap_or_else(|e| panic!("single, no fault: {}", e.message));
            assert_ne!(verifier_of(&admin, &who).await, before);
        }
    };
    run_then_cleanup(body, async {
        rotwise_postgres::fault::inject(None);
        drop_roles(&pg, &roles).await
    })
    .await;
}

/// The user named by the AWSCURRENT value of `arn`.
async fn password_user(store: &MemoryStore, arn: &str) -> String {
    let v = store
        .get_secret_value(arn, None, Some(AWSCURRENT))
        .await
        .unwrap();
    PgSecret::parse(&v.payload).unwrap().username
}
