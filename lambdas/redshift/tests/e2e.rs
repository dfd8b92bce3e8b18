//! End to end: the built Redshift Lambda as a real process under a local Lambda Runtime
//! API, Secrets Manager served by the test kit's local endpoint, and the private
//! PostgreSQL's database `rotwise_md5` standing in for Redshift: its logins use `md5`, so
//! the MD5 hashes the function writes are judged by the server ([`Rs`] in
//! `tests/support`). The Secrets Manager call budget is the PostgreSQL engine's: 10 calls
//! single user, 11 alternating.

mod support;

use std::sync::Arc;

use rotwise_core::SecretString;
use rotwise_core::store::{AWSCURRENT, MemoryStore};
use rotwise_lambda_testkit::harness::{
    COMMON_BAD_ENV, Fixture, Harness, assert_bad_env_stops_init, assert_error_types,
    assert_init_is_offline, assert_invalid_events_change_nothing, assert_log_capture_works,
    credentials_in, users_of,
};
use rotwise_lambda_testkit::managed::{ManagedBy, try_managed_master_rotation};
use rotwise_postgres::redshift::sql::{md5_hash, password_rules};
use rotwise_test_services::{
    plaintext_hits, require_pg, require_sm_endpoint, run_then_cleanup, unique_name,
};
use support::Rs;

const BIN: &str = env!("CARGO_BIN_EXE_rotwise-lambda-redshift");

/// A password that is easy to find in a log, and meets Redshift's rules.
fn canary() -> String {
    format!("Canary1-{}", &unique_name("c")[2..])
}

fn env(strategy: &str, fx: &Rs) -> Vec<(&'static str, String)> {
    let mut env = vec![("ROTATION_STRATEGY", strategy.to_string())];
    env.extend(fx.env());
    env
}

async fn logs_in(fx: &Rs, user: &str, password: &str) -> bool {
    fx.login(user, password).await.is_ok()
}

/// The server stores exactly the MD5 hash of `password` for `user`.
async fn assert_md5_of(fx: &Rs, user: &str, password: &str) {
    assert_eq!(
        fx.stored_password(user).await.unwrap().as_deref(),
        Some(md5_hash(&SecretString::from(password), user).as_str()),
        "{user}: the stored password is the MD5 hash of the new one"
    );
    assert_eq!(password_rules(&SecretString::from(password)), Ok(()));
}

#[tokio::test]
async fn single_user_rotation_through_the_runtime_api() {
    let Some(pg) = require_pg() else { return };
    let fx = Arc::new(Rs(pg));
    let user = unique_name("rw_lrs_single");
    let users = vec![user.clone()];
    let body = {
        let fx = fx.clone();
        async move {
            let initial = canary();
            fx.create_user(&user, &initial).await.unwrap();
            let store = Arc::new(MemoryStore::new());
            let arn = store
                .insert_secret("lambda/rs/single", &fx.secret_json(&user, &initial, None))
                .unwrap();
            // Every target at TRACE, the drivers' too: the cap keeps statements (and the
            // MD5 hashes in them, as good as a password to MD5 authentication) out.
            let mut vars = env("single", &fx);
            vars.push(("AWS_LAMBDA_LOG_FORMAT", "JSON".to_string()));
            vars.push(("AWS_LAMBDA_LOG_LEVEL", "TRACE".to_string()));
            let mut h = Harness::start(BIN.as_ref(), store.clone(), &vars).await;
            let mark = fx.log_mark();

            assert_eq!(h.rotate_checked(&arn, 10).await.total_calls(), 10);
            let (u, new) = credentials_in(&store, &arn, AWSCURRENT).await;
            assert_eq!(u, user);
            assert_md5_of(&fx, &user, &new).await;
            // Warm: the same budget.
            assert_eq!(h.rotate_checked(&arn, 10).await.total_calls(), 10);
            let (_, newer) = credentials_in(&store, &arn, AWSCURRENT).await;
            assert_md5_of(&fx, &user, &newer).await;
            let server_log = fx.log_since(&mark).await.unwrap();

            assert!(
                logs_in(&fx, &user, &newer).await,
                "the new password logs in"
            );
            assert!(
                !logs_in(&fx, &user, &new).await,
                "the old password is refused"
            );
            assert!(!logs_in(&fx, &user, &initial).await);

            // The server saw both ALTER USER statements (positive control), never a
            // plaintext, and no failed login during the rotations.
            let alter = format!("ALTER USER \"{user}\" PASSWORD 'md5");
            assert_eq!(server_log.matches(&alter).count(), 2, "ALTER USER lines");
            let passwords = [initial.clone(), new.clone(), newer.clone()];
            assert_eq!(
                plaintext_hits(&server_log, &passwords),
                0,
                "plaintext in the server log"
            );
            assert_eq!(fx.failed_logins(&server_log, &user), 0, "failed logins");
            assert!(
                fx.connections(&server_log, &user) >= 2,
                "positive control: logins seen"
            );

            let logs = h.logs().await;
            assert_log_capture_works(&logs, &arn);
            assert!(
                logs.contains("\"level\":\"TRACE\"") || logs.contains("\"level\":\"DEBUG\""),
                "positive control: below-INFO lines were written"
            );
            assert_eq!(
                plaintext_hits(&logs, &passwords),
                0,
                "a password in the function's logs"
            );
            let hashes: Vec<String> = [&new, &newer]
                .iter()
                .map(|p| md5_hash(&SecretString::from(p.as_str()), &user)[3..].to_owned())
                .collect();
            assert_eq!(
                plaintext_hits(&logs, &hashes),
                0,
                "an MD5 hash in the function's logs"
            );
            assert_eq!(
                plaintext_hits(&server_log, &hashes),
                2,
                "positive control: hashes in the server log"
            );
        }
    };
    run_then_cleanup(body, fx.drop_users(&users)).await;
}

#[tokio::test]
async fn alternating_rotation_through_the_runtime_api() {
    let Some(pg) = require_pg() else { return };
    let fx = Arc::new(Rs(pg));
    let user = unique_name("rw_lrs_alt");
    let master = unique_name("rw_lrs_master");
    let users = users_of(&user, &master);
    let body = {
        let fx = fx.clone();
        async move {
            let initial = canary();
            let master_pw = canary();
            fx.create_user(&user, &initial).await.unwrap();
            fx.create_master(&master, &master_pw, &user).await.unwrap();
            // Something to copy: a table the base user may read.
            let table = unique_name("rw_lrs_t");
            fx.admin()
                .await
                .unwrap()
                .batch_execute(&format!(
                    "CREATE TABLE public.{table} (id int); GRANT SELECT ON public.{table} TO \"{user}\""
                ))
                .await
                .unwrap();
            let store = Arc::new(MemoryStore::new());
            let master_arn = store
                .insert_secret(
                    "lambda/rs/master",
                    &fx.secret_json(&master, &master_pw, None),
                )
                .unwrap();
            let arn = store
                .insert_secret(
                    "lambda/rs/alternating",
                    &fx.secret_json(&user, &initial, Some(&master_arn)),
                )
                .unwrap();
            let mut h = Harness::start(BIN.as_ref(), store.clone(), &env("alternating", &fx)).await;
            let mark = fx.log_mark();

            assert_eq!(h.rotate_checked(&arn, 11).await.total_calls(), 11);
            let (u1, p1) = credentials_in(&store, &arn, AWSCURRENT).await;
            assert_eq!(u1, format!("{user}_clone"));
            assert_md5_of(&fx, &u1, &p1).await;
            let can_read = fx
                .admin()
                .await
                .unwrap()
                .query_one(
                    &format!("SELECT has_table_privilege($1, 'public.{table}', 'SELECT')"),
                    &[&u1],
                )
                .await
                .unwrap()
                .get::<_, bool>(0);
            assert!(can_read, "the clone holds the base user's table privilege");

            // Warm: exactly 11 calls; the base user gets a new password.
            assert_eq!(h.rotate_checked(&arn, 11).await.total_calls(), 11);
            let (u2, p2) = credentials_in(&store, &arn, AWSCURRENT).await;
            assert_eq!(u2, user);
            assert_md5_of(&fx, &u2, &p2).await;
            let server_log = fx.log_since(&mark).await.unwrap();

            assert!(logs_in(&fx, &u2, &p2).await);
            assert!(
                !logs_in(&fx, &user, &initial).await,
                "the base user's old password"
            );
            assert!(
                logs_in(&fx, &u1, &p1).await,
                "the clone (AWSPREVIOUS) still logs in"
            );

            assert!(
                server_log.contains(&format!("CREATE USER \"{u1}\" PASSWORD 'md5")),
                "positive control: the statements are in the server log"
            );
            let passwords = [initial.clone(), master_pw.clone(), p1.clone(), p2.clone()];
            assert_eq!(
                plaintext_hits(&server_log, &passwords),
                0,
                "plaintext in the server log"
            );
            for u in [&user, &u1, &master] {
                assert_eq!(fx.failed_logins(&server_log, u), 0, "failed logins of {u}");
            }

            let logs = h.logs().await;
            assert_log_capture_works(&logs, &arn);
            assert_eq!(
                plaintext_hits(&logs, &passwords),
                0,
                "a password in the function's logs"
            );
            let _ = fx
                .admin()
                .await
                .unwrap()
                .batch_execute(&format!("DROP TABLE public.{table}"))
                .await;
        }
    };
    run_then_cleanup(body, fx.drop_users(&users)).await;
}

/// `TargetUnreachable`, `LoginRefused`, `TlsFailed`, `InvalidSecret` through the Runtime
/// API; each failing step leaves the store unchanged.
#[tokio::test]
async fn each_failure_class_reports_its_error_type() {
    let Some(pg) = require_pg() else { return };
    assert_error_types(&Rs(pg), BIN.as_ref()).await;
}

/// Needs no database: every event here fails (or succeeds as a no-op) before any login.
#[tokio::test]
async fn invalid_events_return_errors_and_change_nothing() {
    let secret = r#"{"engine":"redshift","host":"127.0.0.1","port":1,"username":"u","password":"Canary-invalid-events1"}"#;
    assert_invalid_events_change_nothing(BIN.as_ref(), secret, "Canary-invalid-events1").await;
}

#[tokio::test]
async fn a_bad_environment_variable_stops_init_naming_it() {
    assert_bad_env_stops_init(BIN.as_ref(), COMMON_BAD_ENV).await;
}

/// Password settings that could produce a password Redshift refuses stop the function at
/// start, naming the variable.
#[tokio::test]
async fn password_settings_outside_redshifts_rules_stop_init() {
    assert_bad_env_stops_init(
        BIN.as_ref(),
        &[
            ("PASSWORD_LENGTH", "65"),
            ("PASSWORD_LENGTH", "7"),
            ("EXCLUDE_NUMBERS", "true"),
            ("EXCLUDE_UPPERCASE", "true"),
            ("REQUIRE_EACH_INCLUDED_TYPE", "false"),
            ("EXCLUDE_CHARACTERS", ":"),
        ],
    )
    .await;
}

/// The endpoint and database are unreachable: init must not care.
#[tokio::test]
async fn init_makes_no_network_call_and_polls_quickly() {
    assert_init_is_offline(BIN.as_ref()).await;
}

/// A Redshift-managed admin secret (only username and password; its system tag names a
/// moto Redshift cluster standing for the md5 database) rotates an alternating pair: the
/// cluster's endpoint from `redshift:DescribeClusters`, resolved to this server in the
/// function's private /etc/hosts: see [`rotwise_lambda_testkit::managed`].
#[tokio::test]
async fn redshift_managed_admin_through_the_runtime_api() {
    let Some(pg) = require_pg() else { return };
    let Some(moto) = require_sm_endpoint() else {
        return;
    };
    let fx = Rs(pg);
    let scratch = std::env::temp_dir().join(unique_name("rotwise_hosts"));
    let result =
        try_managed_master_rotation(&fx, BIN.as_ref(), &moto, ManagedBy::Redshift, &scratch).await;
    let _ = std::fs::remove_dir_all(&scratch);
    result.unwrap_or_else(|e| panic!("{e}"));
}
