//! The store contract (`rotwise_testkit::contract`) against every store.
//!
//! - `memory_store_passes_contract`: the in-memory store, service semantics, including
//!   the value-less AWSPENDING version `begin_rotation` makes.
//! - `aws_store_passes_contract_on_moto`: the SDK store against moto 5.2.5
//!   (`scripts/services up`; `ROTATION_TEST_SM_ENDPOINT`), asserting moto's known
//!   differences where the suite meets them.
//! - The SDK store against the test kit's local endpoint (which serves a `MemoryStore`)
//!   runs the same suite with `StoreFlavor::service_with_rotation`; see the end of this
//!   file.

use std::collections::BTreeSet;

use rotwise_core::SecretString;
use rotwise_core::password::PasswordPolicy;
use rotwise_core::store::{
    AwsStore, CreateSecret, MemoryStore, PutOutput, PutSecretValue, SecretDescription, SecretStore,
    SecretVersion, StoreError, StoreErrorKind, UpdateVersionStage, VersionSummary,
};
use rotwise_testkit::contract::{StoreFlavor, moto_differences, run_store_contract};

#[tokio::test]
async fn memory_store_passes_contract() {
    let store = MemoryStore::new();
    let begin = |id: &str| store.begin_rotation(id);
    let report = run_store_contract(&store, StoreFlavor::service_with_rotation(&begin)).await;
    eprintln!("{report}");
    assert!(report.skipped.is_empty(), "{report}");
    assert!(report.deviations.is_empty(), "{report}");
    assert!(report.cases_run() >= 19, "{report}");
}

#[tokio::test]
async fn aws_store_passes_contract_on_moto() {
    let Some(endpoint) = rotwise_test_services::require_sm_endpoint() else {
        return;
    };
    let store = AwsStore::for_endpoint(endpoint, "us-east-1");
    let report = run_store_contract(&store, StoreFlavor::Moto).await;
    eprintln!("{report}");
    // Every difference the suite meets must have been observed: if a moto upgrade fixed
    // one, the case asserting moto's behaviour has already failed; this catches a case
    // that silently stopped meeting its difference.
    let expected: BTreeSet<u8> = [3, 5, 6, 8, 9, 10, 11].into();
    assert_eq!(report.differences_seen(), expected, "{report}");
    let known: BTreeSet<u8> = moto_differences().iter().map(|d| d.number).collect();
    assert!(report.differences_seen().is_subset(&known), "{report}");
    assert_eq!(
        report.skipped.len(),
        1,
        "only the value-less AWSPENDING case: {report}"
    );
}

// The SDK store against the test kit's local endpoint (crates/testkit/src/endpoint.rs)
// belongs here, named `aws_store_passes_contract_on_local_endpoint`: start the endpoint
// on a shared `MemoryStore`, then
//     let store = AwsStore::for_endpoint(url, "us-east-1");
//     let begin = |id: &str| memory.begin_rotation(id);
//     let report = run_store_contract(&store, StoreFlavor::service_with_rotation(&begin)).await;
//     assert!(report.deviations.is_empty() && report.skipped.is_empty(), "{report}");

/// A store that breaks one rule: a put with an existing token and a different value
/// "succeeds" (as moto does for a pending version) instead of ResourceExists.
struct OverwritingStore(MemoryStore);

#[async_trait::async_trait]
impl SecretStore for OverwritingStore {
    async fn describe_secret(&self, id: &str) -> Result<SecretDescription, StoreError> {
        self.0.describe_secret(id).await
    }
    async fn get_secret_value(
        &self,
        id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<SecretVersion, StoreError> {
        self.0.get_secret_value(id, version_id, stage).await
    }
    async fn put_secret_value(&self, input: PutSecretValue) -> Result<PutOutput, StoreError> {
        let token = input.token.clone();
        match self.0.put_secret_value(input).await {
            Err(e) if e.kind == StoreErrorKind::ResourceExists => Ok(PutOutput {
                arn: String::new(),
                version_id: token,
                stages: Vec::new(),
            }),
            other => other,
        }
    }
    async fn update_secret_version_stage(
        &self,
        input: UpdateVersionStage,
    ) -> Result<(), StoreError> {
        self.0.update_secret_version_stage(input).await
    }
    async fn get_random_password(
        &self,
        policy: &PasswordPolicy,
    ) -> Result<SecretString, StoreError> {
        self.0.get_random_password(policy).await
    }
    async fn create_secret(&self, input: CreateSecret) -> Result<PutOutput, StoreError> {
        self.0.create_secret(input).await
    }
    async fn list_secret_version_ids(&self, id: &str) -> Result<Vec<VersionSummary>, StoreError> {
        self.0.list_secret_version_ids(id).await
    }
}

/// Positive control: the suite fails a store that breaks a rule, and names the case.
#[tokio::test]
async fn contract_fails_a_store_that_breaks_a_rule() {
    let run = tokio::spawn(async {
        let store = OverwritingStore(MemoryStore::new());
        run_store_contract(&store, StoreFlavor::service()).await
    })
    .await;
    let panic = run.expect_err("the contract must fail the overwriting store");
    let message = panic
        .into_panic()
        .downcast::<String>()
        .map(|m| *m)
        .unwrap_or_default();
    assert!(
        message.contains("case `put_same_token_different_value_is_resource_exists`"),
        "{message}"
    );
    assert!(message.contains("failed 1 case(s)"), "{message}");
}
