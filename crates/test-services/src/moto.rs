//! moto's RDS (the server `scripts/services up` runs serves every API it emulates on one
//! port): make the DB instances and read replicas a test then looks up, through the SDK the
//! functions use. moto gives instances the host name `<id>.aaaaaaaaaa.<region>.rds.amazonaws.com`.

use aws_sdk_rds::Client;
use aws_sdk_rds::config::{BehaviorVersion, Credentials, Region};

/// The region every helper here uses.
pub const REGION: &str = "us-east-1";

/// An RDS client for moto at `url` (static test credentials, [`REGION`]).
pub fn rds_client(url: &str) -> Client {
    let config = aws_sdk_rds::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    Client::from_conf(config)
}

/// A DB instance `id` of `engine` answering on `port`: its ARN and endpoint address.
///
/// # Panics
///
/// When moto refuses (a test helper).
pub async fn rds_instance(rds: &Client, id: &str, engine: &str, port: u16) -> (String, String) {
    let made = rds
        .create_db_instance()
        .db_instance_identifier(id)
        .engine(engine)
        // moto knows no default version for MariaDB; the test servers are 15 and 10.11.
        .engine_version(if engine == "mariadb" {
            "10.11.9"
        } else {
            "15.7"
        })
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("admin")
        .master_user_password("not-used-by-the-test")
        .port(i32::from(port))
        .send()
        .await
        .unwrap_or_else(|e| panic!("moto CreateDBInstance {id}: {e:?}"))
        .db_instance
        .expect("moto answers with the instance");
    let address = made.endpoint.and_then(|e| e.address);
    (
        made.db_instance_arn.expect("DBInstanceArn"),
        address.expect("Endpoint.Address"),
    )
}

/// A read replica `id` of instance `source`: its endpoint address.
///
/// # Panics
///
/// When moto refuses (a test helper).
pub async fn rds_replica(rds: &Client, id: &str, source: &str) -> String {
    rds.create_db_instance_read_replica()
        .db_instance_identifier(id)
        .source_db_instance_identifier(source)
        .send()
        .await
        .unwrap_or_else(|e| panic!("moto CreateDBInstanceReadReplica {id}: {e:?}"));
    rds_address(rds, id).await
}

/// The endpoint address of instance `id`.
///
/// # Panics
///
/// When moto does not know it (a test helper).
pub async fn rds_address(rds: &Client, id: &str) -> String {
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("moto DescribeDBInstances {id}: {e:?}"));
    out.db_instances()
        .first()
        .and_then(|i| i.endpoint.as_ref())
        .and_then(|e| e.address.clone())
        .expect("Endpoint.Address")
}
