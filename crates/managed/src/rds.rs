//! RDS and Aurora: `DescribeDBInstances` and `DescribeDBClusters`.

use aws_sdk_rds::Client;
use aws_sdk_rds::types::{DbCluster, DbInstance};
use rotwise_db::DbError;
use rotwise_db::managed::{Endpoint, ManagedDatabase, first_label};

use crate::{AwsLocator, api_error, endpoint, not_found};

async fn client(locator: &AwsLocator) -> &Client {
    locator
        .rds
        .get_or_init(|| async { Client::new(locator.config().await) })
        .await
}

pub(crate) async fn locate(
    locator: &AwsLocator,
    database: &ManagedDatabase,
) -> Result<Endpoint, DbError> {
    // The identifier, not the ARN: both are accepted by the service, and the identifier
    // also by emulators.
    let id = database.identifier();
    match database {
        ManagedDatabase::RdsCluster(_) => {
            let Some(cluster) = cluster(locator, id)
                .await
                .map_err(|e| e.unwrap_or_else(|detail| not_found(database, &detail)))?
            else {
                return Err(not_found(database, "no cluster in the answer"));
            };
            let engine = cluster.engine.unwrap_or_default();
            endpoint(database, Some((cluster.endpoint, cluster.port)), engine)
        }
        _ => {
            let Some(instance) = instance(locator, id)
                .await
                .map_err(|e| e.unwrap_or_else(|detail| not_found(database, &detail)))?
            else {
                return Err(not_found(database, "no instance in the answer"));
            };
            let reported = instance.endpoint.map(|e| (e.address, e.port));
            endpoint(database, reported, instance.engine.unwrap_or_default())
        }
    }
}

/// `Err(Err(detail))` is "not found"; `Err(Ok(e))` any other failure.
type Lookup<T> = Result<Option<T>, Result<DbError, String>>;

async fn instance(locator: &AwsLocator, id: &str) -> Lookup<DbInstance> {
    locator.call("rds:DescribeDBInstances", id);
    let out = client(locator)
        .await
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(|e| api_error("rds:DescribeDBInstances", e))?;
    Ok(out.db_instances.unwrap_or_default().into_iter().next())
}

async fn cluster(locator: &AwsLocator, id: &str) -> Lookup<DbCluster> {
    locator.call("rds:DescribeDBClusters", id);
    let out = client(locator)
        .await
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .map_err(|e| api_error("rds:DescribeDBClusters", e))?;
    Ok(out.db_clusters.unwrap_or_default().into_iter().next())
}

pub(crate) async fn is_replica(
    locator: &AwsLocator,
    master_host: &str,
    user_host: &str,
) -> Result<bool, DbError> {
    let (master_id, user_id) = (first_label(master_host), first_label(user_host));
    // An Aurora cluster endpoint (writer `x.cluster-…`): the user is on its reader
    // endpoint or on one of its reader instances.
    if is_cluster_endpoint(master_host) {
        let Some(cluster) = known(cluster(locator, master_id).await)? else {
            return Ok(false);
        };
        return Ok(reader_of(&cluster, user_host, user_id) || member_of(&cluster, user_id));
    }
    let Some(user) = known(instance(locator, user_id).await)? else {
        // Not an instance: perhaps an Aurora reader endpoint of the master's cluster.
        if is_cluster_endpoint(user_host) {
            let Some(cluster) = known(cluster(locator, user_id).await)? else {
                return Ok(false);
            };
            let writer_endpoint = cluster
                .endpoint
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(user_host));
            return Ok(writer_of(&cluster, master_id)
                && (writer_endpoint || reader_of(&cluster, user_host, user_id)));
        }
        return Ok(false);
    };
    // An RDS read replica; a cross-region replica names its source by ARN.
    if let Some(source) = &user.read_replica_source_db_instance_identifier {
        let source = source.rsplit(':').next().unwrap_or(source);
        if source.eq_ignore_ascii_case(master_id) {
            return Ok(true);
        }
    }
    // An Aurora reader instance of the cluster whose writer instance the master names.
    if let Some(cluster_id) = &user.db_cluster_identifier {
        let Some(cluster) = known(cluster(locator, cluster_id).await)? else {
            return Ok(false);
        };
        return Ok(writer_of(&cluster, master_id) && reader_of(&cluster, user_host, user_id));
    }
    Ok(false)
}

/// "Not found" is an answer (`None`) when asking whether a host is a replica.
fn known<T>(lookup: Lookup<T>) -> Result<Option<T>, DbError> {
    match lookup {
        Ok(found) => Ok(found),
        Err(Err(_not_found)) => Ok(None),
        Err(Ok(e)) => Err(e),
    }
}

/// Whether `host` is an Aurora cluster endpoint (`id.cluster-…`, `id.cluster-ro-…`,
/// `id.cluster-custom-…`).
fn is_cluster_endpoint(host: &str) -> bool {
    host.split('.')
        .nth(1)
        .is_some_and(|label| label.to_ascii_lowercase().starts_with("cluster-"))
}

fn reader_of(cluster: &DbCluster, user_host: &str, user_id: &str) -> bool {
    let reader_endpoint = cluster
        .reader_endpoint
        .as_deref()
        .is_some_and(|r| r.eq_ignore_ascii_case(user_host));
    reader_endpoint
        || cluster.db_cluster_members().iter().any(|m| {
            m.is_cluster_writer == Some(false)
                && m.db_instance_identifier
                    .as_deref()
                    .is_some_and(|id| id.eq_ignore_ascii_case(user_id))
        })
}

/// Whether `id` is an instance of `cluster` (writer or reader).
fn member_of(cluster: &DbCluster, id: &str) -> bool {
    cluster.db_cluster_members().iter().any(|m| {
        m.db_instance_identifier
            .as_deref()
            .is_some_and(|i| i.eq_ignore_ascii_case(id))
    })
}

fn writer_of(cluster: &DbCluster, master_id: &str) -> bool {
    cluster
        .db_cluster_identifier
        .as_deref()
        .is_some_and(|id| id.eq_ignore_ascii_case(master_id))
        || cluster.db_cluster_members().iter().any(|m| {
            m.is_cluster_writer == Some(true)
                && m.db_instance_identifier
                    .as_deref()
                    .is_some_and(|id| id.eq_ignore_ascii_case(master_id))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_endpoints_are_told_from_instance_endpoints() {
        assert!(is_cluster_endpoint(
            "aur.cluster-abc.us-east-1.rds.amazonaws.com"
        ));
        assert!(is_cluster_endpoint(
            "aur.cluster-ro-abc.us-east-1.rds.amazonaws.com"
        ));
        assert!(!is_cluster_endpoint(
            "aur-w.abc.us-east-1.rds.amazonaws.com"
        ));
        assert!(!is_cluster_endpoint(
            "cluster-1.abc.us-east-1.rds.amazonaws.com"
        ));
    }
}
