//! Issue 19, item 7: a function deployed for a prefix of secrets may read all of them, so
//! a secret under the prefix could name another one as its `masterarn` and have the
//! function log in with it. With `ROTATION_MASTER_SECRET_ARN` (the templates pass their
//! `MasterSecretArn`), the function reads only the rotated secret and that master: a
//! rotation whose `masterarn` names another secret stops at setSecret, before that secret
//! is read or used, and a rotation with the right master still works.

mod support;

use std::sync::Arc;

use rotwise_core::store::{AWSCURRENT, MemoryStore};
use rotwise_lambda_testkit::emulator::Outcome;
use rotwise_lambda_testkit::harness::{
    Fixture, Harness, assert_bad_env_stops_init, credentials_in,
};
use rotwise_test_services::{require_pg, run_then_cleanup, unique_name};
use support::Pg;

const BIN: &str = env!("CARGO_BIN_EXE_rotwise-lambda-postgres");

fn canary() -> String {
    format!("Canary-{}", &unique_name("c")[2..])
}

#[tokio::test]
async fn masterarn_must_be_the_deployed_master() {
    let Some(pg) = require_pg() else { return };
    let fx = Arc::new(Pg(pg));
    let user = unique_name("rw_lpg_guard");
    let master = unique_name("rw_lpg_gmaster");
    let other = unique_name("rw_lpg_gother");
    let roles = vec![
        format!("{user}_clone"),
        user.clone(),
        master.clone(),
        other.clone(),
    ];
    let body = {
        let fx = fx.clone();
        async move {
            let (user_pw, master_pw, other_pw) = (canary(), canary(), canary());
            fx.create_user(&user, &user_pw).await.unwrap();
            fx.create_master(&master, &master_pw, &user).await.unwrap();
            // Another secret under the same prefix, able to manage the user too.
            fx.create_master(&other, &other_pw, &user).await.unwrap();
            let store = Arc::new(MemoryStore::new());
            let master_arn = store
                .insert_secret("prod/db/master", &fx.secret_json(&master, &master_pw, None))
                .unwrap();
            let other_arn = store
                .insert_secret("prod/db/other", &fx.secret_json(&other, &other_pw, None))
                .unwrap();
            let arn = store
                .insert_secret(
                    "prod/db/app",
                    &fx.secret_json(&user, &user_pw, Some(&other_arn)),
                )
                .unwrap();
            let mut env = vec![
                ("ROTATION_STRATEGY", "alternating".to_string()),
                ("ROTATION_MASTER_SECRET_ARN", master_arn.clone()),
            ];
            env.extend(fx.env());
            let mut h = Harness::start(BIN.as_ref(), store.clone(), &env).await;

            // masterarn names the other secret: setSecret stops before reading it.
            let log = fx.log_mark();
            let token = store.begin_rotation(&arn).unwrap();
            h.try_step_succeeds("createSecret", &arn, &token)
                .await
                .unwrap();
            let report = match h.step("setSecret", &arn, &token).await {
                Outcome::Error(report) => report,
                other => panic!("setSecret must fail, got {other:?}"),
            };
            assert!(
                report
                    .error_message()
                    .contains("ROTATION_MASTER_SECRET_ARN")
                    && report.error_message().contains(&master_arn),
                "{report:?}"
            );
            let server_log = fx.log_since(&log).await.unwrap();
            assert_eq!(
                fx.connections(&server_log, &other),
                0,
                "the other secret's user never logged in"
            );
            assert!(
                fx.connections(&server_log, &user) > 0,
                "positive control: the server log shows the logins that did happen"
            );

            // The same secret naming the deployed master rotates.
            let fresh = store
                .insert_secret(
                    "prod/db/app2",
                    &fx.secret_json(&user, &user_pw, Some(&master_arn)),
                )
                .unwrap();
            let rotation = h.try_rotate(&fresh).await;
            assert!(rotation.is_ok(), "{rotation:?}");
            let (u, p) = credentials_in(&store, &fresh, AWSCURRENT).await;
            assert_eq!(u, format!("{user}_clone"));
            assert!(fx.login(&u, &p).await.is_ok());
            let logs = h.logs().await;
            for pw in [&user_pw, &master_pw, &other_pw, &p] {
                assert!(!logs.contains(pw.as_str()), "a password is in the logs");
            }
        }
    };
    run_then_cleanup(body, fx.drop_users(&roles)).await;
}

/// A variable that is not one secret's full ARN stops the function at init, naming it.
#[tokio::test]
async fn a_master_arn_with_a_wildcard_stops_init() {
    assert_bad_env_stops_init(
        BIN.as_ref(),
        &[
            (
                "ROTATION_MASTER_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/*",
            ),
            ("ROTATION_MASTER_SECRET_ARN", "prod/db/master"),
        ],
    )
    .await;
}
