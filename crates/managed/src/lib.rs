//! Where the database of a master secret RDS, Aurora or Redshift manages is: the
//! [`rotwise_db::managed::Locator`] over the AWS APIs.
//!
//! A master secret the service manages (`rds!db-…`, `rds!cluster-…`, `redshift!…`) holds
//! only `username` and `password`; its system tag names the database
//! ([`rotwise_db::managed`]). [`AwsLocator`] asks the service where that database answers:
//!
//! | tag | call | read |
//! |---|---|---|
//! | `aws:rds:primarydbinstancearn` | `rds:DescribeDBInstances` | `Endpoint.Address`, `Endpoint.Port`, `Engine` |
//! | `aws:rds:primarydbclusterarn` | `rds:DescribeDBClusters` | `Endpoint` (the writer), `Port`, `Engine` |
//! | `aws:redshift:primaryclusterarn` | `redshift:DescribeClusters` | `Endpoint.Address`, `Endpoint.Port` |
//! | `aws:redshift-serverless:namespacearn` | `redshift-serverless:ListNamespaces`, `ListWorkgroups` | the namespace's workgroup's `endpoint` |
//!
//! and, for a user whose host is not the master's, whether it is a read replica of the
//! master's database ([`Locator::is_replica`]: an instance's
//! `ReadReplicaSourceDBInstanceIdentifier`, an Aurora cluster's `ReaderEndpoint` or a
//! member with `IsClusterWriter: false`).
//!
//! Features: `rds` (default; the PostgreSQL and MySQL functions) and `redshift` (the
//! Redshift function). A tag of a service left out is refused with a message naming the
//! function to use. Every call is a read; the SDK configuration is loaded on the first call
//! (the standard chain, honouring `AWS_ENDPOINT_URL_RDS`, `AWS_ENDPOINT_URL_REDSHIFT`,
//! `AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS`), so a function's start makes no network call.
//!
//! ```no_run
//! use std::sync::Arc;
//! use rotwise_db::managed::{Locator, ManagedDatabase};
//! use rotwise_managed::AwsLocator;
//!
//! # async fn demo() -> Result<(), rotwise_db::DbError> {
//! let locator = AwsLocator::for_endpoint("http://127.0.0.1:50009", "us-east-1");
//! let db = ManagedDatabase::RdsInstance("arn:aws:rds:us-east-1:123456789012:db:orders".into());
//! let endpoint = locator.locate(&db).await?;
//! println!("{}:{} ({})", endpoint.host, endpoint.port, endpoint.engine);
//! # Ok(()) }
//! ```
//!
//! A rotator uses it through [`rotwise_db::DbRotator::with_locator`]:
//! `PgRotator::from_env(env)?.with_locator(Arc::new(AwsLocator::from_env()))`.

// Built with neither feature, the crate locates nothing: its helpers go unused.
#![cfg_attr(
    not(any(feature = "rds", feature = "redshift")),
    allow(dead_code, reason = "no service feature")
)]

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rotwise_core::ErrorKind;
use rotwise_db::DbError;
use rotwise_db::managed::{Endpoint, Locator, ManagedDatabase};
use tokio::sync::OnceCell;

#[cfg(feature = "rds")]
mod rds;
#[cfg(feature = "redshift")]
mod redshift;

/// The [`Locator`] over the AWS SDK (see the crate docs).
pub struct AwsLocator {
    config: OnceCell<SdkConfig>,
    calls: AtomicU64,
    #[cfg(feature = "rds")]
    rds: OnceCell<aws_sdk_rds::Client>,
    #[cfg(feature = "redshift")]
    redshift: OnceCell<aws_sdk_redshift::Client>,
    #[cfg(feature = "redshift")]
    serverless: OnceCell<aws_sdk_redshiftserverless::Client>,
}

impl std::fmt::Debug for AwsLocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsLocator")
            .field("configured", &self.config.initialized())
            .field("calls", &self.calls())
            .finish()
    }
}

impl AwsLocator {
    fn with(config: OnceCell<SdkConfig>) -> Self {
        AwsLocator {
            config,
            calls: AtomicU64::new(0),
            #[cfg(feature = "rds")]
            rds: OnceCell::new(),
            #[cfg(feature = "redshift")]
            redshift: OnceCell::new(),
            #[cfg(feature = "redshift")]
            serverless: OnceCell::new(),
        }
    }

    /// A locator configured like the AWS SDKs (region, credentials, endpoint URLs from the
    /// standard chain), loaded on the first call.
    pub fn from_env() -> Self {
        Self::with(OnceCell::new())
    }

    /// A locator over `config`.
    pub fn with_config(config: SdkConfig) -> Self {
        Self::with(OnceCell::new_with(Some(config)))
    }

    /// A locator for a local or test endpoint serving every service it calls (moto):
    /// static credentials (`test`/`test`), the given region and URL, nothing read from
    /// the environment.
    pub fn for_endpoint(url: impl Into<String>, region: impl Into<String>) -> Self {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.into()))
            .endpoint_url(url.into())
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "test",
                "test",
                None,
                None,
                "rotwise-static",
            )))
            .build();
        Self::with_config(config)
    }

    /// How many AWS API calls this locator has made (for tests and the benchmark).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    async fn config(&self) -> &SdkConfig {
        self.config
            .get_or_init(|| aws_config::defaults(BehaviorVersion::latest()).load())
            .await
    }

    /// Count and log one call.
    fn call(&self, api: &'static str, target: &str) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(api, target, "AWS API call");
    }
}

/// A service this build leaves out (see the crate's features).
#[cfg_attr(
    all(feature = "rds", feature = "redshift"),
    allow(dead_code, reason = "every service is built")
)]
fn not_built(database: &ManagedDatabase, function: &str) -> DbError {
    DbError::rejected(
        ErrorKind::Configuration,
        format!(
            "the master secret belongs to the {database}, and this function does not read that \
             service's API: rotate it with the {function} function"
        ),
    )
}

/// An API call that failed, as a [`DbError`] of the right kind naming the call and what
/// to do. `None` for a "not found" answer, which each caller words itself.
fn api_error<E, R>(call: &str, error: SdkError<E, R>) -> Result<DbError, String>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = error.code().unwrap_or_default().to_string();
    let detail = DisplayErrorContext(&error).to_string();
    let (kind, hint) = match &error {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => (
            ErrorKind::Unreachable,
            "the service's endpoint did not answer: a function in a VPC needs a NAT gateway or an \
             interface endpoint for it",
        ),
        _ if code.contains("NotFound") => return Err(detail),
        _ if code.contains("AccessDenied") || code.contains("Unauthorized") => (
            ErrorKind::Permission,
            "allow this call to the function's role (the templates in deploy/ do)",
        ),
        _ => (
            ErrorKind::Internal,
            "retry; if it persists, see the service's error code",
        ),
    };
    Ok(DbError::rejected(
        kind,
        format!("{call} failed: {detail}; {hint}"),
    ))
}

#[async_trait]
impl Locator for AwsLocator {
    async fn locate(&self, database: &ManagedDatabase) -> Result<Endpoint, DbError> {
        match database {
            #[cfg(feature = "rds")]
            ManagedDatabase::RdsInstance(_) | ManagedDatabase::RdsCluster(_) => {
                rds::locate(self, database).await
            }
            #[cfg(not(feature = "rds"))]
            ManagedDatabase::RdsInstance(_) | ManagedDatabase::RdsCluster(_) => {
                Err(not_built(database, "PostgreSQL or MySQL"))
            }
            #[cfg(feature = "redshift")]
            ManagedDatabase::RedshiftCluster(_) | ManagedDatabase::RedshiftServerless(_) => {
                redshift::locate(self, database).await
            }
            #[cfg(not(feature = "redshift"))]
            ManagedDatabase::RedshiftCluster(_) | ManagedDatabase::RedshiftServerless(_) => {
                Err(not_built(database, "Redshift"))
            }
        }
    }

    async fn is_replica(&self, master_host: &str, user_host: &str) -> Result<bool, DbError> {
        #[cfg(feature = "rds")]
        return rds::is_replica(self, master_host, user_host).await;
        #[cfg(not(feature = "rds"))]
        {
            let _ = (master_host, user_host);
            Ok(false)
        }
    }
}

/// A database the tag names but the service does not find.
fn not_found(database: &ManagedDatabase, detail: &str) -> DbError {
    DbError::rejected(
        ErrorKind::InvalidSecret,
        format!(
            "the master secret has the tag {}, but the service does not find the {database} it \
             names ({detail}): the database was deleted or renamed, or the function runs in \
             another account or region",
            database.tag()
        ),
    )
}

/// The endpoint the service reported for `database`: its `(address, port)` as the API
/// answers them, `None` when it has none (still being created, or stopped).
fn endpoint(
    database: &ManagedDatabase,
    reported: Option<(Option<String>, Option<i32>)>,
    engine: String,
) -> Result<Endpoint, DbError> {
    let (address, port) = reported.ok_or_else(|| no_endpoint(database, "no endpoint"))?;
    Ok(Endpoint {
        host: address.ok_or_else(|| no_endpoint(database, "no endpoint address"))?,
        port: port
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .ok_or_else(|| no_endpoint(database, "no port"))?,
        engine,
    })
}

/// A database without an endpoint yet (creating, or stopped).
fn no_endpoint(database: &ManagedDatabase, what: &str) -> DbError {
    DbError::rejected(
        ErrorKind::Unreachable,
        format!(
            "the service reports {what} for the {database} (is it still being created, or \
             stopped?): rotate again once it is available"
        ),
    )
}
