//! Issue 19, item 5: nothing secret at TRACE. The built Lambda binary rotates a secret
//! on the private MariaDB with every log setting a user can write (Lambda's `TRACE` in
//! JSON, and `RUST_LOG` with the most specific directives of each dependency that logs
//! secrets, in text) and an event that carries a `RotationToken`; the passwords (old and
//! new), the account's `mysql_native_password` hash (old and new) and the rotation token
//! appear nowhere in what the function wrote. In the nextest `mariadb` group (package).
//!
//! Positive controls: the same output holds rotwise's own DEBUG lines and a planted
//! canary (in the secret's name, which the spans log), so a search that finds nothing is
//! a search that could have found something.

mod support;

use std::sync::Arc;

use rotwise_core::store::{AWSCURRENT, MemoryStore};
use rotwise_lambda_testkit::harness::{
    Fixture, Harness, assert_own_debug_lines, credentials_in, leaks,
};
use rotwise_test_services::mysql_async::prelude::Queryable;
use rotwise_test_services::{require_mysql, run_then_cleanup, unique_name};
use support::Mysql;

const BIN: &str = env!("CARGO_BIN_EXE_rotwise-lambda-mysql");

/// `RUST_LOG` with the most specific directives of every dependency that logs secrets.
const SPECIFIC: &str = "trace,lambda_runtime=trace,lambda_runtime::layers::api_response=trace,\
    lambda_runtime_api_client=trace,aws_smithy_runtime=trace,aws_smithy_runtime_api=trace,\
    aws_smithy_http_client=trace,aws_sdk_secretsmanager=trace,aws_config=trace,aws_sigv4=trace,\
    hyper=trace,hyper_util=trace,h2=trace,rustls=trace,mysql_async=trace,\
    mysql_async::conn=trace,mysql_async::conn::routines=trace,mysql_async::queryable=trace,\
    mysql_common=trace,rotwise_db=trace";

fn canary(what: &str) -> String {
    format!("Canary{what}-{}", &unique_name("c")[2..])
}

/// The account's `mysql_native_password` hash, and its hex without the `*`.
async fn hash_parts(fx: &Mysql, user: &str) -> Vec<String> {
    let mut admin = fx.my.admin().await;
    let hash: Option<String> = admin
        .exec_first(
            "SELECT authentication_string FROM mysql.user WHERE User = ?",
            (user,),
        )
        .await
        .unwrap();
    let _ = admin.disconnect().await;
    let hash = hash.unwrap_or_default();
    assert!(hash.starts_with('*') && hash.len() == 41, "a native hash");
    vec![hash.clone(), hash[1..].to_string()]
}

/// Rotate once under `log_env` and check the output.
async fn rotate_and_check(fx: Arc<Mysql>, log_env: Vec<(&'static str, String)>, json_format: bool) {
    let user = unique_name("rw_lmy_trace");
    let roles = vec![user.clone()];
    let cleanup_fx = fx.clone();
    let body = async move {
        let fx = fx.as_ref();
        let initial = canary("Old");
        let rotation_token = canary("RotationToken");
        let planted = canary("Planted");
        fx.create_user(&user, &initial).await.unwrap();
        let old_verifier = hash_parts(fx, &user).await;
        let store = Arc::new(MemoryStore::new());
        let arn = store
            .insert_secret(
                &format!("trace/{planted}"),
                &fx.secret_json(&user, &initial, None),
            )
            .unwrap();
        let mut env = vec![("ROTATION_STRATEGY", "single".to_string())];
        env.extend(fx.env());
        env.extend(log_env);
        let mut h = Harness::start(BIN.as_ref(), store.clone(), &env).await;
        h.rotate_with_rotation_token(&arn, &rotation_token).await;
        let (_, new) = credentials_in(&store, &arn, AWSCURRENT).await;
        assert_ne!(new, initial);
        let new_verifier = hash_parts(fx, &user).await;
        let logs = h.logs().await;

        let mut secrets = vec![
            ("the old password".to_string(), initial.clone()),
            ("the new password".to_string(), new.clone()),
            ("the rotation token".to_string(), rotation_token.clone()),
        ];
        for (i, part) in old_verifier.iter().enumerate() {
            secrets.push((format!("the old hash (part {i})"), part.clone()));
        }
        for (i, part) in new_verifier.iter().enumerate() {
            secrets.push((format!("the new hash (part {i})"), part.clone()));
        }
        let found = leaks(&logs, &secrets);
        assert!(
            found.is_empty(),
            "secrets in the logs:\n{}",
            found.join("\n")
        );

        // Positive controls: the planted canary and rotwise's own DEBUG lines are there.
        assert!(
            logs.contains(&planted),
            "the planted canary is found:\n{logs}"
        );
        assert_own_debug_lines(&logs, json_format);
    };
    run_then_cleanup(body, cleanup_fx.drop_users(&roles)).await;
}

/// Lambda's application log level TRACE, JSON (what the harness sets by default).
#[tokio::test]
async fn nothing_secret_at_lambda_trace_in_json() {
    let Some(my) = require_mysql() else { return };
    let env = vec![
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_string()),
        ("AWS_LAMBDA_LOG_LEVEL", "TRACE".to_string()),
    ];
    rotate_and_check(Arc::new(Mysql::new(my, "mariadb")), env, true).await;
}

/// `RUST_LOG` with the most specific directives (Lambda's level unset), text.
#[tokio::test]
async fn nothing_secret_with_the_most_specific_rust_log_in_text() {
    let Some(my) = require_mysql() else { return };
    let env = vec![
        ("AWS_LAMBDA_LOG_FORMAT", "Text".to_string()),
        ("AWS_LAMBDA_LOG_LEVEL", String::new()),
        ("RUST_LOG", SPECIFIC.to_string()),
    ];
    rotate_and_check(Arc::new(Mysql::new(my, "mariadb")), env, false).await;
}
