//! Against the real Redis on 127.0.0.1:6379 (`ROTATION_TEST_REDIS_ADDR` overrides it).
//! Every test creates uniquely named ACL users and deletes them, even when it fails.
//! Redis unreachable: a failure with `ROTATION_REQUIRE_SERVICES=1`, else a loud skip.

use std::sync::Arc;
use std::time::Duration;

use rotwise_core::store::{AWSCURRENT, MemoryStore, SecretStore};
use rotwise_core::{Driver, ErrorKind, ExposeSecret, LoginProbe, RotationEvent, Step, Strategy};
use rotwise_example_redis::resp::{Conn, Reply};
use rotwise_example_redis::{AdminLogin, RedisRotator, RedisSecret, login_works};
use rotwise_test_services::{run_then_cleanup, services_required, unique_name};
use rotwise_testkit::{Conformance, LocalService};

const T: Duration = Duration::from_secs(5);

fn redis_addr() -> Option<(String, u16)> {
    let addr = std::env::var("ROTATION_TEST_REDIS_ADDR")
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "127.0.0.1:6379".to_string());
    let (host, port) = addr
        .rsplit_once(':')
        .expect("ROTATION_TEST_REDIS_ADDR is host:port");
    let port: u16 = port
        .parse()
        .expect("ROTATION_TEST_REDIS_ADDR has a numeric port");
    let probe = std::net::TcpStream::connect_timeout(
        &format!("{host}:{port}")
            .parse()
            .expect("an IP:port address"),
        Duration::from_millis(750),
    );
    match probe {
        Ok(_) => Some((host.to_string(), port)),
        Err(e) if services_required() => panic!(
            "Redis is not reachable on {addr} ({e}); start it (the machine's Redis 7 on \
             127.0.0.1:6379) — ROTATION_REQUIRE_SERVICES is set, so this test fails instead of skipping"
        ),
        Err(e) => {
            eprintln!(
                "SKIPPED: Redis is not reachable on {addr} ({e}); \
                 set ROTATION_REQUIRE_SERVICES=1 to make this a failure"
            );
            None
        }
    }
}

async fn admin(host: &str, port: u16) -> Conn {
    Conn::connect(host, port, T)
        .await
        .expect("connect to Redis")
}

async fn cmd(conn: &mut Conn, args: &[&str]) -> Reply {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    conn.call(&args).await.expect("a Redis reply")
}

/// A user with real rules: keys `app:*`, a few commands, one channel, one selector.
async fn create_user(host: &str, port: u16, name: &str, password: &str) {
    let mut c = admin(host, port).await;
    let pw = format!(">{password}");
    let reply = cmd(
        &mut c,
        &[
            "ACL",
            "SETUSER",
            name,
            "on",
            &pw,
            "~app:*",
            "resetchannels",
            "&news",
            "-@all",
            "+get",
            "+set",
            "+ping",
            "+auth",
            "(~ro:* +get)",
        ],
    )
    .await;
    assert_eq!(reply, Reply::Simple("OK".into()));
}

async fn delete_users(host: String, port: u16, names: Vec<String>) {
    if let Ok(mut c) = Conn::connect(&host, port, T).await {
        let mut args = vec!["ACL", "DELUSER"];
        args.extend(names.iter().map(String::as_str));
        let _ = cmd(&mut c, &args).await;
    }
}

/// The user's rules, without `sanitize-payload`: `reset` sets that flag explicitly, while a
/// user created without it has it implicitly (the same behaviour).
async fn rules_of(host: &str, port: u16, name: &str) -> Vec<String> {
    let mut c = admin(host, port).await;
    let mut rules = RedisRotator::get_user(&mut c, name)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("user {name} exists"))
        .rules;
    rules.retain(|r| r != "sanitize-payload");
    rules
}

fn rotator(strategy: Strategy) -> RedisRotator {
    RedisRotator::new(AdminLogin::default(), strategy)
}

async fn conformance(strategy: Strategy) {
    let Some((host, port)) = redis_addr() else {
        return;
    };
    let user = unique_name("rw_redis");
    let names = vec![user.clone(), format!("{user}_clone")];
    let cleanup = delete_users(host.clone(), port, names);
    run_then_cleanup(
        async move {
            create_user(&host, port, &user, "initial-pw-1").await;
            let initial = RedisSecret::new(&host, port, &user, "initial-pw-1");
            // The rotator is its own probe: a fresh connection and AUTH per check.
            let rotator = Arc::new(rotator(strategy));
            let report = Conformance::new(rotator.clone(), rotator, initial.to_payload(), strategy)
                .run()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(report.rotations > 10 && report.fault_points > 0, "{report}");
        },
        cleanup,
    )
    .await;
}

#[tokio::test]
async fn conformance_single_user() {
    conformance(Strategy::Single).await;
}

#[tokio::test]
async fn conformance_alternating_users() {
    conformance(Strategy::Alternating).await;
}

struct Fixture {
    store: Arc<MemoryStore>,
    arn: String,
    driver: Driver,
}

impl Fixture {
    fn new(secret: &RedisSecret, strategy: Strategy) -> Fixture {
        let store = Arc::new(MemoryStore::new());
        let arn = store
            .insert_secret_payload("t/redis", secret.to_payload())
            .unwrap();
        let driver = Driver::new(store.clone(), Arc::new(rotator(strategy)));
        Fixture { store, arn, driver }
    }

    async fn current(&self) -> RedisSecret {
        let v = self
            .store
            .get_secret_value(&self.arn, None, Some(AWSCURRENT))
            .await
            .unwrap();
        RedisSecret::parse(&v.payload).unwrap()
    }

    async fn rotate(&self) {
        LocalService::new(self.store.clone())
            .rotate(&self.arn, &self.driver)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[tokio::test]
async fn single_user_keeps_rules_and_overlaps_only_until_finish() {
    let Some((host, port)) = redis_addr() else {
        return;
    };
    let user = unique_name("rw_redis");
    let cleanup = delete_users(host.clone(), port, vec![user.clone()]);
    run_then_cleanup(
        async move {
            create_user(&host, port, &user, "old-pw").await;
            let rules_before = rules_of(&host, port, &user).await;
            let old = RedisSecret::new(&host, port, &user, "old-pw");
            let f = Fixture::new(&old, Strategy::Single);
            let service = LocalService::new(f.store.clone());
            let token = service.begin(&f.arn).unwrap();
            service
                .run_steps(&f.arn, &token, &f.driver, &[Step::CreateSecret, Step::SetSecret, Step::TestSecret])
                .await
                .unwrap();
            let pending = RedisSecret::parse(
                &f.store
                    .get_secret_value(&f.arn, Some(&token), None)
                    .await
                    .unwrap()
                    .payload,
            )
            .unwrap();
            assert!(login_works(&old, T).await.unwrap(), "overlap: old works until finish");
            assert!(login_works(&pending, T).await.unwrap(), "overlap: new works");
            service
                .run_steps(&f.arn, &token, &f.driver, &[Step::FinishSecret])
                .await
                .unwrap();
            assert!(!login_works(&old, T).await.unwrap(), "after finish the old password is gone");
            assert!(login_works(&f.current().await, T).await.unwrap());
            assert_eq!(rules_of(&host, port, &user).await, rules_before, "rules kept");
            // The user can still do what its rules allow, and nothing else.
            let mut c = admin(&host, port).await;
            let cur = f.current().await;
            assert_eq!(
                cmd(&mut c, &["AUTH", &user, cur.password.expose_secret()]).await,
                Reply::Simple("OK".into())
            );
            assert_eq!(cmd(&mut c, &["SET", "app:x", "1"]).await, Reply::Simple("OK".into()));
            assert!(matches!(cmd(&mut c, &["SET", "other:x", "1"]).await, Reply::Error(e) if e.starts_with("NOPERM")));
        },
        cleanup,
    )
    .await;
}

#[tokio::test]
async fn alternating_clone_copies_rules_and_repairs_drift() {
    let Some((host, port)) = redis_addr() else {
        return;
    };
    let user = unique_name("rw_redis");
    let clone = format!("{user}_clone");
    let cleanup = delete_users(host.clone(), port, vec![user.clone(), clone.clone()]);
    run_then_cleanup(
        async move {
            create_user(&host, port, &user, "base-pw").await;
            let base = RedisSecret::new(&host, port, &user, "base-pw");
            let f = Fixture::new(&base, Strategy::Alternating);
            f.rotate().await;
            let v1 = f.current().await;
            assert_eq!(v1.username, clone);
            assert_eq!(
                rules_of(&host, port, &clone).await,
                rules_of(&host, port, &user).await
            );
            assert!(
                login_works(&base, T).await.unwrap(),
                "AWSPREVIOUS still works"
            );

            // Drift: the base gains a command, the clone gains one it should not have.
            let mut c = admin(&host, port).await;
            cmd(&mut c, &["ACL", "SETUSER", &user, "+del"]).await;
            cmd(&mut c, &["ACL", "SETUSER", &clone, "+flushall"]).await;
            f.rotate().await;
            let v2 = f.current().await;
            assert_eq!(v2.username, user);
            assert!(
                login_works(&v1, T).await.unwrap(),
                "the clone keeps its password"
            );
            assert!(
                !login_works(&base, T).await.unwrap(),
                "the base's old password is gone"
            );
            assert_eq!(
                rules_of(&host, port, &clone).await,
                rules_of(&host, port, &user).await
            );
            let clone_rules = rules_of(&host, port, &clone).await.join(" ");
            assert!(
                clone_rules.contains("+del") && !clone_rules.contains("+flushall"),
                "{clone_rules}"
            );
        },
        cleanup,
    )
    .await;
}

#[tokio::test]
async fn single_user_refuses_to_create_a_missing_user() {
    let Some((host, port)) = redis_addr() else {
        return;
    };
    let user = unique_name("rw_redis");
    let cleanup = delete_users(host.clone(), port, vec![user.clone()]);
    run_then_cleanup(
        async move {
            let f = Fixture::new(
                &RedisSecret::new(&host, port, &user, "pw"),
                Strategy::Single,
            );
            let err = LocalService::new(f.store.clone())
                .rotate(&f.arn, &f.driver)
                .await
                .unwrap_err();
            assert_eq!(err.step, Some(Step::SetSecret), "{err}");
            assert!(err.message.contains("does not exist"), "{err}");
            let retry = f
                .driver
                .handle(&RotationEvent::new(
                    Step::SetSecret,
                    &f.arn,
                    err.token.as_deref().unwrap(),
                ))
                .await
                .unwrap_err();
            assert_eq!(retry.kind(), ErrorKind::Conflict, "{retry}");
            let mut c = admin(&host, port).await;
            assert!(
                RedisRotator::get_user(&mut c, &user)
                    .await
                    .unwrap()
                    .is_none()
            );
        },
        cleanup,
    )
    .await;
}

#[tokio::test]
async fn a_wrong_admin_password_fails_without_printing_it() {
    let Some((host, port)) = redis_addr() else {
        return;
    };
    let user = unique_name("rw_redis");
    let admin_user = unique_name("rw_admin");
    let cleanup = delete_users(host.clone(), port, vec![user.clone(), admin_user.clone()]);
    run_then_cleanup(
        async move {
            create_user(&host, port, &user, "pw-1").await;
            // An admin with a password (the default user here is `nopass`: any password works).
            let mut c = admin(&host, port).await;
            let reply = cmd(
                &mut c,
                &[
                    "ACL",
                    "SETUSER",
                    &admin_user,
                    "on",
                    ">admin-right-pw",
                    "~*",
                    "&*",
                    "+@all",
                ],
            )
            .await;
            assert_eq!(reply, Reply::Simple("OK".into()));
            let store = Arc::new(MemoryStore::new());
            let arn = store
                .insert_secret_payload(
                    "t/redis",
                    RedisSecret::new(&host, port, &user, "pw-1").to_payload(),
                )
                .unwrap();
            let rotate_as = |password: &str| {
                let admin = AdminLogin {
                    username: Some(admin_user.clone()),
                    password: Some(password.into()),
                };
                Driver::new(
                    store.clone(),
                    Arc::new(RedisRotator::new(admin, Strategy::Single)),
                )
            };
            let service = LocalService::new(store.clone());
            let err = service
                .rotate(&arn, &rotate_as("admin-canary-pw"))
                .await
                .unwrap_err();
            assert_eq!(err.step, Some(Step::SetSecret), "{err}");
            assert!(err.message.contains("cannot log in"), "{err}");
            assert!(
                !err.message.contains("admin-canary-pw") && !err.message.contains("pw-1"),
                "{err}"
            );
            let token = err.token.clone().unwrap();
            let retry = rotate_as("admin-canary-pw")
                .handle(&RotationEvent::new(Step::SetSecret, &arn, &token))
                .await
                .unwrap_err();
            assert_eq!(retry.kind(), ErrorKind::LoginRefused, "{retry}");
            assert_eq!(retry.error_type(), "LoginRefused");
            assert!(
                login_works(&RedisSecret::new(&host, port, &user, "pw-1"), T)
                    .await
                    .unwrap()
            );
            // Positive control: the right admin password completes the same rotation.
            service
                .resume(&arn, &token, &rotate_as("admin-right-pw"))
                .await
                .unwrap();
            assert!(
                !login_works(&RedisSecret::new(&host, port, &user, "pw-1"), T)
                    .await
                    .unwrap()
            );
        },
        cleanup,
    )
    .await;
}

/// `ACL LOG` entries for failed AUTHs of `user`.
async fn failed_auths(host: &str, port: u16, user: &str) -> i64 {
    let mut c = admin(host, port).await;
    let log = cmd(&mut c, &["ACL", "LOG", "128"]).await;
    log.items()
        .iter()
        .filter(|e| {
            e.field("username").and_then(Reply::text).as_deref() == Some(user)
                && e.field("reason").and_then(Reply::text).as_deref() == Some("auth")
        })
        .map(|e| match e.field("count") {
            Some(Reply::Int(n)) => *n,
            _ => 1,
        })
        .sum()
}

#[tokio::test]
async fn no_failed_login_on_the_normal_path() {
    let Some((host, port)) = redis_addr() else {
        return;
    };
    let user = unique_name("rw_redis");
    let clone = format!("{user}_clone");
    let cleanup = delete_users(host.clone(), port, vec![user.clone(), clone.clone()]);
    run_then_cleanup(
        async move {
            create_user(&host, port, &user, "pw-0").await;
            for strategy in [Strategy::Single, Strategy::Alternating] {
                let f = Fixture::new(&RedisSecret::new(&host, port, &user, "pw-0"), strategy);
                // Reset the base password to the fixture's value for each strategy.
                let mut c = admin(&host, port).await;
                cmd(&mut c, &["ACL", "SETUSER", &user, "resetpass", ">pw-0"]).await;
                f.rotate().await;
                f.rotate().await;
            }
            assert_eq!(
                failed_auths(&host, port, &user).await,
                0,
                "no failed AUTH as {user}"
            );
            assert_eq!(
                failed_auths(&host, port, &clone).await,
                0,
                "no failed AUTH as {clone}"
            );
            // Positive control: one deliberate bad login is counted.
            assert!(
                !login_works(&RedisSecret::new(&host, port, &user, "wrong"), T)
                    .await
                    .unwrap()
            );
            assert_eq!(
                failed_auths(&host, port, &user).await,
                1,
                "ACL LOG records a bad AUTH"
            );
        },
        cleanup,
    )
    .await;
}

/// No Redis needed: a closed port is `Unreachable`, for the probe and for a step.
#[tokio::test]
async fn connection_refused_is_unreachable() {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    let secret = RedisSecret::new("127.0.0.1", 1, "app", "pw");
    let err = login_works(&secret, T).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    let probe = rotator(Strategy::Single);
    let err = probe.accepts(&secret.to_payload()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");

    let f = Fixture::new(&secret, Strategy::Single);
    let token = f.store.begin_rotation(&f.arn).unwrap();
    for step in [Step::CreateSecret, Step::SetSecret] {
        let result = f
            .driver
            .handle(&RotationEvent::new(step, &f.arn, &token))
            .await;
        if step == Step::CreateSecret {
            result.unwrap();
        } else {
            let err = result.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
            assert_eq!(err.error_type(), "TargetUnreachable");
            assert!(!err.to_string().contains("\"pw\""), "{err}");
        }
    }
}

/// No Redis needed: a malformed secret is `InvalidSecret` and quotes no value.
#[tokio::test]
async fn malformed_secrets_are_invalid_secret() {
    let probe = rotator(Strategy::Single);
    for (value, expect) in [
        ("not json", "not a JSON object"),
        (
            r#"{"host": "h", "username": "u"}"#,
            "no non-empty string `password`",
        ),
        (
            r#"{"host": "h", "username": "u", "password": "canary-pw", "port": "http"}"#,
            "not a port number",
        ),
        (
            r#"{"host": "h", "username": "u", "password": "canary-pw", "port": 70000}"#,
            "not a port number",
        ),
        (
            r#"{"host": "h", "username": "u", "password": "canary-pw", "port": true}"#,
            "a number or a string",
        ),
    ] {
        let err = probe.accepts(&value.into()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSecret, "{value}: {err}");
        assert!(err.to_string().contains(expect), "{value}: {err}");
        assert!(!err.to_string().contains("canary-pw"), "{err}");
    }
}
