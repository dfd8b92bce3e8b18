//! [`AwsLocator`] for a Redshift Serverless admin secret, on recorded answers: moto has no
//! Redshift Serverless, so a local server answers `ListNamespaces` and `ListWorkgroups`
//! (AWS JSON 1.1, `X-Amz-Target: RedshiftServerless.<Operation>`) with the response shapes
//! of the Redshift Serverless API Reference ("ListNamespaces", "ListWorkgroups": Response
//! Syntax), over two pages each, as a busy account answers.
#![cfg(feature = "redshift")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use rotwise_core::ErrorKind;
use rotwise_db::managed::{Locator, ManagedDatabase, REDSHIFT_SERVERLESS_TAG};
use rotwise_managed::AwsLocator;
use serde_json::{Value, json};

const NS_ARN: &str = "arn:aws:redshift-serverless:us-east-1:123456789012:namespace/0f6a9e8c-5b3e-4c2a-9d4e-1a2b3c4d5e6f";
const OTHER_ARN: &str = "arn:aws:redshift-serverless:us-east-1:123456789012:namespace/aaaaaaaa-0000-4000-8000-000000000000";

fn namespace(arn: &str, name: &str) -> Value {
    json!({"namespaceArn": arn, "namespaceName": name, "namespaceId": arn.rsplit('/').next(),
           "adminUsername": "admin", "dbName": "dev", "status": "AVAILABLE"})
}

fn workgroup(name: &str, namespace: &str, address: &str) -> Value {
    json!({"workgroupName": name, "namespaceName": namespace, "status": "AVAILABLE",
           "workgroupArn": format!("arn:aws:redshift-serverless:us-east-1:123456789012:workgroup/{name}"),
           "endpoint": {"address": address, "port": 5439, "vpcEndpoints": []},
           "baseCapacity": 8, "publiclyAccessible": false})
}

/// The recorded pages: the namespace wanted is on the second page of each listing.
fn answer(target: &str, body: &Value) -> Value {
    let first = body.get("nextToken").is_none();
    match (target, first) {
        ("RedshiftServerless.ListNamespaces", true) => {
            json!({"namespaces": [namespace(OTHER_ARN, "analytics")], "nextToken": "page-2"})
        }
        ("RedshiftServerless.ListNamespaces", false) => {
            json!({"namespaces": [namespace(NS_ARN, "warehouse")]})
        }
        ("RedshiftServerless.ListWorkgroups", true) => json!({
            "workgroups": [workgroup("analytics-wg", "analytics",
                "analytics-wg.123456789012.us-east-1.redshift-serverless.amazonaws.com")],
            "nextToken": "page-2"}),
        _ => json!({"workgroups": [workgroup("warehouse-wg", "warehouse",
                "warehouse-wg.123456789012.us-east-1.redshift-serverless.amazonaws.com")]}),
    }
}

/// Serve the recorded answers on a local port; every request's target is recorded.
fn serve() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut target, mut length) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let (name, value) = line.split_once(':').unwrap_or((&line, ""));
                match name.to_ascii_lowercase().as_str() {
                    "x-amz-target" => target = value.trim().to_string(),
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            log.lock()
                .unwrap()
                .push(format!("{target} {}", body["nextToken"]));
            let out = answer(&target, &body).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{out}",
                out.len()
            );
        }
    });
    (url, seen)
}

/// The namespace's name from `ListNamespaces` (matched by the tag's ARN), then the
/// workgroup serving it from `ListWorkgroups`, each followed across its pages.
#[tokio::test]
async fn a_serverless_namespace_is_found_through_its_workgroup_across_pages() {
    let (url, seen) = serve();
    let locator = AwsLocator::for_endpoint(&url, "us-east-1");
    let found = locator
        .locate(&ManagedDatabase::RedshiftServerless(NS_ARN.into()))
        .await
        .unwrap();
    assert_eq!(
        found.host,
        "warehouse-wg.123456789012.us-east-1.redshift-serverless.amazonaws.com"
    );
    assert_eq!((found.port, found.engine.as_str()), (5439, "redshift"));
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "RedshiftServerless.ListNamespaces null",
            "RedshiftServerless.ListNamespaces \"page-2\"",
            "RedshiftServerless.ListWorkgroups null",
            "RedshiftServerless.ListWorkgroups \"page-2\"",
        ]
    );
    assert_eq!(locator.calls(), 4);
}

/// A namespace no listing holds is an invalid secret naming the tag, after the last page.
#[tokio::test]
async fn an_unknown_namespace_is_refused_naming_the_tag() {
    let (url, seen) = serve();
    let gone = "arn:aws:redshift-serverless:us-east-1:123456789012:namespace/deleted";
    let e = AwsLocator::for_endpoint(&url, "us-east-1")
        .locate(&ManagedDatabase::RedshiftServerless(gone.into()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSecret, "{e}");
    assert!(e.to_string().contains(REDSHIFT_SERVERLESS_TAG), "{e}");
    assert!(e.to_string().contains(gone), "{e}");
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "both pages read, no workgroup asked"
    );
}
