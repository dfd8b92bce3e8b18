//! End to end: the built Lambda binary as a real process under a local Lambda Runtime API,
//! Secrets Manager served by the test kit's local endpoint (the in-memory store over HTTP),
//! and the private PostgreSQL of `scripts/services up`. The engine-independent parts are
//! `rotwise_lambda_testkit::harness`; the server is the [`Fixture`] of `tests/support`.

mod support;

use std::sync::Arc;

use rotwise_core::store::{AWSCURRENT, MemoryStore};
use rotwise_lambda_testkit::harness::{
    COMMON_BAD_ENV, Fixture, Harness, assert_bad_env_stops_init, assert_error_types,
    assert_init_is_offline, assert_invalid_events_change_nothing, assert_log_capture_works,
    assert_rotation_metrics, credentials_in, users_of,
};
use rotwise_lambda_testkit::managed::{ManagedBy, try_managed_master_rotation};
use rotwise_test_services::{require_pg, require_sm_endpoint, run_then_cleanup, unique_name};
use support::Pg;

const BIN: &str = env!("CARGO_BIN_EXE_rotwise-lambda-postgres");

/// A password that is easy to find in a log: the canary.
fn canary() -> String {
    format!("Canary-{}", &unique_name("c")[2..])
}

fn env(strategy: &str, fx: &Pg) -> Vec<(&'static str, String)> {
    let mut env = vec![("ROTATION_STRATEGY", strategy.to_string())];
    env.extend(fx.env());
    env
}

async fn logs_in(fx: &Pg, user: &str, password: &str) -> bool {
    fx.login(user, password).await.is_ok()
}

#[tokio::test]
async fn single_user_rotation_through_the_runtime_api() {
    let Some(pg) = require_pg() else { return };
    let fx = Arc::new(Pg(pg));
    let user = unique_name("rw_lpg_single");
    let roles = vec![user.clone()];
    let body = {
        let fx = fx.clone();
        async move {
            let initial = canary();
            fx.create_user(&user, &initial).await.unwrap();
            let store = Arc::new(MemoryStore::new());
            let arn = store
                .insert_secret("lambda/pg/single", &fx.secret_json(&user, &initial, None))
                .unwrap();
            let mut h = Harness::start(BIN.as_ref(), store.clone(), &env("single", &fx)).await;

            // Exactly 10 calls; AWSCURRENT new, AWSPREVIOUS the old AWSCURRENT, no AWSPENDING.
            assert_eq!(h.rotate_checked(&arn, 10).await.total_calls(), 10);
            let (u, new) = credentials_in(&store, &arn, AWSCURRENT).await;
            assert_eq!(u, user);
            assert_ne!(new, initial);
            assert!(logs_in(&fx, &user, &new).await, "the new password logs in");
            assert!(
                !logs_in(&fx, &user, &initial).await,
                "the old password is refused"
            );

            // A second rotation in the same (warm) process.
            assert_eq!(h.rotate_checked(&arn, 10).await.total_calls(), 10);
            let (_, newer) = credentials_in(&store, &arn, AWSCURRENT).await;
            assert!(logs_in(&fx, &user, &newer).await);
            assert!(!logs_in(&fx, &user, &new).await);

            let logs = h.logs().await;
            assert_log_capture_works(&logs, &arn);
            assert_rotation_metrics(&logs, "postgres", "single", 2, 10);
            for (what, pw) in [("initial", &initial), ("first", &new), ("second", &newer)] {
                assert!(
                    !logs.contains(pw.as_str()),
                    "the {what} password is in the logs"
                );
            }
        }
    };
    run_then_cleanup(body, fx.drop_users(&roles)).await;
}

#[tokio::test]
async fn alternating_rotation_through_the_runtime_api() {
    let Some(pg) = require_pg() else { return };
    let fx = Arc::new(Pg(pg));
    let user = unique_name("rw_lpg_alt");
    let master = unique_name("rw_lpg_master");
    let roles = users_of(&user, &master);
    let body = {
        let fx = fx.clone();
        async move {
            let initial = canary();
            let master_pw = canary();
            fx.create_user(&user, &initial).await.unwrap();
            // CREATEROLE (not a superuser) with ADMIN on the base role (PostgreSQL 16+).
            fx.create_master(&master, &master_pw, &user).await.unwrap();
            let store = Arc::new(MemoryStore::new());
            let master_arn = store
                .insert_secret(
                    "lambda/pg/master",
                    &fx.secret_json(&master, &master_pw, None),
                )
                .unwrap();
            let arn = store
                .insert_secret(
                    "lambda/pg/alternating",
                    &fx.secret_json(&user, &initial, Some(&master_arn)),
                )
                .unwrap();
            let mut h = Harness::start(BIN.as_ref(), store.clone(), &env("alternating", &fx)).await;

            assert_eq!(h.rotate_checked(&arn, 11).await.total_calls(), 11);
            let (u1, p1) = credentials_in(&store, &arn, AWSCURRENT).await;
            assert_eq!(u1, format!("{user}_clone"));
            assert!(logs_in(&fx, &u1, &p1).await, "the clone logs in");
            assert!(
                logs_in(&fx, &user, &initial).await,
                "AWSPREVIOUS keeps working until the next rotation"
            );

            // Warm: exactly 11 calls.
            assert_eq!(h.rotate_checked(&arn, 11).await.total_calls(), 11);
            let (u2, p2) = credentials_in(&store, &arn, AWSCURRENT).await;
            assert_eq!(u2, user);
            assert!(logs_in(&fx, &u2, &p2).await);
            assert!(
                !logs_in(&fx, &user, &initial).await,
                "the base user's old password is refused"
            );
            assert!(
                logs_in(&fx, &u1, &p1).await,
                "the clone (AWSPREVIOUS) still logs in"
            );

            let logs = h.logs().await;
            assert_log_capture_works(&logs, &arn);
            assert_rotation_metrics(&logs, "postgres", "alternating", 2, 11);
            for pw in [&initial, &master_pw, &p1, &p2] {
                assert!(!logs.contains(pw.as_str()), "a password is in the logs");
            }
        }
    };
    run_then_cleanup(body, fx.drop_users(&roles)).await;
}

/// The `errorType` of each failure class through the Runtime API: the database unreachable
/// (`TargetUnreachable`), AWSCURRENT's password refused (`LoginRefused`), `verify-full`
/// against a CA that did not sign the server's certificate (`TlsFailed`), AWSCURRENT not
/// JSON or without `host` (`InvalidSecret`); each failing step leaves the store unchanged.
#[tokio::test]
async fn each_failure_class_reports_its_error_type() {
    let Some(pg) = require_pg() else { return };
    assert_error_types(&Pg(pg), BIN.as_ref()).await;
}

/// Needs no database: every event here fails (or succeeds as a no-op) before any login.
#[tokio::test]
async fn invalid_events_return_errors_and_change_nothing() {
    let secret = r#"{"engine":"postgres","host":"127.0.0.1","port":1,"username":"u","password":"Canary-invalid-events"}"#;
    assert_invalid_events_change_nothing(BIN.as_ref(), secret, "Canary-invalid-events").await;
}

#[tokio::test]
async fn a_bad_environment_variable_stops_init_naming_it() {
    assert_bad_env_stops_init(BIN.as_ref(), COMMON_BAD_ENV).await;
}

/// The endpoint and database are unreachable: init must not care.
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
    let Some(pg) = require_pg() else { return };
    let Some(moto) = require_sm_endpoint() else {
        return;
    };
    let fx = Pg(pg);
    let scratch = std::env::temp_dir().join(unique_name("rotwise_hosts"));
    let result = try_managed_master_rotation(
        &fx,
        BIN.as_ref(),
        &moto,
        ManagedBy::Rds("postgres"),
        &scratch,
    )
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    result.unwrap_or_else(|e| panic!("{e}"));
}
