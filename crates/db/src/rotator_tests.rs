//! `DbRotator` over a fake [`Dialect`] that records every call: what the shared layer
//! checks before an engine is ever asked to log in.

use std::sync::{Arc, Mutex};

use rotwise_core::store::{AWSCURRENT, AWSPENDING, MemoryStore, PutSecretValue, SecretStore};
use rotwise_core::{Driver, ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::*;
use crate::credential::{LoginError, LoginFailure};
use crate::managed::{Endpoint, RDS_INSTANCE_TAG};
use rotwise_core::plan::{ChangeKind, REDACTED_HASH};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Toy;

impl Engine for Toy {
    const ENGINES: &'static [&'static str] = &["toy", "aurora-toy"];
    const AWS_NAME: &'static str = "toy";
    const PRODUCT: &'static str = "Toy";
    const SECRET_TYPE: &'static str = "ToySecret";
    const DEFAULT_PORT: u16 = 1234;
    const DEFAULT_DBNAME: Option<&'static str> = Some("main");
    type Dbname = String;
}

/// Logs in any password except one starting with `bad-`.
struct Fake {
    calls: Mutex<Vec<String>>,
}

impl Fake {
    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

#[async_trait]
impl Dialect for Fake {
    type Engine = Toy;
    type Session = String;
    type Account = ();
    const NAME: &'static str = "fake";
    const DEFAULT_EXCLUDE_CHARACTERS: &'static str = "";
    const LOG_TARGETS: &'static [&'static str] = &[];
    const USERNAME_LIMIT_VAR: Option<&'static str> = None;

    fn new(_: &DbOptions) -> Self {
        Fake {
            calls: Mutex::new(Vec::new()),
        }
    }
    fn name_limit(&self, _: &DbSecret<Toy>) -> NameLimit {
        NameLimit::NONE
    }
    async fn connect(&self, s: &DbSecret<Toy>, c: Credential) -> Result<String, DbError> {
        self.record(format!(
            "connect {c} {} port={} ssl={:?}",
            s.username, s.port, s.ssl
        ));
        if !s.password.expose_secret().starts_with("bad-") {
            Ok(s.username.clone())
        } else {
            Err(LoginError {
                credential: c,
                user: s.username.clone(),
                host: s.host.clone(),
                port: s.port,
                reason: "no".into(),
                failure: LoginFailure::Refused,
            }
            .into())
        }
    }
    async fn probe(&self, session: String) -> Result<(), DbError> {
        self.record(format!("probe {session}"));
        Ok(())
    }
    async fn close(&self, _: String) {}
    async fn change_own_password(
        &self,
        s: String,
        _: &DbSecret<Toy>,
        changes: &mut Changes,
    ) -> Result<(), DbError> {
        if changes.admit(&s, ChangeKind::SetPassword, || {
            format!("SET PASSWORD {s} '{REDACTED_HASH}'")
        }) {
            self.record(format!("change_own_password {s}"));
        }
        Ok(())
    }
    async fn current_account(&self, _: String, _: &DbSecret<Toy>) -> Result<(), DbError> {
        Ok(())
    }
    async fn ensure_pair(
        &self,
        _: String,
        pending: &DbSecret<Toy>,
        pair: &Pair,
        _: (),
        holder: &Holder<'_, '_, Toy>,
        changes: &mut Changes,
    ) -> Result<(), DbError> {
        if changes.admit(&pending.username, ChangeKind::SetPassword, || {
            format!("SET PASSWORD {} '{REDACTED_HASH}'", pending.username)
        }) {
            self.record(format!(
                "ensure_pair pending={} base={} clone={}",
                pending.username, pair.base, pair.clone
            ));
        }
        let previous = holder.previous_clone().await?;
        self.record(format!(
            "holder current_is_clone={} previous={:?}",
            holder.current_is_clone(),
            previous.map(|p| (
                p.username,
                p.port,
                p.ssl,
                p.password.expose_secret().to_owned()
            ))
        ));
        Ok(())
    }
    async fn test_pending(
        &self,
        session: String,
        _: &DbSecret<Toy>,
        strategy: Strategy,
    ) -> Result<(), DbError> {
        self.record(format!("test_pending {session} strategy={strategy:?}"));
        Ok(())
    }
}

struct Setup {
    store: Arc<MemoryStore>,
    rotator: Arc<DbRotator<Fake>>,
    driver: Driver,
    arn: String,
    current: Value,
}

fn setup(strategy: Strategy, user: &str) -> Setup {
    let store = Arc::new(MemoryStore::new());
    let master = store
        .insert_secret(
            "master",
            &json!({"engine":"toy","host":"db","username":"admin","password":"m"}).to_string(),
        )
        .unwrap();
    let current = json!({
        "engine": "toy", "host": "db", "port": 1234, "username": user,
        "password": format!("good-{user}"), "dbname": "main", "ssl": true,
        "masterarn": master, "note": "kept",
    });
    let arn = store.insert_secret("app", &current.to_string()).unwrap();
    let rotator = Arc::new(DbRotator::<Fake>::new(DbOptions {
        strategy: Some(strategy),
        ..DbOptions::default()
    }));
    let driver = Driver::new(store.clone(), rotator.clone());
    Setup {
        store,
        rotator,
        driver,
        arn,
        current,
    }
}

impl Setup {
    /// Start a rotation whose pending value is `pending` (planted, not made by createSecret).
    async fn plant(&self, pending: &Value) -> String {
        let token = self.store.begin_rotation(&self.arn).unwrap();
        self.store
            .put_secret_value(PutSecretValue {
                secret_id: self.arn.clone(),
                token: token.clone(),
                payload: SecretPayload::String(SecretString::from(pending.to_string())),
                stages: vec![AWSPENDING.to_owned()],
                rotation_token: None,
            })
            .await
            .unwrap();
        token
    }

    async fn step(&self, step: &str, token: &str) -> Result<(), rotwise_core::RotationError> {
        self.driver
            .handle_json(&json!({"Step": step, "SecretId": self.arn, "ClientRequestToken": token}))
            .await
            .map(|_| ())
    }

    fn calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.rotator.dialect().calls.lock().unwrap())
    }
}

/// A planted AWSPENDING that differs from AWSCURRENT in any connection field is refused
/// by setSecret and testSecret before any login (the fake sees no call), naming the field
/// and never its value; the same pending value with only the password (and, alternating,
/// the username) changed goes through (positive control).
#[tokio::test]
async fn planted_pending_fields_are_refused_before_any_login() {
    for strategy in [Strategy::Single, Strategy::Alternating] {
        let next_user = match strategy {
            Strategy::Single => "app",
            Strategy::Alternating => "app_clone",
        };
        let mut good = setup(strategy, "app").current;
        good["username"] = json!(next_user);
        good["password"] = json!(format!("good-{next_user}"));
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "host",
                json!("evil.example.com"),
                "Attempting to modify user",
            ),
            ("port", json!(4321), "the pending secret's port differs"),
            ("port", json!("4321"), "the pending secret's port differs"),
            (
                "dbname",
                json!("elsewhere"),
                "the pending secret's dbname differs",
            ),
            (
                "engine",
                json!("aurora-toy"),
                "the pending secret's engine differs",
            ),
            ("ssl", json!(false), "the pending secret's ssl differs"),
            ("ssl", json!("false"), "the pending secret's ssl differs"),
            (
                "masterarn",
                json!("arn:evil-master"),
                "the pending secret's masterarn differs",
            ),
            (
                "username",
                json!("root"),
                "Attempting to modify user root other than current user",
            ),
        ];
        for (field, value, expected) in cases {
            let s = setup(strategy, "app");
            good["masterarn"] = s.current["masterarn"].clone();
            let mut planted = good.clone();
            planted[field] = value.clone();
            let token = s.plant(&planted).await;
            // setSecret refuses it before any login, so the service never gets to
            // testSecret (which reads only the pending version: the call budget).
            for step in ["setSecret"] {
                let e = s.step(step, &token).await.unwrap_err();
                let text = e.to_string();
                assert!(text.contains(expected), "{strategy} {step} {field}: {text}");
                assert_eq!(e.kind(), ErrorKind::InvalidSecret, "{text}");
                if field != "username" {
                    let shown = value.as_str().map_or(value.to_string(), str::to_owned);
                    assert!(!text.contains(&shown), "{field}'s value shown: {text}");
                }
                assert_eq!(s.calls(), Vec::<String>::new(), "{strategy} {step} {field}");
            }
        }
        // Positive control: unknown keys may differ, and the value createSecret would
        // make goes through, with logins.
        let s = setup(strategy, "app");
        good["masterarn"] = s.current["masterarn"].clone();
        let mut planted = good.clone();
        planted["note"] = json!({"changed": true});
        planted["extra"] = json!(1);
        let token = s.plant(&planted).await;
        s.step("setSecret", &token).await.unwrap();
        s.step("testSecret", &token).await.unwrap();
        let calls = s.calls();
        assert!(calls.iter().any(|c| c.starts_with("connect")), "{calls:?}");
    }
}

/// For a current user `a_clone_clone`, createSecret's next name, setSecret's check, the
/// pair given to the engine and the one testSecret checks are the same two users.
#[tokio::test]
async fn a_clone_clone_pair_is_derived_one_way() {
    let s = setup(Strategy::Alternating, "a_clone_clone");
    let token = s.store.begin_rotation(&s.arn).unwrap();
    s.step("createSecret", &token).await.unwrap();
    let pending = s
        .store
        .get_secret_value(&s.arn, None, Some(AWSPENDING))
        .await
        .unwrap();
    let pending = DbSecret::<Toy>::parse(&pending.payload).unwrap();
    assert_eq!(pending.username, "a_clone");
    s.step("setSecret", &token).await.unwrap();
    s.step("testSecret", &token)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let calls = s.calls();
    assert!(
        calls.contains(&"ensure_pair pending=a_clone base=a_clone clone=a_clone_clone".to_owned()),
        "{calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("test_pending") && c.ends_with("strategy=Alternating")),
        "{calls:?}"
    );
    assert!(!calls.iter().any(|c| c.contains("base=a ")), "{calls:?}");
}

/// The previous secret is tried with the current secret's connection fields (AWS replaces
/// only `ssl`): a planted AWSPREVIOUS cannot send the previous password elsewhere.
#[tokio::test]
async fn previous_is_used_with_the_current_connection() {
    let s = setup(Strategy::Single, "app");
    // Current and pending fail to log in; previous works.
    let mut current = s.current.clone();
    current["password"] = json!("bad-stale");
    let mut previous = s.current.clone();
    previous["port"] = json!(9999);
    previous["ssl"] = json!(false);
    let store = &s.store;
    let put = |v: &Value, token: &str, stage: &str| PutSecretValue {
        secret_id: s.arn.clone(),
        token: token.to_owned(),
        payload: SecretPayload::String(SecretString::from(v.to_string())),
        stages: vec![stage.to_owned()],
        rotation_token: None,
    };
    store
        .put_secret_value(put(
            &previous,
            "11111111-1111-4111-8111-111111111111",
            AWSCURRENT,
        ))
        .await
        .unwrap();
    store
        .put_secret_value(put(
            &current,
            "22222222-2222-4222-8222-222222222222",
            AWSCURRENT,
        ))
        .await
        .unwrap();
    let mut pending = current.clone();
    pending["password"] = json!("bad-new");
    let token = s.plant(&pending).await;
    s.step("setSecret", &token).await.unwrap();
    let calls = s.calls();
    assert!(
        calls.contains(&"connect previous app port=1234 ssl=Some(true)".to_owned()),
        "{calls:?}"
    );
    assert!(
        calls.contains(&"change_own_password app".to_owned()),
        "{calls:?}"
    );
}

/// What `Holder` tells an engine over three rotations: whether the current user is the
/// clone, and AWSPREVIOUS's credential when it is the clone's (with the current
/// connection fields).
#[tokio::test]
async fn holder_reports_the_clone_credential_of_previous() {
    let s = setup(Strategy::Alternating, "app");
    let mut passwords = Vec::new();
    for round in 0..3 {
        let token = s.store.begin_rotation(&s.arn).unwrap();
        for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
            s.step(step, &token)
                .await
                .unwrap_or_else(|e| panic!("{round} {step}: {e}"));
        }
        assert!(s.store.complete_rotation(&s.arn, &token).unwrap());
        let current = s
            .store
            .get_secret_value(&s.arn, None, Some(AWSCURRENT))
            .await
            .unwrap();
        let current = DbSecret::<Toy>::parse(&current.payload).unwrap();
        passwords.push(current.password.expose_secret().to_owned());
        let holder = s
            .calls()
            .into_iter()
            .find(|c| c.starts_with("holder"))
            .unwrap();
        let expected = match round {
            // app -> app_clone: AWSPREVIOUS does not exist yet.
            0 => "holder current_is_clone=false previous=None".to_owned(),
            // app_clone -> app: the current login is the clone's; AWSPREVIOUS is `app`.
            1 => "holder current_is_clone=true previous=None".to_owned(),
            // app -> app_clone: AWSPREVIOUS is the clone's, from round 0.
            _ => format!(
                "holder current_is_clone=false previous=Some((\"app_clone\", 1234, Some(true), {:?}))",
                passwords[0]
            ),
        };
        assert_eq!(holder, expected, "round {round}");
    }
}

/// A dry run reads, logs in with AWSCURRENT (and the master, alternating) and records the
/// change instead of making it: the store's versions and labels are as before, the
/// engine saw no change call and no pending login; with a refused AWSCURRENT it fails
/// without trying AWSPENDING or AWSPREVIOUS.
#[tokio::test]
async fn a_dry_run_changes_nothing_and_logs_in_with_current_only() {
    for (strategy, next, logins) in [
        (Strategy::Single, "app", vec!["AWSCURRENT as \"app\""]),
        (
            Strategy::Alternating,
            "app_clone",
            vec!["AWSCURRENT as \"app\"", "master secret"],
        ),
    ] {
        let s = setup(strategy, "app");
        let before = s.store.describe_secret(&s.arn).await.unwrap();
        let run = s.driver.dry_run(&s.arn).await.unwrap();
        assert_eq!(s.store.describe_secret(&s.arn).await.unwrap(), before);
        let calls = s.calls();
        assert!(
            calls.iter().all(|c| c.starts_with("connect current")
                || c.starts_with("connect master")
                || c.starts_with("holder")),
            "{strategy:?}: {calls:?}"
        );
        assert_eq!(run.next_user.as_deref(), Some(next));
        assert_eq!(run.set.changes.len(), 1, "{:?}", run.set);
        assert_eq!(run.set.changes[0].user, next);
        assert_eq!(
            run.set.changes[0].statement.as_deref(),
            Some(format!("SET PASSWORD {next} '<redacted hash>'").as_str())
        );
        let shown: Vec<String> = run.set.logins.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), logins.len(), "{shown:?}");
        for (got, want) in shown.iter().zip(&logins) {
            assert!(got.starts_with(want), "{got} / {want}");
        }
        let moves: Vec<String> = run.labels.iter().map(ToString::to_string).collect();
        let current = before.version_with_stage(AWSCURRENT).unwrap();
        assert_eq!(
            moves,
            [
                "createSecret: AWSPENDING (none) -> (new version)".to_owned(),
                format!("finishSecret: AWSCURRENT {current} -> (new version)"),
                format!("finishSecret: AWSPREVIOUS (none) -> {current}"),
                "finishSecret: AWSPENDING (new version) -> (removed)".to_owned(),
            ]
        );
    }

    // AWSCURRENT refused: the dry run says so and tries nothing else.
    let s = setup(Strategy::Single, "app");
    let mut bad = s.current.clone();
    bad["password"] = json!("bad-changed-by-hand");
    s.store
        .put_secret_value(PutSecretValue {
            secret_id: s.arn.clone(),
            token: "33333333-3333-4333-8333-333333333333".into(),
            payload: SecretPayload::String(SecretString::from(bad.to_string())),
            stages: vec![AWSCURRENT.to_owned()],
            rotation_token: None,
        })
        .await
        .unwrap();
    s.calls();
    let e = s.driver.dry_run(&s.arn).await.unwrap_err().to_string();
    assert!(e.contains("AWSCURRENT of secret"), "{e}");
    assert!(!e.contains("bad-changed-by-hand"), "{e}");
    assert_eq!(s.calls(), ["connect current app port=1234 ssl=Some(true)"]);

    // A rotation in progress: refused before any login.
    let s = setup(Strategy::Single, "app");
    let mut pending = s.current.clone();
    pending["password"] = json!("good-pending");
    s.plant(&pending).await;
    let e = s.driver.dry_run(&s.arn).await.unwrap_err().to_string();
    assert!(e.contains("a rotation is in progress"), "{e}");
    assert!(s.calls().is_empty());
}

/// A [`Locator`] that answers from a table and records each question.
struct FakeLocator {
    answer: Result<Endpoint, ErrorKind>,
    replicas: Vec<&'static str>,
    asked: Mutex<Vec<String>>,
}

#[async_trait]
impl Locator for FakeLocator {
    async fn locate(&self, database: &ManagedDatabase) -> Result<Endpoint, DbError> {
        self.asked
            .lock()
            .unwrap()
            .push(format!("locate {database}"));
        self.answer
            .clone()
            .map_err(|kind| DbError::rejected(kind, "DescribeDBInstances: AccessDenied"))
    }
    async fn is_replica(&self, master_host: &str, user_host: &str) -> Result<bool, DbError> {
        self.asked
            .lock()
            .unwrap()
            .push(format!("is_replica {master_host} {user_host}"));
        Ok(self.replicas.contains(&user_host))
    }
}

const WRITER: &str = "orders.abc.us-east-1.rds.amazonaws.com";
const REPLICA: &str = "orders-ro.abc.us-east-1.rds.amazonaws.com";
const INSTANCE_ARN: &str = "arn:aws:rds:us-east-1:123456789012:db:orders";

/// An alternating setup whose user is on `user_host` and whose master secret is `master`
/// (tagged with `tags`), with `locator` (if any) behind the rotator.
fn managed_setup(
    user_host: &str,
    master: Value,
    tags: &[(&str, &str)],
    locator: Option<Arc<FakeLocator>>,
) -> Setup {
    let s = setup(Strategy::Alternating, "app");
    let master_arn = s
        .store
        .insert_secret("rds!db-0a1b", &master.to_string())
        .unwrap();
    for (k, v) in tags {
        s.store.tag_secret(&master_arn, k, v).unwrap();
    }
    let mut current = s.current.clone();
    current["host"] = json!(user_host);
    current["masterarn"] = json!(master_arn);
    let arn = s
        .store
        .insert_secret("app-managed", &current.to_string())
        .unwrap();
    let mut rotator = DbRotator::<Fake>::new(DbOptions {
        strategy: Some(Strategy::Alternating),
        ..DbOptions::default()
    });
    if let Some(locator) = locator {
        rotator = rotator.with_locator(locator);
    }
    let rotator = Arc::new(rotator);
    Setup {
        driver: Driver::new(s.store.clone(), rotator.clone()),
        store: s.store,
        rotator,
        arn,
        current,
    }
}

fn locator(answer: Result<Endpoint, ErrorKind>, replicas: &[&'static str]) -> Arc<FakeLocator> {
    Arc::new(FakeLocator {
        answer,
        replicas: replicas.to_vec(),
        asked: Mutex::new(Vec::new()),
    })
}

fn writer(engine: &str) -> Result<Endpoint, ErrorKind> {
    Ok(Endpoint {
        host: WRITER.into(),
        port: 4321,
        engine: engine.into(),
    })
}

fn managed_master() -> Value {
    json!({"username": "admin", "password": "m"})
}

/// A master secret with only username and password takes host, port and engine from the
/// locator (found through its system tag), and the master logs in there; the rotation
/// completes. Without the tag, or without a locator, setSecret fails before any master
/// login, naming what to add; a locator error keeps its kind and changes nothing.
#[tokio::test]
async fn a_managed_master_takes_its_connection_from_the_service() {
    let found = locator(writer("aurora-toy"), &[]);
    let s = managed_setup(
        WRITER,
        managed_master(),
        &[
            ("Team", "x"),
            ("aws:rds:primaryDBInstanceArn", INSTANCE_ARN),
        ],
        Some(found.clone()),
    );
    let token = s.store.begin_rotation(&s.arn).unwrap();
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        s.step(step, &token)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    let calls = s.calls();
    assert!(
        calls.contains(&"connect master admin port=4321 ssl=None".to_owned()),
        "{calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("ensure_pair pending=app_clone"))
    );
    assert_eq!(
        *found.asked.lock().unwrap(),
        [format!("locate RDS DB instance {INSTANCE_ARN}")]
    );

    // Refusals, each before the master logs in and before any change.
    type Refusal = (
        Option<Arc<FakeLocator>>,
        &'static [(&'static str, &'static str)],
        &'static str,
        ErrorKind,
    );
    let refusals: [Refusal; 4] = [
        (
            None,
            &[(RDS_INSTANCE_TAG, INSTANCE_ARN)],
            "host, port and engine",
            ErrorKind::InvalidSecret,
        ),
        (
            Some(locator(writer("toy"), &[])),
            &[("Team", "x")],
            "aws:rds:primarydbinstancearn",
            ErrorKind::InvalidSecret,
        ),
        (
            Some(locator(Err(ErrorKind::Permission), &[])),
            &[(RDS_INSTANCE_TAG, INSTANCE_ARN)],
            "AccessDenied",
            ErrorKind::Permission,
        ),
        (
            Some(locator(writer("sqlserver-ee"), &[])),
            &[(RDS_INSTANCE_TAG, INSTANCE_ARN)],
            "reports engine sqlserver-ee",
            ErrorKind::InvalidSecret,
        ),
    ];
    for (locator, tags, says, kind) in refusals {
        let s = managed_setup(WRITER, managed_master(), tags, locator);
        let token = s.store.begin_rotation(&s.arn).unwrap();
        s.step("createSecret", &token).await.unwrap();
        let e = s.step("setSecret", &token).await.unwrap_err();
        assert!(e.to_string().contains(says), "{says}: {e}");
        assert!(
            e.to_string().contains("rds!db-0a1b") || kind == ErrorKind::Permission,
            "{e}"
        );
        assert_eq!(e.kind(), kind, "{e}");
        assert!(!e.to_string().contains("\"m\""), "{e}");
        let calls = s.calls();
        assert!(
            calls.iter().all(|c| c.starts_with("connect current")),
            "{says}: {calls:?}"
        );
    }
}

/// A user on a read replica of the master's database is rotated through the writer when
/// the locator says it is one; any other host is refused with AWS's text, and hosts that
/// are not RDS endpoint names are never looked up.
#[tokio::test]
async fn a_user_on_a_read_replica_is_rotated_through_the_writer() {
    let master = json!({"engine": "toy", "host": WRITER, "port": 1234, "username": "admin", "password": "m"});
    let asked = locator(writer("toy"), &[REPLICA]);
    let s = managed_setup(REPLICA, master.clone(), &[], Some(asked.clone()));
    let token = s.store.begin_rotation(&s.arn).unwrap();
    s.step("createSecret", &token).await.unwrap();
    s.step("setSecret", &token).await.unwrap();
    assert!(
        s.calls()
            .iter()
            .any(|c| c.starts_with("ensure_pair pending=app_clone"))
    );
    assert_eq!(
        *asked.asked.lock().unwrap(),
        [format!("is_replica {WRITER} {REPLICA}")]
    );
    // The dry run says where the change goes.
    let s = managed_setup(REPLICA, master.clone(), &[], Some(asked.clone()));
    let run = s.driver.dry_run(&s.arn).await.unwrap();
    assert!(
        run.set
            .notes
            .iter()
            .any(|n| n.contains("a replica or another endpoint of the database at")),
        "{:?}",
        run.set.notes
    );

    let other = "billing.abc.us-east-1.rds.amazonaws.com";
    for (user_host, locator, asks) in [
        (other, Some(locator(writer("toy"), &[REPLICA])), true),
        (REPLICA, None, false),
        (
            "db.example.com",
            Some(locator(writer("toy"), &[REPLICA])),
            false,
        ),
    ] {
        let s = managed_setup(user_host, master.clone(), &[], locator.clone());
        let token = s.store.begin_rotation(&s.arn).unwrap();
        s.step("createSecret", &token).await.unwrap();
        let e = s.step("setSecret", &token).await.unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "Current database host {user_host} is not the same host as/rds replica of master {WRITER}"
            )),
            "{e}"
        );
        assert!(s.calls().iter().all(|c| c.starts_with("connect current")));
        if let Some(l) = locator {
            assert_eq!(
                l.asked.lock().unwrap().len(),
                usize::from(asks),
                "{user_host}"
            );
        }
    }
}
