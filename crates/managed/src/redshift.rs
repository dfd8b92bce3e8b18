//! Redshift (`DescribeClusters`) and Redshift Serverless (`ListNamespaces`,
//! `ListWorkgroups`).

use rotwise_db::DbError;
use rotwise_db::managed::{Endpoint, ManagedDatabase};

use crate::{AwsLocator, api_error, endpoint, not_found};

/// The engine a Redshift admin secret is for (its API implies it; AWS's function sets it).
const ENGINE: &str = "redshift";

pub(crate) async fn locate(
    locator: &AwsLocator,
    database: &ManagedDatabase,
) -> Result<Endpoint, DbError> {
    match database {
        ManagedDatabase::RedshiftServerless(arn) => serverless(locator, database, arn).await,
        _ => cluster(locator, database).await,
    }
}

async fn cluster(locator: &AwsLocator, database: &ManagedDatabase) -> Result<Endpoint, DbError> {
    let id = database.identifier();
    let client = locator
        .redshift
        .get_or_init(|| async { aws_sdk_redshift::Client::new(locator.config().await) })
        .await;
    locator.call("redshift:DescribeClusters", id);
    let out = client
        .describe_clusters()
        .cluster_identifier(id)
        .send()
        .await
        .map_err(|e| {
            api_error("redshift:DescribeClusters", e)
                .unwrap_or_else(|detail| not_found(database, &detail))
        })?;
    let Some(cluster) = out.clusters.unwrap_or_default().into_iter().next() else {
        return Err(not_found(database, "no cluster in the answer"));
    };
    let reported = cluster.endpoint.map(|e| (e.address, e.port));
    endpoint(database, reported, ENGINE.into())
}

/// The namespace's name (ListNamespaces, matched by ARN), then the workgroup serving that
/// namespace (ListWorkgroups), every page read.
async fn serverless(
    locator: &AwsLocator,
    database: &ManagedDatabase,
    arn: &str,
) -> Result<Endpoint, DbError> {
    let client = locator
        .serverless
        .get_or_init(|| async { aws_sdk_redshiftserverless::Client::new(locator.config().await) })
        .await;
    let mut token = None;
    let name = loop {
        locator.call("redshift-serverless:ListNamespaces", arn);
        let out = client
            .list_namespaces()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| {
                api_error("redshift-serverless:ListNamespaces", e)
                    .unwrap_or_else(|detail| not_found(database, &detail))
            })?;
        let name = out
            .namespaces
            .iter()
            .find(|n| n.namespace_arn.as_deref() == Some(arn))
            .and_then(|n| n.namespace_name.clone());
        token = out.next_token;
        if name.is_some() || token.is_none() {
            break name;
        }
    };
    let Some(name) = name else {
        return Err(not_found(
            database,
            "no namespace with that ARN in ListNamespaces",
        ));
    };
    let mut token = None;
    loop {
        locator.call("redshift-serverless:ListWorkgroups", &name);
        let out = client
            .list_workgroups()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| {
                api_error("redshift-serverless:ListWorkgroups", e)
                    .unwrap_or_else(|detail| not_found(database, &detail))
            })?;
        if let Some(workgroup) = out
            .workgroups
            .into_iter()
            .find(|w| w.namespace_name.as_deref() == Some(name.as_str()))
        {
            let reported = workgroup.endpoint.map(|e| (e.address, e.port));
            return endpoint(database, reported, ENGINE.into());
        }
        token = out.next_token;
        if token.is_none() {
            return Err(not_found(
                database,
                &format!("no workgroup serves namespace {name} in ListWorkgroups"),
            ));
        }
    }
}
