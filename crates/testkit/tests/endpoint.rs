//! The local Secrets Manager endpoint, driven through the AWS SDK (and raw HTTP for the
//! protocol errors the SDK cannot produce).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Region};
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_secretsmanager::types::RotationRulesType;
use rotwise_core::store::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, AwsStore, MemoryStore, SecretStore, StoreErrorKind,
};
use rotwise_core::{
    Driver, RotationEvent, Rotator, RotatorError, SecretPayload, Step, StepOutcome, Versions,
};
use rotwise_testkit::contract::{StoreFlavor, run_store_contract};
use rotwise_testkit::endpoint::LocalEndpoint;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN_1: &str = "11111111-1111-4111-8111-111111111111";
const TOKEN_2: &str = "22222222-2222-4222-8222-222222222222";
const TOKEN_3: &str = "33333333-3333-4333-8333-333333333333";

/// An SDK client for `endpoint`: static credentials, a region, no credential or region
/// chain (so nothing probes IMDS), and no retries (so call counts are exact).
fn client(endpoint: &LocalEndpoint) -> Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(endpoint.url())
        .retry_config(aws_sdk_secretsmanager::config::retry::RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

fn start() -> (LocalEndpoint, Client) {
    let endpoint = LocalEndpoint::start(Arc::new(MemoryStore::new())).expect("endpoint starts");
    let client = client(&endpoint);
    (endpoint, client)
}

fn stages_map(
    map: Option<&std::collections::HashMap<String, Vec<String>>>,
) -> BTreeMap<String, Vec<String>> {
    map.expect("VersionIdsToStages present")
        .iter()
        .map(|(k, v)| {
            let mut v = v.clone();
            v.sort();
            (k.clone(), v)
        })
        .collect()
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A raw HTTP/1.1 request; returns the status, the lower-cased headers and the body as
/// JSON.
async fn raw(
    endpoint: &LocalEndpoint,
    method: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, BTreeMap<String, String>, Value) {
    let mut stream = TcpStream::connect(endpoint.addr()).await.unwrap();
    let mut request = format!(
        "{method} / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        endpoint.addr(),
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the server answers and closes")
        .unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a full response");
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("JSON body ({e}): {body}"));
    (status, headers, body)
}

async fn raw_call(endpoint: &LocalEndpoint, target: &str, body: &str) -> (u16, Value) {
    let (status, headers, body) = raw(
        endpoint,
        "POST",
        &[
            ("X-Amz-Target", target),
            ("Content-Type", "application/x-amz-json-1.1"),
        ],
        body,
    )
    .await;
    assert_eq!(
        headers.get("content-type").map(String::as_str),
        Some("application/x-amz-json-1.1")
    );
    (status, body)
}

#[tokio::test]
async fn create_and_get_string_and_binary_values() {
    let (_endpoint, sm) = start();
    let created = sm
        .create_secret()
        .name("app/db")
        .client_request_token(TOKEN_1)
        .description("the database")
        .secret_string(r#"{"password":"one"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(created.name(), Some("app/db"));
    assert_eq!(created.version_id(), Some(TOKEN_1));
    let arn = created.arn().unwrap().to_string();
    assert!(
        arn.starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-"),
        "{arn}"
    );

    // No VersionId, no stage, no value: the SDK default is AWSCURRENT.
    let got = sm
        .get_secret_value()
        .secret_id("app/db")
        .send()
        .await
        .unwrap();
    assert_eq!(got.secret_string(), Some(r#"{"password":"one"}"#));
    assert_eq!(got.secret_binary(), None);
    assert_eq!(got.version_id(), Some(TOKEN_1));
    assert_eq!(got.version_stages(), [AWSCURRENT]);
    assert_eq!(got.arn(), Some(arn.as_str()));
    assert_eq!(got.name(), Some("app/db"));
    let created_at = got.created_date().unwrap().as_secs_f64();
    assert!(
        (created_at - now_secs()).abs() < 60.0,
        "CreatedDate {created_at}"
    );

    // By ARN too.
    let by_arn = sm.get_secret_value().secret_id(&arn).send().await.unwrap();
    assert_eq!(by_arn.version_id(), Some(TOKEN_1));

    let d = sm.describe_secret().secret_id(&arn).send().await.unwrap();
    assert_eq!(d.description(), Some("the database"));
    assert_eq!(d.rotation_enabled(), None);
    assert_eq!(d.last_rotated_date(), None);

    // Binary: every byte value survives the base64 round trip.
    let bytes: Vec<u8> = (0..=255u8).rev().collect();
    let bin = sm
        .create_secret()
        .name("app/cert")
        .secret_binary(Blob::new(bytes.clone()))
        .send()
        .await
        .unwrap();
    let got = sm
        .get_secret_value()
        .secret_id(bin.arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(got.secret_string(), None);
    assert_eq!(
        got.secret_binary().map(|b| b.as_ref().to_vec()),
        Some(bytes)
    );

    // A secret created without a value has no version.
    let empty = sm.create_secret().name("app/empty").send().await.unwrap();
    assert_eq!(empty.version_id(), None);
    let d = sm
        .describe_secret()
        .secret_id("app/empty")
        .send()
        .await
        .unwrap();
    assert!(stages_map(d.version_ids_to_stages()).is_empty());
}

#[tokio::test]
async fn put_pending_then_describe_and_get_by_stage_and_id() {
    let (endpoint, sm) = start();
    sm.create_secret()
        .name("s")
        .client_request_token(TOKEN_1)
        .secret_string("one")
        .send()
        .await
        .unwrap();
    let put = sm
        .put_secret_value()
        .secret_id("s")
        .client_request_token(TOKEN_2)
        .secret_string("two")
        .version_stages(AWSPENDING)
        .send()
        .await
        .unwrap();
    assert_eq!(put.version_id(), Some(TOKEN_2));
    assert_eq!(put.version_stages(), [AWSPENDING]);
    assert_eq!(put.name(), Some("s"));

    let d = sm.describe_secret().secret_id("s").send().await.unwrap();
    assert_eq!(
        stages_map(d.version_ids_to_stages()),
        BTreeMap::from([
            (TOKEN_1.to_string(), vec![AWSCURRENT.to_string()]),
            (TOKEN_2.to_string(), vec![AWSPENDING.to_string()]),
        ])
    );

    let by_stage = sm
        .get_secret_value()
        .secret_id("s")
        .version_stage(AWSPENDING)
        .send()
        .await
        .unwrap();
    assert_eq!(by_stage.secret_string(), Some("two"));
    assert_eq!(by_stage.version_id(), Some(TOKEN_2));
    let by_id = sm
        .get_secret_value()
        .secret_id("s")
        .version_id(TOKEN_1)
        .send()
        .await
        .unwrap();
    assert_eq!(by_id.secret_string(), Some("one"));
    let both = sm
        .get_secret_value()
        .secret_id("s")
        .version_id(TOKEN_2)
        .version_stage(AWSPENDING)
        .send()
        .await
        .unwrap();
    assert_eq!(both.secret_string(), Some("two"));
    // Id and stage that do not match: the store's error, with its `__type` and message.
    let err = sm
        .get_secret_value()
        .secret_id("s")
        .version_id(TOKEN_1)
        .version_stage(AWSPENDING)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let expected = endpoint
        .store()
        .get_secret_value("s", Some(TOKEN_1), Some(AWSPENDING))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(expected.kind.aws_type()), "{err:?}");
    assert_eq!(err.message(), Some(expected.message.as_str()));

    // Repeating a put with the same token and value is idempotent.
    let again = sm
        .put_secret_value()
        .secret_id("s")
        .client_request_token(TOKEN_2)
        .secret_string("two")
        .version_stages(AWSPENDING)
        .send()
        .await
        .unwrap();
    assert_eq!(again.version_id(), Some(TOKEN_2));
    // Without VersionStages a put becomes AWSCURRENT, and AWSPREVIOUS follows.
    sm.put_secret_value()
        .secret_id("s")
        .client_request_token(TOKEN_3)
        .secret_string("three")
        .send()
        .await
        .unwrap();
    let d = sm.describe_secret().secret_id("s").send().await.unwrap();
    let stages = stages_map(d.version_ids_to_stages());
    assert_eq!(stages[TOKEN_3], [AWSCURRENT]);
    assert_eq!(stages[TOKEN_1], [AWSPREVIOUS]);
    assert_eq!(stages[TOKEN_2], [AWSPENDING]);
}

#[tokio::test]
async fn update_stage_moves_current_and_previous_follows() {
    let (_endpoint, sm) = start();
    sm.create_secret()
        .name("s")
        .client_request_token(TOKEN_1)
        .secret_string("one")
        .send()
        .await
        .unwrap();
    sm.put_secret_value()
        .secret_id("s")
        .client_request_token(TOKEN_2)
        .secret_string("two")
        .version_stages(AWSPENDING)
        .send()
        .await
        .unwrap();
    let out = sm
        .update_secret_version_stage()
        .secret_id("s")
        .version_stage(AWSCURRENT)
        .move_to_version_id(TOKEN_2)
        .remove_from_version_id(TOKEN_1)
        .send()
        .await
        .unwrap();
    assert_eq!(out.name(), Some("s"));
    assert!(out.arn().unwrap().contains(":secret:s-"));
    let d = sm.describe_secret().secret_id("s").send().await.unwrap();
    assert_eq!(
        stages_map(d.version_ids_to_stages()),
        BTreeMap::from([
            (TOKEN_1.to_string(), vec![AWSPREVIOUS.to_string()]),
            (
                TOKEN_2.to_string(),
                vec![AWSCURRENT.to_string(), AWSPENDING.to_string()]
            ),
        ])
    );
    let current = sm.get_secret_value().secret_id("s").send().await.unwrap();
    assert_eq!(current.secret_string(), Some("two"));
    let previous = sm
        .get_secret_value()
        .secret_id("s")
        .version_stage(AWSPREVIOUS)
        .send()
        .await
        .unwrap();
    assert_eq!(previous.version_id(), Some(TOKEN_1));

    // Removing AWSPENDING (no MoveToVersionId).
    sm.update_secret_version_stage()
        .secret_id("s")
        .version_stage(AWSPENDING)
        .remove_from_version_id(TOKEN_2)
        .send()
        .await
        .unwrap();
    let d = sm.describe_secret().secret_id("s").send().await.unwrap();
    assert_eq!(stages_map(d.version_ids_to_stages())[TOKEN_2], [AWSCURRENT]);

    // Moving AWSCURRENT without RemoveFromVersionId is refused, as by the service.
    let err = sm
        .update_secret_version_stage()
        .secret_id("s")
        .version_stage(AWSCURRENT)
        .move_to_version_id(TOKEN_1)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    assert!(
        err.message().unwrap().contains("RemoveFromVersionId"),
        "{err:?}"
    );
}

#[tokio::test]
async fn list_versions_includes_deprecated_only_when_asked() {
    let (_endpoint, sm) = start();
    sm.create_secret()
        .name("s")
        .client_request_token(TOKEN_1)
        .secret_string("one")
        .send()
        .await
        .unwrap();
    for (token, value) in [(TOKEN_2, "two"), (TOKEN_3, "three")] {
        sm.put_secret_value()
            .secret_id("s")
            .client_request_token(token)
            .secret_string(value)
            .send()
            .await
            .unwrap();
    }
    // TOKEN_1 lost AWSPREVIOUS to TOKEN_2: deprecated.
    let listed = sm
        .list_secret_version_ids()
        .secret_id("s")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.name(), Some("s"));
    let rows: BTreeMap<String, Vec<String>> = listed
        .versions()
        .iter()
        .map(|v| {
            (
                v.version_id().unwrap().to_string(),
                v.version_stages().to_vec(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        BTreeMap::from([
            (TOKEN_2.to_string(), vec![AWSPREVIOUS.to_string()]),
            (TOKEN_3.to_string(), vec![AWSCURRENT.to_string()]),
        ])
    );
    let all = sm
        .list_secret_version_ids()
        .secret_id("s")
        .include_deprecated(true)
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = all
        .versions()
        .iter()
        .filter_map(|v| v.version_id())
        .collect();
    assert_eq!(ids, [TOKEN_1, TOKEN_2, TOKEN_3], "in creation order");
    let deprecated = &all.versions()[0];
    assert!(deprecated.version_stages().is_empty());
    assert!(deprecated.created_date().is_some());
    assert_eq!(all.next_token(), None);
}

#[tokio::test]
async fn random_password_honours_length_and_exclusions() {
    let (_endpoint, sm) = start();
    let default = sm.get_random_password().send().await.unwrap();
    assert_eq!(default.random_password().unwrap().chars().count(), 32);

    for _ in 0..20 {
        let pw = sm
            .get_random_password()
            .password_length(50)
            .exclude_characters("abcdef0123")
            .exclude_punctuation(true)
            .exclude_uppercase(true)
            .send()
            .await
            .unwrap();
        let pw = pw.random_password().unwrap();
        assert_eq!(pw.chars().count(), 50);
        assert!(
            pw.chars().all(|c| matches!(c, 'g'..='z' | '4'..='9')),
            "character outside the policy"
        );
        // RequireEachIncludedType defaults to true.
        assert!(pw.chars().any(|c| c.is_ascii_digit()));
        assert!(pw.chars().any(|c| c.is_ascii_lowercase()));
    }
    let pw = sm
        .get_random_password()
        .password_length(40)
        .exclude_numbers(true)
        .exclude_lowercase(true)
        .exclude_uppercase(true)
        .exclude_punctuation(true)
        .include_space(true)
        .require_each_included_type(false)
        .send()
        .await
        .unwrap();
    assert_eq!(pw.random_password(), Some(" ".repeat(40).as_str()));

    for bad in [0, 4097] {
        let err = sm
            .get_random_password()
            .password_length(bad)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_invalid_parameter_exception(), "{bad}: {err:?}");
    }
    let err = sm
        .get_random_password()
        .exclude_numbers(true)
        .exclude_lowercase(true)
        .exclude_uppercase(true)
        .exclude_punctuation(true)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
}

#[tokio::test]
async fn store_errors_map_to_typed_sdk_errors() {
    let (endpoint, sm) = start();
    let err = sm
        .describe_secret()
        .secret_id("nope")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    let expected = endpoint.store().describe_secret("nope").await.unwrap_err();
    assert_eq!(err.message(), Some(expected.message.as_str()));
    let err = sm
        .get_secret_value()
        .secret_id("nope")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");

    sm.create_secret()
        .name("s")
        .client_request_token(TOKEN_1)
        .secret_string("one")
        .send()
        .await
        .unwrap();
    let err = sm
        .create_secret()
        .name("s")
        .secret_string("again")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_exists_exception(), "{err:?}");

    // Same token, different value.
    let err = sm
        .put_secret_value()
        .secret_id("s")
        .client_request_token(TOKEN_1)
        .secret_string("different")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_exists_exception(), "{err:?}");
    // The message never echoes a value.
    assert!(!format!("{err:?}").contains("different"));

    let err = sm
        .update_secret_version_stage()
        .secret_id("s")
        .version_stage(AWSCURRENT)
        .move_to_version_id(TOKEN_3)
        .remove_from_version_id(TOKEN_1)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");

    // A second RotateSecret while the first one's AWSPENDING is not current.
    sm.rotate_secret()
        .secret_id("s")
        .client_request_token(TOKEN_2)
        .send()
        .await
        .unwrap();
    let err = sm
        .rotate_secret()
        .secret_id("s")
        .client_request_token(TOKEN_3)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_request_exception(), "{err:?}");
    let message = err.message().unwrap();
    assert!(
        message.contains("A previous rotation isn't complete"),
        "{message}"
    );
}

#[tokio::test]
async fn rotate_secret_creates_value_less_pending_version_and_completes() {
    let (endpoint, sm) = start();
    let created = sm
        .create_secret()
        .name("s")
        .client_request_token(TOKEN_1)
        .secret_string("one")
        .send()
        .await
        .unwrap();
    let rotated = sm
        .rotate_secret()
        .secret_id("s")
        .client_request_token(TOKEN_2)
        .rotation_lambda_arn("arn:aws:lambda:us-east-1:123456789012:function:rotate")
        .rotation_rules(
            RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.version_id(), Some(TOKEN_2));
    assert_eq!(rotated.arn(), created.arn());
    assert_eq!(rotated.name(), Some("s"));

    let d = sm.describe_secret().secret_id("s").send().await.unwrap();
    assert_eq!(d.rotation_enabled(), Some(true));
    assert_eq!(
        d.rotation_lambda_arn(),
        Some("arn:aws:lambda:us-east-1:123456789012:function:rotate")
    );
    assert_eq!(
        d.rotation_rules()
            .and_then(|r| r.automatically_after_days()),
        Some(30)
    );
    assert_eq!(
        stages_map(d.version_ids_to_stages()),
        BTreeMap::from([
            (TOKEN_1.to_string(), vec![AWSCURRENT.to_string()]),
            (TOKEN_2.to_string(), vec![AWSPENDING.to_string()]),
        ])
    );
    // The pending version has no value yet.
    for request in [
        sm.get_secret_value()
            .secret_id("s")
            .version_stage(AWSPENDING),
        sm.get_secret_value().secret_id("s").version_id(TOKEN_2),
    ] {
        let err = request.send().await.unwrap_err().into_service_error();
        assert!(err.is_resource_not_found_exception(), "{err:?}");
    }

    // The caller drives the steps: createSecret's put, finishSecret's move.
    sm.put_secret_value()
        .secret_id("s")
        .client_request_token(TOKEN_2)
        .secret_string("two")
        .version_stages(AWSPENDING)
        .send()
        .await
        .unwrap();
    sm.update_secret_version_stage()
        .secret_id("s")
        .version_stage(AWSCURRENT)
        .move_to_version_id(TOKEN_2)
        .remove_from_version_id(TOKEN_1)
        .send()
        .await
        .unwrap();
    // Then what the service does on completion, through the non-AWS target.
    let (status, body) = raw_call(
        &endpoint,
        "rotwise.CompleteRotation",
        &format!(r#"{{"SecretId":"s","ClientRequestToken":"{TOKEN_2}"}}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Completed"], Value::Bool(true));
    assert_eq!(body["VersionId"], TOKEN_2);
    let d = sm.describe_secret().secret_id("s").send().await.unwrap();
    assert_eq!(
        stages_map(d.version_ids_to_stages()),
        BTreeMap::from([
            (TOKEN_1.to_string(), vec![AWSPREVIOUS.to_string()]),
            (TOKEN_2.to_string(), vec![AWSCURRENT.to_string()]),
        ])
    );
    let last = d
        .last_rotated_date()
        .expect("LastRotatedDate")
        .as_secs_f64();
    assert!((last - now_secs()).abs() < 60.0, "LastRotatedDate {last}");

    // The next rotation may start; with RotateImmediately=false nothing starts.
    let configured = sm
        .rotate_secret()
        .secret_id("s")
        .rotate_immediately(false)
        .rotation_rules(
            RotationRulesType::builder()
                .automatically_after_days(7)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(configured.version_id(), None);
    let d = sm.describe_secret().secret_id("s").send().await.unwrap();
    assert_eq!(stages_map(d.version_ids_to_stages()).len(), 2);
    assert_eq!(
        d.rotation_rules()
            .and_then(|r| r.automatically_after_days()),
        Some(7)
    );
    assert_eq!(
        d.rotation_lambda_arn(),
        Some("arn:aws:lambda:us-east-1:123456789012:function:rotate"),
        "kept"
    );
    let again = sm.rotate_secret().secret_id("s").send().await.unwrap();
    let token = again.version_id().expect("a generated token");
    let d = sm.describe_secret().secret_id("s").send().await.unwrap();
    assert_eq!(stages_map(d.version_ids_to_stages())[token], [AWSPENDING]);

    // A schedule expression replaces the days (they exclude each other), and the pair, a
    // malformed expression or days out of range are refused.
    sm.rotate_secret()
        .secret_id("s")
        .rotate_immediately(false)
        .rotation_rules(
            RotationRulesType::builder()
                .schedule_expression("rate(10 days)")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let d = sm.describe_secret().secret_id("s").send().await.unwrap();
    let rules = d.rotation_rules().unwrap();
    assert_eq!(rules.schedule_expression(), Some("rate(10 days)"));
    assert_eq!(rules.automatically_after_days(), None);
    for rules in [
        RotationRulesType::builder()
            .schedule_expression("rate(10 days)")
            .automatically_after_days(3)
            .build(),
        RotationRulesType::builder()
            .schedule_expression("every ten days")
            .build(),
        RotationRulesType::builder()
            .automatically_after_days(0)
            .build(),
    ] {
        let err = sm
            .rotate_secret()
            .secret_id("s")
            .rotate_immediately(false)
            .rotation_rules(rules.clone())
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_invalid_parameter_exception(), "{rules:?}: {err:?}");
    }
    let after = sm.describe_secret().secret_id("s").send().await.unwrap();
    assert_eq!(
        after.rotation_rules().unwrap().schedule_expression(),
        Some("rate(10 days)"),
        "a refused call changes nothing"
    );
}

#[tokio::test]
async fn raw_protocol_errors_are_clear_400s() {
    let (endpoint, _sm) = start();
    endpoint.store().insert_secret("s", "hunter2").unwrap();

    // Garbage JSON.
    let (status, headers, body) = raw(
        &endpoint,
        "POST",
        &[("X-Amz-Target", "secretsmanager.DescribeSecret")],
        "{not json",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "SerializationException");
    assert_eq!(
        headers.get("x-amzn-errortype").map(String::as_str),
        Some("SerializationException")
    );
    assert!(
        body["message"].as_str().unwrap().contains("not valid JSON"),
        "{body}"
    );

    // Valid JSON that is not an object.
    let (status, body) = raw_call(&endpoint, "secretsmanager.DescribeSecret", "[1]").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "SerializationException");

    // A field of the wrong type: named, its value not echoed.
    let (status, body) = raw_call(
        &endpoint,
        "secretsmanager.PutSecretValue",
        r#"{"SecretId":"s","SecretString":["hunter3"],"ClientRequestToken":"22222222-2222-4222-8222-222222222222"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "SerializationException");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("SecretString must be a string"),
        "{message}"
    );
    assert!(!message.contains("hunter3"));

    // A missing required field.
    let (status, body) = raw_call(&endpoint, "secretsmanager.GetSecretValue", "{}").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "InvalidParameterException");
    assert_eq!(body["message"], "missing required parameter SecretId");

    // Missing X-Amz-Target.
    let (status, headers, body) = raw(&endpoint, "POST", &[], "{}").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "UnknownOperationException");
    assert_eq!(
        headers.get("x-amzn-errortype").map(String::as_str),
        Some("UnknownOperationException")
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("missing X-Amz-Target"),
        "{body}"
    );

    // Unknown operation.
    let (status, body) = raw_call(
        &endpoint,
        "secretsmanager.DeleteSecret",
        r#"{"SecretId":"s"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "UnknownOperationException");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("secretsmanager.DeleteSecret"), "{message}");
    assert!(
        message.contains("secretsmanager.GetSecretValue"),
        "{message}"
    );

    // Not a POST.
    let (status, _, body) = raw(&endpoint, "GET", &[], "").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "UnknownOperationException");

    // Bad base64.
    let (status, body) = raw_call(
        &endpoint,
        "secretsmanager.PutSecretValue",
        r#"{"SecretId":"s","SecretBinary":"!!!","ClientRequestToken":"22222222-2222-4222-8222-222222222222"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "InvalidParameterException");

    // None of the above changed anything or leaked the value.
    let (status, body) = raw_call(
        &endpoint,
        "secretsmanager.GetSecretValue",
        r#"{"SecretId":"s"}"#,
    )
    .await;
    assert_eq!(status, 200, "no Authorization header is fine");
    assert_eq!(body["SecretString"], "hunter2");
    assert_eq!(body["VersionStages"], serde_json::json!([AWSCURRENT]));
    assert!(body["CreatedDate"].is_number());
    let d = endpoint.store().list_secret_version_ids("s");
    assert_eq!(d.await.unwrap().len(), 1);

    // Store errors over raw HTTP: __type in body and header.
    let (status, headers, body) = raw(
        &endpoint,
        "POST",
        &[
            ("X-Amz-Target", "secretsmanager.DescribeSecret"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=garbage"),
        ],
        r#"{"SecretId":"missing"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "ResourceNotFoundException");
    assert_eq!(
        headers.get("x-amzn-errortype").map(String::as_str),
        Some("ResourceNotFoundException")
    );
}

#[tokio::test]
async fn call_counter_counts_per_operation() {
    let (endpoint, sm) = start();
    assert!(endpoint.calls().is_empty());
    sm.create_secret()
        .name("s")
        .secret_string("one")
        .send()
        .await
        .unwrap();
    for _ in 0..3 {
        sm.describe_secret().secret_id("s").send().await.unwrap();
    }
    // Failed calls count too.
    sm.get_secret_value()
        .secret_id("missing")
        .send()
        .await
        .unwrap_err();
    sm.get_secret_value().secret_id("s").send().await.unwrap();
    sm.get_random_password().send().await.unwrap();
    // Unknown operations are not counted.
    raw_call(&endpoint, "secretsmanager.DeleteSecret", "{}").await;
    assert_eq!(
        endpoint.calls(),
        BTreeMap::from([
            ("CreateSecret".to_string(), 1),
            ("DescribeSecret".to_string(), 3),
            ("GetRandomPassword".to_string(), 1),
            ("GetSecretValue".to_string(), 2),
        ])
    );
    assert_eq!(endpoint.calls_to("DescribeSecret"), 3);
    assert_eq!(endpoint.total_calls(), 7);
    assert_eq!(endpoint.take_calls().len(), 4);
    assert_eq!(endpoint.total_calls(), 0);
    sm.list_secret_version_ids()
        .secret_id("s")
        .send()
        .await
        .unwrap();
    assert_eq!(
        endpoint.calls(),
        BTreeMap::from([("ListSecretVersionIds".to_string(), 1)])
    );
    endpoint.reset_calls();
    assert!(endpoint.calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_and_concurrent_clients() {
    let (endpoint, sm) = start();
    endpoint.store().insert_secret("s", "one").unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let sm = sm.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                sm.get_secret_value().secret_id("s").send().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(endpoint.calls_to("GetSecretValue"), 80);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let (endpoint, sm) = start();
    let addr = endpoint.addr();
    assert_eq!(endpoint.url(), format!("http://{addr}"));
    assert!(addr.ip().is_loopback());
    sm.get_random_password().send().await.unwrap();
    endpoint.shutdown().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the port is closed after shutdown"
    );
    assert!(sm.get_random_password().send().await.is_err());

    // Dropping stops it too.
    let (endpoint, _) = start();
    let addr = endpoint.addr();
    drop(endpoint);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(TcpStream::connect(addr).await.is_err());
}

#[test]
fn start_outside_a_runtime_is_an_error() {
    let err = LocalEndpoint::start(Arc::new(MemoryStore::new())).unwrap_err();
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}

#[tokio::test]
async fn binary_prints_url_and_serves_until_sigterm() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_rotwise-local-sm"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(20), stdout.next_line())
        .await
        .expect("the URL within 20 s")
        .unwrap()
        .expect("a first line");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(&url)
        .build();
    let sm = Client::from_conf(config);
    sm.create_secret()
        .name("s")
        .secret_string("one")
        .send()
        .await
        .unwrap();
    let got = sm.get_secret_value().secret_id("s").send().await.unwrap();
    assert_eq!(got.secret_string(), Some("one"));

    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("exits on SIGTERM")
        .unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"CreateSecret\": 1"), "{stderr}");

    // A bad argument is a usage error with exit code 2.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rotwise-local-sm"))
        .arg("--port")
        .arg("not-a-port")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--port expects a number"), "{stderr}");
    assert!(stderr.contains("usage: rotwise-local-sm"), "{stderr}");
}

/// The trivial rotator of the driver's doc example: a new password, nothing to set.
struct RandomToken;

#[async_trait::async_trait]
impl Rotator for RandomToken {
    fn name(&self) -> &str {
        "random-token"
    }
    async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
        Ok(versions.new_password().await?.into())
    }
    async fn set(&self, _versions: &Versions<'_>) -> Result<(), RotatorError> {
        Ok(())
    }
    async fn test(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        versions.pending().await?;
        Ok(())
    }
}

#[tokio::test]
async fn four_step_rotation_through_aws_store() {
    let (endpoint, sm) = start();
    let created = sm
        .create_secret()
        .name("api-key")
        .client_request_token(TOKEN_1)
        .secret_string("first")
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap().to_string();
    let store = Arc::new(AwsStore::for_endpoint(endpoint.url(), "us-east-1"));
    let driver = Driver::new(store.clone(), Arc::new(RandomToken));

    // What the service does first; the caller then drives the steps.
    let token = sm
        .rotate_secret()
        .secret_id(&arn)
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string();
    endpoint.reset_calls();
    for step in Step::ALL {
        let outcome = driver
            .handle(&RotationEvent::new(step, &arn, &token))
            .await
            .unwrap_or_else(|e| panic!("{step:?}: {e}"));
        assert_eq!(outcome, StepOutcome::Done(step));
    }
    let calls = endpoint.take_calls();
    let total: u64 = calls.values().sum();
    println!("Secrets Manager calls for one four-step rotation: {total} {calls:?}");

    let d = store.describe_secret(&arn).await.unwrap();
    assert_eq!(d.version_with_stage(AWSCURRENT), Some(token.as_str()));
    assert_eq!(d.version_with_stage(AWSPREVIOUS), Some(TOKEN_1));
    let current = sm.get_secret_value().secret_id(&arn).send().await.unwrap();
    let new_value = current.secret_string().unwrap();
    assert_eq!(new_value.chars().count(), 32);
    assert_ne!(new_value, "first");
    let previous = sm
        .get_secret_value()
        .secret_id(&arn)
        .version_stage(AWSPREVIOUS)
        .send()
        .await
        .unwrap();
    assert_eq!(previous.secret_string(), Some("first"));

    assert_eq!(calls.get("RotateSecret"), None);
    assert_eq!(calls.get("DescribeSecret"), Some(&4), "one per step");
    assert_eq!(calls.get("PutSecretValue"), Some(&1));
    assert_eq!(calls.get("UpdateSecretVersionStage"), Some(&1));
    assert!(total <= 11, "{total} calls: {calls:?}");

    // Completion, as the service does after finishSecret, then a retried finishSecret
    // is a no-op.
    assert!(endpoint.store().complete_rotation(&arn, &token).unwrap());
    let d = store.describe_secret(&arn).await.unwrap();
    assert_eq!(d.stages_of(&token), [AWSCURRENT]);
    assert!(d.last_rotated.is_some());
    let again = driver
        .handle(&RotationEvent::new(Step::FinishSecret, &arn, &token))
        .await
        .unwrap();
    assert_eq!(again, StepOutcome::AlreadyCurrent);
}

#[tokio::test]
async fn aws_store_passes_contract_on_local_endpoint() {
    let (endpoint, _sm) = start();
    let store = AwsStore::for_endpoint(endpoint.url(), "us-east-1");
    // The value-less AWSPENDING version is made on the store the endpoint serves, as
    // RotateSecret does.
    let memory = endpoint.store().clone();
    let begin = move |secret_id: &str| memory.begin_rotation(secret_id);
    let report = run_store_contract(&store, StoreFlavor::service_with_rotation(&begin)).await;
    println!("{report}");
    println!("calls: {:?}", endpoint.calls());
    assert!(report.deviations.is_empty(), "{report}");
    assert!(report.skipped.is_empty(), "{report}");

    // Through the endpoint, exactly the cases the in-memory store passes directly.
    let direct = MemoryStore::new();
    let begin_direct = |secret_id: &str| direct.begin_rotation(secret_id);
    let reference =
        run_store_contract(&direct, StoreFlavor::service_with_rotation(&begin_direct)).await;
    assert_eq!(report.passed, reference.passed);
    assert!(report.cases_run() > 10, "{report}");
}

/// Tags (RDS's system tags on a master secret it manages) reach `SecretDescription::tags`
/// through the SDK store; a secret without tags has none; a bad tag is refused.
#[tokio::test]
async fn describe_secret_carries_tags_to_the_aws_store() {
    let (endpoint, sm) = start();
    let arn = sm
        .create_secret()
        .name("rds!db-0123")
        .client_request_token(TOKEN_1)
        .secret_string(r#"{"username":"admin","password":"pw"}"#)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let store = AwsStore::for_endpoint(endpoint.url(), "us-east-1");
    assert!(store.describe_secret(&arn).await.unwrap().tags.is_empty());
    let db = "arn:aws:rds:us-east-1:111122223333:db:mydb";
    endpoint
        .store()
        .tag_secret(&arn, "aws:rds:primarydbinstancearn", db)
        .unwrap();
    endpoint.store().tag_secret(&arn, "team", "").unwrap();
    let d = store.describe_secret(&arn).await.unwrap();
    assert_eq!(
        d.tags,
        BTreeMap::from([
            ("aws:rds:primarydbinstancearn".to_string(), db.to_string()),
            ("team".to_string(), String::new()),
        ])
    );
    let err = endpoint.store().tag_secret(&arn, "", "x").unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::InvalidParameter);
    // Tags survive the store's JSON document (the CLI's file store).
    let copy = MemoryStore::import_json(&endpoint.store().export_json()).unwrap();
    assert_eq!(copy.describe_secret(&arn).await.unwrap().tags, d.tags);
}

/// No answer from Secrets Manager (here a closed port; in a Lambda, a VPC without a route
/// to the service): a `Transport` error whose message says so first and names the fix.
#[tokio::test]
async fn an_unreachable_endpoint_is_named_with_its_fix() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let store = AwsStore::for_endpoint(format!("http://127.0.0.1:{port}"), "us-east-1");
    let err = store.describe_secret("any").await.unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Transport, "{err}");
    let text = err.to_string();
    assert!(
        text.contains(rotwise_core::store::SM_UNREACHABLE)
            && text.contains("CreateSecretsManagerEndpoint")
            && text.contains("Secrets Manager unreachable\""),
        "{text}"
    );
}

/// `ListSecrets`: name and tag filters (prefixes; values OR, filters AND), pages of
/// `MaxResults` followed through `NextToken` by `AwsStore::list_secrets`; a throttled
/// operation answers `ThrottlingException` every n-th request, which the SDK retries.
#[tokio::test]
async fn list_secrets_filters_pages_and_throttling() {
    let (endpoint, sm) = start();
    for i in 0..230 {
        let arn = endpoint
            .store()
            .insert_secret(&format!("app/{i:03}"), "v")
            .unwrap();
        if i % 2 == 0 {
            endpoint.store().tag_secret(&arn, "team", "blue").unwrap();
        }
    }
    endpoint.store().insert_secret("other/1", "v").unwrap();
    let store = AwsStore::for_endpoint(endpoint.url(), "us-east-1");
    let all = store.list_secrets(&[]).await.unwrap();
    assert_eq!(all.len(), 231);
    assert!(endpoint.calls_to("ListSecrets") >= 3, "three pages of 100");
    let app = store
        .list_secrets(&[("name", vec!["app/".into()])])
        .await
        .unwrap();
    assert_eq!(app.len(), 230);
    let blue = store
        .list_secrets(&[
            ("tag-key", vec!["team".into()]),
            ("tag-value", vec!["blue".into()]),
            ("name", vec!["app/0".into(), "app/1".into()]),
        ])
        .await
        .unwrap();
    assert_eq!(blue.len(), 100, "even numbers below 200");
    assert!(
        blue.iter()
            .all(|(_, tags)| tags.get("team").map(String::as_str) == Some("blue"))
    );
    let err = sm
        .list_secrets()
        .max_results(101)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");

    endpoint.throttle("DescribeSecret", 2);
    for _ in 0..4 {
        store.describe_secret("other/1").await.unwrap();
    }
    assert!(endpoint.throttled() >= 3, "{}", endpoint.throttled());
    endpoint.throttle("DescribeSecret", 1);
    let err = store.describe_secret("other/1").await.unwrap_err();
    assert!(err.is_throttling(), "{err}");
    endpoint.throttle("DescribeSecret", 0);
    store.describe_secret("other/1").await.unwrap();
}
