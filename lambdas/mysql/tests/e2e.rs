//! End to end: the built Lambda binary as a real process under a local Lambda Runtime API,
//! Secrets Manager served by the test kit's local endpoint (the in-memory store over HTTP),
//! and the private MariaDB of `scripts/services up` (never the system server on 3306).
//!
//! MariaDB's `Access_denied_errors` is server-wide: `.config/nextest.toml` runs this
//! package's tests in the `mariadb` group, one at a time with the engine's tests.

mod support;

use std::sync::Arc;

use rotwise_core::store::{AWSCURRENT, AWSPENDING, AWSPREVIOUS, MemoryStore};
use rotwise_lambda_testkit::emulator::Outcome;
use rotwise_lambda_testkit::harness::{
    COMMON_BAD_ENV, Fixture, Harness, assert_bad_env_stops_init, assert_error_types,
    assert_init_is_offline, assert_invalid_events_change_nothing, assert_log_capture_works,
    assert_rotation_metrics, credentials_in, users_of,
};
use rotwise_lambda_testkit::managed::{ManagedBy, try_managed_master_rotation};
use rotwise_test_services::{require_mysql, require_sm_endpoint, run_then_cleanup, unique_name};
use serde_json::Value;
use support::Mysql;

const BIN: &str = env!("CARGO_BIN_EXE_rotwise-lambda-mysql");

/// A password that is easy to find in a log: the canary.
fn canary() -> String {
    format!("Canary-{}", &unique_name("c")[2..])
}

fn env(strategy: &str, fx: &Mysql) -> Vec<(&'static str, String)> {
    let mut env = vec![("ROTATION_STRATEGY", strategy.to_string())];
    env.extend(fx.env());
    env
}

async fn logs_in(fx: &Mysql, user: &str, password: &str) -> bool {
    fx.login(user, password).await.is_ok()
}

/// No password in the function's output or in the server's general log.
fn assert_no_password(logs: &str, server_log: &str, passwords: &[&String]) {
    for (i, pw) in passwords.iter().enumerate() {
        assert!(!logs.contains(pw.as_str()), "password {i} is in the logs");
        assert!(
            !server_log.contains(pw.as_str()),
            "password {i} is in the server log"
        );
    }
}

#[tokio::test]
async fn single_user_rotation_through_the_runtime_api() {
    let Some(my) = require_mysql() else { return };
    let fx = Arc::new(Mysql::new(my, "mysql"));
    let user = unique_name("rw_lmy_single");
    let users = vec![user.clone()];
    let body = {
        let fx = fx.clone();
        async move {
            let initial = canary();
            fx.create_user(&user, &initial).await.unwrap();
            let store = Arc::new(MemoryStore::new());
            let arn = store
                .insert_secret(
                    "lambda/mysql/single",
                    &fx.secret_json(&user, &initial, None),
                )
                .unwrap();
            let mut h = Harness::start(BIN.as_ref(), store.clone(), &env("single", &fx)).await;

            let log = fx.log_mark();
            let denied = fx.access_denied().await;
            assert_eq!(h.rotate_checked(&arn, 10).await.total_calls(), 10);
            let (u, new) = credentials_in(&store, &arn, AWSCURRENT).await;
            assert_eq!(u, user);
            assert_ne!(new, initial);

            // A second rotation in the same (warm) process.
            assert_eq!(h.rotate_checked(&arn, 10).await.total_calls(), 10);
            let (_, newer) = credentials_in(&store, &arn, AWSCURRENT).await;
            assert_eq!(
                fx.access_denied().await - denied,
                0,
                "no failed login during normal rotations"
            );
            let server_log = fx.log_since(&log).await.unwrap();
            assert_eq!(fx.failed_logins(&server_log, &user), 0);

            assert!(
                logs_in(&fx, &user, &newer).await,
                "the new password logs in"
            );
            assert!(
                !logs_in(&fx, &user, &new).await,
                "the first rotation's password is refused"
            );
            assert!(
                !logs_in(&fx, &user, &initial).await,
                "the initial password is refused"
            );
            // Positive control for the failed-login checks: the two refusals just above.
            assert_eq!(fx.access_denied().await - denied, 2);
            assert_eq!(
                fx.failed_logins(&fx.log_since(&log).await.unwrap(), &user),
                2
            );

            let logs = h.logs().await;
            assert_log_capture_works(&logs, &arn);
            assert_rotation_metrics(&logs, "mysql", "single", 2, 10);
            assert_no_password(&logs, &server_log, &[&initial, &new, &newer]);
        }
    };
    run_then_cleanup(body, fx.drop_users(&users)).await;
}

#[tokio::test]
async fn alternating_rotation_through_the_runtime_api() {
    let Some(my) = require_mysql() else { return };
    let fx = Arc::new(Mysql::new(my, "mariadb"));
    let user = unique_name("rw_lmy_alt");
    let master = unique_name("rw_lmy_master");
    let clone = format!("{user}_clone");
    let users = users_of(&user, &master);
    let body = {
        let (fx, users) = (fx.clone(), users.clone());
        async move {
            let initial = canary();
            let master_pw = canary();
            fx.create_master(&master, &master_pw, &user).await.unwrap();
            fx.create_user(&user, &initial).await.unwrap();
            fx.admin(&[format!("GRANT PROCESS ON *.* TO `{user}`@`%`")])
                .await
                .unwrap();
            let store = Arc::new(MemoryStore::new());
            let master_arn = store
                .insert_secret(
                    "lambda/mysql/master",
                    &fx.secret_json(&master, &master_pw, None),
                )
                .unwrap();
            let arn = store
                .insert_secret(
                    "lambda/mysql/alternating",
                    &fx.secret_json(&user, &initial, Some(&master_arn)),
                )
                .unwrap();
            let mut h = Harness::start(BIN.as_ref(), store.clone(), &env("alternating", &fx)).await;

            let log = fx.log_mark();
            let denied = fx.access_denied().await;
            assert_eq!(h.rotate_checked(&arn, 11).await.total_calls(), 11);
            let (u1, p1) = credentials_in(&store, &arn, AWSCURRENT).await;
            assert_eq!(u1, clone);
            assert!(
                fx.grants(&clone)
                    .await
                    .iter()
                    .any(|g| g.starts_with("GRANT PROCESS ON *.*")),
                "the clone has the base user's grants"
            );

            assert_eq!(h.rotate_checked(&arn, 11).await.total_calls(), 11);
            let (u2, p2) = credentials_in(&store, &arn, AWSCURRENT).await;
            assert_eq!(u2, user);
            let (u_prev, _) = credentials_in(&store, &arn, AWSPREVIOUS).await;
            assert_eq!(u_prev, clone, "AWSPREVIOUS is the clone");
            assert_eq!(
                fx.access_denied().await - denied,
                0,
                "no failed login during normal rotations"
            );
            let server_log = fx.log_since(&log).await.unwrap();
            for u in &users {
                assert_eq!(fx.failed_logins(&server_log, u), 0, "failed logins of {u}");
            }

            assert!(logs_in(&fx, &u2, &p2).await, "the base user's new password");
            assert!(
                logs_in(&fx, &u1, &p1).await,
                "the clone (AWSPREVIOUS) still logs in"
            );
            assert!(
                !logs_in(&fx, &user, &initial).await,
                "the base user's old password is refused"
            );
            assert_eq!(fx.access_denied().await - denied, 1, "positive control");

            let logs = h.logs().await;
            assert_log_capture_works(&logs, &arn);
            assert_rotation_metrics(&logs, "mysql", "alternating", 2, 11);
            assert_no_password(&logs, &server_log, &[&initial, &master_pw, &p1, &p2]);
        }
    };
    run_then_cleanup(body, fx.drop_users(&users)).await;
}

/// `USERNAME_CHARACTER_LIMIT` reaches the rotator: with a limit the clone's name (27
/// characters) exceeds, createSecret refuses before any database session and changes
/// nothing; at the limit or without the variable the same createSecret succeeds. Needs no
/// database.
#[tokio::test]
async fn username_character_limit_applies_at_create_secret() {
    let secret = r#"{"engine": "aurora-mysql", "host": "127.0.0.1", "port": 1,
        "username": "rotating_app_user_021", "password": "Canary-limit",
        "masterarn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf"}"#;
    for (limit, refused) in [(Some("26"), true), (Some("27"), false), (None, false)] {
        let store = Arc::new(MemoryStore::new());
        let arn = store.insert_secret("lambda/mysql/limit", secret).unwrap();
        let token = store.begin_rotation(&arn).unwrap();
        let mut env = vec![("ROTATION_STRATEGY", "alternating".to_string())];
        if let Some(limit) = limit {
            env.push(("USERNAME_CHARACTER_LIMIT", limit.to_string()));
        }
        let mut h = Harness::start(BIN.as_ref(), store.clone(), &env).await;
        let before = store.snapshot();
        match h.step("createSecret", &arn, &token).await {
            Outcome::Error(report) if refused => {
                assert_eq!(report.error_type(), "InvalidSecret");
                assert!(
                    report.error_message().contains("exceed 26 characters"),
                    "{limit:?}: {report:?}"
                );
                assert!(before == store.snapshot(), "{limit:?}: nothing changed");
            }
            Outcome::Response(Value::Null) if !refused => {
                let (u, _) = credentials_in(&store, &arn, AWSPENDING).await;
                assert_eq!(u, "rotating_app_user_021_clone");
            }
            other => panic!("{limit:?}: {other:?}"),
        }
        assert!(!h.logs().await.contains("Canary-limit"));
    }
}

/// The `errorType` of each failure class through the Runtime API: the database unreachable
/// (`TargetUnreachable`), AWSCURRENT's password refused (`LoginRefused`, one failed login on
/// the server), `verify-full` against a CA that did not sign the server's certificate
/// (`TlsFailed`), AWSCURRENT not JSON or without `host` (`InvalidSecret`); each failing step
/// leaves the store unchanged.
#[tokio::test]
async fn each_failure_class_reports_its_error_type() {
    let Some(my) = require_mysql() else { return };
    assert_error_types(&Mysql::new(my, "mysql"), BIN.as_ref()).await;
}

/// Needs no database: every event here fails (or succeeds as a no-op) before any login.
#[tokio::test]
async fn invalid_events_return_errors_and_change_nothing() {
    let secret = r#"{"engine":"mysql","host":"127.0.0.1","port":1,"username":"u","password":"Canary-invalid-events"}"#;
    assert_invalid_events_change_nothing(BIN.as_ref(), secret, "Canary-invalid-events").await;
}

#[tokio::test]
async fn a_bad_environment_variable_stops_init_naming_it() {
    let mut cases = COMMON_BAD_ENV.to_vec();
    cases.extend([
        ("USERNAME_CHARACTER_LIMIT", "many"),
        ("USERNAME_CHARACTER_LIMIT", "-32"),
    ]);
    assert_bad_env_stops_init(BIN.as_ref(), &cases).await;
}

#[tokio::test]
async fn init_makes_no_network_call_and_polls_quickly() {
    assert_init_is_offline(BIN.as_ref()).await;
}

/// An RDS-managed master secret (only username and password; its system tag names a moto
/// RDS instance standing for this server) rotates an alternating pair on the instance's
/// host and one on its read replica's host, the RDS host names verified (verify-full, from
/// the names alone) and resolved to this server in the function's private /etc/hosts: see
/// [`rotwise_lambda_testkit::managed`].
#[tokio::test]
async fn rds_managed_master_and_read_replica_through_the_runtime_api() {
    let Some(my) = require_mysql() else { return };
    let Some(moto) = require_sm_endpoint() else {
        return;
    };
    let fx = Mysql::new(my, "mariadb");
    let scratch = std::env::temp_dir().join(unique_name("rotwise_hosts"));
    let result = try_managed_master_rotation(
        &fx,
        BIN.as_ref(),
        &moto,
        ManagedBy::Rds("mariadb"),
        &scratch,
    )
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    result.unwrap_or_else(|e| panic!("{e}"));
}
