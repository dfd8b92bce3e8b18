//! [`AwsLocator`] against moto's RDS and Redshift (the server `scripts/services up` runs):
//! instances, Aurora clusters, read replicas and reader instances made through the same
//! SDKs, then found from the ARNs the tags would carry.
#![cfg(feature = "rds")]

use rotwise_core::ErrorKind;
use rotwise_db::managed::{Locator, ManagedDatabase, RDS_INSTANCE_TAG};
use rotwise_managed::AwsLocator;
use rotwise_test_services::moto::{REGION, rds_address, rds_client, rds_instance, rds_replica};
use rotwise_test_services::{require_sm_endpoint, unique_name};

/// An identifier RDS and Redshift accept: letters, digits and hyphens.
fn id(prefix: &str) -> String {
    unique_name(&prefix.replace('-', "_")).replace('_', "-")
}

/// An instance's master secret: host, port and engine from `DescribeDBInstances`, one
/// call; a cluster's: the writer endpoint from `DescribeDBClusters`.
#[tokio::test]
async fn instances_and_clusters_are_found_from_their_tag_arns() {
    let Some(url) = require_sm_endpoint() else {
        return;
    };
    let client = rds_client(&url);
    let name = id("rwm-pg");
    let (arn, host) = rds_instance(&client, &name, "postgres", 15432).await;
    assert!(
        host.starts_with(&format!("{name}.")) && host.ends_with(".rds.amazonaws.com"),
        "{host}"
    );

    let locator = AwsLocator::for_endpoint(&url, REGION);
    let found = locator
        .locate(&ManagedDatabase::RdsInstance(arn))
        .await
        .unwrap();
    assert_eq!(
        (found.host.as_str(), found.port, found.engine.as_str()),
        (host.as_str(), 15432, "postgres")
    );
    assert_eq!(locator.calls(), 1);

    let cluster = id("rwm-aur");
    let out = client
        .create_db_cluster()
        .db_cluster_identifier(&cluster)
        .engine("aurora-mysql")
        .master_username("admin")
        .master_user_password("not-used-by-the-test")
        .port(13306)
        .send()
        .await
        .unwrap();
    let made = out.db_cluster.unwrap();
    let found = locator
        .locate(&ManagedDatabase::RdsCluster(made.db_cluster_arn.unwrap()))
        .await
        .unwrap();
    assert_eq!(Some(found.host), made.endpoint);
    assert_eq!((found.port, found.engine.as_str()), (13306, "aurora-mysql"));
    assert_eq!(locator.calls(), 2);
}

/// A tag naming a database that does not exist is an invalid secret naming the tag; an
/// endpoint that does not answer is unreachable; neither leaks anything but the ARN.
#[tokio::test]
async fn a_missing_database_and_an_unreachable_api_are_told_apart() {
    let Some(url) = require_sm_endpoint() else {
        return;
    };
    let missing = ManagedDatabase::RdsInstance(format!(
        "arn:aws:rds:{REGION}:123456789012:db:{}",
        id("rwm-gone")
    ));
    let e = AwsLocator::for_endpoint(&url, REGION)
        .locate(&missing)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSecret, "{e}");
    assert!(e.to_string().contains(RDS_INSTANCE_TAG), "{e}");
    assert!(e.to_string().contains(missing.arn()), "{e}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    #[allow(unused_mut, reason = "one entry without the redshift feature")]
    let mut unanswered = vec![missing.clone()];
    #[cfg(feature = "redshift")]
    unanswered.push(ManagedDatabase::RedshiftCluster(
        "arn:aws:redshift:us-east-1:1:cluster:x".into(),
    ));
    for database in unanswered {
        let e = AwsLocator::for_endpoint(&dead, REGION)
            .locate(&database)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unreachable, "{e}");
    }
}

/// Read replicas and other endpoints of the same database: an RDS read replica of the
/// master's instance; an Aurora reader endpoint, reader instance or writer instance of the
/// master's cluster endpoint; the cluster's endpoints and readers of the master's writer
/// instance. Not: a replica's source (the other direction), a reader's writer, unrelated
/// or unknown hosts.
#[tokio::test]
async fn replicas_and_readers_are_recognised_and_nothing_else() {
    let Some(url) = require_sm_endpoint() else {
        return;
    };
    let client = rds_client(&url);
    let main = id("rwm-main");
    let (_, main_host) = rds_instance(&client, &main, "postgres", 15432).await;
    let replica = id("rwm-replica");
    let replica_host = rds_replica(&client, &replica, &main).await;
    let (_, other_host) = rds_instance(&client, &id("rwm-other"), "postgres", 15432).await;

    let cluster = id("rwm-cl");
    let made = client
        .create_db_cluster()
        .db_cluster_identifier(&cluster)
        .engine("aurora-postgresql")
        .master_username("admin")
        .master_user_password("not-used-by-the-test")
        .send()
        .await
        .unwrap()
        .db_cluster
        .unwrap();
    let (writer, reader) = (id("rwm-w"), id("rwm-r"));
    for member in [&writer, &reader] {
        client
            .create_db_instance()
            .db_instance_identifier(member)
            .engine("aurora-postgresql")
            .db_instance_class("db.r5.large")
            .db_cluster_identifier(&cluster)
            .send()
            .await
            .unwrap();
    }
    let described = client
        .describe_db_clusters()
        .db_cluster_identifier(&cluster)
        .send()
        .await
        .unwrap();
    let members = described.db_clusters()[0].db_cluster_members();
    assert!(
        members
            .iter()
            .any(|m| m.db_instance_identifier() == Some(writer.as_str())
                && m.is_cluster_writer() == Some(true)),
        "{members:?}"
    );
    let (cluster_host, reader_endpoint) = (made.endpoint.unwrap(), made.reader_endpoint.unwrap());
    let (writer_host, reader_host) = (
        rds_address(&client, &writer).await,
        rds_address(&client, &reader).await,
    );
    let unknown = format!("rwm-nosuch.aaaaaaaaaa.{REGION}.rds.amazonaws.com");

    let locator = AwsLocator::for_endpoint(&url, REGION);
    let cases = [
        (&main_host, &replica_host, true),
        (&replica_host, &main_host, false),
        (&main_host, &other_host, false),
        (&main_host, &unknown, false),
        (&cluster_host, &reader_endpoint, true),
        (&cluster_host, &reader_host, true),
        (&cluster_host, &writer_host, true),
        (&writer_host, &cluster_host, true),
        (&writer_host, &reader_host, true),
        (&writer_host, &reader_endpoint, true),
        (&reader_host, &writer_host, false),
        (&main_host, &reader_endpoint, false),
        (&cluster_host, &replica_host, false),
    ];
    for (master, user, want) in cases {
        let got = locator.is_replica(master, user).await.unwrap();
        assert_eq!(got, want, "is {user} a replica of {master}?");
    }
}

#[cfg(feature = "redshift")]
/// A provisioned Redshift cluster's admin secret: `DescribeClusters` by the identifier in
/// the tag's ARN; the engine is `redshift`.
#[tokio::test]
async fn a_redshift_cluster_is_found_from_its_tag_arn() {
    let Some(url) = require_sm_endpoint() else {
        return;
    };
    let config = aws_sdk_redshift::Config::builder()
        .behavior_version(aws_sdk_redshift::config::BehaviorVersion::latest())
        .region(aws_sdk_redshift::config::Region::new(REGION))
        .endpoint_url(&url)
        .credentials_provider(aws_sdk_redshift::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    let redshift = aws_sdk_redshift::Client::from_conf(config);
    let name = id("rwm-rs");
    let made = redshift
        .create_cluster()
        .cluster_identifier(&name)
        .node_type("dc2.large")
        .master_username("admin")
        .master_user_password("NotUsed1")
        .port(15439)
        .send()
        .await
        .unwrap()
        .cluster
        .unwrap();
    let arn = format!("arn:aws:redshift:{REGION}:123456789012:cluster:{name}");
    let locator = AwsLocator::for_endpoint(&url, REGION);
    let found = locator
        .locate(&ManagedDatabase::RedshiftCluster(arn))
        .await
        .unwrap();
    let endpoint = made.endpoint.unwrap();
    assert_eq!(Some(found.host), endpoint.address);
    assert_eq!((found.port, found.engine.as_str()), (15439, "redshift"));

    let e = locator
        .locate(&ManagedDatabase::RedshiftCluster(format!(
            "arn:aws:redshift:{REGION}:123456789012:cluster:{}",
            id("rwm-gone")
        )))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSecret, "{e}");
    assert!(
        e.to_string().contains("aws:redshift:primaryclusterarn"),
        "{e}"
    );
}
