//! [`AwsStore`]: the [`SecretStore`] trait over `aws-sdk-secretsmanager`.
//!
//! Each trait method is exactly one Secrets Manager API call, with one documented
//! exception: [`SecretStore::list_secret_version_ids`] follows `NextToken` until the
//! listing is complete (a secret rarely has more than one page of versions, and a
//! partial listing would be wrong rather than cheaper). The SDK's own retry policy
//! (standard mode: throttling and transient errors) stays on; it only repeats calls
//! whose outcome it did not see, and every call here is idempotent for the same input.
//!
//! # Endpoints and credentials
//!
//! - [`AwsStore::from_env`]: the standard AWS chain (`aws_config::defaults`), and, when
//!   `SECRETS_MANAGER_ENDPOINT` is set and non-empty, that URL as the endpoint, the same
//!   variable AWS's rotation functions read (VPC endpoints, local endpoints).
//! - [`AwsStore::for_endpoint`]: tests and local endpoints (moto, the test kit's
//!   endpoint): static credentials, an explicit region, an explicit URL. It does not
//!   touch `aws-config`, so nothing probes instance metadata or any other address.
//! - [`AwsStore::new`]: any client you built yourself.
//!
//! Building a store does no network I/O; the first call connects.
//!
//! # Errors
//!
//! Service errors map by their `__type` (`ProvideErrorMetadata::code`) onto
//! [`StoreErrorKind`]; connection failures and timeouts become
//! [`StoreErrorKind::Transport`] with a message naming the endpoint that could not be
//! reached. No message is built from a request's input, so no secret value can end up
//! in one. The SDK's request/response `Debug` output redacts secret fields (the value and
//! `RotationToken`), and it logs HTTP bodies only when `LOG_SENSITIVE_BODIES` is set; at
//! TRACE the smithy runtime still logs request details, so rotwise's binaries cap every
//! `aws_*` target at INFO (`rotwise_lambda::logging`, the CLI's logging).
//!
//! # Differences from the service this store papers over
//!
//! - `GetSecretValue` with neither a version id nor a stage is sent with
//!   `VersionStage=AWSCURRENT`: the service's default, made explicit because moto can
//!   return a stale version otherwise (moto difference 1 in the test kit's contract).
//!
//! ```no_run
//! use rotwise_core::store::{AwsStore, SecretStore, AWSCURRENT};
//! # async fn demo() -> Result<(), rotwise_core::store::StoreError> {
//! let store = AwsStore::for_endpoint("http://127.0.0.1:50009", "us-east-1");
//! let described = store.describe_secret("app/db").await?;
//! println!("current version: {:?}", described.version_with_stage(AWSCURRENT));
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::Region;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::primitives::{Blob, DateTime};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use time::OffsetDateTime;

use super::{
    AWSCURRENT, CreateSecret, PutOutput, PutSecretValue, SecretDescription, SecretPayload,
    SecretStore, SecretVersion, StoreError, StoreErrorKind, UpdateVersionStage, VersionSummary,
};
use crate::password::PasswordPolicy;

/// The environment variable AWS's rotation functions read for the Secrets Manager
/// endpoint URL.
/// What [`AwsStore::rotate_secret_with`] sets up besides starting a rotation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RotationSetup {
    /// `RotationLambdaARN`: the rotation function.
    pub lambda_arn: Option<String>,
    /// `RotationRules.AutomaticallyAfterDays`.
    pub every_days: Option<i64>,
    /// `RotationRules.ScheduleExpression` (`rate(…)` or `cron(…)`).
    pub schedule: Option<String>,
}

/// How a Secrets Manager call that never got an answer (DNS, TCP, TLS or a timeout)
/// starts its message: in a Lambda, almost always a VPC without a route to the service.
pub const SM_UNREACHABLE: &str = "Secrets Manager unreachable from the function's network";

pub const ENDPOINT_ENV: &str = "SECRETS_MANAGER_ENDPOINT";

/// How many `ListSecretVersionIds` pages to follow before giving up: a guard against an
/// endpoint that keeps answering with a `NextToken` (the service caps versions per
/// secret at about 100, i.e. one or two pages).
const MAX_LIST_PAGES: usize = 100;

/// An [`AwsStore`] configured ([`AwsStore::from_env`]) on its first call rather than when
/// built.
///
/// Loading the SDK configuration (credential chain, HTTPS client with its root
/// certificates) takes a few milliseconds of CPU; a Lambda that builds its store at init
/// pays it on the first invocation instead, once, and no call reaches the network before
/// an invocation either way.
pub type LazyAwsStore = super::Layered<LazyAws>;

impl LazyAwsStore {
    /// A store that loads its configuration on first use.
    pub fn new() -> Self {
        super::Layered(LazyAws::default())
    }
}

/// The layer behind [`LazyAwsStore`].
#[derive(Debug, Default)]
pub struct LazyAws {
    store: tokio::sync::OnceCell<std::sync::Arc<AwsStore>>,
}

impl super::StoreLayer for LazyAws {
    fn around<'a, T: Send + 'a>(
        &'a self,
        _op: super::Operation,
        call: super::StoreCall<'a, T>,
    ) -> super::StoreFuture<'a, T> {
        Box::pin(async move {
            let store = self
                .store
                .get_or_init(|| async { std::sync::Arc::new(AwsStore::from_env().await) })
                .await
                .clone();
            call(store).await
        })
    }
}

/// A [`SecretStore`] backed by the AWS SDK's Secrets Manager client.
///
/// Cheap to clone (the SDK client is reference counted); build it once per process
/// and reuse it across invocations so connections are kept alive.
#[derive(Clone)]
pub struct AwsStore {
    client: Client,
    /// Where calls go, for transport error messages ("could not reach ...").
    endpoint: String,
}

impl fmt::Debug for AwsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsStore")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl AwsStore {
    /// A store over a client you configured yourself.
    pub fn new(client: Client) -> Self {
        let endpoint = match client.config().region() {
            Some(region) => format!("the Secrets Manager endpoint of region {region}"),
            None => "the Secrets Manager endpoint (no region configured)".to_string(),
        };
        AwsStore { client, endpoint }
    }

    /// A store configured like the AWS SDKs: region, credentials and endpoint from the
    /// standard chain (environment, profile, web identity, container, instance
    /// metadata), and `SECRETS_MANAGER_ENDPOINT` as the endpoint URL when it is set and
    /// non-empty. Loading the chain does not call Secrets Manager.
    pub async fn from_env() -> Self {
        let sdk_config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let mut builder = aws_sdk_secretsmanager::config::Builder::from(&sdk_config);
        let endpoint = std::env::var(ENDPOINT_ENV)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty());
        if let Some(url) = &endpoint {
            builder = builder.endpoint_url(url.clone());
        }
        let client = Client::from_conf(builder.build());
        let mut store = Self::new(client);
        if let Some(url) = endpoint {
            store.endpoint = format!("{url} (from {ENDPOINT_ENV})");
        }
        store
    }

    /// A store for a local or test endpoint: static credentials (`test`/`test`), the
    /// given region and endpoint URL. Nothing else is consulted (no environment, no
    /// profile, no instance metadata), so no address but `url` is ever contacted.
    pub fn for_endpoint(url: impl Into<String>, region: impl Into<String>) -> Self {
        let url = url.into();
        let conf = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.into()))
            .endpoint_url(url.clone())
            .credentials_provider(Credentials::new(
                "test",
                "test",
                None,
                None,
                "rotwise-static",
            ))
            .build();
        AwsStore {
            client: Client::from_conf(conf),
            endpoint: url,
        }
    }

    /// The SDK client, for calls this trait does not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `RotateSecret` with `RotateImmediately`: the service adds the AWSPENDING version
    /// and invokes the secret's rotation function, which runs the four steps. Returns the
    /// new version id. Not part of [`SecretStore`]: locally, `MemoryStore::begin_rotation`
    /// plays this part and the caller drives the steps.
    pub async fn rotate_secret(&self, secret_id: &str) -> Result<String, StoreError> {
        self.rotate_secret_with(secret_id, &RotationSetup::default())
            .await
    }

    /// `ListSecrets` with `filters` (key, values: `name`, `tag-key`, `tag-value`, …, each
    /// value a prefix, as the service matches them), every page: each secret's name and
    /// tags.
    pub async fn list_secrets(
        &self,
        filters: &[(&str, Vec<String>)],
    ) -> Result<Vec<(String, BTreeMap<String, String>)>, StoreError> {
        const OP: &str = "ListSecrets";
        let filters: Vec<aws_sdk_secretsmanager::types::Filter> = filters
            .iter()
            .map(|(key, values)| {
                aws_sdk_secretsmanager::types::Filter::builder()
                    .key(aws_sdk_secretsmanager::types::FilterNameStringType::from(
                        *key,
                    ))
                    .set_values(Some(values.clone()))
                    .build()
            })
            .collect();
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .client
                .list_secrets()
                .set_filters((!filters.is_empty()).then(|| filters.clone()))
                .max_results(100)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| self.map_err(OP, e))?;
            for entry in page.secret_list() {
                let Some(name) = entry.name() else { continue };
                let tags = entry
                    .tags()
                    .iter()
                    .filter_map(|t| {
                        Some((t.key()?.to_string(), t.value().unwrap_or("").to_string()))
                    })
                    .collect();
                out.push((name.to_string(), tags));
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// [`AwsStore::rotate_secret`], also setting up rotation: `RotationLambdaARN` and
    /// `RotationRules` (`AutomaticallyAfterDays` or `ScheduleExpression`) from `setup`,
    /// which turns rotation on for a secret that had none.
    pub async fn rotate_secret_with(
        &self,
        secret_id: &str,
        setup: &RotationSetup,
    ) -> Result<String, StoreError> {
        const OP: &str = "RotateSecret";
        let mut request = self
            .client
            .rotate_secret()
            .secret_id(secret_id)
            .rotate_immediately(true)
            .set_rotation_lambda_arn(setup.lambda_arn.clone());
        if setup.every_days.is_some() || setup.schedule.is_some() {
            request = request.rotation_rules(
                aws_sdk_secretsmanager::types::RotationRulesType::builder()
                    .set_automatically_after_days(setup.every_days)
                    .set_schedule_expression(setup.schedule.clone())
                    .build(),
            );
        }
        let out = request.send().await.map_err(|e| self.map_err(OP, e))?;
        out.version_id.ok_or_else(|| missing_field(OP, "VersionId"))
    }

    /// Map an SDK error onto a [`StoreError`]. Never formats the request input.
    fn map_err<E, R>(&self, operation: &'static str, err: SdkError<E, R>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug,
        SdkError<E, R>: std::error::Error + 'static,
    {
        match &err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                service_error(operation, e.code(), e.message())
            }
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => StoreError::new(
                StoreErrorKind::Transport,
                operation,
                format!(
                    "{SM_UNREACHABLE}: could not reach {}: {}. A function in a VPC needs a \
                     Secrets Manager interface endpoint (the templates' \
                     CreateSecretsManagerEndpoint) or a NAT gateway, and its security group \
                     must allow HTTPS out; check {ENDPOINT_ENV} (or the standard AWS endpoint \
                     settings). See the troubleshooting page, \"Secrets Manager unreachable\"",
                    self.endpoint,
                    DisplayErrorContext(&err)
                ),
            ),
            SdkError::ResponseError(_) => StoreError::new(
                StoreErrorKind::Transport,
                operation,
                format!(
                    "the answer from {} could not be read: {}. Check that {ENDPOINT_ENV} \
                     points at a Secrets Manager endpoint",
                    self.endpoint,
                    DisplayErrorContext(&err)
                ),
            ),
            SdkError::ConstructionFailure(_) => StoreError::new(
                StoreErrorKind::Transport,
                operation,
                format!(
                    "the request for {} was not sent: {}. Check the region and credentials \
                     (AWS_REGION, AWS_PROFILE, the Lambda role)",
                    self.endpoint,
                    DisplayErrorContext(&err)
                ),
            ),
            _ => StoreError::new(
                StoreErrorKind::Service,
                operation,
                format!("{}", DisplayErrorContext(&err)),
            ),
        }
    }
}

/// A service error by its `__type`. Unknown types keep their code in the message.
fn service_error(operation: &'static str, code: Option<&str>, message: Option<&str>) -> StoreError {
    let kind = match code {
        Some("ResourceNotFoundException") => StoreErrorKind::ResourceNotFound,
        Some("InvalidRequestException") => StoreErrorKind::InvalidRequest,
        Some("InvalidParameterException") => StoreErrorKind::InvalidParameter,
        Some("ResourceExistsException") => StoreErrorKind::ResourceExists,
        Some("LimitExceededException") => StoreErrorKind::LimitExceeded,
        _ => StoreErrorKind::Service,
    };
    let message = match (kind, code, message) {
        (StoreErrorKind::Service, Some(code), Some(m)) => format!("{code}: {m}"),
        (StoreErrorKind::Service, Some(code), None) => code.to_string(),
        (StoreErrorKind::Service, None, _) => {
            // E.g. an HTML error page (moto answers some requests with HTTP 500 HTML).
            "the endpoint answered with an error that has no error code".to_string()
        }
        (_, _, Some(m)) => m.to_string(),
        (_, Some(code), None) => code.to_string(),
        (_, None, None) => String::new(),
    };
    StoreError::new(kind, operation, message)
}

/// An SDK timestamp as `time`'s type (seconds plus sub-second nanoseconds).
fn to_offset(dt: &DateTime) -> Option<OffsetDateTime> {
    let nanos = i128::from(dt.secs()) * 1_000_000_000 + i128::from(dt.subsec_nanos());
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

fn payload_from(
    operation: &'static str,
    string: Option<String>,
    binary: Option<Blob>,
) -> Result<SecretPayload, StoreError> {
    match (string, binary) {
        (Some(s), _) => Ok(SecretPayload::String(SecretString::from(s))),
        (None, Some(b)) => Ok(SecretPayload::Binary(SecretSlice::from(b.into_inner()))),
        (None, None) => Err(StoreError::new(
            StoreErrorKind::Service,
            operation,
            "the answer has neither SecretString nor SecretBinary",
        )),
    }
}

fn missing_field(operation: &'static str, field: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Service,
        operation,
        format!("the answer has no {field}"),
    )
}

#[async_trait]
impl SecretStore for AwsStore {
    async fn describe_secret(&self, secret_id: &str) -> Result<SecretDescription, StoreError> {
        const OP: &str = "DescribeSecret";
        let out = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| self.map_err(OP, e))?;
        let rules = out.rotation_rules();
        // Passed through as answered: the service lists only versions with stages;
        // moto also lists unlabelled ones with an empty list (moto difference 6).
        let versions: BTreeMap<String, Vec<String>> = out
            .version_ids_to_stages()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        Ok(SecretDescription {
            arn: out
                .arn()
                .ok_or_else(|| missing_field(OP, "ARN"))?
                .to_string(),
            name: out.name().unwrap_or_default().to_string(),
            description: out.description().map(str::to_string),
            rotation_enabled: out.rotation_enabled(),
            rotation_lambda_arn: out.rotation_lambda_arn().map(str::to_string),
            rotation_days: rules.and_then(|r| r.automatically_after_days()),
            rotation_schedule: rules
                .and_then(|r| r.schedule_expression())
                .map(str::to_string),
            last_rotated: out.last_rotated_date().and_then(to_offset),
            versions,
            kms_key_id: out.kms_key_id().map(str::to_string),
            tags: out
                .tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_string(),
                        t.value().unwrap_or_default().to_string(),
                    ))
                })
                .collect(),
        })
    }

    async fn get_secret_value(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<SecretVersion, StoreError> {
        const OP: &str = "GetSecretValue";
        // The service defaults to AWSCURRENT; moto can answer with a stale version when
        // neither is given (moto difference 1), so say it explicitly.
        let stage = match (version_id, stage) {
            (None, None) => Some(AWSCURRENT),
            (_, s) => s,
        };
        let mut out = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .set_version_id(version_id.map(str::to_string))
            .set_version_stage(stage.map(str::to_string))
            .send()
            .await
            .map_err(|e| self.map_err(OP, e))?;
        let payload = payload_from(OP, out.secret_string.take(), out.secret_binary.take())?;
        Ok(SecretVersion {
            arn: out.arn.take().ok_or_else(|| missing_field(OP, "ARN"))?,
            name: out.name.take().unwrap_or_default(),
            version_id: out
                .version_id
                .take()
                .ok_or_else(|| missing_field(OP, "VersionId"))?,
            stages: out.version_stages.take().unwrap_or_default(),
            payload,
            created: out.created_date.as_ref().and_then(to_offset),
        })
    }

    /// `PutSecretValue` with `ClientRequestToken`, `VersionStages` (omitted when empty,
    /// so the service applies its AWSCURRENT default), `RotationToken` when given, and
    /// `SecretString` or `SecretBinary`.
    async fn put_secret_value(&self, input: PutSecretValue) -> Result<PutOutput, StoreError> {
        const OP: &str = "PutSecretValue";
        let mut req = self
            .client
            .put_secret_value()
            .secret_id(input.secret_id)
            .client_request_token(input.token.clone())
            .set_rotation_token(input.rotation_token);
        if !input.stages.is_empty() {
            req = req.set_version_stages(Some(input.stages));
        }
        req = match &input.payload {
            SecretPayload::String(s) => req.secret_string(s.expose_secret()),
            SecretPayload::Binary(b) => req.secret_binary(Blob::new(b.expose_secret().to_vec())),
        };
        let out = req.send().await.map_err(|e| self.map_err(OP, e))?;
        Ok(PutOutput {
            arn: out
                .arn()
                .ok_or_else(|| missing_field(OP, "ARN"))?
                .to_string(),
            version_id: out.version_id().unwrap_or(&input.token).to_string(),
            stages: out.version_stages().to_vec(),
        })
    }

    async fn update_secret_version_stage(
        &self,
        input: UpdateVersionStage,
    ) -> Result<(), StoreError> {
        const OP: &str = "UpdateSecretVersionStage";
        self.client
            .update_secret_version_stage()
            .secret_id(input.secret_id)
            .version_stage(input.stage)
            .set_move_to_version_id(input.move_to)
            .set_remove_from_version_id(input.remove_from)
            .send()
            .await
            .map_err(|e| self.map_err(OP, e))?;
        Ok(())
    }

    async fn get_random_password(
        &self,
        policy: &PasswordPolicy,
    ) -> Result<SecretString, StoreError> {
        const OP: &str = "GetRandomPassword";
        let mut req = self
            .client
            .get_random_password()
            .password_length(i64::from(policy.length))
            .exclude_numbers(policy.exclude_numbers)
            .exclude_punctuation(policy.exclude_punctuation)
            .exclude_uppercase(policy.exclude_uppercase)
            .exclude_lowercase(policy.exclude_lowercase)
            .include_space(policy.include_space)
            .require_each_included_type(policy.require_each_included_type);
        if !policy.exclude_characters.is_empty() {
            req = req.exclude_characters(policy.exclude_characters.clone());
        }
        let mut out = req.send().await.map_err(|e| self.map_err(OP, e))?;
        out.random_password
            .take()
            .map(SecretString::from)
            .ok_or_else(|| missing_field(OP, "RandomPassword"))
    }

    async fn create_secret(&self, input: CreateSecret) -> Result<PutOutput, StoreError> {
        const OP: &str = "CreateSecret";
        let has_value = input.payload.is_some();
        let mut req = self
            .client
            .create_secret()
            .name(input.name)
            .set_client_request_token(input.token.clone())
            .set_description(input.description)
            .set_kms_key_id(input.kms_key_id);
        req = match &input.payload {
            Some(SecretPayload::String(s)) => req.secret_string(s.expose_secret()),
            Some(SecretPayload::Binary(b)) => {
                req.secret_binary(Blob::new(b.expose_secret().to_vec()))
            }
            None => req,
        };
        let out = req.send().await.map_err(|e| self.map_err(OP, e))?;
        Ok(PutOutput {
            arn: out
                .arn()
                .ok_or_else(|| missing_field(OP, "ARN"))?
                .to_string(),
            // No version exists without a value; the service then returns no VersionId.
            version_id: out
                .version_id()
                .map(str::to_string)
                .or(input.token)
                .unwrap_or_default(),
            stages: if has_value {
                vec![AWSCURRENT.to_string()]
            } else {
                Vec::new()
            },
        })
    }

    /// `ListSecretVersionIds` with `IncludeDeprecated=true`, following `NextToken`:
    /// the one method that may make more than one call (one per page).
    async fn list_secret_version_ids(
        &self,
        secret_id: &str,
    ) -> Result<Vec<VersionSummary>, StoreError> {
        const OP: &str = "ListSecretVersionIds";
        let mut versions = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let out = self
                .client
                .list_secret_version_ids()
                .secret_id(secret_id)
                .include_deprecated(true)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| self.map_err(OP, e))?;
            versions.extend(out.versions().iter().map(|v| VersionSummary {
                version_id: v.version_id().unwrap_or_default().to_string(),
                stages: v.version_stages().to_vec(),
                created: v.created_date().and_then(to_offset),
            }));
            // moto ends the listing with `"NextToken": ""`, the service omits it.
            match out.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_string()),
                _ => return Ok(versions),
            }
        }
        Err(StoreError::new(
            StoreErrorKind::Service,
            OP,
            format!("the listing did not end after {MAX_LIST_PAGES} pages"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_codes_map_to_kinds() {
        let cases = [
            (
                "ResourceNotFoundException",
                StoreErrorKind::ResourceNotFound,
            ),
            ("InvalidRequestException", StoreErrorKind::InvalidRequest),
            (
                "InvalidParameterException",
                StoreErrorKind::InvalidParameter,
            ),
            ("ResourceExistsException", StoreErrorKind::ResourceExists),
            ("LimitExceededException", StoreErrorKind::LimitExceeded),
            ("DecryptionFailure", StoreErrorKind::Service),
        ];
        for (code, kind) in cases {
            let e = service_error("GetSecretValue", Some(code), Some("text"));
            assert_eq!(e.kind, kind, "{code}");
            assert_eq!(e.operation, "GetSecretValue");
        }
        let e = service_error("GetSecretValue", Some("DecryptionFailure"), Some("no key"));
        assert_eq!(e.message, "DecryptionFailure: no key");
        let e = service_error("GetRandomPassword", None, None);
        assert_eq!(e.kind, StoreErrorKind::Service);
        assert!(e.message.contains("no error code"), "{}", e.message);
    }

    #[test]
    fn timestamps_keep_subsecond_precision() {
        let dt = DateTime::from_secs_and_nanos(1_700_000_000, 123_456_789);
        let t = to_offset(&dt).expect("in range");
        assert_eq!(t.unix_timestamp(), 1_700_000_000);
        assert_eq!(t.nanosecond(), 123_456_789);
        let before_epoch = DateTime::from_fractional_secs(-1, 0.5);
        let t = to_offset(&before_epoch).expect("in range");
        assert_eq!(t.unix_timestamp_nanos(), -500_000_000);
    }

    #[tokio::test]
    async fn unreachable_endpoint_is_a_transport_error_naming_it() {
        // Port 9 (discard) on loopback: nothing listens there on a test machine.
        let store = AwsStore::for_endpoint("http://127.0.0.1:9", "us-east-1");
        let err = store
            .describe_secret("rotwise-unreachable")
            .await
            .expect_err("nothing listens on port 9");
        assert_eq!(err.kind, StoreErrorKind::Transport, "{err}");
        assert_eq!(err.operation, "DescribeSecret");
        assert!(
            err.message.contains("http://127.0.0.1:9"),
            "{}",
            err.message
        );
        assert!(err.message.contains(ENDPOINT_ENV), "{}", err.message);
    }

    #[test]
    fn construction_does_no_io_and_debug_shows_the_endpoint() {
        let store = AwsStore::for_endpoint("http://127.0.0.1:9", "eu-west-1");
        assert_eq!(
            store.client().config().region().map(|r| r.as_ref()),
            Some("eu-west-1")
        );
        assert!(format!("{store:?}").contains("127.0.0.1:9"));
    }
}
