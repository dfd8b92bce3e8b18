//! Integration tests against the private MariaDB 10.11 of `scripts/services up` (TLS with a
//! generated CA, its own general log, name resolution on). Never the system server on 3306.
//! Every test creates its own users (and database) and drops them at the end.
//!
//! The tests of this binary run one at a time (`serial()`): the failed-login counter
//! (`Access_denied_errors`) is server-wide, and some tests fail logins on purpose.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use rotwise_core::SecretString;
use rotwise_core::password::PasswordPolicy;
use rotwise_core::store::{AWSCURRENT, AWSPENDING, MemoryStore, SecretStore};
use rotwise_core::{Driver, ExposeSecret, PasswordSource, SecretPayload, Strategy};
use rotwise_mysql::grants::Grants;
use rotwise_mysql::sql::{Literals, account, native_hash};
use rotwise_mysql::{DbOptions, MysqlRotator, MysqlSecret, TlsMode};
use rotwise_test_services::{
    LogCursor, MysqlService, plaintext_hits, record_reliability, require_mysql, run_then_cleanup,
    unique_name,
};
use rotwise_testkit::{Conformance, LocalService, Recorded};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Fixtures

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

fn port(my: &MysqlService) -> u16 {
    let port = mysql_async::Opts::from_url(&my.url)
        .map(|o| o.tcp_port())
        .unwrap_or(0);
    assert!(
        port != 0 && port != 3306,
        "ROTATION_TEST_MYSQL_URL must name the private server, never the system one on 3306"
    );
    port
}

fn secret_at(
    my: &MysqlService,
    host: &str,
    user: &str,
    password: &str,
    masterarn: Option<&str>,
) -> String {
    let mut v = json!({
        "engine": "mariadb",
        "host": host,
        "port": port(my),
        "username": user,
        "password": password,
        "ssl": true,
        "note": {"kept": [1, "two", null]},
    });
    if let Some(arn) = masterarn {
        v["masterarn"] = Value::String(arn.to_owned());
    }
    v.to_string()
}

fn secret_value(my: &MysqlService, user: &str, password: &str, masterarn: Option<&str>) -> String {
    secret_at(my, "127.0.0.1", user, password, masterarn)
}

fn options(my: &MysqlService, strategy: Strategy) -> DbOptions {
    DbOptions {
        tls: Some(TlsMode::VerifyFull),
        ca_file: Some(my.ca.clone()),
        connect_timeout: Duration::from_secs(5),
        strategy: Some(strategy),
        username_limit: None,
        ..DbOptions::default()
    }
}

fn hexpw() -> String {
    format!("Init-{}", &unique_name("p")[2..])
}

async fn run(conn: &mut Conn, sql: &str) {
    conn.query_drop(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Create `user@host` with a password given as its hash (no plaintext in the log).
async fn create_user(admin: &mut Conn, user: &str, host: &str, password: &str) {
    let hash = native_hash(&SecretString::from(password));
    run(
        admin,
        &format!(
            "CREATE USER {} IDENTIFIED BY PASSWORD '{hash}'",
            account(user, host)
        ),
    )
    .await;
}

/// Drop users and databases if they exist; errors are ignored (cleanup).
async fn cleanup(my: MysqlService, users: Vec<(String, String)>, dbs: Vec<String>) {
    let mut admin = my.admin().await;
    for (u, h) in users {
        let _ = admin
            .query_drop(format!("DROP USER IF EXISTS {}", account(&u, &h)))
            .await;
    }
    for db in dbs {
        let _ = admin
            .query_drop(format!("DROP DATABASE IF EXISTS `{db}`"))
            .await;
    }
    let _ = admin.disconnect().await;
}

/// A master like RDS's: CREATE USER and common privileges WITH GRANT OPTION, not SUPER.
async fn create_master(admin: &mut Conn, name: &str, password: &str) {
    create_user(admin, name, "%", password).await;
    run(
        admin,
        &format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, \
             SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, CREATE VIEW, SHOW VIEW, \
             CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER ON *.* TO {} WITH GRANT OPTION",
            account(name, "%")
        ),
    )
    .await;
    assert_ne!(name, "root");
    let supr: Option<String> = admin
        .exec_first(
            "SELECT Super_priv FROM mysql.user WHERE User = ? AND Host = '%'",
            (name,),
        )
        .await
        .unwrap();
    assert_eq!(supr.as_deref(), Some("N"), "the master must not have SUPER");
    let grants: Vec<String> = admin
        .query(format!("SHOW GRANTS FOR {}", account(name, "%")))
        .await
        .unwrap();
    assert!(
        !grants.join("\n").contains("SUPER") && !grants.join("\n").contains("ALL PRIVILEGES"),
        "{grants:?}"
    );
}

async fn value_of(store: &MemoryStore, arn: &str, stage: &str) -> SecretPayload {
    store
        .get_secret_value(arn, None, Some(stage))
        .await
        .unwrap()
        .payload
}

fn password_of(value: &SecretPayload) -> String {
    MysqlSecret::parse(value)
        .unwrap()
        .password
        .expose_secret()
        .to_owned()
}

fn username_of(value: &SecretPayload) -> String {
    MysqlSecret::parse(value).unwrap().username
}

/// Everything the general log got since `cursor`, up to a marker statement run now.
async fn log_until_now(admin: &mut Conn, cursor: &LogCursor) -> String {
    let marker = unique_name("fence");
    run(admin, &format!("SELECT '{marker}'")).await;
    cursor.wait_for(&marker, Duration::from_secs(5)).await
}

fn failed_logins(log: &str, user: &str) -> usize {
    log.matches(&format!("Access denied for user '{user}'@"))
        .count()
}

async fn access_denied(admin: &mut Conn) -> u64 {
    let row: Option<(String, String)> = admin
        .query_first("SHOW GLOBAL STATUS LIKE 'Access_denied_errors'")
        .await
        .unwrap();
    row.unwrap().1.parse().unwrap()
}

async fn grants_of(admin: &mut Conn, user: &str, host: &str) -> Grants {
    let rows: Vec<String> = admin
        .query(format!("SHOW GRANTS FOR {}", account(user, host)))
        .await
        .unwrap();
    Grants::parse(&rows).unwrap()
}

async fn hosts_of(admin: &mut Conn, user: &str) -> Vec<String> {
    admin
        .exec(
            "SELECT Host FROM mysql.user WHERE User = ? ORDER BY Host",
            (user,),
        )
        .await
        .unwrap()
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

/// The process-wide capture at TRACE, with `mysql_async` capped at INFO as the Lambdas do.
fn capture() -> &'static Capture {
    static CAPTURE: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let me = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace,mysql_async=info"))
            .with_writer(move || me.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this test binary");
        capture
    })
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

// ---------------------------------------------------------------------------------------
// Single user

#[tokio::test]
async fn single_user_rotates_three_times_without_plaintext_or_failed_login() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let user = unique_name("rw_my_single");
    let users = vec![(user.clone(), "%".to_owned())];
    let body = {
        let my = my.clone();
        let user = user.clone();
        async move {
            let capture = capture();
            let mut admin = my.admin().await;
            let initial = hexpw();
            create_user(&mut admin, &user, "%", &initial).await;
            let store = Arc::new(MemoryStore::new());
            let arn = store
                .insert_secret("my/single", &secret_value(&my, &user, &initial, None))
                .unwrap();
            let rotator = Arc::new(MysqlRotator::new(options(&my, Strategy::Single)));
            let driver = Driver::new(store.clone(), rotator.clone());
            let service = LocalService::new(store.clone());
            let log = my.log_cursor();
            let mut values = vec![value_of(&store, &arn, AWSCURRENT).await];
            let mut rotation_log = String::new();
            let mut denied = 0;
            for round in 1..=3 {
                let window = my.log_cursor();
                let before = access_denied(&mut admin).await;
                let started = Instant::now();
                let run = service
                    .rotate(&arn, &driver)
                    .await
                    .unwrap_or_else(|e| panic!("rotation {round} failed: {e}"));
                let took = started.elapsed();
                denied += access_denied(&mut admin).await - before;
                eprintln!("single rotation {round}: {took:?} {:?}", run.steps);
                rotation_log.push_str(&log_until_now(&mut admin, &window).await);
                let current = value_of(&store, &arn, AWSCURRENT).await;
                assert!(
                    rotator.login_works(&current).await.unwrap(),
                    "round {round}: AWSCURRENT logs in"
                );
                assert!(
                    !rotator.login_works(values.last().unwrap()).await.unwrap(),
                    "round {round}: the old password no longer logs in"
                );
                values.push(current);
            }
            assert_eq!(
                denied, 0,
                "Access_denied_errors grew during normal rotations"
            );
            assert_eq!(failed_logins(&rotation_log, &user), 0);
            // Positive control for the failed-login counters: one deliberate bad login.
            let window = my.log_cursor();
            let before = access_denied(&mut admin).await;
            assert!(!rotator.login_works(&values[0]).await.unwrap());
            assert_eq!(
                access_denied(&mut admin).await - before,
                1,
                "the counter sees a bad login"
            );
            assert_eq!(
                failed_logins(&log_until_now(&mut admin, &window).await, &user),
                1
            );

            // Unknown keys kept with their types.
            let last: Value =
                serde_json::from_str(values.last().unwrap().as_string().unwrap().expose_secret())
                    .unwrap();
            assert_eq!(last["note"], json!({"kept": [1, "two", null]}));
            assert_eq!(last["port"], json!(port(&my)));

            let text = log_until_now(&mut admin, &log).await;
            // Positive control: the general log captures the password statement, with the
            // hash of each new password.
            for v in &values[1..] {
                let hash = native_hash(&SecretString::from(password_of(v)));
                assert!(
                    text.contains(&format!("SET PASSWORD = '{hash}'")),
                    "the log shows the hashed statement"
                );
            }
            for v in &values {
                assert!(
                    !text.contains(&password_of(v)),
                    "plaintext in the server log"
                );
            }
            let traced = capture.text();
            for v in &values {
                assert!(
                    !traced.contains(&password_of(v)),
                    "password in the tracing output"
                );
            }
            assert!(
                traced.contains("password changed"),
                "positive control: the capture works"
            );
        }
    };
    run_then_cleanup(body, cleanup(my.clone(), users, vec![])).await;
}

#[tokio::test]
async fn single_conformance() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let user = unique_name("rw_my_conf_s");
    let users = vec![(user.clone(), "%".to_owned())];
    let body = {
        let my = my.clone();
        async move {
            let mut admin = my.admin().await;
            let initial = hexpw();
            create_user(&mut admin, &user, "%", &initial).await;
            let rotator = Arc::new(MysqlRotator::new(options(&my, Strategy::Single)));
            let app_log = capture();
            let log = my.log_cursor();
            let target = Arc::new(Recorded::new(rotator.clone()));
            let started = Instant::now();
            let report = Conformance::new(
                rotator.clone(),
                target.clone(),
                secret_value(&my, &user, &initial, None),
                Strategy::Single,
            )
            .with_secret_name("my/conformance-single")
            .run()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            // Every password the suite produced, searched in the app's TRACE capture
            // and in the server's log (positive control: the capture is not empty).
            let passwords = target.passwords();
            let app_text = app_log.text();
            assert!(!app_text.is_empty(), "the app log is captured");
            let app_hits = plaintext_hits(&app_text, &passwords);
            let server_hits = plaintext_hits(&log_until_now(&mut admin, &log).await, &passwords);
            record_reliability(&[
                &"conformance",
                &"mysql",
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
            eprintln!("single conformance: {report} in {:?}", started.elapsed());
        }
    };
    run_then_cleanup(body, cleanup(my.clone(), users, vec![])).await;
}

// ---------------------------------------------------------------------------------------
// Alternating users

struct Pair {
    store: Arc<MemoryStore>,
    arn: String,
    rotator: Arc<MysqlRotator>,
}

/// A master, a database and a base user `base@host` with SELECT, INSERT on the database
/// and a column grant, REQUIRE SSL.
async fn alternating_pair(
    my: &MysqlService,
    admin: &mut Conn,
    base: &str,
    host: &str,
    master: &str,
    db: &str,
) -> Pair {
    let master_pw = hexpw();
    create_master(admin, master, &master_pw).await;
    run(admin, &format!("CREATE DATABASE `{db}`")).await;
    run(admin, &format!("CREATE TABLE `{db}`.t (a int, b int)")).await;
    let initial = hexpw();
    create_user(admin, base, host, &initial).await;
    let acct = account(base, host);
    run(
        admin,
        &format!("GRANT SELECT, INSERT ON `{db}`.* TO {acct}"),
    )
    .await;
    run(admin, &format!("GRANT UPDATE (`a`) ON `{db}`.t TO {acct}")).await;
    run(
        admin,
        &format!("ALTER USER {acct} REQUIRE SSL WITH MAX_USER_CONNECTIONS 7"),
    )
    .await;
    let store = Arc::new(MemoryStore::new());
    let marn = store
        .insert_secret(
            &format!("my/master/{master}"),
            &secret_value(my, master, &master_pw, None),
        )
        .unwrap();
    let arn = store
        .insert_secret(
            &format!("my/alt/{master}"),
            &secret_value(my, base, &initial, Some(&marn)),
        )
        .unwrap();
    Pair {
        store,
        arn,
        rotator: Arc::new(MysqlRotator::new(options(my, Strategy::Alternating))),
    }
}

/// The clone's grants equal the base's.
async fn assert_same_grants(admin: &mut Conn, base: &str, clone: &str, host: &str, when: &str) {
    let b = grants_of(admin, base, host).await;
    let c = grants_of(admin, clone, host).await;
    assert_eq!(b, c, "{when}: the clone's grants equal the base's");
    let limits = |u: &str| {
        format!(
            "SELECT CAST(ssl_type AS CHAR), CAST(max_user_connections AS SIGNED) FROM mysql.user WHERE User = '{u}' AND Host = '{host}'"
        )
    };
    let lb: Option<(String, i64)> = admin.query_first(limits(base)).await.unwrap();
    let lc: Option<(String, i64)> = admin.query_first(limits(clone)).await.unwrap();
    assert_eq!(lb, lc, "{when}: TLS requirement and limits copied");
    assert_eq!(lc.unwrap().0, "ANY", "REQUIRE SSL");
}

#[tokio::test]
async fn alternating_rotates_three_times_and_grants_follow_the_base_user() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let base = unique_name("rw_my_alt");
    let master = unique_name("rw_my_master");
    let db = unique_name("rw_my_db");
    let clone = format!("{base}_clone");
    let users = vec![
        (clone.clone(), "%".to_owned()),
        (base.clone(), "%".to_owned()),
        (master.clone(), "%".to_owned()),
    ];
    let body = {
        let my = my.clone();
        let db = db.clone();
        async move {
            let capture = capture();
            let mut admin = my.admin().await;
            let Pair {
                store,
                arn,
                rotator,
            } = alternating_pair(&my, &mut admin, &base, "%", &master, &db).await;
            let driver = Driver::new(store.clone(), rotator.clone());
            let service = LocalService::new(store.clone());
            let log = my.log_cursor();
            let mut values = vec![value_of(&store, &arn, AWSCURRENT).await];
            let mut rotation_log = String::new();
            let mut denied = 0;
            for round in 1..=3 {
                match round {
                    // Between rotations the DBA changes the base user's grants.
                    2 => {
                        run(
                            &mut admin,
                            &format!("REVOKE INSERT ON `{db}`.* FROM {}", account(&base, "%")),
                        )
                        .await
                    }
                    3 => {
                        run(
                            &mut admin,
                            &format!(
                                "REVOKE UPDATE (`a`) ON `{db}`.t FROM {}",
                                account(&base, "%")
                            ),
                        )
                        .await;
                        run(
                            &mut admin,
                            &format!("GRANT DELETE ON `{db}`.* TO {}", account(&base, "%")),
                        )
                        .await;
                    }
                    _ => {}
                }
                let window = my.log_cursor();
                let before = access_denied(&mut admin).await;
                let started = Instant::now();
                let run = service
                    .rotate(&arn, &driver)
                    .await
                    .unwrap_or_else(|e| panic!("rotation {round}: {e}"));
                let took = started.elapsed();
                denied += access_denied(&mut admin).await - before;
                eprintln!("alternating rotation {round}: {took:?} {:?}", run.steps);
                rotation_log.push_str(&log_until_now(&mut admin, &window).await);
                let current = value_of(&store, &arn, AWSCURRENT).await;
                assert_eq!(
                    username_of(&current),
                    if round % 2 == 1 {
                        clone.clone()
                    } else {
                        base.clone()
                    }
                );
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
                assert_same_grants(&mut admin, &base, &clone, "%", &format!("round {round}")).await;
                values.push(current);
            }
            let clone_grants = grants_of(&mut admin, &clone, "%").await;
            let privs: Vec<String> = clone_grants
                .privileges
                .iter()
                .map(|g| g.privilege.clone())
                .collect();
            assert_eq!(
                privs,
                ["DELETE", "SELECT"],
                "revoked from the base: revoked from the clone"
            );
            assert_eq!(
                denied, 0,
                "Access_denied_errors grew during normal rotations"
            );
            for u in [&base, &clone, &master] {
                assert_eq!(failed_logins(&rotation_log, u), 0, "failed logins for {u}");
            }
            assert!(
                rotation_log.contains(&format!("{master}@localhost on")),
                "the log shows the master's login"
            );

            let text = log_until_now(&mut admin, &log).await;
            let h1 = native_hash(&SecretString::from(password_of(&values[1])));
            assert!(
                text.contains(&format!(
                    "CREATE USER {} IDENTIFIED BY PASSWORD '{h1}'",
                    account(&clone, "%")
                )),
                "positive control: the CREATE USER line with the hash is logged"
            );
            let h2 = native_hash(&SecretString::from(password_of(&values[2])));
            assert!(text.contains(&format!(
                "ALTER USER {} IDENTIFIED BY PASSWORD '{h2}'",
                account(&base, "%")
            )));
            for v in &values {
                assert!(
                    !text.contains(&password_of(v)),
                    "plaintext in the server log"
                );
            }
            // The base's hash (printed by SHOW GRANTS) is never replayed onto the clone.
            let base_hash = native_hash(&SecretString::from(password_of(&values[0])));
            assert!(!text.contains(&format!("TO {} IDENTIFIED", account(&clone, "%"))));
            assert_eq!(
                text.matches(&base_hash).count(),
                0,
                "the base's original hash is never sent"
            );
            let traced = capture.text();
            for v in &values {
                assert!(!traced.contains(&password_of(v)));
            }
        }
    };
    run_then_cleanup(body, cleanup(my.clone(), users, vec![db])).await;
}

#[tokio::test]
async fn alternating_keeps_the_current_users_host() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let base = unique_name("rw_my_local");
    let multi = unique_name("rw_my_multi");
    let master = unique_name("rw_my_lm");
    let db = unique_name("rw_my_ldb");
    let role = unique_name("rw_my_role");
    let users = vec![
        (format!("{base}_clone"), "localhost".to_owned()),
        (base.clone(), "localhost".to_owned()),
        (format!("{multi}_clone"), "localhost".to_owned()),
        (multi.clone(), "localhost".to_owned()),
        (multi.clone(), "%".to_owned()),
        (master.clone(), "%".to_owned()),
    ];
    let body = {
        let my = my.clone();
        let db = db.clone();
        let role = role.clone();
        async move {
            let mut admin = my.admin().await;
            let Pair {
                store,
                arn,
                rotator,
            } = alternating_pair(&my, &mut admin, &base, "localhost", &master, &db).await;
            // A role and a default role, carried to the clone (the master holds ADMIN OPTION).
            run(&mut admin, &format!("CREATE ROLE `{role}`")).await;
            run(&mut admin, &format!("GRANT SELECT ON `{db}`.t TO `{role}`")).await;
            run(
                &mut admin,
                &format!(
                    "GRANT `{role}` TO {} WITH ADMIN OPTION",
                    account(&master, "%")
                ),
            )
            .await;
            run(
                &mut admin,
                &format!("GRANT `{role}` TO {}", account(&base, "localhost")),
            )
            .await;
            run(
                &mut admin,
                &format!(
                    "SET DEFAULT ROLE `{role}` FOR {}",
                    account(&base, "localhost")
                ),
            )
            .await;
            let driver = Driver::new(store.clone(), rotator.clone());
            let service = LocalService::new(store.clone());
            let clone = format!("{base}_clone");
            for round in 1..=3 {
                service
                    .rotate(&arn, &driver)
                    .await
                    .unwrap_or_else(|e| panic!("rotation {round}: {e}"));
                let current = value_of(&store, &arn, AWSCURRENT).await;
                assert!(rotator.login_works(&current).await.unwrap());
                assert_eq!(
                    hosts_of(&mut admin, &clone).await,
                    ["localhost"],
                    "the clone has the base's host"
                );
                assert_same_grants(
                    &mut admin,
                    &base,
                    &clone,
                    "localhost",
                    &format!("round {round}"),
                )
                .await;
            }
            let g = grants_of(&mut admin, &clone, "localhost").await;
            assert_eq!(g.roles.len(), 1, "the clone holds the role");
            assert_eq!(
                g.default_roles
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>(),
                [role.as_str()]
            );
            // A user defined on two hosts: the account the login matches (localhost, the
            // more specific one) is rotated and cloned; the '%' account is left alone.
            let pw = hexpw();
            create_user(&mut admin, &multi, "localhost", &pw).await;
            create_user(&mut admin, &multi, "%", "other-host-password").await;
            run(
                &mut admin,
                &format!(
                    "GRANT SELECT ON `{db}`.* TO {}",
                    account(&multi, "localhost")
                ),
            )
            .await;
            let marn = MysqlSecret::parse(&value_of(&store, &arn, AWSCURRENT).await)
                .unwrap()
                .masterarn
                .unwrap();
            let multi_arn = store
                .insert_secret("my/multi", &secret_value(&my, &multi, &pw, Some(&marn)))
                .unwrap();
            let pct_before: Option<String> = admin
                .exec_first(
                    "SELECT authentication_string FROM mysql.user WHERE User = ? AND Host = '%'",
                    (&multi,),
                )
                .await
                .unwrap();
            service
                .rotate(&multi_arn, &driver)
                .await
                .unwrap_or_else(|e| panic!("multi-host: {e}"));
            assert_eq!(
                hosts_of(&mut admin, &format!("{multi}_clone")).await,
                ["localhost"]
            );
            let pct_after: Option<String> = admin
                .exec_first(
                    "SELECT authentication_string FROM mysql.user WHERE User = ? AND Host = '%'",
                    (&multi,),
                )
                .await
                .unwrap();
            assert_eq!(pct_before, pct_after, "the '%' account is untouched");
            assert!(
                rotator
                    .login_works(&value_of(&store, &multi_arn, AWSCURRENT).await)
                    .await
                    .unwrap()
            );
        }
    };
    run_then_cleanup(body, async {
        cleanup(my.clone(), users, vec![db]).await;
        let mut admin = my.admin().await;
        let _ = admin
            .query_drop(format!("DROP ROLE IF EXISTS `{role}`"))
            .await;
    })
    .await;
}

#[tokio::test]
async fn alternating_conformance() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let base = unique_name("rw_my_conf_alt");
    let master = unique_name("rw_my_conf_m");
    let db = unique_name("rw_my_cdb");
    let users = vec![
        (format!("{base}_clone"), "%".to_owned()),
        (base.clone(), "%".to_owned()),
        (master.clone(), "%".to_owned()),
    ];
    let body = {
        let my = my.clone();
        let db = db.clone();
        async move {
            let mut admin = my.admin().await;
            let Pair {
                store,
                arn,
                rotator,
            } = alternating_pair(&my, &mut admin, &base, "%", &master, &db).await;
            let initial = value_of(&store, &arn, AWSCURRENT).await;
            let app_log = capture();
            let log = my.log_cursor();
            let target = Arc::new(Recorded::new(rotator.clone()));
            let started = Instant::now();
            let report = Conformance::new(
                rotator.clone(),
                target.clone(),
                initial,
                Strategy::Alternating,
            )
            .with_store(store)
            .with_secret_name("my/conformance-alt")
            .run()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            // Every password the suite produced, searched in the app's TRACE capture
            // and in the server's log (positive control: the capture is not empty).
            let passwords = target.passwords();
            let app_text = app_log.text();
            assert!(!app_text.is_empty(), "the app log is captured");
            let app_hits = plaintext_hits(&app_text, &passwords);
            let server_hits = plaintext_hits(&log_until_now(&mut admin, &log).await, &passwords);
            record_reliability(&[
                &"conformance",
                &"mysql",
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
                "alternating conformance: {report} in {:?}",
                started.elapsed()
            );
        }
    };
    run_then_cleanup(body, cleanup(my.clone(), users, vec![db])).await;
}

// ---------------------------------------------------------------------------------------
// Nasty inputs and limits

#[tokio::test]
async fn literals_read_back_exactly_under_both_sql_modes() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let mut admin = my.admin().await;
    let nasty = format!("a'b\"c\\d`e ü%_{}\\", rotwise_core::password::PUNCTUATION);
    for mode in [
        "",
        "NO_BACKSLASH_ESCAPES",
        "ANSI_QUOTES,NO_BACKSLASH_ESCAPES",
        "ANSI_QUOTES",
    ] {
        run(&mut admin, &format!("SET SESSION sql_mode = '{mode}'")).await;
        let (sql_mode,): (String,) = admin
            .query_first("SELECT @@SESSION.sql_mode")
            .await
            .unwrap()
            .unwrap();
        let lit = Literals::from_sql_mode(&sql_mode);
        let back: Option<String> = admin
            .query_first(format!("SELECT {}", lit.quote(&nasty)))
            .await
            .unwrap();
        assert_eq!(back.as_deref(), Some(nasty.as_str()), "sql_mode {mode:?}");
        // The other quoting would be wrong under this mode: the check can fail.
        let wrong = Literals {
            backslash_escapes: !lit.backslash_escapes,
        };
        let back: Result<Option<String>, _> = admin
            .query_first(format!("SELECT {}", wrong.quote(&nasty)))
            .await;
        assert_ne!(back.ok().flatten().as_deref(), Some(nasty.as_str()));
    }
}

#[tokio::test]
async fn nasty_usernames_and_passwords_rotate() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let tag = &unique_name("n")[2..];
    let nasty: Vec<String> = [
        r#"a"b"#,
        "O'Neil",
        "user name",
        "ünï",
        "back`tick",
        r"back\slash",
        r"'; DROP USER x; --",
    ]
    .iter()
    .map(|n| format!("{n}{tag}"))
    .collect();
    let at_limit = format!("{}{tag}", "l".repeat(128 - tag.len()));
    let master = unique_name("rw_my_nasty_m");
    let mut users: Vec<(String, String)> = nasty
        .iter()
        .flat_map(|n| {
            [
                (format!("{n}_clone"), "%".to_owned()),
                (n.clone(), "%".to_owned()),
            ]
        })
        .collect();
    users.push((at_limit.clone(), "%".to_owned()));
    users.push((master.clone(), "%".to_owned()));
    let body = {
        let my = my.clone();
        async move {
            let mut admin = my.admin().await;
            let punct = rotwise_core::password::PUNCTUATION;
            let all_punct = format!("Aa1 {punct}");
            let policy = PasswordPolicy {
                length: 48,
                exclude_characters: String::new(),
                include_space: true,
                ..PasswordPolicy::default()
            };
            capture(); // from here on, the app log is captured at TRACE
            let log = my.log_cursor();
            let mut seen = vec![all_punct.clone()];
            let master_pw = hexpw();
            create_master(&mut admin, &master, &master_pw).await;
            let store = Arc::new(MemoryStore::new());
            let marn = store
                .insert_secret(
                    "my/nasty-master",
                    &secret_value(&my, &master, &master_pw, None),
                )
                .unwrap();
            for strategy in [Strategy::Single, Strategy::Alternating] {
                let list: Vec<&String> = match strategy {
                    Strategy::Single => nasty.iter().chain([&at_limit]).collect(),
                    Strategy::Alternating => nasty.iter().collect(),
                };
                for user in list {
                    let pw = format!("{all_punct}{}", seen.len());
                    run(
                        &mut admin,
                        &format!("DROP USER IF EXISTS {}", account(user, "%")),
                    )
                    .await;
                    create_user(&mut admin, user, "%", &pw).await;
                    let masterarn = (strategy == Strategy::Alternating).then_some(marn.as_str());
                    let arn = store
                        .insert_secret(
                            &format!("my/nasty/{strategy}/{}", seen.len()),
                            &secret_value(&my, user, &pw, masterarn),
                        )
                        .unwrap();
                    seen.push(pw);
                    let rotator = Arc::new(MysqlRotator::new(options(&my, strategy)));
                    let driver = Driver::new(store.clone(), rotator.clone())
                        .with_passwords(PasswordSource::Local(policy.clone()));
                    let service = LocalService::new(store.clone());
                    for round in 0..2 {
                        service
                            .rotate(&arn, &driver)
                            .await
                            .unwrap_or_else(|e| panic!("{strategy} {user:?} round {round}: {e}"));
                        let current = value_of(&store, &arn, AWSCURRENT).await;
                        assert!(
                            rotator.login_works(&current).await.unwrap(),
                            "{strategy} {user:?}"
                        );
                        seen.push(password_of(&current));
                    }
                    assert_eq!(
                        hosts_of(&mut admin, user).await,
                        ["%"],
                        "{user:?} exists under its exact name"
                    );
                    if strategy == Strategy::Alternating {
                        assert_eq!(hosts_of(&mut admin, &format!("{user}_clone")).await, ["%"]);
                    }
                }
            }
            let text = log_until_now(&mut admin, &log).await;
            assert!(
                text.contains("IDENTIFIED BY PASSWORD '*"),
                "positive control"
            );
            assert!(text.contains("SET PASSWORD = '*"), "positive control");
            // The app's TRACE capture too (every test of this binary logs into it).
            let passwords: Vec<String> = seen.iter().skip(1).cloned().collect();
            let app_hits = plaintext_hits(&capture().text(), &passwords);
            record_reliability(&[
                &"adversarial",
                &"mysql",
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
                    .any(|p| p.chars().filter(|c| punct.contains(*c)).count() > 3)
            );
        }
    };
    run_then_cleanup(body, cleanup(my.clone(), users, vec![])).await;
}

#[tokio::test]
async fn usernames_over_the_limit_are_refused_before_anything_changes() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let tag = &unique_name("l")[2..];
    // 122 characters + "_clone" = 128: fits MariaDB's limit.
    let fits = format!("{}{tag}", "f".repeat(122 - tag.len()));
    // 123 + 6 = 129: over.
    let over = format!("{}{tag}", "o".repeat(123 - tag.len()));
    let master = unique_name("rw_my_lim_m");
    let users = vec![
        (format!("{fits}_clone"), "%".to_owned()),
        (fits.clone(), "%".to_owned()),
        (format!("{over}_clone"), "%".to_owned()),
        (over.clone(), "%".to_owned()),
        (master.clone(), "%".to_owned()),
    ];
    let body = {
        let my = my.clone();
        async move {
            let mut admin = my.admin().await;
            let master_pw = hexpw();
            create_master(&mut admin, &master, &master_pw).await;
            let store = Arc::new(MemoryStore::new());
            let marn = store
                .insert_secret(
                    "my/lim-master",
                    &secret_value(&my, &master, &master_pw, None),
                )
                .unwrap();
            let service = LocalService::new(store.clone());
            let alt = |limit: Option<usize>| {
                Driver::new(
                    store.clone(),
                    Arc::new(MysqlRotator::new(DbOptions {
                        username_limit: limit,
                        ..options(&my, Strategy::Alternating)
                    })),
                )
            };
            // At the limit: rotates.
            let pw = hexpw();
            create_user(&mut admin, &fits, "%", &pw).await;
            let arn = store
                .insert_secret("my/fits", &secret_value(&my, &fits, &pw, Some(&marn)))
                .unwrap();
            service
                .rotate(&arn, &alt(None))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(hosts_of(&mut admin, &format!("{fits}_clone")).await, ["%"]);

            // Over the engine's documented limit: createSecret refuses, no DB session.
            let pw = hexpw();
            create_user(&mut admin, &over, "%", &pw).await;
            let arn = store
                .insert_secret("my/over", &secret_value(&my, &over, &pw, Some(&marn)))
                .unwrap();
            let log = my.log_cursor();
            let err = service.rotate(&arn, &alt(None)).await.unwrap_err();
            assert_eq!(
                err.step,
                Some(rotwise_core::Step::CreateSecret),
                "{}",
                err.message
            );
            assert!(
                err.message.contains("would exceed 128 characters"),
                "{}",
                err.message
            );
            assert!(
                store
                    .get_secret_value(&arn, None, Some(AWSPENDING))
                    .await
                    .is_err(),
                "no pending value"
            );
            let text = log_until_now(&mut admin, &log).await;
            assert!(
                !text.contains(&format!("{over}@")),
                "no session for the user in createSecret"
            );
            // AWS's USERNAME_CHARACTER_LIMIT style option.
            let short = store
                .insert_secret(
                    "my/short",
                    &secret_value(&my, "abcdefghijk", "pw", Some(&marn)),
                )
                .unwrap();
            let err = service.rotate(&short, &alt(Some(16))).await.unwrap_err();
            assert!(
                err.message.contains("would exceed 16 characters"),
                "{}",
                err.message
            );

            // A configured limit above the server's: setSecret checks the server before
            // changing anything.
            let store2 = Arc::new(MemoryStore::new());
            let marn2 = store2
                .insert_secret(
                    "my/lim-master",
                    &secret_value(&my, &master, &master_pw, None),
                )
                .unwrap();
            let arn2 = store2
                .insert_secret("my/over2", &secret_value(&my, &over, &pw, Some(&marn2)))
                .unwrap();
            let driver = Driver::new(
                store2.clone(),
                Arc::new(MysqlRotator::new(DbOptions {
                    username_limit: Some(1000),
                    ..options(&my, Strategy::Alternating)
                })),
            );
            let err = LocalService::new(store2.clone())
                .rotate(&arn2, &driver)
                .await
                .unwrap_err();
            assert_eq!(
                err.step,
                Some(rotwise_core::Step::SetSecret),
                "{}",
                err.message
            );
            assert!(
                err.message.contains("would exceed 128 characters"),
                "{}",
                err.message
            );
            assert!(
                hosts_of(&mut admin, &format!("{over}_clone"))
                    .await
                    .is_empty(),
                "no clone created"
            );
            let mut s = my
                .connect_as(&over, &pw)
                .await
                .expect("the base password is unchanged");
            s.query_drop("SELECT 1").await.unwrap();
        }
    };
    run_then_cleanup(body, cleanup(my.clone(), users, vec![])).await;
}

// ---------------------------------------------------------------------------------------
// TLS, errors, timeouts

async fn tls_of(mut conn: Conn) -> String {
    let row: Option<(String, String)> = conn
        .query_first("SHOW SESSION STATUS LIKE 'Ssl_version'")
        .await
        .unwrap();
    let _ = conn.disconnect().await;
    row.unwrap().1
}

#[tokio::test]
async fn tls_modes_against_the_server() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let user = unique_name("rw_my_tls");
    let users = vec![(user.clone(), "%".to_owned())];
    let body = {
        let my = my.clone();
        let user = user.clone();
        async move {
            let mut admin = my.admin().await;
            let pw = hexpw();
            create_user(&mut admin, &user, "%", &pw).await;
            let secret = MysqlSecret::parse_str(&secret_value(&my, &user, &pw, None)).unwrap();
            let with = |tls: TlsMode, ca: &std::path::Path| {
                MysqlRotator::new(DbOptions {
                    tls: Some(tls),
                    ca_file: Some(ca.to_path_buf()),
                    ..DbOptions::default()
                })
            };
            assert!(
                tls_of(
                    with(TlsMode::VerifyFull, &my.ca)
                        .connect(&secret)
                        .await
                        .unwrap()
                )
                .await
                .starts_with("TLS")
            );
            assert!(
                tls_of(
                    with(TlsMode::Require, &my.ca)
                        .connect(&secret)
                        .await
                        .unwrap()
                )
                .await
                .starts_with("TLS")
            );
            assert_eq!(
                tls_of(
                    with(TlsMode::Disable, &my.ca)
                        .connect(&secret)
                        .await
                        .unwrap()
                )
                .await,
                ""
            );
            for mode in [TlsMode::VerifyFull, TlsMode::Require] {
                let err = with(mode, &my.other_ca).connect(&secret).await.unwrap_err();
                let msg = err.to_string();
                assert!(
                    msg.contains("TLS") && msg.contains("UnknownIssuer"),
                    "{mode}: {msg}"
                );
                assert!(!err.is_auth_refused());
                assert!(!msg.contains(&pw));
            }
            // A host name the certificate does not hold (`vm` resolves to 127.0.0.1 here):
            // verify-full refuses, require accepts (chain still verified).
            let by_other_name =
                MysqlSecret::parse_str(&secret_at(&my, "vm", &user, &pw, None)).unwrap();
            if tokio::net::lookup_host(("vm", 1)).await.is_ok() {
                let err = with(TlsMode::VerifyFull, &my.ca)
                    .connect(&by_other_name)
                    .await
                    .unwrap_err();
                assert!(err.to_string().contains("NotValidForName"), "{err}");
                assert!(
                    tls_of(
                        with(TlsMode::Require, &my.ca)
                            .connect(&by_other_name)
                            .await
                            .unwrap()
                    )
                    .await
                    .starts_with("TLS")
                );
                assert!(
                    with(TlsMode::Require, &my.other_ca)
                        .connect(&by_other_name)
                        .await
                        .is_err()
                );
            } else {
                eprintln!("SKIPPED part: the name `vm` does not resolve here");
            }

            // The secret's ssl key: true → verify-full; absent → prefer.
            let from_secret = |ca: &std::path::Path| {
                MysqlRotator::new(DbOptions {
                    ca_file: Some(ca.to_path_buf()),
                    ..DbOptions::default()
                })
            };
            assert!(
                from_secret(&my.other_ca).connect(&secret).await.is_err(),
                "ssl: true is verify-full"
            );
            let mut v: Value = serde_json::from_str(&secret_value(&my, &user, &pw, None)).unwrap();
            v.as_object_mut().unwrap().remove("ssl");
            let no_ssl_key = MysqlSecret::parse_str(&v.to_string()).unwrap();
            let capture = capture();
            let warnings = |t: &str| t.matches("WITHOUT TLS").count();
            let before = warnings(&capture.text());
            let c = from_secret(&my.other_ca)
                .connect(&no_ssl_key)
                .await
                .unwrap();
            assert_eq!(tls_of(c).await, "", "fell back to plaintext");
            let traced = capture.text();
            assert_eq!(
                warnings(&traced),
                before + 1,
                "exactly one warning for the fallback"
            );
            assert!(
                traced.contains("WARN")
                    && traced.contains("host=127.0.0.1")
                    && traced.contains("UnknownIssuer")
            );
            assert!(!traced.contains(&pw));
            let c = from_secret(&my.ca).connect(&no_ssl_key).await.unwrap();
            assert!(tls_of(c).await.starts_with("TLS"));
            assert_eq!(
                warnings(&capture.text()),
                before + 1,
                "no warning with TLS working"
            );
        }
    };
    run_then_cleanup(body, cleanup(my.clone(), users, vec![])).await;
}

#[tokio::test]
async fn wrong_passwords_give_errors_naming_the_credential_and_no_password() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let user = unique_name("rw_my_wrong");
    let master = unique_name("rw_my_wrong_m");
    let users = vec![
        (user.clone(), "%".to_owned()),
        (master.clone(), "%".to_owned()),
        (format!("{user}_clone"), "%".to_owned()),
    ];
    let body = {
        let my = my.clone();
        let user = user.clone();
        async move {
            let mut admin = my.admin().await;
            create_user(&mut admin, &user, "%", &hexpw()).await;
            // Single user, every credential wrong.
            let canary = "canary-WRONG-pw-31";
            let store = Arc::new(MemoryStore::new());
            let arn = store
                .insert_secret("my/wrong", &secret_value(&my, &user, canary, None))
                .unwrap();
            let driver = Driver::new(
                store.clone(),
                Arc::new(MysqlRotator::new(options(&my, Strategy::Single))),
            );
            let err = LocalService::new(store.clone())
                .rotate(&arn, &driver)
                .await
                .unwrap_err();
            let pending = password_of(
                &store
                    .get_secret_value(&arn, None, Some(AWSPENDING))
                    .await
                    .unwrap()
                    .payload,
            );
            let msg = err.message;
            eprintln!("single: {msg}");
            assert!(
                msg.contains(
                    "Unable to log into database with previous, current, or pending secret"
                ),
                "{msg}"
            );
            assert!(
                msg.contains("login with the current credentials")
                    && msg.contains("login with the pending credentials"),
                "{msg}"
            );
            assert!(msg.contains("Access denied"), "{msg}");
            assert!(!msg.contains(canary) && !msg.contains(&pending), "{msg}");

            // Alternating: the master's password is wrong.
            let master_canary = "canary-MASTER-pw-77";
            create_master(&mut admin, &master, &hexpw()).await;
            let good = hexpw();
            run(
                &mut admin,
                &format!(
                    "ALTER USER {} IDENTIFIED BY PASSWORD '{}'",
                    account(&user, "%"),
                    native_hash(&SecretString::from(good.as_str()))
                ),
            )
            .await;
            let store = Arc::new(MemoryStore::new());
            let marn = store
                .insert_secret(
                    "my/wrong-master",
                    &secret_value(&my, &master, master_canary, None),
                )
                .unwrap();
            let arn = store
                .insert_secret(
                    "my/wrong-child",
                    &secret_value(&my, &user, &good, Some(&marn)),
                )
                .unwrap();
            let driver = Driver::new(
                store.clone(),
                Arc::new(MysqlRotator::new(options(&my, Strategy::Alternating))),
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
            assert!(
                msg.contains("master credentials") && msg.contains("Access denied"),
                "{msg}"
            );
            assert!(
                !msg.contains(master_canary) && !msg.contains(&good),
                "{msg}"
            );
            // Alternating: the current password is wrong (no confused deputy).
            let store = Arc::new(MemoryStore::new());
            let marn = store
                .insert_secret("my/m", &secret_value(&my, &master, master_canary, None))
                .unwrap();
            let arn = store
                .insert_secret("my/c", &secret_value(&my, &user, canary, Some(&marn)))
                .unwrap();
            let msg = LocalService::new(store.clone())
                .rotate(
                    &arn,
                    &Driver::new(
                        store.clone(),
                        Arc::new(MysqlRotator::new(options(&my, Strategy::Alternating))),
                    ),
                )
                .await
                .unwrap_err()
                .message;
            assert!(
                msg.contains("Unable to log into database using current credentials")
                    && msg.contains("current credentials"),
                "{msg}"
            );
            assert!(!msg.contains(canary), "{msg}");
        }
    };
    run_then_cleanup(body, cleanup(my.clone(), users, vec![])).await;
}

#[tokio::test]
async fn connect_timeout_is_enforced_and_named() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let secret = MysqlSecret::parse_str(
        &json!({"engine": "mysql", "host": "127.0.0.1", "port": addr.port(), "username": "u",
                "password": "canary-timeout-pw", "ssl": false})
        .to_string(),
    )
    .unwrap();
    let rotator = MysqlRotator::new(DbOptions {
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
// UTF-8 sessions only.

/// The account's stored hash (`None`: no such account).
async fn hash_of(admin: &mut Conn, user: &str, host: &str) -> Option<String> {
    admin
        .exec_first(
            "SELECT authentication_string FROM mysql.user WHERE User = ? AND Host = ?",
            (user, host),
        )
        .await
        .unwrap()
}

/// A pre-existing `<user>_clone` that rotwise did not create, holding a privilege the base
/// user lacks, is not adopted: setSecret stops before any change (hash and grants
/// untouched), naming the account and the statements that would adopt it. Positive
/// control: after running exactly those statements the same rotation goes through; and a
/// clone rotwise made whose base user later lost a grant still rotates (AWSPREVIOUS proves
/// the secret holds the clone).
#[tokio::test]
async fn alternating_refuses_a_clone_rotwise_did_not_make() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let base = unique_name("rw_my_vic");
    let master = unique_name("rw_my_vicm");
    let clone = format!("{base}_clone");
    let db = unique_name("rw_my_vicdb");
    let own_db = unique_name("rw_my_vicown");
    let users = vec![
        (base.clone(), "%".to_owned()),
        (clone.clone(), "%".to_owned()),
        (master.clone(), "%".to_owned()),
    ];
    let body = {
        let my = my.clone();
        let (base, clone, master, db, own_db) = (
            base.clone(),
            clone.clone(),
            master.clone(),
            db.clone(),
            own_db.clone(),
        );
        async move {
            let mut admin = my.admin().await;
            let Pair {
                store,
                arn,
                rotator,
            } = alternating_pair(&my, &mut admin, &base, "%", &master, &db).await;
            // The victim: an unrelated account named `<base>_clone`, with its own database.
            let victim_pw = hexpw();
            create_user(&mut admin, &clone, "%", &victim_pw).await;
            run(&mut admin, &format!("CREATE DATABASE `{own_db}`")).await;
            run(
                &mut admin,
                &format!(
                    "GRANT ALL PRIVILEGES ON `{own_db}`.* TO {}",
                    account(&clone, "%")
                ),
            )
            .await;
            let hash_before = hash_of(&mut admin, &clone, "%").await;
            let grants_before = grants_of(&mut admin, &clone, "%").await;
            let driver = Driver::new(store.clone(), rotator.clone());
            let service = LocalService::new(store.clone());
            let err = service.rotate(&arn, &driver).await.unwrap_err();
            let msg = err.message.clone();
            eprintln!("not adopted: {msg}");
            assert_eq!(err.step, Some(rotwise_core::Step::SetSecret), "{msg}");
            let acct = account(&clone, "%");
            assert!(
                msg.contains(&format!(
                    "the account {acct} exists but was not created by rotwise"
                )),
                "{msg}"
            );
            assert!(msg.contains("nothing was changed"), "{msg}");
            let revoke = format!("REVOKE ALL PRIVILEGES ON `{own_db}`.* FROM {acct}");
            assert!(
                msg.contains(&format!("run `{revoke}` as the master user")),
                "{msg}"
            );
            assert_eq!(
                hash_of(&mut admin, &clone, "%").await,
                hash_before,
                "password reset"
            );
            assert_eq!(
                grants_of(&mut admin, &clone, "%").await,
                grants_before,
                "grants changed"
            );
            let victim_value = MysqlSecret::parse_str(&secret_value(&my, &clone, &victim_pw, None))
                .unwrap()
                .to_payload();
            assert!(rotator.login_works(&victim_value).await.unwrap());

            // Positive control: adopt on purpose with the printed statement, then retry.
            run(&mut admin, &revoke).await;
            let token = err.token.clone().unwrap();
            service
                .resume(&arn, &token, &driver)
                .await
                .unwrap_or_else(|e| panic!("after adoption: {}", e.message));
            assert_eq!(
                username_of(&value_of(&store, &arn, AWSCURRENT).await),
                clone
            );
            assert!(!rotator.login_works(&victim_value).await.unwrap());
            assert_same_grants(&mut admin, &base, &clone, "%", "adopted").await;
            // Back to the base; then the DBA revokes a grant from the base only: the
            // clone now holds more than the base, and the next rotation (to the clone)
            // still goes through, because AWSPREVIOUS logs in as the clone.
            service
                .rotate(&arn, &driver)
                .await
                .unwrap_or_else(|e| panic!("to the base: {}", e.message));
            run(
                &mut admin,
                &format!("REVOKE INSERT ON `{db}`.* FROM {}", account(&base, "%")),
            )
            .await;
            let window = my.log_cursor();
            service
                .rotate(&arn, &driver)
                .await
                .unwrap_or_else(|e| panic!("after a revoke from the base: {}", e.message));
            assert_same_grants(&mut admin, &base, &clone, "%", "revoke followed").await;
            // The clone logged in twice: AWSPREVIOUS's proof, then testSecret.
            let text = log_until_now(&mut admin, &window).await;
            assert_eq!(
                text.matches(&format!("Connect\t{clone}@")).count(),
                2,
                "AWSPREVIOUS proved the clone:\n{text}"
            );
        }
    };
    run_then_cleanup(body, cleanup(my, users, vec![db, own_db])).await;
}

/// For a current user `x_clone_clone`, the pair is (`x_clone`, `x_clone_clone`) in every
/// step: with no `x_clone`, setSecret stops before any change and `x` is never touched
/// (before the fix, `x_clone` was created with `x`'s grants).
#[tokio::test]
async fn alternating_clone_clone_never_walks_down_to_the_base() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let x = unique_name("rw_my_cc");
    let master = unique_name("rw_my_ccm");
    let x_clone = format!("{x}_clone");
    let x_cc = format!("{x}_clone_clone");
    let db = unique_name("rw_my_ccdb");
    let users = vec![
        (x.clone(), "%".to_owned()),
        (x_clone.clone(), "%".to_owned()),
        (x_cc.clone(), "%".to_owned()),
        (master.clone(), "%".to_owned()),
    ];
    let body = {
        let my = my.clone();
        let (x, x_clone, x_cc, master, db) = (
            x.clone(),
            x_clone.clone(),
            x_cc.clone(),
            master.clone(),
            db.clone(),
        );
        async move {
            let mut admin = my.admin().await;
            create_user(&mut admin, &x, "%", &hexpw()).await;
            run(
                &mut admin,
                &format!("GRANT PROCESS ON *.* TO {}", account(&x, "%")),
            )
            .await;
            let x_before = hash_of(&mut admin, &x, "%").await;
            let Pair {
                store,
                arn,
                rotator,
            } = alternating_pair(&my, &mut admin, &x_cc, "%", &master, &db).await;
            let cc_before = hash_of(&mut admin, &x_cc, "%").await;
            let driver = Driver::new(store.clone(), rotator.clone());
            let err = LocalService::new(store.clone())
                .rotate(&arn, &driver)
                .await
                .unwrap_err();
            eprintln!("clone_clone: {}", err.message);
            let pending = store
                .get_secret_value(&arn, None, Some(AWSPENDING))
                .await
                .unwrap()
                .payload;
            assert_eq!(username_of(&pending), x_clone);
            assert!(
                err.message.contains(&format!(
                    "the base user {} does not exist",
                    account(&x_clone, "%")
                )),
                "{}",
                err.message
            );
            assert_eq!(
                hosts_of(&mut admin, &x_clone).await,
                Vec::<String>::new(),
                "x_clone created"
            );
            assert_eq!(hash_of(&mut admin, &x, "%").await, x_before);
            assert_eq!(hash_of(&mut admin, &x_cc, "%").await, cc_before);
        }
    };
    run_then_cleanup(body, cleanup(my, users, vec![db])).await;
}

/// A session whose character set is not UTF-8 (as a server's `init_connect` could make
/// it) is refused before anything is quoted. First the hazard itself: under gbk, a
/// literal quoted for UTF-8 does not read back as written (the backslash escape is
/// swallowed into a gbk character). Only the SESSION character set is changed.
#[tokio::test]
async fn non_utf8_session_character_sets_are_refused() {
    let Some(my) = require_mysql() else { return };
    let mut admin = my.admin().await;
    // UTF-8 "€" is E2 82 AC; gbk reads AC 5C as one character, eating the escape of "\".
    let value = "€\\' OR 'x";
    let lit = Literals {
        backslash_escapes: true,
    };
    let back: Option<String> = admin
        .query_first(format!("SELECT {}", lit.quote(value)))
        .await
        .unwrap();
    assert_eq!(back.as_deref(), Some(value), "utf8mb4 reads it back");
    assert!(
        rotwise_mysql::session::read(&mut admin).await.is_ok(),
        "utf8mb4 passes"
    );
    run(&mut admin, "SET NAMES gbk").await;
    let back: Result<Option<Vec<u8>>, _> = admin
        .query_first(format!("SELECT CAST({} AS BINARY)", lit.quote(value)))
        .await;
    assert_ne!(
        back.ok().flatten(),
        Some(value.as_bytes().to_vec()),
        "under gbk the quoted literal is read differently"
    );
    let e = rotwise_mysql::session::read(&mut admin).await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("the session's character_set_client is gbk, not utf8mb4"),
        "{text}"
    );
    assert_eq!(e.kind(), rotwise_core::ErrorKind::Conflict);
    // Each variable is checked, not only the client's.
    for (set, variable) in [
        (
            "SET NAMES utf8mb4, character_set_connection = sjis",
            "character_set_connection",
        ),
        (
            "SET NAMES utf8mb4, character_set_results = big5",
            "character_set_results",
        ),
        (
            "SET NAMES utf8mb4, character_set_results = NULL",
            "character_set_results",
        ),
    ] {
        run(&mut admin, set).await;
        let e = rotwise_mysql::session::read(&mut admin).await.unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("the session's {variable} is")),
            "{set}: {e}"
        );
    }
    run(&mut admin, "SET NAMES utf8mb4").await;
    assert!(rotwise_mysql::session::read(&mut admin).await.is_ok());
}

/// Server values of the wrong kind (NULL, bytes that are not UTF-8, a number) give an
/// error without the value through the conversion every engine read uses, never a panic.
#[tokio::test]
async fn malformed_rows_give_errors_without_content() {
    let Some(my) = require_mysql() else { return };
    let mut admin = my.admin().await;
    let row: Option<mysql_async::Row> = admin
        .query_first("SELECT NULL, X'2A36383931FF', 987654321, '*6891F9D51EB5A38D'")
        .await
        .unwrap();
    let mut row = row.unwrap();
    use rotwise_mysql::row::column;
    let e1 = column::<String>(&mut row, 0, "ctx").unwrap_err();
    let e2 = column::<String>(&mut row, 1, "ctx").unwrap_err();
    let e3 = column::<u8>(&mut row, 2, "ctx").unwrap_err();
    let e4 = column::<i64>(&mut row, 3, "ctx").unwrap_err();
    let e5 = column::<String>(&mut row, 9, "ctx").unwrap_err();
    for (e, expected) in [
        (e1, "column 0 is NULL where String"),
        (
            e2,
            "column 1 is bytes that are not valid UTF-8 where String",
        ),
        (e3, "column 2 is text where u8"),
        (e4, "column 3 is text where i64"),
        (e5, "column 9 is missing"),
    ] {
        let text = format!("{e} {e:?}");
        assert!(text.contains(expected), "{text}");
        for leaked in ["6891", "987654321", "*6"] {
            assert!(!text.contains(leaked), "{leaked}: {text}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Issue 18: all reads before the first write; pinned session settings

/// What the admin sees of the pair: both password hashes, both grant sets (raw lines, as
/// the admin's own session prints them), the clone's hosts.
async fn pair_state(admin: &mut Conn, base: &str, clone: &str) -> String {
    let mut out = format!(
        "base hash {:?}\nclone hash {:?}\nclone hosts {:?}\n",
        hash_of(admin, base, "%").await,
        hash_of(admin, clone, "%").await,
        hosts_of(admin, clone).await
    );
    for user in [base, clone] {
        let lines: Result<Vec<String>, _> = admin
            .query(format!("SHOW GRANTS FOR {}", account(user, "%")))
            .await;
        out.push_str(&format!("{user}: {:?}\n", lines.map_err(|e| e.to_string())));
    }
    out
}

/// setSecret (alternating) reads and checks everything before its first change: a failure
/// injected at each read (`rotwise_mysql::fault`, test-only) fails the step and leaves both
/// accounts exactly as they were (hashes and grants, read by the admin), and the same
/// rotation then completes. Run for a clone about to be created (first rotation) and for
/// an existing clone (second rotation, back to the base user). Before the reorder, the
/// grants were read after the password changed: the points `read:grants:*` came after
/// `write:password`, and this test failed on the order check and on the unchanged hash.
#[tokio::test]
async fn alternating_reads_everything_before_the_first_change() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let base = unique_name("rw_my_rb");
    let master = unique_name("rw_my_rbm");
    let db = unique_name("rw_my_rbdb");
    let clone = format!("{base}_clone");
    let users = vec![
        (base.clone(), "%".to_owned()),
        (clone.clone(), "%".to_owned()),
        (master.clone(), "%".to_owned()),
    ];
    let body = {
        let my = my.clone();
        let (base, clone, master, db) = (base.clone(), clone.clone(), master.clone(), db.clone());
        async move {
            let mut admin = my.admin().await;
            let Pair {
                store,
                arn,
                rotator,
            } = alternating_pair(&my, &mut admin, &base, "%", &master, &db).await;
            let driver = Driver::new(store.clone(), rotator.clone());
            let service = LocalService::new(store.clone());
            for round in 1..=2 {
                // A failure at the first change: every read has run, nothing changed.
                rotwise_mysql::fault::inject(Some("write:password"));
                let before = pair_state(&mut admin, &base, &clone).await;
                let err = service.rotate(&arn, &driver).await.unwrap_err();
                assert!(
                    err.message.contains("injected failure at write:password"),
                    "{}",
                    err.message
                );
                let token = err.token.clone().unwrap();
                let points = rotwise_mysql::fault::reached();
                eprintln!("round {round}: {points:?}");
                let (reads, rest) = points.split_at(points.len() - 1);
                assert_eq!(rest, ["write:password"]);
                assert!(reads.iter().all(|p| p.starts_with("read:")), "{points:?}");
                let expected: &[String] = &[
                    "read:session".into(),
                    format!("read:hosts:{base}"),
                    format!("read:hosts:{clone}"),
                    "read:plugin".into(),
                    format!("read:grants:{base}"),
                    format!("read:limits:{base}"),
                ];
                for p in expected {
                    assert!(reads.contains(p), "round {round}: {p} not read: {points:?}");
                }
                if round == 2 {
                    for p in [
                        format!("read:grants:{clone}"),
                        format!("read:limits:{clone}"),
                    ] {
                        assert!(reads.contains(&p), "{p} not read: {points:?}");
                    }
                }
                assert_eq!(pair_state(&mut admin, &base, &clone).await, before);
                // Each read in turn.
                let mut distinct = reads.to_vec();
                distinct.dedup();
                for point in &distinct {
                    rotwise_mysql::fault::inject(Some(point));
                    let err = service.resume(&arn, &token, &driver).await.unwrap_err();
                    assert_eq!(err.step, Some(rotwise_core::Step::SetSecret));
                    assert!(
                        err.message
                            .contains(&format!("injected failure at {point}")),
                        "{point}: {}",
                        err.message
                    );
                    assert_eq!(
                        pair_state(&mut admin, &base, &clone).await,
                        before,
                        "round {round}: a failure at {point} changed the database"
                    );
                }
                rotwise_mysql::fault::inject(None);
                service
                    .resume(&arn, &token, &driver)
                    .await
                    .unwrap_or_else(|e| panic!("round {round}, no fault: {}", e.message));
                assert_ne!(pair_state(&mut admin, &base, &clone).await, before);
                assert_same_grants(&mut admin, &base, &clone, "%", &format!("round {round}")).await;
            }
        }
    };
    run_then_cleanup(body, async {
        rotwise_mysql::fault::inject(None);
        cleanup(my, users, vec![db]).await
    })
    .await;
}

/// The session pins what the grant parser relies on: with `ANSI_QUOTES` in the GLOBAL
/// sql_mode and `sql_quote_show_create=0` GLOBALLY (new sessions print
/// `GRANT SELECT ON ..MyDb.*` unquoted, or names in double quotes), and two databases whose
/// names differ only in case, two rotations grant the clone exactly what the base has,
/// on `…MyDb` and never on `…mydb`. Before the pin, the clone was granted the lower-case
/// database (issue 18). The globals are restored by the cleanup, which runs even when
/// the body panics; this binary runs in the nextest group `mariadb` (max-threads 1), which
/// every test that logs in to the private MariaDB belongs to, so no other test sees them.
#[tokio::test]
async fn pinned_session_settings_beat_ansi_quotes_and_unquoted_globals() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let base = unique_name("rw_my_pin");
    let master = unique_name("rw_my_pinm");
    let db = unique_name("rw_my_pindb");
    let prefix = unique_name("rw_my_case");
    let upper = format!("{prefix}_MyDb");
    let lower = format!("{prefix}_mydb");
    let clone = format!("{base}_clone");
    let users = vec![
        (base.clone(), "%".to_owned()),
        (clone.clone(), "%".to_owned()),
        (master.clone(), "%".to_owned()),
    ];
    // The admin session that checks, opened before the globals change: it keeps quoting.
    let mut admin = my.admin().await;
    let (mode, quote): (String, i64) = admin
        .query_first("SELECT @@GLOBAL.sql_mode, @@GLOBAL.sql_quote_show_create")
        .await
        .unwrap()
        .unwrap();
    let restore = {
        let my = my.clone();
        let mode = mode.clone();
        async move {
            let mut admin = my.admin().await;
            admin
                .exec_drop("SET GLOBAL sql_mode = ?", (mode,))
                .await
                .expect("restore the global sql_mode");
            admin
                .query_drop(format!("SET GLOBAL sql_quote_show_create = {quote}"))
                .await
                .expect("restore the global sql_quote_show_create");
            let _ = admin.disconnect().await;
        }
    };
    let body = {
        let my = my.clone();
        let (base, clone, master, db, upper, lower) = (
            base.clone(),
            clone.clone(),
            master.clone(),
            db.clone(),
            upper.clone(),
            lower.clone(),
        );
        async move {
            let Pair {
                store,
                arn,
                rotator,
            } = alternating_pair(&my, &mut admin, &base, "%", &master, &db).await;
            for d in [&upper, &lower] {
                run(&mut admin, &format!("CREATE DATABASE `{d}`")).await;
                run(
                    &mut admin,
                    &format!("CREATE TABLE `{d}`.`T1` (`Col A` int)"),
                )
                .await;
            }
            let acct = account(&base, "%");
            run(
                &mut admin,
                &format!("GRANT SELECT ON `{upper}`.* TO {acct}"),
            )
            .await;
            run(
                &mut admin,
                &format!("GRANT UPDATE (`Col A`) ON `{upper}`.`T1` TO {acct}"),
            )
            .await;
            run(
                &mut admin,
                "SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',ANSI_QUOTES')",
            )
            .await;
            run(&mut admin, "SET GLOBAL sql_quote_show_create = 0").await;
            // Positive control: a new session prints the grants unquoted.
            let mut fresh = my.admin().await;
            let lines: Vec<String> = fresh
                .query(format!("SHOW GRANTS FOR {acct}"))
                .await
                .unwrap();
            let _ = fresh.disconnect().await;
            let text = lines.join("\n");
            assert!(
                text.contains(&format!("ON {upper}.* TO")),
                "the globals apply to new sessions: {text}"
            );
            assert!(Grants::parse(&lines).is_err(), "unpinned output is refused");

            let driver = Driver::new(store.clone(), rotator.clone());
            let service = LocalService::new(store.clone());
            for round in 1..=2 {
                service
                    .rotate(&arn, &driver)
                    .await
                    .unwrap_or_else(|e| panic!("rotation {round}: {}", e.message));
                assert_same_grants(&mut admin, &base, &clone, "%", &format!("round {round}")).await;
                let clone_lines: Vec<String> = admin
                    .query(format!("SHOW GRANTS FOR {}", account(&clone, "%")))
                    .await
                    .unwrap();
                let text = clone_lines.join("\n");
                assert!(text.contains(&format!("`{upper}`")), "{text}");
                assert!(!text.contains(&format!("`{lower}`")), "{text}");
                let current = value_of(&store, &arn, AWSCURRENT).await;
                assert!(rotator.login_works(&current).await.unwrap());
            }
            let _ = admin.disconnect().await;
        }
    };
    run_then_cleanup(body, async {
        restore.await;
        cleanup(my, users, vec![db, upper, lower]).await
    })
    .await;
}

/// `ROTATION_MYSQL_DUAL_PASSWORD=true` on MariaDB (no dual passwords) is refused in
/// setSecret with a clear error naming the server, after the login and before any change:
/// the user's hash is unchanged, the current password still logs in, and no failed login.
/// The statements MySQL 8 gets are checked by the unit and doc tests of `sql`
/// (`dual_password_sql`, `DISCARD_OLD_PASSWORD_SQL`, `dual_password_refusal`).
#[tokio::test]
async fn dual_passwords_are_refused_on_mariadb_before_any_change() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let user = unique_name("rw_my_dual");
    let users = vec![(user.clone(), "%".to_owned())];
    let body = {
        let my = my.clone();
        let user = user.clone();
        async move {
            let mut admin = my.admin().await;
            let initial = hexpw();
            create_user(&mut admin, &user, "%", &initial).await;
            let store = Arc::new(MemoryStore::new());
            let arn = store
                .insert_secret("my/dual", &secret_value(&my, &user, &initial, None))
                .unwrap();
            let rotator = Arc::new(MysqlRotator::new(DbOptions {
                mysql_dual_password: true,
                ..options(&my, Strategy::Single)
            }));
            let driver = Driver::new(store.clone(), rotator.clone());
            let before = hash_of(&mut admin, &user, "%").await;
            let denied = access_denied(&mut admin).await;
            let err = LocalService::new(store.clone())
                .rotate(&arn, &driver)
                .await
                .unwrap_err();
            assert_eq!(err.step, Some(rotwise_core::Step::SetSecret));
            assert!(
                err.message.contains(
                    "ROTATION_MYSQL_DUAL_PASSWORD=true needs MySQL 8.0.14 or later (RETAIN CURRENT PASSWORD); this server is MariaDB 10."
                ),
                "{}",
                err.message
            );
            assert!(
                err.message.contains("nothing was changed"),
                "{}",
                err.message
            );
            assert_eq!(hash_of(&mut admin, &user, "%").await, before);
            let current = value_of(&store, &arn, AWSCURRENT).await;
            assert!(rotator.login_works(&current).await.unwrap());
            assert_eq!(access_denied(&mut admin).await, denied, "no failed login");
        }
    };
    run_then_cleanup(body, cleanup(my, users, vec![])).await;
}

/// Single user: the reads before the one change (the session, the plugin) come first, and a
/// failure injected at each leaves the password unchanged; the rotation then completes.
#[tokio::test]
async fn single_user_reads_everything_before_the_change() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let user = unique_name("rw_my_srb");
    let users = vec![(user.clone(), "%".to_owned())];
    let body = {
        let my = my.clone();
        let user = user.clone();
        async move {
            let mut admin = my.admin().await;
            let initial = hexpw();
            create_user(&mut admin, &user, "%", &initial).await;
            let store = Arc::new(MemoryStore::new());
            let arn = store
                .insert_secret("my/single-reads", &secret_value(&my, &user, &initial, None))
                .unwrap();
            let rotator = Arc::new(MysqlRotator::new(options(&my, Strategy::Single)));
            let driver = Driver::new(store.clone(), rotator.clone());
            let service = LocalService::new(store.clone());
            let before = hash_of(&mut admin, &user, "%").await;
            rotwise_mysql::fault::inject(Some("write:password"));
            let err = service.rotate(&arn, &driver).await.unwrap_err();
            let token = err.token.clone().unwrap();
            let points = rotwise_mysql::fault::reached();
            assert_eq!(points, ["read:session", "read:plugin", "write:password"]);
            assert_eq!(hash_of(&mut admin, &user, "%").await, before);
            for point in ["read:session", "read:plugin"] {
                rotwise_mysql::fault::inject(Some(point));
                let err = service.resume(&arn, &token, &driver).await.unwrap_err();
                assert!(
                    err.message
                        .contains(&format!("injected failure at {point}")),
                    "{}",
                    err.message
                );
                assert_eq!(hash_of(&mut admin, &user, "%").await, before, "{point}");
            }
            rotwise_mysql::fault::inject(None);
            service
                .resume(&arn, &token, &driver)
                .await
                .unwrap_or_else(|e| panic!("no fault: {}", e.message));
            assert_ne!(hash_of(&mut admin, &user, "%").await, before);
        }
    };
    run_then_cleanup(body, async {
        rotwise_mysql::fault::inject(None);
        cleanup(my, users, vec![]).await
    })
    .await;
}

/// A `PROXY` grant on the base user is replayed for the clone on a real server (MariaDB
/// prints it as `GRANT PROXY ON 'x'@'%' TO …`), and revoked from the clone when revoked
/// from the base. The master holds `PROXY ON ''@'%' WITH GRANT OPTION`, as it must to grant
/// proxies (before issue 18 the grant was only warned about, not copied).
#[tokio::test]
async fn alternating_copies_proxy_grants_both_ways() {
    let Some(my) = require_mysql() else { return };
    let _serial = serial().await;
    let base = unique_name("rw_my_px");
    let master = unique_name("rw_my_pxm");
    let proxied = unique_name("rw_my_pxd");
    let db = unique_name("rw_my_pxdb");
    let clone = format!("{base}_clone");
    let users = vec![
        (base.clone(), "%".to_owned()),
        (clone.clone(), "%".to_owned()),
        (master.clone(), "%".to_owned()),
        (proxied.clone(), "%".to_owned()),
    ];
    let body = {
        let my = my.clone();
        let (base, clone, master, proxied, db) = (
            base.clone(),
            clone.clone(),
            master.clone(),
            proxied.clone(),
            db.clone(),
        );
        async move {
            let mut admin = my.admin().await;
            let Pair {
                store,
                arn,
                rotator,
            } = alternating_pair(&my, &mut admin, &base, "%", &master, &db).await;
            create_user(&mut admin, &proxied, "%", &hexpw()).await;
            run(
                &mut admin,
                &format!(
                    "GRANT PROXY ON ''@'%' TO {} WITH GRANT OPTION",
                    account(&master, "%")
                ),
            )
            .await;
            run(
                &mut admin,
                &format!(
                    "GRANT PROXY ON {} TO {}",
                    account(&proxied, "%"),
                    account(&base, "%")
                ),
            )
            .await;
            let driver = Driver::new(store.clone(), rotator.clone());
            let service = LocalService::new(store.clone());
            service
                .rotate(&arn, &driver)
                .await
                .unwrap_or_else(|e| panic!("rotation 1: {}", e.message));
            let g = grants_of(&mut admin, &clone, "%").await;
            assert_eq!(g.proxies.len(), 1, "{g:?}");
            assert_same_grants(&mut admin, &base, &clone, "%", "proxy granted").await;
            run(
                &mut admin,
                &format!(
                    "REVOKE PROXY ON {} FROM {}",
                    account(&proxied, "%"),
                    account(&base, "%")
                ),
            )
            .await;
            // Back to the base, then to the clone: the revoke reaches the clone.
            for round in 2..=3 {
                service
                    .rotate(&arn, &driver)
                    .await
                    .unwrap_or_else(|e| panic!("rotation {round}: {}", e.message));
            }
            let g = grants_of(&mut admin, &clone, "%").await;
            assert!(g.proxies.is_empty(), "{g:?}");
            assert_same_grants(&mut admin, &base, &clone, "%", "proxy revoked").await;
        }
    };
    run_then_cleanup(body, cleanup(my, users, vec![db])).await;
}
