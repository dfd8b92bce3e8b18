//! Master secrets that RDS, Aurora or Redshift manage: where their database is.
//!
//! Since 2022 RDS (and Redshift, for its admin user) can keep a master password in a
//! secret it rotates itself (`rds!db-…`, `rds!cluster-…`, `redshift!…`). Such a secret
//! holds only `username` and `password`; what names its database is a system tag the
//! service sets on the secret. The alternating strategy logs in with the master, so it
//! needs the host, port and engine: [`DbRotator`](crate::DbRotator) reads the master's
//! tags (one `DescribeSecret`) when the master secret has no `host`, finds the database
//! in them ([`ManagedDatabase::from_tags`]) and asks a [`Locator`] (one call to the
//! service's API) where it is. The AWS implementation is the `rotwise-managed` crate;
//! this module has no AWS dependency, so a test can answer with a fake.
//!
//! The same [`Locator`] tells whether a user secret's host is a read replica of the
//! master's database ([`Locator::is_replica`]): such a user is rotated through the writer,
//! as AWS's functions do.
//!
//! ```
//! use std::collections::BTreeMap;
//! use rotwise_db::managed::{ManagedDatabase, RDS_INSTANCE_TAG};
//!
//! let tags = BTreeMap::from([
//!     ("Team".to_string(), "payments".to_string()),
//!     (RDS_INSTANCE_TAG.to_string(), "arn:aws:rds:eu-west-1:123456789012:db:orders".to_string()),
//! ]);
//! let db = ManagedDatabase::from_tags(&tags).unwrap().unwrap();
//! assert_eq!(db, ManagedDatabase::RdsInstance("arn:aws:rds:eu-west-1:123456789012:db:orders".into()));
//! assert_eq!(db.identifier(), "orders");
//! assert!(ManagedDatabase::from_tags(&BTreeMap::new()).unwrap().is_none());
//! ```

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use rotwise_core::ErrorKind;

use crate::error::DbError;

/// The tag RDS sets on the master secret of a DB instance: the instance's ARN.
pub const RDS_INSTANCE_TAG: &str = "aws:rds:primarydbinstancearn";
/// The tag RDS sets on the master secret of an Aurora (or Multi-AZ) DB cluster.
pub const RDS_CLUSTER_TAG: &str = "aws:rds:primarydbclusterarn";
/// The tag Redshift sets on the admin secret of a provisioned cluster.
pub const REDSHIFT_CLUSTER_TAG: &str = "aws:redshift:primaryclusterarn";
/// The tag Redshift Serverless sets on the admin secret of a namespace.
pub const REDSHIFT_SERVERLESS_TAG: &str = "aws:redshift-serverless:namespacearn";
/// The tags, in the order they are looked for.
pub const TAGS: [&str; 4] = [
    RDS_INSTANCE_TAG,
    RDS_CLUSTER_TAG,
    REDSHIFT_CLUSTER_TAG,
    REDSHIFT_SERVERLESS_TAG,
];
/// The longest ARN a tag may carry (AWS's functions refuse longer ones, as the APIs do).
pub const MAX_ARN_LENGTH: usize = 256;

/// The database a managed master secret belongs to, by the ARN in its system tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManagedDatabase {
    /// An RDS DB instance ([`RDS_INSTANCE_TAG`]).
    RdsInstance(String),
    /// An Aurora or Multi-AZ DB cluster ([`RDS_CLUSTER_TAG`]).
    RdsCluster(String),
    /// A provisioned Redshift cluster ([`REDSHIFT_CLUSTER_TAG`]).
    RedshiftCluster(String),
    /// A Redshift Serverless namespace ([`REDSHIFT_SERVERLESS_TAG`]).
    RedshiftServerless(String),
}

impl ManagedDatabase {
    /// The database named by `tags` (keys compared without case, as AWS's functions do),
    /// `Ok(None)` when no tag names one.
    ///
    /// # Errors
    ///
    /// A tag whose value is empty or longer than [`MAX_ARN_LENGTH`].
    pub fn from_tags(tags: &BTreeMap<String, String>) -> Result<Option<Self>, DbError> {
        for wanted in TAGS {
            let Some((key, arn)) = tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(wanted)) else {
                continue;
            };
            let arn = arn.trim();
            if arn.is_empty() || arn.len() > MAX_ARN_LENGTH {
                return Err(DbError::rejected(
                    ErrorKind::InvalidSecret,
                    format!(
                        "the master secret has the tag {key}, but its value is not an ARN of at most \
                         {MAX_ARN_LENGTH} characters ({} characters)",
                        arn.len()
                    ),
                ));
            }
            let arn = arn.to_string();
            return Ok(Some(match wanted {
                RDS_INSTANCE_TAG => ManagedDatabase::RdsInstance(arn),
                RDS_CLUSTER_TAG => ManagedDatabase::RdsCluster(arn),
                REDSHIFT_CLUSTER_TAG => ManagedDatabase::RedshiftCluster(arn),
                _ => ManagedDatabase::RedshiftServerless(arn),
            }));
        }
        Ok(None)
    }

    /// The ARN from the tag.
    pub fn arn(&self) -> &str {
        match self {
            ManagedDatabase::RdsInstance(arn)
            | ManagedDatabase::RdsCluster(arn)
            | ManagedDatabase::RedshiftCluster(arn)
            | ManagedDatabase::RedshiftServerless(arn) => arn,
        }
    }

    /// The resource's identifier: the ARN's last `:` or `/` field (an instance's or
    /// cluster's identifier, a namespace's id).
    pub fn identifier(&self) -> &str {
        let arn = self.arn();
        arn.rsplit([':', '/']).next().unwrap_or(arn)
    }

    /// The tag the ARN came from.
    pub fn tag(&self) -> &'static str {
        match self {
            ManagedDatabase::RdsInstance(_) => RDS_INSTANCE_TAG,
            ManagedDatabase::RdsCluster(_) => RDS_CLUSTER_TAG,
            ManagedDatabase::RedshiftCluster(_) => REDSHIFT_CLUSTER_TAG,
            ManagedDatabase::RedshiftServerless(_) => REDSHIFT_SERVERLESS_TAG,
        }
    }
}

impl fmt::Display for ManagedDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            ManagedDatabase::RdsInstance(_) => "RDS DB instance",
            ManagedDatabase::RdsCluster(_) => "RDS DB cluster",
            ManagedDatabase::RedshiftCluster(_) => "Redshift cluster",
            ManagedDatabase::RedshiftServerless(_) => "Redshift Serverless namespace",
        };
        write!(f, "{what} {}", self.arn())
    }
}

/// Where a database answers: what a managed master secret lacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The endpoint's DNS name (a cluster's writer endpoint).
    pub host: String,
    /// Its port.
    pub port: u16,
    /// The engine as the service names it (`postgres`, `aurora-mysql`, …; `redshift` for
    /// Redshift, whose API implies it).
    pub engine: String,
}

/// Answers where a managed database is, from the API of the service that manages it.
///
/// Implemented over the AWS SDK by `rotwise-managed`; every call is a read.
#[async_trait]
pub trait Locator: Send + Sync {
    /// The endpoint of `database` (a cluster's writer endpoint).
    ///
    /// # Errors
    ///
    /// The database is not found, the API refused the call or could not be reached; the
    /// message names the API call and what to do.
    async fn locate(&self, database: &ManagedDatabase) -> Result<Endpoint, DbError>;

    /// Whether `user_host` reaches the database the master reaches at `master_host`, or a
    /// read replica of it: an RDS read replica of that instance; the reader endpoint, a
    /// reader instance or the writer instance of that Aurora cluster; that cluster's
    /// endpoints when the master names its writer instance. Asked only when the two hosts
    /// differ and both are RDS endpoint names.
    ///
    /// # Errors
    ///
    /// As [`Locator::locate`].
    async fn is_replica(&self, master_host: &str, user_host: &str) -> Result<bool, DbError>;
}

/// The engine value a secret takes for an engine name RDS reports (`aurora`, Aurora MySQL
/// 5.6's old name, is `aurora-mysql`; the rest as reported).
pub fn secret_engine(rds_engine: &str) -> &str {
    match rds_engine {
        "aurora" => "aurora-mysql",
        other => other,
    }
}

/// The first DNS label of an endpoint name: an RDS instance's or cluster's identifier.
pub fn first_label(host: &str) -> &str {
    host.split('.').next().unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn each_tag_names_its_kind_of_database_and_keys_ignore_case() {
        let arn = "arn:aws:rds:us-east-1:1:cluster:orders";
        let cases = [
            (
                "aws:rds:primaryDBInstanceArn",
                ManagedDatabase::RdsInstance(arn.into()),
            ),
            (
                "AWS:RDS:PRIMARYDBCLUSTERARN",
                ManagedDatabase::RdsCluster(arn.into()),
            ),
            (
                "aws:redshift:primaryclusterarn",
                ManagedDatabase::RedshiftCluster(arn.into()),
            ),
            (
                "aws:redshift-serverless:namespaceArn",
                ManagedDatabase::RedshiftServerless(arn.into()),
            ),
        ];
        for (key, want) in cases {
            let got = ManagedDatabase::from_tags(&tags(&[("other", "x"), (key, arn)]));
            assert_eq!(got.unwrap(), Some(want), "{key}");
        }
        let none = ManagedDatabase::from_tags(&tags(&[("aws:rds:other", arn)])).unwrap();
        assert_eq!(none, None);
    }

    #[test]
    fn an_empty_or_overlong_arn_is_refused_naming_the_tag() {
        let long = format!("arn:aws:rds:us-east-1:1:db:{}", "x".repeat(MAX_ARN_LENGTH));
        for value in ["", "  ", long.as_str()] {
            let e = ManagedDatabase::from_tags(&tags(&[(RDS_INSTANCE_TAG, value)])).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidSecret);
            assert!(e.to_string().contains(RDS_INSTANCE_TAG), "{e}");
        }
        let exact = format!("arn:{}", "x".repeat(MAX_ARN_LENGTH - 4));
        assert!(ManagedDatabase::from_tags(&tags(&[(RDS_INSTANCE_TAG, &exact)])).is_ok());
    }

    #[test]
    fn identifiers_come_from_the_arn() {
        let ns = ManagedDatabase::RedshiftServerless(
            "arn:aws:redshift-serverless:us-east-1:1:namespace/6a4c-11".into(),
        );
        assert_eq!(ns.identifier(), "6a4c-11");
        assert_eq!(
            ManagedDatabase::RdsCluster("aur".into()).identifier(),
            "aur"
        );
        assert_eq!(
            first_label("pgmain.abc.us-east-1.rds.amazonaws.com"),
            "pgmain"
        );
        assert_eq!(secret_engine("aurora"), "aurora-mysql");
        assert_eq!(secret_engine("postgres"), "postgres");
    }
}
