//! The store contract suite: one list of named checks that every [`SecretStore`] must
//! pass, call by call, so the in-memory store is proven faithful to the service and the
//! SDK store is proven to speak to it correctly.
//!
//! [`run_store_contract`] runs every case against a store. Each case creates its own
//! secret with a name unique to the run (a UUID suffix), so runs against a long-lived
//! endpoint (moto keeps its state between tests) never collide.
//!
//! # Flavors and moto's differences
//!
//! [`StoreFlavor::Service`] asserts the service's behaviour. It is the flavor for
//! [`MemoryStore`](rotwise_core::store::MemoryStore) and for the test kit's local
//! endpoint (which serves a `MemoryStore`). [`StoreFlavor::Moto`] is for moto 5.2.5 in
//! server mode, which differs from the service in known ways
//! ([`moto_differences`]; numbers 1–8 are those of `reference/moto-secretsmanager.md`,
//! 9 to 11 were found by this suite). Where a case touches a difference, it asserts
//! the service's behaviour for `Service` and moto's *actual* behaviour for `Moto`,
//! and records a [`Deviation`] citing the number, so a deviation is never silently
//! absorbed, and a moto upgrade that changes one fails the suite loudly.
//!
//! # The value-less AWSPENDING version
//!
//! When the service starts a rotation it adds a version labelled AWSPENDING with no
//! value. No public API call creates one, so neither moto nor the SDK store can; the
//! case for it runs only when the flavor carries a `begin_rotation` hook (the
//! in-memory store's [`MemoryStore::begin_rotation`](rotwise_core::store::MemoryStore::begin_rotation)).
//!
//! ```
//! use rotwise_core::store::MemoryStore;
//! use rotwise_testkit::contract::{run_store_contract, StoreFlavor};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let begin = |id: &str| store.begin_rotation(id);
//! let report = run_store_contract(&store, StoreFlavor::service_with_rotation(&begin)).await;
//! assert!(report.deviations.is_empty());
//! # });
//! ```
//!
//! For an SDK client against the local endpoint, run the same `Service` flavor with an
//! `AwsStore::for_endpoint(url, "us-east-1")` and a hook that calls `begin_rotation` on
//! the `MemoryStore` the endpoint serves.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use rotwise_core::password::PasswordPolicy;
use rotwise_core::store::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, CreateSecret, PutSecretValue, SecretDescription,
    SecretPayload, SecretStore, SecretVersion, StoreError, StoreErrorKind, UpdateVersionStage,
};
use secrecy::{ExposeSecret, SecretSlice};

/// What `RotateSecret` does before invoking the rotation function: add a value-less
/// AWSPENDING version to the secret (by name or ARN) and return its token.
pub type BeginRotation<'a> = dyn Fn(&str) -> Result<String, StoreError> + Send + Sync + 'a;

/// The service's text when a rotation starts while another version holds AWSPENDING.
pub const PREVIOUS_ROTATION_INCOMPLETE: &str =
    "A previous rotation isn't complete. That rotation will be reattempted.";

/// Which behaviour the suite expects from the store.
#[derive(Clone, Copy)]
pub enum StoreFlavor<'a> {
    /// The real service's semantics: `MemoryStore`, and the local endpoint serving it.
    Service {
        /// Starts a rotation the way the service does, when the store can (only the
        /// in-memory store can). `None` skips the value-less AWSPENDING case.
        begin_rotation: Option<&'a BeginRotation<'a>>,
    },
    /// moto 5.2.5 in server mode, with its known differences ([`moto_differences`]).
    Moto,
}

impl<'a> StoreFlavor<'a> {
    /// The service's semantics, without a way to start a rotation.
    pub fn service() -> Self {
        StoreFlavor::Service {
            begin_rotation: None,
        }
    }

    /// The service's semantics, with `begin_rotation` to make the value-less
    /// AWSPENDING version.
    pub fn service_with_rotation(begin_rotation: &'a BeginRotation<'a>) -> Self {
        StoreFlavor::Service {
            begin_rotation: Some(begin_rotation),
        }
    }

    /// `"service"` or `"moto"`.
    pub fn name(&self) -> &'static str {
        match self {
            StoreFlavor::Service { .. } => "service",
            StoreFlavor::Moto => "moto",
        }
    }

    fn is_moto(&self) -> bool {
        matches!(self, StoreFlavor::Moto)
    }
}

impl fmt::Debug for StoreFlavor<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreFlavor::Service { begin_rotation } => f
                .debug_struct("Service")
                .field("begin_rotation", &begin_rotation.is_some())
                .finish(),
            StoreFlavor::Moto => f.write_str("Moto"),
        }
    }
}

/// One known way moto differs from the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MotoDifference {
    /// Its number: 1–8 as in `reference/moto-secretsmanager.md`, 9 and up found here.
    pub number: u8,
    /// What moto does, and what the service does instead.
    pub summary: &'static str,
    /// Whether `reference/moto-secretsmanager.md` lists it yet.
    pub in_reference: bool,
}

const MOTO_DIFFERENCES: &[MotoDifference] = &[
    MotoDifference {
        number: 1,
        summary: "GetSecretValue with neither stage nor version id can return an old version after \
                  AWSCURRENT moved; always pass VersionStage=AWSCURRENT (AwsStore does)",
        in_reference: true,
    },
    MotoDifference {
        number: 2,
        summary: "RotateSecret's \"rotation in progress\" check is inverted (refuses a finished \
                  rotation, accepts an unfinished one)",
        in_reference: true,
    },
    MotoDifference {
        number: 3,
        summary: "PutSecretValue with an existing token and a different value overwrites the value \
                  when that version holds AWSPENDING; the service answers ResourceExistsException",
        in_reference: true,
    },
    MotoDifference {
        number: 4,
        summary: "RotateSecret changes state when it fails, creates empty AWSPENDING versions, can \
                  leave two AWSCURRENT versions and wipes the Lambda ARN; never used in tests",
        in_reference: true,
    },
    MotoDifference {
        number: 5,
        summary: "moving a label other than AWSCURRENT without RemoveFromVersionId succeeds and \
                  leaves it on two versions; the service answers InvalidParameterException",
        in_reference: true,
    },
    MotoDifference {
        number: 6,
        summary: "DescribeSecret omits RotationEnabled until rotation was configured, and lists \
                  versions with no labels (VersionIdsToStages entry with an empty list)",
        in_reference: true,
    },
    MotoDifference {
        number: 7,
        summary: "errors come back as HTTP 404 where the service uses 400 (the __type is right)",
        in_reference: true,
    },
    MotoDifference {
        number: 8,
        summary: "PutSecretValue accepts string and binary together; GetRandomPassword with every \
                  character excluded answers HTTP 500 with an HTML page (no error code)",
        in_reference: true,
    },
    MotoDifference {
        number: 9,
        summary: "UpdateSecretVersionStage with an unknown MoveToVersionId/RemoveFromVersionId \
                  answers InvalidParameterException \"Not a valid version\" (the in-memory store: \
                  ResourceNotFoundException), and when RemoveFromVersionId is valid it has already \
                  taken the label off that version: a failed call can leave no AWSCURRENT",
        in_reference: false,
    },
    MotoDifference {
        number: 10,
        summary: "ListSecretVersionIds on an unknown secret answers HTTP 500 with an HTML page \
                  instead of ResourceNotFoundException",
        in_reference: false,
    },
    MotoDifference {
        number: 11,
        summary: "UpdateSecretVersionStage does not move moto's own notion of the current version: \
                  a later PutSecretValue that makes a new AWSCURRENT (no VersionStages) puts \
                  AWSPREVIOUS on the version that was current before the update (replacing its \
                  labels) and leaves AWSCURRENT on two versions; GetSecretValue with neither stage \
                  nor version id follows the same stale notion (the cause of difference 1)",
        in_reference: false,
    },
];

/// moto's known differences from the service, numbered as the suite cites them.
pub fn moto_differences() -> &'static [MotoDifference] {
    MOTO_DIFFERENCES
}

/// One observed moto difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deviation {
    /// The case that observed it.
    pub case: &'static str,
    /// The difference's number in [`moto_differences`].
    pub difference: u8,
    /// What moto did.
    pub observed: String,
}

/// What [`run_store_contract`] ran.
#[derive(Clone, Debug)]
pub struct ContractReport {
    /// The flavor's name.
    pub flavor: &'static str,
    /// Cases that passed, in order.
    pub passed: Vec<&'static str>,
    /// Cases that could not run for this flavor, with the reason.
    pub skipped: Vec<(&'static str, &'static str)>,
    /// moto differences observed (asserted as moto's behaviour), in order.
    pub deviations: Vec<Deviation>,
}

impl ContractReport {
    /// How many cases ran (passed; a failed case panics the run).
    pub fn cases_run(&self) -> usize {
        self.passed.len()
    }

    /// The distinct difference numbers observed.
    pub fn differences_seen(&self) -> BTreeSet<u8> {
        self.deviations.iter().map(|d| d.difference).collect()
    }
}

impl fmt::Display for ContractReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "store contract ({}): {} passed, {} skipped, {} moto deviations",
            self.flavor,
            self.passed.len(),
            self.skipped.len(),
            self.deviations.len()
        )?;
        for case in &self.passed {
            writeln!(f, "  ok    {case}")?;
        }
        for (case, why) in &self.skipped {
            writeln!(f, "  skip  {case}: {why}")?;
        }
        for d in &self.deviations {
            writeln!(f, "  moto#{} in {}: {}", d.difference, d.case, d.observed)?;
        }
        Ok(())
    }
}

/// Run every case of the contract against `store`.
///
/// # Panics
///
/// After running every case, when any failed: the message names each failed case and
/// what it saw. Secret values in the messages are the suite's own test strings.
pub async fn run_store_contract(
    store: &dyn SecretStore,
    flavor: StoreFlavor<'_>,
) -> ContractReport {
    let mut ctx = Ctx {
        store,
        flavor,
        run: uuid::Uuid::new_v4().simple().to_string(),
        case: "",
        deviations: Vec::new(),
    };
    let mut report = ContractReport {
        flavor: flavor.name(),
        passed: Vec::new(),
        skipped: Vec::new(),
        deviations: Vec::new(),
    };
    let mut failures: Vec<String> = Vec::new();

    macro_rules! case {
        ($name:ident) => {{
            ctx.case = stringify!($name);
            let outcome = $name(&mut ctx).await;
            report.deviations.append(&mut ctx.deviations);
            match outcome {
                Ok(Outcome::Passed) => report.passed.push(stringify!($name)),
                Ok(Outcome::Skipped(why)) => report.skipped.push((stringify!($name), why)),
                Err(Failure(msg)) => failures.push(format!("case `{}`: {msg}", stringify!($name))),
            }
        }};
    }

    case!(create_then_get_by_stage_and_by_version_id);
    case!(create_existing_name_is_resource_exists);
    case!(get_without_version_or_stage_returns_current);
    case!(describe_lists_version_ids_to_stages);
    case!(put_pending_then_get_by_token_and_stage);
    case!(put_same_token_same_value_is_idempotent);
    case!(put_same_token_different_value_is_resource_exists);
    case!(move_current_with_remove_from_sets_previous);
    case!(move_current_without_remove_from_is_invalid_parameter);
    case!(move_other_label_without_remove_from_is_invalid_parameter);
    case!(third_rotation_deprecates_oldest);
    case!(remove_pending_with_only_remove_from);
    case!(unknown_secret_is_not_found);
    case!(unknown_version_is_not_found);
    case!(stage_no_version_holds_is_not_found);
    case!(random_password_honours_policy);
    case!(binary_secret_round_trip);
    case!(rotation_token_accepted_on_put);
    case!(value_less_pending_from_begin_rotation);

    if !failures.is_empty() {
        panic!(
            "store contract ({}) failed {} case(s):\n{}\n\n{report}",
            flavor.name(),
            failures.len(),
            failures.join("\n")
        );
    }
    report
}

// ------------------------------------------------------------------ machinery

enum Outcome {
    Passed,
    Skipped(&'static str),
}

struct Failure(String);

type CaseResult = Result<Outcome, Failure>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(Failure(format!($($fmt)+)));
        }
    };
}

struct Ctx<'a> {
    store: &'a dyn SecretStore,
    flavor: StoreFlavor<'a>,
    run: String,
    case: &'static str,
    deviations: Vec<Deviation>,
}

/// A store call's result, with what the call was for.
trait Call<T> {
    /// The call must succeed.
    fn must(self, what: &str) -> Result<T, Failure>;
    /// The call must fail with `kind`; returns the error.
    fn err_kind(self, kind: StoreErrorKind, what: &str) -> Result<StoreError, Failure>;
    /// The call must fail (any kind); returns the error.
    fn err_any(self, what: &str) -> Result<StoreError, Failure>;
}

impl<T: fmt::Debug> Call<T> for Result<T, StoreError> {
    fn must(self, what: &str) -> Result<T, Failure> {
        self.map_err(|e| Failure(format!("{what}: expected success, got {e}")))
    }

    fn err_kind(self, kind: StoreErrorKind, what: &str) -> Result<StoreError, Failure> {
        match self {
            Ok(v) => Err(Failure(format!(
                "{what}: expected {kind:?}, got success: {v:?}"
            ))),
            Err(e) if e.kind == kind => Ok(e),
            Err(e) => Err(Failure(format!("{what}: expected {kind:?}, got {e}"))),
        }
    }

    fn err_any(self, what: &str) -> Result<StoreError, Failure> {
        match self {
            Ok(v) => Err(Failure(format!(
                "{what}: expected an error, got success: {v:?}"
            ))),
            Err(e) => Ok(e),
        }
    }
}

/// Expected labels: version id → stages (order does not matter).
type Labels<'t> = &'t [(&'t str, &'t [&'t str])];

fn token() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn text(v: &SecretVersion) -> Option<&str> {
    v.payload.as_string().map(|s| s.expose_secret())
}

fn put(secret_id: &str, token: &str, value: &str, stages: &[&str]) -> PutSecretValue {
    PutSecretValue {
        secret_id: secret_id.to_string(),
        token: token.to_string(),
        payload: value.into(),
        stages: stages.iter().map(|s| s.to_string()).collect(),
        rotation_token: None,
    }
}

fn stage_update(
    secret_id: &str,
    stage: &str,
    move_to: Option<&str>,
    remove_from: Option<&str>,
) -> UpdateVersionStage {
    UpdateVersionStage {
        secret_id: secret_id.to_string(),
        stage: stage.to_string(),
        move_to: move_to.map(str::to_string),
        remove_from: remove_from.map(str::to_string),
    }
}

impl Ctx<'_> {
    /// A secret name unique to this run and case.
    fn secret_name(&self) -> String {
        format!("rotwise-contract/{}-{}", self.case, self.run)
    }

    /// Record a moto difference. Only ever called on the Moto path.
    fn deviate(&mut self, difference: u8, observed: impl Into<String>) {
        debug_assert!(self.flavor.is_moto());
        self.deviations.push(Deviation {
            case: self.case,
            difference,
            observed: observed.into(),
        });
    }

    /// Create the case's secret with `value` under `token`; returns (name, ARN).
    async fn create(&self, token: &str, value: &str) -> Result<(String, String), Failure> {
        let name = self.secret_name();
        let out = self
            .store
            .create_secret(CreateSecret {
                name: name.clone(),
                payload: Some(value.into()),
                token: Some(token.to_string()),
                description: None,
                kms_key_id: None,
            })
            .await
            .must("CreateSecret")?;
        ensure!(
            out.version_id == token,
            "CreateSecret: version id {} is not the token {token}",
            out.version_id
        );
        Ok((name, out.arn))
    }

    async fn get(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<SecretVersion, StoreError> {
        self.store
            .get_secret_value(secret_id, version_id, stage)
            .await
    }

    /// The value at (version id, stage) must be `expected`, on version `expected_id`.
    async fn expect_value(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
        expected_id: &str,
        expected: &str,
    ) -> Result<SecretVersion, Failure> {
        let what = format!("GetSecretValue(version {version_id:?}, stage {stage:?})");
        let v = self.get(secret_id, version_id, stage).await.must(&what)?;
        ensure!(
            v.version_id == expected_id,
            "{what}: answered version {}, expected {expected_id}",
            v.version_id
        );
        ensure!(
            text(&v) == Some(expected),
            "{what}: answered value {:?}, expected {expected:?}",
            text(&v)
        );
        if let Some(stage) = stage {
            ensure!(
                v.stages.iter().any(|s| s == stage),
                "{what}: the answer's stages {:?} lack {stage}",
                v.stages
            );
        }
        Ok(v)
    }

    /// Describe the secret and check its labels are exactly `expected`, each label on
    /// exactly one version. Versions without labels: the service omits them; moto lists
    /// them with an empty list (difference 6), which is recorded.
    async fn expect_labels(
        &mut self,
        secret_id: &str,
        expected: Labels<'_>,
        after: &str,
    ) -> Result<SecretDescription, Failure> {
        let desc = self
            .store
            .describe_secret(secret_id)
            .await
            .must(&format!("DescribeSecret after {after}"))?;
        self.check_labels(&desc, expected, after)?;
        Ok(desc)
    }

    fn check_labels(
        &mut self,
        desc: &SecretDescription,
        expected: Labels<'_>,
        after: &str,
    ) -> Result<(), Failure> {
        let mut seen: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (id, stages) in &desc.versions {
            for stage in stages {
                seen.entry(stage).or_default().push(id);
            }
        }
        for (stage, holders) in &seen {
            ensure!(
                holders.len() == 1,
                "after {after}: label {stage} is on {} versions {holders:?} (each label must be on \
                 exactly one)",
                holders.len()
            );
        }
        let labelled: BTreeMap<String, BTreeSet<String>> = desc
            .versions
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(id, s)| (id.clone(), s.iter().cloned().collect()))
            .collect();
        let want: BTreeMap<String, BTreeSet<String>> = expected
            .iter()
            .map(|(id, s)| (id.to_string(), s.iter().map(|x| x.to_string()).collect()))
            .collect();
        ensure!(
            labelled == want,
            "after {after}: VersionIdsToStages is {labelled:?}, expected {want:?}"
        );
        let unlabelled: Vec<&String> = desc
            .versions
            .iter()
            .filter(|(_, s)| s.is_empty())
            .map(|(id, _)| id)
            .collect();
        if !unlabelled.is_empty() {
            if self.flavor.is_moto() {
                // Moto difference 6: unlabelled (deprecated) versions are listed.
                self.deviate(
                    6,
                    format!(
                        "after {after}: DescribeSecret lists {} unlabelled version(s)",
                        unlabelled.len()
                    ),
                );
            } else {
                return Err(Failure(format!(
                    "after {after}: DescribeSecret lists versions with no labels {unlabelled:?}; the \
                     service leaves deprecated versions out"
                )));
            }
        }
        Ok(())
    }

    /// Whether `version_id` is listed by DescribeSecret (with or without labels).
    fn listed(desc: &SecretDescription, version_id: &str) -> bool {
        desc.versions.contains_key(version_id)
    }
}

// ------------------------------------------------------------------ cases

async fn create_then_get_by_stage_and_by_version_id(ctx: &mut Ctx<'_>) -> CaseResult {
    let t1 = token();
    let name = ctx.secret_name();
    let out = ctx
        .store
        .create_secret(CreateSecret {
            name: name.clone(),
            payload: Some("value-one".into()),
            token: Some(t1.clone()),
            description: Some("rotwise store contract".to_string()),
            kms_key_id: None,
        })
        .await
        .must("CreateSecret")?;
    ensure!(
        out.version_id == t1,
        "CreateSecret: version id {} is not the token",
        out.version_id
    );
    ensure!(!out.arn.is_empty(), "CreateSecret: empty ARN");
    ensure!(
        out.stages == [AWSCURRENT],
        "CreateSecret: stages {:?}, expected [AWSCURRENT]",
        out.stages
    );
    let v = ctx
        .expect_value(&name, None, Some(AWSCURRENT), &t1, "value-one")
        .await?;
    ensure!(
        v.arn == out.arn,
        "GetSecretValue: ARN {} is not CreateSecret's {}",
        v.arn,
        out.arn
    );
    ensure!(
        v.name == name,
        "GetSecretValue: name {} is not {name}",
        v.name
    );
    ensure!(
        v.stages == [AWSCURRENT],
        "GetSecretValue: stages {:?}",
        v.stages
    );
    ctx.expect_value(&name, Some(&t1), None, &t1, "value-one")
        .await?;
    ctx.expect_value(&name, Some(&t1), Some(AWSCURRENT), &t1, "value-one")
        .await?;
    // By ARN as well as by name.
    ctx.expect_value(&out.arn, None, Some(AWSCURRENT), &t1, "value-one")
        .await?;
    ctx.expect_labels(&out.arn, &[(&t1, &[AWSCURRENT])], "CreateSecret")
        .await?;
    Ok(Outcome::Passed)
}

async fn create_existing_name_is_resource_exists(ctx: &mut Ctx<'_>) -> CaseResult {
    let t1 = token();
    let (name, _) = ctx.create(&t1, "value-one").await?;
    ctx.store
        .create_secret(CreateSecret {
            name: name.clone(),
            payload: Some("value-two".into()),
            token: Some(token()),
            description: None,
            kms_key_id: None,
        })
        .await
        .err_kind(
            StoreErrorKind::ResourceExists,
            "CreateSecret on an existing name",
        )?;
    ctx.expect_value(&name, None, Some(AWSCURRENT), &t1, "value-one")
        .await?;
    ctx.expect_labels(&name, &[(&t1, &[AWSCURRENT])], "the refused CreateSecret")
        .await?;
    Ok(Outcome::Passed)
}

async fn get_without_version_or_stage_returns_current(ctx: &mut Ctx<'_>) -> CaseResult {
    // Moto difference 1: moto can answer this with a stale version after AWSCURRENT
    // moved. A conforming store (AwsStore sends VersionStage=AWSCURRENT) passes anyway;
    // this case proves it does, so there is nothing to bend for Moto.
    let (t1, t2, t3) = (token(), token(), token());
    let (name, _) = ctx.create(&t1, "value-one").await?;
    ctx.expect_value(&name, None, None, &t1, "value-one")
        .await?;
    ctx.store
        .put_secret_value(put(&name, &t2, "value-two", &[AWSPENDING]))
        .await
        .must("PutSecretValue AWSPENDING")?;
    ctx.expect_value(&name, None, None, &t1, "value-one")
        .await?;
    ctx.store
        .update_secret_version_stage(stage_update(&name, AWSCURRENT, Some(&t2), Some(&t1)))
        .await
        .must("UpdateSecretVersionStage AWSCURRENT")?;
    ctx.expect_value(&name, None, None, &t2, "value-two")
        .await?;
    // No stages: the service's default, AWSCURRENT (AWSPREVIOUS follows).
    ctx.store
        .put_secret_value(put(&name, &t3, "value-three", &[]))
        .await
        .must("PutSecretValue with no stages")?;
    if ctx.flavor.is_moto() {
        // Moto difference 11: moto still thinks t1 is current (UpdateSecretVersionStage
        // does not move its notion of the default version), so the put makes t1
        // AWSPREVIOUS and leaves AWSCURRENT on t2 as well as t3.
        let desc = ctx
            .store
            .describe_secret(&name)
            .await
            .must("DescribeSecret after PutSecretValue with no stages")?;
        ensure!(
            desc.has_stage(&t2, AWSCURRENT)
                && desc.has_stage(&t3, AWSCURRENT)
                && desc.has_stage(&t1, AWSPREVIOUS),
            "moto: expected AWSCURRENT on two versions and AWSPREVIOUS on the first \
             (difference 11), got {:?}",
            desc.versions
        );
        ctx.deviate(
            11,
            "PutSecretValue with default stages after UpdateSecretVersionStage moved AWSCURRENT \
             left AWSCURRENT on two versions and put AWSPREVIOUS on the stale one",
        );
    } else {
        ctx.expect_value(&name, None, None, &t3, "value-three")
            .await?;
        ctx.expect_labels(
            &name,
            &[(&t3, &[AWSCURRENT]), (&t2, &[AWSPENDING, AWSPREVIOUS])],
            "PutSecretValue with default stages",
        )
        .await?;
    }
    Ok(Outcome::Passed)
}

async fn describe_lists_version_ids_to_stages(ctx: &mut Ctx<'_>) -> CaseResult {
    let (t1, t2) = (token(), token());
    let name = ctx.secret_name();
    let created = ctx
        .store
        .create_secret(CreateSecret {
            name: name.clone(),
            payload: Some("value-one".into()),
            token: Some(t1.clone()),
            description: Some("rotwise store contract".to_string()),
            kms_key_id: None,
        })
        .await
        .must("CreateSecret")?;
    let desc = ctx
        .expect_labels(&name, &[(&t1, &[AWSCURRENT])], "CreateSecret")
        .await?;
    ensure!(
        desc.arn == created.arn,
        "DescribeSecret: ARN {} is not {}",
        desc.arn,
        created.arn
    );
    ensure!(desc.name == name, "DescribeSecret: name {}", desc.name);
    ensure!(
        desc.description.as_deref() == Some("rotwise store contract"),
        "DescribeSecret: description {:?}",
        desc.description
    );
    ensure!(
        desc.rotation_lambda_arn.is_none() && desc.last_rotated.is_none(),
        "DescribeSecret: a fresh secret has rotation data: {desc:?}"
    );
    // RotationEnabled on a fresh secret: moto omits it (difference 6); the in-memory
    // store does too. Only an explicit `false` fails AWS's pre-check, so either passes.
    ensure!(
        desc.rotation_enabled != Some(true),
        "DescribeSecret: a fresh secret says RotationEnabled=true"
    );
    if ctx.flavor.is_moto() && desc.rotation_enabled.is_none() {
        ctx.deviate(6, "DescribeSecret omits RotationEnabled on a fresh secret");
    }
    ctx.store
        .put_secret_value(put(&name, &t2, "value-two", &[AWSPENDING]))
        .await
        .must("PutSecretValue AWSPENDING")?;
    let by_arn = ctx
        .expect_labels(
            &created.arn,
            &[(&t1, &[AWSCURRENT]), (&t2, &[AWSPENDING])],
            "PutSecretValue AWSPENDING",
        )
        .await?;
    ensure!(
        by_arn.version_with_stage(AWSPENDING) == Some(t2.as_str()),
        "version_with_stage"
    );
    ensure!(by_arn.has_stage(&t1, AWSCURRENT), "has_stage");
    Ok(Outcome::Passed)
}

async fn put_pending_then_get_by_token_and_stage(ctx: &mut Ctx<'_>) -> CaseResult {
    let (t1, t2) = (token(), token());
    let (name, arn) = ctx.create(&t1, "value-one").await?;
    let out = ctx
        .store
        .put_secret_value(put(&name, &t2, "value-two", &[AWSPENDING]))
        .await
        .must("PutSecretValue AWSPENDING")?;
    ensure!(
        out.version_id == t2,
        "PutSecretValue: version id {}",
        out.version_id
    );
    ensure!(
        out.arn == arn,
        "PutSecretValue: ARN {} is not {arn}",
        out.arn
    );
    ensure!(
        out.stages == [AWSPENDING],
        "PutSecretValue: stages {:?}",
        out.stages
    );
    let v = ctx
        .expect_value(&name, Some(&t2), Some(AWSPENDING), &t2, "value-two")
        .await?;
    ensure!(
        v.stages == [AWSPENDING],
        "GetSecretValue: stages {:?}",
        v.stages
    );
    ctx.expect_value(&name, None, Some(AWSPENDING), &t2, "value-two")
        .await?;
    ctx.expect_value(&name, None, Some(AWSCURRENT), &t1, "value-one")
        .await?;
    ctx.expect_labels(
        &name,
        &[(&t1, &[AWSCURRENT]), (&t2, &[AWSPENDING])],
        "PutSecretValue AWSPENDING",
    )
    .await?;
    Ok(Outcome::Passed)
}

async fn put_same_token_same_value_is_idempotent(ctx: &mut Ctx<'_>) -> CaseResult {
    let (t1, t2) = (token(), token());
    let (name, _) = ctx.create(&t1, "value-one").await?;
    for attempt in ["first", "repeated"] {
        let out = ctx
            .store
            .put_secret_value(put(&name, &t2, "value-two", &[AWSPENDING]))
            .await
            .must(&format!("{attempt} PutSecretValue"))?;
        ensure!(
            out.version_id == t2,
            "{attempt} PutSecretValue: version id {}",
            out.version_id
        );
        ensure!(
            out.stages == [AWSPENDING],
            "{attempt} PutSecretValue: stages {:?}",
            out.stages
        );
        ctx.expect_labels(
            &name,
            &[(&t1, &[AWSCURRENT]), (&t2, &[AWSPENDING])],
            &format!("{attempt} PutSecretValue"),
        )
        .await?;
    }
    // The first version too (it holds AWSCURRENT).
    ctx.store
        .put_secret_value(put(&name, &t1, "value-one", &[AWSCURRENT]))
        .await
        .must("repeated PutSecretValue of the current version")?;
    let versions = ctx
        .store
        .list_secret_version_ids(&name)
        .await
        .must("ListSecretVersionIds")?;
    ensure!(
        versions.len() == 2,
        "repeats made new versions: ListSecretVersionIds lists {versions:?}"
    );
    ctx.expect_value(&name, Some(&t2), Some(AWSPENDING), &t2, "value-two")
        .await?;
    Ok(Outcome::Passed)
}

async fn put_same_token_different_value_is_resource_exists(ctx: &mut Ctx<'_>) -> CaseResult {
    let (t1, t2) = (token(), token());
    let (name, _) = ctx.create(&t1, "value-one").await?;
    // A version that does not hold AWSPENDING: both refuse.
    ctx.store
        .put_secret_value(put(&name, &t1, "value-other", &[AWSCURRENT]))
        .await
        .err_kind(
            StoreErrorKind::ResourceExists,
            "PutSecretValue, token of the current version, different value",
        )?;
    ctx.expect_value(&name, Some(&t1), None, &t1, "value-one")
        .await?;

    ctx.store
        .put_secret_value(put(&name, &t2, "value-two", &[AWSPENDING]))
        .await
        .must("PutSecretValue AWSPENDING")?;
    let second = ctx
        .store
        .put_secret_value(put(&name, &t2, "value-three", &[AWSPENDING]))
        .await;
    if ctx.flavor.is_moto() {
        // Moto difference 3: the pending version's value is silently overwritten.
        second.must("moto: PutSecretValue, pending token, different value")?;
        ctx.expect_value(&name, Some(&t2), Some(AWSPENDING), &t2, "value-three")
            .await?;
        ctx.deviate(
            3,
            "PutSecretValue with the AWSPENDING version's token and a different value \
             overwrote the value instead of ResourceExistsException",
        );
    } else {
        second.err_kind(
            StoreErrorKind::ResourceExists,
            "PutSecretValue, pending token, different value",
        )?;
        ctx.expect_value(&name, Some(&t2), Some(AWSPENDING), &t2, "value-two")
            .await?;
    }
    ctx.expect_labels(
        &name,
        &[(&t1, &[AWSCURRENT]), (&t2, &[AWSPENDING])],
        "the conflicting PutSecretValue",
    )
    .await?;
    Ok(Outcome::Passed)
}

async fn move_current_with_remove_from_sets_previous(ctx: &mut Ctx<'_>) -> CaseResult {
    let (t1, t2) = (token(), token());
    let (name, _) = ctx.create(&t1, "value-one").await?;
    ctx.store
        .put_secret_value(put(&name, &t2, "value-two", &[AWSPENDING]))
        .await
        .must("PutSecretValue AWSPENDING")?;
    ctx.store
        .update_secret_version_stage(stage_update(&name, AWSCURRENT, Some(&t2), Some(&t1)))
        .await
        .must("UpdateSecretVersionStage AWSCURRENT with RemoveFromVersionId")?;
    // The service moves AWSPREVIOUS and leaves AWSPENDING where it is (only
    // RotateSecret's own bookkeeping removes it after finishSecret).
    ctx.expect_labels(
        &name,
        &[(&t2, &[AWSCURRENT, AWSPENDING]), (&t1, &[AWSPREVIOUS])],
        "moving AWSCURRENT",
    )
    .await?;
    ctx.expect_value(&name, None, Some(AWSPREVIOUS), &t1, "value-one")
        .await?;
    ctx.expect_value(&name, None, Some(AWSCURRENT), &t2, "value-two")
        .await?;
    Ok(Outcome::Passed)
}

async fn move_current_without_remove_from_is_invalid_parameter(ctx: &mut Ctx<'_>) -> CaseResult {
    let (t1, t2) = (token(), token());
    let (name, _) = ctx.create(&t1, "value-one").await?;
    ctx.store
        .put_secret_value(put(&name, &t2, "value-two", &[AWSPENDING]))
        .await
        .must("PutSecretValue AWSPENDING")?;
    let labels: Labels<'_> = &[(&t1, &[AWSCURRENT]), (&t2, &[AWSPENDING])];
    ctx.store
        .update_secret_version_stage(stage_update(&name, AWSCURRENT, Some(&t2), None))
        .await
        .err_kind(
            StoreErrorKind::InvalidParameter,
            "UpdateSecretVersionStage AWSCURRENT without RemoveFromVersionId",
        )?;
    ctx.expect_labels(&name, labels, "the refused move").await?;
    ctx.store
        .update_secret_version_stage(stage_update(&name, AWSCURRENT, Some(&t2), Some(&t2)))
        .await
        .err_kind(
            StoreErrorKind::InvalidParameter,
            "UpdateSecretVersionStage AWSCURRENT with RemoveFromVersionId not holding it",
        )?;
    ctx.expect_labels(
        &name,
        labels,
        "the refused move with a wrong RemoveFromVersionId",
    )
    .await?;
    Ok(Outcome::Passed)
}

async fn move_other_label_without_remove_from_is_invalid_parameter(
    ctx: &mut Ctx<'_>,
) -> CaseResult {
    let (t1, t2) = (token(), token());
    let (name, _) = ctx.create(&t1, "value-one").await?;
    ctx.store
        .put_secret_value(put(&name, &t2, "value-two", &[AWSPENDING]))
        .await
        .must("PutSecretValue AWSPENDING")?;
    let result = ctx
        .store
        .update_secret_version_stage(stage_update(&name, AWSPENDING, Some(&t1), None))
        .await;
    if ctx.flavor.is_moto() {
        // Moto difference 5: accepted, and AWSPENDING ends up on both versions.
        result.must("moto: UpdateSecretVersionStage AWSPENDING without RemoveFromVersionId")?;
        let desc = ctx
            .store
            .describe_secret(&name)
            .await
            .must("DescribeSecret after the move")?;
        ensure!(
            desc.has_stage(&t1, AWSPENDING) && desc.has_stage(&t2, AWSPENDING),
            "moto: expected AWSPENDING on both versions (difference 5), got {:?}",
            desc.versions
        );
        ctx.deviate(
            5,
            "UpdateSecretVersionStage AWSPENDING without RemoveFromVersionId succeeded and left \
             AWSPENDING on two versions",
        );
    } else {
        result.err_kind(
            StoreErrorKind::InvalidParameter,
            "UpdateSecretVersionStage AWSPENDING without RemoveFromVersionId",
        )?;
        ctx.expect_labels(
            &name,
            &[(&t1, &[AWSCURRENT]), (&t2, &[AWSPENDING])],
            "the refused move",
        )
        .await?;
    }
    Ok(Outcome::Passed)
}

async fn third_rotation_deprecates_oldest(ctx: &mut Ctx<'_>) -> CaseResult {
    let tokens: Vec<String> = (0..4).map(|_| token()).collect();
    let (name, _) = ctx.create(&tokens[0], "value-0").await?;
    for i in 1..tokens.len() {
        let (old, new) = (&tokens[i - 1], &tokens[i]);
        ctx.store
            .put_secret_value(put(&name, new, &format!("value-{i}"), &[AWSPENDING]))
            .await
            .must(&format!("rotation {i}: PutSecretValue AWSPENDING"))?;
        // Putting AWSPENDING takes it off the previous rotation's version.
        let mut expected: Vec<(&str, &[&str])> = vec![(new, &[AWSPENDING]), (old, &[AWSCURRENT])];
        if i >= 2 {
            expected.push((&tokens[i - 2], &[AWSPREVIOUS]));
        }
        ctx.expect_labels(&name, &expected, &format!("rotation {i}: put"))
            .await?;
        ctx.store
            .update_secret_version_stage(stage_update(&name, AWSCURRENT, Some(new), Some(old)))
            .await
            .must(&format!("rotation {i}: UpdateSecretVersionStage"))?;
        let desc = ctx
            .expect_labels(
                &name,
                &[(new, &[AWSCURRENT, AWSPENDING]), (old, &[AWSPREVIOUS])],
                &format!("rotation {i}: finish"),
            )
            .await?;
        if i >= 2 {
            let deprecated = &tokens[i - 2];
            let listed = Ctx::listed(&desc, deprecated);
            if ctx.flavor.is_moto() {
                // Moto difference 6 (recorded by expect_labels): still listed, no labels.
                ensure!(
                    listed,
                    "moto: expected the deprecated version {deprecated} listed with no labels \
                     (difference 6), got {:?}",
                    desc.versions
                );
            } else {
                ensure!(
                    !listed,
                    "rotation {i}: DescribeSecret still lists the deprecated version {deprecated}"
                );
            }
        }
    }
    let listing = ctx
        .store
        .list_secret_version_ids(&name)
        .await
        .must("ListSecretVersionIds")?;
    let listed: BTreeMap<&str, BTreeSet<&str>> = listing
        .iter()
        .map(|v| {
            (
                v.version_id.as_str(),
                v.stages.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let want: BTreeMap<&str, BTreeSet<&str>> = [
        (tokens[0].as_str(), BTreeSet::new()),
        (tokens[1].as_str(), BTreeSet::new()),
        (tokens[2].as_str(), [AWSPREVIOUS].into()),
        (tokens[3].as_str(), [AWSCURRENT, AWSPENDING].into()),
    ]
    .into();
    ensure!(
        listed == want && listing.len() == 4,
        "ListSecretVersionIds (IncludeDeprecated) lists {listed:?}, expected {want:?}"
    );
    // A deprecated version stays readable by id until the service deletes it.
    ctx.expect_value(&name, Some(&tokens[0]), None, &tokens[0], "value-0")
        .await?;
    Ok(Outcome::Passed)
}

async fn remove_pending_with_only_remove_from(ctx: &mut Ctx<'_>) -> CaseResult {
    let (t1, t2) = (token(), token());
    let (name, _) = ctx.create(&t1, "value-one").await?;
    ctx.store
        .put_secret_value(put(&name, &t2, "value-two", &[AWSPENDING]))
        .await
        .must("PutSecretValue AWSPENDING")?;
    ctx.store
        .update_secret_version_stage(stage_update(&name, AWSPENDING, None, Some(&t2)))
        .await
        .must("UpdateSecretVersionStage AWSPENDING with only RemoveFromVersionId")?;
    // t2 has no label left: deprecated (moto lists it anyway, difference 6).
    ctx.expect_labels(&name, &[(&t1, &[AWSCURRENT])], "removing AWSPENDING")
        .await?;
    ctx.get(&name, None, Some(AWSPENDING)).await.err_kind(
        StoreErrorKind::ResourceNotFound,
        "GetSecretValue AWSPENDING after removal",
    )?;
    ctx.expect_value(&name, Some(&t2), None, &t2, "value-two")
        .await?;
    // Removing a label from a version that does not hold it is refused.
    ctx.store
        .update_secret_version_stage(stage_update(&name, AWSPENDING, None, Some(&t1)))
        .await
        .err_kind(
            StoreErrorKind::InvalidParameter,
            "UpdateSecretVersionStage removing AWSPENDING from a version without it",
        )?;
    ctx.expect_labels(&name, &[(&t1, &[AWSCURRENT])], "the refused removal")
        .await?;
    Ok(Outcome::Passed)
}

async fn unknown_secret_is_not_found(ctx: &mut Ctx<'_>) -> CaseResult {
    // Moto difference 7 (HTTP 404 instead of 400) is invisible here: the kind comes
    // from the __type, which moto gets right.
    let name = ctx.secret_name();
    let nf = StoreErrorKind::ResourceNotFound;
    ctx.store
        .describe_secret(&name)
        .await
        .err_kind(nf, "DescribeSecret")?;
    ctx.get(&name, None, None)
        .await
        .err_kind(nf, "GetSecretValue")?;
    ctx.get(&name, None, Some(AWSCURRENT))
        .await
        .err_kind(nf, "GetSecretValue AWSCURRENT")?;
    ctx.store
        .put_secret_value(put(&name, &token(), "value-one", &[AWSPENDING]))
        .await
        .err_kind(nf, "PutSecretValue")?;
    ctx.store
        .update_secret_version_stage(stage_update(&name, AWSCURRENT, Some(&token()), None))
        .await
        .err_kind(nf, "UpdateSecretVersionStage")?;
    let listed = ctx.store.list_secret_version_ids(&name).await;
    if ctx.flavor.is_moto() {
        // Moto difference 10: HTTP 500 with an HTML page, no error code.
        let e = listed.err_kind(StoreErrorKind::Service, "moto: ListSecretVersionIds")?;
        ctx.deviate(
            10,
            format!("ListSecretVersionIds on an unknown secret: {e} instead of ResourceNotFound"),
        );
    } else {
        listed.err_kind(nf, "ListSecretVersionIds")?;
    }
    Ok(Outcome::Passed)
}

async fn unknown_version_is_not_found(ctx: &mut Ctx<'_>) -> CaseResult {
    let t1 = token();
    let unknown = token();
    let (name, _) = ctx.create(&t1, "value-one").await?;
    let nf = StoreErrorKind::ResourceNotFound;
    ctx.get(&name, Some(&unknown), None)
        .await
        .err_kind(nf, "GetSecretValue by an unknown version id")?;
    ctx.get(&name, Some(&unknown), Some(AWSCURRENT))
        .await
        .err_kind(nf, "GetSecretValue by an unknown version id and AWSCURRENT")?;
    ctx.store
        .put_secret_value(put(&name, &token(), "value-two", &[AWSPENDING]))
        .await
        .must("PutSecretValue AWSPENDING")?;
    let before = ctx
        .store
        .describe_secret(&name)
        .await
        .must("DescribeSecret")?;

    // MoveToVersionId unknown, no RemoveFromVersionId.
    let e = ctx
        .store
        .update_secret_version_stage(stage_update(&name, AWSPENDING, Some(&unknown), None))
        .await
        .err_any("UpdateSecretVersionStage to an unknown version")?;
    if ctx.flavor.is_moto() {
        // Moto difference 9: InvalidParameterException "Not a valid version".
        ensure!(
            e.kind == StoreErrorKind::InvalidParameter,
            "moto: expected InvalidParameter (difference 9), got {e}"
        );
        ctx.deviate(
            9,
            format!(
                "UpdateSecretVersionStage to an unknown version: {e} instead of ResourceNotFound"
            ),
        );
    } else {
        ensure!(
            e.kind == nf,
            "UpdateSecretVersionStage to an unknown version: expected ResourceNotFound, got {e}"
        );
    }
    let after = ctx
        .store
        .describe_secret(&name)
        .await
        .must("DescribeSecret")?;
    ensure!(
        after.versions == before.versions,
        "the refused UpdateSecretVersionStage changed the labels: {:?} -> {:?}",
        before.versions,
        after.versions
    );

    // MoveToVersionId unknown, RemoveFromVersionId valid: the call must change nothing.
    let e = ctx
        .store
        .update_secret_version_stage(stage_update(&name, AWSCURRENT, Some(&unknown), Some(&t1)))
        .await
        .err_any("UpdateSecretVersionStage AWSCURRENT to an unknown version")?;
    let after = ctx
        .store
        .describe_secret(&name)
        .await
        .must("DescribeSecret")?;
    if ctx.flavor.is_moto() {
        // Moto difference 9: refused, but AWSCURRENT was already taken off t1.
        ensure!(
            e.kind == StoreErrorKind::InvalidParameter
                && after.version_with_stage(AWSCURRENT).is_none(),
            "moto: expected InvalidParameter and no AWSCURRENT left (difference 9), got {e} and {:?}",
            after.versions
        );
        ctx.deviate(
            9,
            "a refused UpdateSecretVersionStage (unknown MoveToVersionId) still removed AWSCURRENT \
             from RemoveFromVersionId, leaving no AWSCURRENT",
        );
    } else {
        ensure!(
            e.kind == nf,
            "UpdateSecretVersionStage AWSCURRENT to an unknown version: expected ResourceNotFound, \
             got {e}"
        );
        ensure!(
            after.versions == before.versions,
            "the refused UpdateSecretVersionStage changed the labels: {:?} -> {:?}",
            before.versions,
            after.versions
        );
    }
    Ok(Outcome::Passed)
}

async fn stage_no_version_holds_is_not_found(ctx: &mut Ctx<'_>) -> CaseResult {
    let t1 = token();
    let (name, _) = ctx.create(&t1, "value-one").await?;
    for stage in [AWSPENDING, AWSPREVIOUS, "ROTWISE_CUSTOM"] {
        ctx.get(&name, None, Some(stage)).await.err_kind(
            StoreErrorKind::ResourceNotFound,
            &format!("GetSecretValue {stage}"),
        )?;
    }
    // A version id and a stage it does not hold: the service checks they agree.
    ctx.get(&name, Some(&t1), Some(AWSPENDING)).await.err_kind(
        StoreErrorKind::InvalidRequest,
        "GetSecretValue with the current version's id and AWSPENDING",
    )?;
    Ok(Outcome::Passed)
}

async fn random_password_honours_policy(ctx: &mut Ctx<'_>) -> CaseResult {
    let excluded = "abcXYZ012";
    let policy = PasswordPolicy {
        length: 40,
        exclude_characters: excluded.to_string(),
        exclude_punctuation: true,
        require_each_included_type: true,
        ..PasswordPolicy::default()
    };
    for attempt in 0..3 {
        let pw = ctx
            .store
            .get_random_password(&policy)
            .await
            .must("GetRandomPassword (alphanumeric, exclusions)")?;
        let pw = pw.expose_secret();
        ensure!(
            pw.chars().count() == 40,
            "attempt {attempt}: length {}",
            pw.chars().count()
        );
        ensure!(
            pw.chars()
                .all(|c| c.is_ascii_alphanumeric() && !excluded.contains(c)),
            "attempt {attempt}: a character outside the policy in {pw:?}"
        );
        ensure!(
            pw.chars().any(|c| c.is_ascii_uppercase())
                && pw.chars().any(|c| c.is_ascii_lowercase())
                && pw.chars().any(|c| c.is_ascii_digit()),
            "attempt {attempt}: RequireEachIncludedType not honoured in {pw:?}"
        );
    }

    let lower_and_space = PasswordPolicy {
        length: 64,
        exclude_numbers: true,
        exclude_punctuation: true,
        exclude_uppercase: true,
        include_space: true,
        require_each_included_type: false,
        ..PasswordPolicy::default()
    };
    let pw = ctx
        .store
        .get_random_password(&lower_and_space)
        .await
        .must("GetRandomPassword (lowercase and space)")?;
    let pw = pw.expose_secret();
    ensure!(pw.chars().count() == 64, "length {}", pw.chars().count());
    ensure!(
        pw.chars().all(|c| c.is_ascii_lowercase() || c == ' '),
        "a character outside lowercase and space in {pw:?}"
    );

    let nothing_left = PasswordPolicy {
        length: 10,
        exclude_numbers: true,
        exclude_punctuation: true,
        exclude_uppercase: true,
        exclude_lowercase: true,
        include_space: false,
        ..PasswordPolicy::default()
    };
    let result = ctx.store.get_random_password(&nothing_left).await;
    if ctx.flavor.is_moto() {
        // Moto difference 8: HTTP 500 with an HTML page, no error code.
        let e = result.err_kind(
            StoreErrorKind::Service,
            "moto: GetRandomPassword, all excluded",
        )?;
        ctx.deviate(
            8,
            format!("GetRandomPassword with every character excluded: {e}"),
        );
    } else {
        result.err_kind(
            StoreErrorKind::InvalidParameter,
            "GetRandomPassword with every character excluded",
        )?;
    }
    Ok(Outcome::Passed)
}

async fn binary_secret_round_trip(ctx: &mut Ctx<'_>) -> CaseResult {
    let (t1, t2) = (token(), token());
    let name = ctx.secret_name();
    let first: Vec<u8> = (0..=255u8).collect();
    let second: Vec<u8> = (0..=255u8).rev().chain([0, 0, 0xff]).collect();
    ctx.store
        .create_secret(CreateSecret {
            name: name.clone(),
            payload: Some(SecretPayload::Binary(SecretSlice::from(first.clone()))),
            token: Some(t1.clone()),
            description: None,
            kms_key_id: None,
        })
        .await
        .must("CreateSecret (binary)")?;
    ctx.store
        .put_secret_value(PutSecretValue {
            secret_id: name.clone(),
            token: t2.clone(),
            payload: SecretPayload::Binary(SecretSlice::from(second.clone())),
            stages: vec![AWSPENDING.to_string()],
            rotation_token: None,
        })
        .await
        .must("PutSecretValue (binary)")?;
    for (id, stage, want) in [(&t1, AWSCURRENT, &first), (&t2, AWSPENDING, &second)] {
        let v = ctx
            .get(&name, None, Some(stage))
            .await
            .must(&format!("GetSecretValue {stage} (binary)"))?;
        ensure!(v.version_id == *id, "{stage}: version {}", v.version_id);
        match &v.payload {
            SecretPayload::Binary(b) => ensure!(
                b.expose_secret() == want.as_slice(),
                "{stage}: the bytes differ ({} bytes, expected {})",
                b.expose_secret().len(),
                want.len()
            ),
            SecretPayload::String(_) => {
                return Err(Failure(format!(
                    "{stage}: a binary secret came back as a string"
                )));
            }
        }
    }
    // Idempotency compares binary values too.
    ctx.store
        .put_secret_value(PutSecretValue {
            secret_id: name.clone(),
            token: t2.clone(),
            payload: SecretPayload::Binary(SecretSlice::from(second.clone())),
            stages: vec![AWSPENDING.to_string()],
            rotation_token: None,
        })
        .await
        .must("repeated PutSecretValue (binary)")?;
    ctx.expect_labels(
        &name,
        &[(&t1, &[AWSCURRENT]), (&t2, &[AWSPENDING])],
        "binary puts",
    )
    .await?;
    Ok(Outcome::Passed)
}

async fn rotation_token_accepted_on_put(ctx: &mut Ctx<'_>) -> CaseResult {
    let (t1, t2) = (token(), token());
    let (name, _) = ctx.create(&t1, "value-one").await?;
    let mut input = put(&name, &t2, "value-two", &[AWSPENDING]);
    input.rotation_token = Some(token());
    let out = ctx
        .store
        .put_secret_value(input)
        .await
        .must("PutSecretValue with RotationToken")?;
    ensure!(
        out.version_id == t2,
        "PutSecretValue: version id {}",
        out.version_id
    );
    ctx.expect_value(&name, Some(&t2), Some(AWSPENDING), &t2, "value-two")
        .await?;
    ctx.expect_labels(
        &name,
        &[(&t1, &[AWSCURRENT]), (&t2, &[AWSPENDING])],
        "PutSecretValue with RotationToken",
    )
    .await?;
    Ok(Outcome::Passed)
}

async fn value_less_pending_from_begin_rotation(ctx: &mut Ctx<'_>) -> CaseResult {
    let begin = match ctx.flavor {
        StoreFlavor::Service {
            begin_rotation: Some(begin),
        } => begin,
        StoreFlavor::Service {
            begin_rotation: None,
        } => {
            return Ok(Outcome::Skipped("no begin_rotation hook for this store"));
        }
        // No API call makes a value-less AWSPENDING version, and moto's RotateSecret
        // is unusable (differences 2 and 4).
        StoreFlavor::Moto => {
            return Ok(Outcome::Skipped(
                "moto cannot make a value-less AWSPENDING version (RotateSecret: differences 2, 4)",
            ));
        }
    };
    let t1 = token();
    let (name, _) = ctx.create(&t1, "value-one").await?;
    let pending = begin(&name).map_err(|e| Failure(format!("begin_rotation: {e}")))?;
    ctx.expect_labels(
        &name,
        &[(&t1, &[AWSCURRENT]), (&pending, &[AWSPENDING])],
        "begin_rotation",
    )
    .await?;
    ctx.get(&name, Some(&pending), Some(AWSPENDING))
        .await
        .err_kind(
            StoreErrorKind::ResourceNotFound,
            "GetSecretValue of the value-less pending version",
        )?;
    ctx.get(&name, None, Some(AWSPENDING)).await.err_kind(
        StoreErrorKind::ResourceNotFound,
        "GetSecretValue AWSPENDING (no value)",
    )?;
    ctx.expect_value(&name, None, None, &t1, "value-one")
        .await?;

    let again = begin(&name);
    match again {
        Err(e) if e.kind == StoreErrorKind::InvalidRequest => ensure!(
            e.message == PREVIOUS_ROTATION_INCOMPLETE,
            "second begin_rotation: message {:?}, expected {PREVIOUS_ROTATION_INCOMPLETE:?}",
            e.message
        ),
        Err(e) => {
            return Err(Failure(format!(
                "second begin_rotation: expected InvalidRequest, got {e}"
            )));
        }
        Ok(t) => {
            return Err(Failure(format!(
                "second begin_rotation succeeded ({t}) while a rotation is in progress"
            )));
        }
    }
    ctx.expect_labels(
        &name,
        &[(&t1, &[AWSCURRENT]), (&pending, &[AWSPENDING])],
        "the refused begin_rotation",
    )
    .await?;

    // createSecret's put fills the value-less version.
    let out = ctx
        .store
        .put_secret_value(put(&name, &pending, "value-two", &[AWSPENDING]))
        .await
        .must("PutSecretValue with the rotation's token")?;
    ensure!(
        out.version_id == pending,
        "PutSecretValue: version id {}",
        out.version_id
    );
    ctx.expect_value(
        &name,
        Some(&pending),
        Some(AWSPENDING),
        &pending,
        "value-two",
    )
    .await?;
    ctx.store
        .update_secret_version_stage(stage_update(&name, AWSCURRENT, Some(&pending), Some(&t1)))
        .await
        .must("finishSecret's UpdateSecretVersionStage")?;
    ctx.expect_labels(
        &name,
        &[(&pending, &[AWSCURRENT, AWSPENDING]), (&t1, &[AWSPREVIOUS])],
        "finishSecret",
    )
    .await?;
    // AWSPENDING on the current version is a finished rotation: the next one starts.
    let next = begin(&name)
        .map_err(|e| Failure(format!("begin_rotation after a finished rotation: {e}")))?;
    ctx.expect_labels(
        &name,
        &[
            (&next, &[AWSPENDING]),
            (&pending, &[AWSCURRENT]),
            (&t1, &[AWSPREVIOUS]),
        ],
        "the next begin_rotation",
    )
    .await?;
    Ok(Outcome::Passed)
}
