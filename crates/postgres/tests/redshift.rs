//! The Redshift flavour end to end on the private PostgreSQL 15 of `scripts/services up`,
//! in its database `rotwise_md5`, where TCP logins use the `md5` method: the MD5 hashes
//! the flavour writes are judged by a server that checks passwords. Every statement the
//! flavour runs (`ALTER USER … PASSWORD 'md5…'`, `CREATE USER`, `CREATE GROUP`,
//! `ALTER GROUP … ADD/DROP USER`, `GRANT`/`REVOKE` on databases, schemas and tables, the
//! `pg_user`/`pg_group`/`has_*_privilege` reads) is valid PostgreSQL too; what only
//! Redshift can show is in `tests/redshift_sql.rs`.

use std::sync::Arc;
use std::time::Duration;

use rotwise_core::config::Env;
use rotwise_core::store::{AWSCURRENT, MemoryStore, SecretStore};
use rotwise_core::{Driver, ExposeSecret, PasswordSource, SecretPayload, SecretString, Strategy};
use rotwise_postgres::redshift::sql::{CLONE_GROUP, adopt_clone_sql, md5_hash};
use rotwise_postgres::redshift::{DEFAULT_EXCLUDE_CHARACTERS, RedshiftRotator, RedshiftSecret};
use rotwise_postgres::sql::{quote_ident, quote_literal};
use rotwise_postgres::{DbOptions, TlsMode};
use rotwise_test_services::{
    PgService, pg_connect, plaintext_hits, require_pg, run_then_cleanup, unique_name,
};
use rotwise_testkit::{Conformance, LocalService, Recorded};
use serde_json::{Value, json};
use tokio_postgres::Client;

const DB: &str = "rotwise_md5";

fn port(pg: &PgService) -> u16 {
    pg.admin_config()
        .get_ports()
        .first()
        .copied()
        .expect("ROTATION_TEST_PG_URL names the private server's port")
}

fn secret_value(pg: &PgService, user: &str, password: &str, masterarn: Option<&str>) -> String {
    let mut v = json!({
        "engine": "redshift", "host": "127.0.0.1", "port": port(pg),
        "username": user, "password": password, "dbname": DB, "ssl": true,
        "note": "kept",
    });
    if let Some(arn) = masterarn {
        v["masterarn"] = Value::String(arn.to_owned());
    }
    v.to_string()
}

fn options(pg: &PgService, strategy: Strategy) -> DbOptions {
    DbOptions {
        tls: Some(TlsMode::VerifyFull),
        ca_file: Some(pg.ca.clone()),
        connect_timeout: Duration::from_secs(5),
        strategy: Some(strategy),
        ..DbOptions::default()
    }
}

/// Passwords as the Redshift Lambda generates them (its `EXCLUDE_CHARACTERS` default).
fn passwords() -> PasswordSource {
    PasswordSource::from_env(
        &Env::from_pairs(std::iter::empty::<(&str, &str)>()),
        DEFAULT_EXCLUDE_CHARACTERS,
    )
    .unwrap()
}

fn initial_password() -> String {
    format!("Init1-{}", &unique_name("p")[2..])
}

async fn admin_md5(pg: &PgService) -> Client {
    let mut config = pg.admin_config();
    config.dbname(DB);
    pg_connect(&config, pg.tls()).await.unwrap()
}

async fn login_md5(pg: &PgService, user: &str, password: &str) -> bool {
    let mut config = pg.config_for(user, password);
    config.dbname(DB);
    pg_connect(&config, pg.tls()).await.is_ok()
}

/// A user whose stored password is an MD5 hash, as Redshift keeps them.
async fn create_user(admin: &Client, name: &str, password: &str, attrs: &str) {
    admin
        .batch_execute(&format!(
            "CREATE USER {} {attrs} PASSWORD '{}'",
            quote_ident(name),
            md5_hash(&SecretString::from(password), name)
        ))
        .await
        .unwrap_or_else(|e| panic!("create user {name:?}: {e:?}"));
}

async fn stored_password(admin: &Client, user: &str) -> Option<String> {
    admin
        .query_opt(
            "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
            &[&user],
        )
        .await
        .unwrap()
        .and_then(|r| r.get(0))
}

async fn drop_users(pg: &PgService, users: &[String], groups: &[String]) {
    let admin = admin_md5(pg).await;
    for name in users {
        let q = quote_ident(name);
        let _ = admin
            .batch_execute(&format!(
                "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {}) THEN \
                 EXECUTE 'DROP OWNED BY {q}'; EXECUTE 'DROP ROLE {q}'; END IF; END $$",
                quote_literal(name)
            ))
            .await;
    }
    for g in groups {
        let _ = admin
            .batch_execute(&format!("DROP ROLE IF EXISTS {}", quote_ident(g)))
            .await;
    }
}

fn password_of(value: &SecretPayload) -> String {
    RedshiftSecret::parse(value)
        .unwrap()
        .password
        .expose_secret()
        .to_owned()
}

fn username_of(value: &SecretPayload) -> String {
    RedshiftSecret::parse(value).unwrap().username
}

async fn current(store: &MemoryStore, arn: &str) -> SecretPayload {
    store
        .get_secret_value(arn, None, Some(AWSCURRENT))
        .await
        .unwrap()
        .payload
}

async fn log_until_now(admin: &Client, cursor: &rotwise_test_services::LogCursor) -> String {
    let marker = unique_name("fence");
    admin
        .batch_execute(&format!("SELECT '{marker}'"))
        .await
        .unwrap();
    cursor.wait_for(&marker, Duration::from_secs(5)).await
}

fn failed_logins(log: &str, user: &str) -> usize {
    log.matches(&format!(
        "password authentication failed for user \"{user}\""
    ))
    .count()
}

// ---------------------------------------------------------------------------------------
// Single user

#[tokio::test]
async fn single_user_writes_md5_hashes_the_server_judges() {
    let Some(pg) = require_pg() else { return };
    let user = unique_name("rw_rs_single");
    let users = vec![user.clone()];
    let body = {
        let pg = pg.clone();
        let user = user.clone();
        async move {
            let admin = admin_md5(&pg).await;
            let initial = initial_password();
            create_user(&admin, &user, &initial, "").await;
            let store = Arc::new(MemoryStore::new());
            let arn = store
                .insert_secret("rs/single", &secret_value(&pg, &user, &initial, None))
                .unwrap();
            let rotator = Arc::new(RedshiftRotator::new(options(&pg, Strategy::Single)));
            let driver = Driver::new(store.clone(), rotator.clone()).with_passwords(passwords());
            let service = LocalService::new(store.clone());
            let log = pg.log_cursor();
            let mut seen = vec![initial.clone()];
            let mut rotation_log = String::new();
            for round in 1..=2 {
                let window = pg.log_cursor();
                service
                    .rotate(&arn, &driver)
                    .await
                    .unwrap_or_else(|e| panic!("rotation {round}: {e}"));
                rotation_log.push_str(&log_until_now(&admin, &window).await);
                let new = password_of(&current(&store, &arn).await);
                // The server holds exactly the hash of the new password, and judges it.
                assert_eq!(
                    stored_password(&admin, &user).await.as_deref(),
                    Some(md5_hash(&SecretString::from(new.as_str()), &user).as_str())
                );
                assert!(
                    login_md5(&pg, &user, &new).await,
                    "round {round}: new password"
                );
                assert!(
                    !login_md5(&pg, &user, seen.last().unwrap()).await,
                    "round {round}: the old password is refused"
                );
                seen.push(new);
            }
            let last: Value = serde_json::from_str(
                current(&store, &arn)
                    .await
                    .as_string()
                    .unwrap()
                    .expose_secret(),
            )
            .unwrap();
            assert_eq!(
                (last["note"].as_str(), last["engine"].as_str()),
                (Some("kept"), Some("redshift"))
            );

            let text = log_until_now(&admin, &log).await;
            let alter = format!("statement: ALTER USER {} PASSWORD 'md5", quote_ident(&user));
            assert_eq!(
                text.matches(&alter).count(),
                2,
                "positive control: ALTER USER logged"
            );
            assert_eq!(
                plaintext_hits(&text, &seen),
                0,
                "a plaintext password in the server log"
            );
            assert_eq!(
                failed_logins(&rotation_log, &user),
                0,
                "failed logins during rotation"
            );
            // Positive control: a bad password in the md5 database is counted.
            let mut control = pg.log_cursor();
            control.advance();
            assert!(!login_md5(&pg, &user, "Wrong-password-1").await);
            let text = log_until_now(&admin, &control).await;
            assert_eq!(failed_logins(&text, &user), 1, "positive control");
        }
    };
    run_then_cleanup(body, drop_users(&pg, &users, &[])).await;
}

#[tokio::test]
async fn single_user_conformance() {
    let Some(pg) = require_pg() else { return };
    let user = unique_name("rw_rs_conf_single");
    let users = vec![user.clone()];
    let body = {
        let pg = pg.clone();
        let user = user.clone();
        async move {
            let admin = admin_md5(&pg).await;
            let initial = initial_password();
            create_user(&admin, &user, &initial, "").await;
            let rotator = Arc::new(RedshiftRotator::new(options(&pg, Strategy::Single)));
            let log = pg.log_cursor();
            let target = Arc::new(Recorded::new(rotator.clone()));
            let report = Conformance::new(
                rotator.clone(),
                target.clone(),
                secret_value(&pg, &user, &initial, None),
                Strategy::Single,
            )
            .with_passwords(passwords())
            .run()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            let server_hits =
                plaintext_hits(&log_until_now(&admin, &log).await, &target.passwords());
            assert_eq!(server_hits, 0, "plaintext passwords in the server log");
            assert!(report.fault_points > 0);
            eprintln!("redshift single conformance: {report}");
        }
    };
    run_then_cleanup(body, drop_users(&pg, &users, &[])).await;
}

/// Single user: names Redshift would fold or refuse, and pending passwords that break its
/// rules, fail before anything changes (the current password still logs in).
#[tokio::test]
async fn names_and_passwords_outside_redshifts_rules_change_nothing() {
    let Some(pg) = require_pg() else { return };
    let user = format!("Rw_Upper_{}", &unique_name("u")[2..]);
    let lower = unique_name("rw_rs_rules");
    let users = vec![user.clone(), lower.clone()];
    let body = {
        let pg = pg.clone();
        let (user, lower) = (user.clone(), lower.clone());
        async move {
            let admin = admin_md5(&pg).await;
            let initial = initial_password();
            create_user(&admin, &user, &initial, "").await;
            create_user(&admin, &lower, &initial, "").await;
            let rotator = Arc::new(RedshiftRotator::new(options(&pg, Strategy::Single)));
            // Upper case in the name.
            let store = Arc::new(MemoryStore::new());
            let arn = store
                .insert_secret("rs/upper", &secret_value(&pg, &user, &initial, None))
                .unwrap();
            let driver = Driver::new(store.clone(), rotator.clone()).with_passwords(passwords());
            let err = LocalService::new(store.clone())
                .rotate(&arn, &driver)
                .await
                .unwrap_err();
            assert!(err.message.contains("lower case"), "{}", err.message);
            assert!(login_md5(&pg, &user, &initial).await, "nothing changed");

            // Passwords without a digit (EXCLUDE_NUMBERS, which the Lambda refuses at start).
            let policy = rotwise_core::password::PasswordPolicy {
                exclude_numbers: true,
                exclude_characters: DEFAULT_EXCLUDE_CHARACTERS.to_owned(),
                ..Default::default()
            };
            let store = Arc::new(MemoryStore::new());
            let arn = store
                .insert_secret("rs/nodigit", &secret_value(&pg, &lower, &initial, None))
                .unwrap();
            let driver = Driver::new(store.clone(), rotator.clone())
                .with_passwords(PasswordSource::Local(policy));
            let err = LocalService::new(store.clone())
                .rotate(&arn, &driver)
                .await
                .unwrap_err();
            assert!(err.message.contains("it has no digit"), "{}", err.message);
            let before = stored_password(&admin, &lower).await;
            assert_eq!(
                before.as_deref(),
                Some(md5_hash(&SecretString::from(initial.as_str()), &lower).as_str()),
                "nothing changed"
            );
        }
    };
    run_then_cleanup(body, drop_users(&pg, &users, &[])).await;
}

// ---------------------------------------------------------------------------------------
// Alternating users

struct Fixture {
    base: String,
    clone: String,
    master: String,
    schema: String,
    groups: [String; 3],
}

impl Fixture {
    fn new() -> Fixture {
        let base = unique_name("rw_rs_alt");
        let schema = unique_name("rw_rs_s");
        Fixture {
            clone: format!("{base}_clone"),
            master: unique_name("rw_rs_master"),
            groups: [
                unique_name("rw_rs_g1"),
                unique_name("rw_rs_g2"),
                unique_name("rw_rs_g3"),
            ],
            base,
            schema,
        }
    }

    fn users(&self) -> Vec<String> {
        vec![self.clone.clone(), self.base.clone(), self.master.clone()]
    }

    fn groups(&self) -> Vec<String> {
        self.groups.to_vec()
    }

    /// The base user: in groups 1 and 2, CREATE on the database, USAGE on the schema,
    /// SELECT and INSERT on one table, REFERENCES on another. The master: Redshift's admin
    /// user, a superuser.
    async fn setup(&self, pg: &PgService) -> (Arc<MemoryStore>, String) {
        let admin = admin_md5(pg).await;
        let master_pw = initial_password();
        let initial = initial_password();
        create_user(&admin, &self.master, &master_pw, "SUPERUSER").await;
        create_user(&admin, &self.base, &initial, "").await;
        let (b, s) = (quote_ident(&self.base), quote_ident(&self.schema));
        let [g1, g2, g3] = self.groups.each_ref().map(|g| quote_ident(g));
        admin
            .batch_execute(&format!(
                "CREATE GROUP {g1}; CREATE GROUP {g2}; CREATE GROUP {g3}; \
                 ALTER GROUP {g1} ADD USER {b}; ALTER GROUP {g2} ADD USER {b}; \
                 GRANT CREATE ON DATABASE {DB} TO {b}; \
                 CREATE SCHEMA {s}; GRANT USAGE ON SCHEMA {s} TO {b}; \
                 CREATE TABLE {s}.t1 (id int); CREATE TABLE {s}.t2 (id int PRIMARY KEY); \
                 GRANT SELECT, INSERT ON {s}.t1 TO {b}; GRANT REFERENCES ON {s}.t2 TO {b}; \
                 GRANT SELECT ON {s}.t2 TO {g3}"
            ))
            .await
            .unwrap();
        // The marker group is shared by every test: made up front, so that parallel tests do
        // not race to create it (rotwise's first clone creates it on a fresh server).
        admin
            .batch_execute(&format!(
                "DO $$ BEGIN CREATE GROUP {CLONE_GROUP}; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            ))
            .await
            .unwrap();
        let store = Arc::new(MemoryStore::new());
        let marn = store
            .insert_secret(
                &format!("rs/master/{}", self.master),
                &secret_value(pg, &self.master, &master_pw, None),
            )
            .unwrap();
        let arn = store
            .insert_secret(
                &format!("rs/alt/{}", self.base),
                &secret_value(pg, &self.base, &initial, Some(&marn)),
            )
            .unwrap();
        (store, arn)
    }

    async fn teardown(&self, pg: &PgService) {
        let admin = admin_md5(pg).await;
        let _ = admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                quote_ident(&self.schema)
            ))
            .await;
        drop_users(pg, &self.users(), &self.groups()).await;
    }

    /// What `user` holds here: its groups (the marker aside) and, per object, the
    /// privileges `has_*_privilege` reports.
    async fn holdings(&self, admin: &Client, user: &str) -> (Vec<String>, Vec<String>) {
        let groups = admin
            .query(
                "SELECT g.groname::text FROM pg_group g, pg_user u \
                 WHERE u.usename = $1 AND u.usesysid = ANY(g.grolist) AND g.groname <> $2 ORDER BY 1",
                &[&user, &CLONE_GROUP],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect();
        let mut privileges = Vec::new();
        for p in ["CREATE", "TEMP"] {
            let row = admin
                .query_one(
                    "SELECT has_database_privilege($1, $2, $3)",
                    &[&user, &DB, &p],
                )
                .await
                .unwrap();
            if row.get::<_, bool>(0) {
                privileges.push(format!("db {p}"));
            }
        }
        for p in ["CREATE", "USAGE"] {
            let row = admin
                .query_one(
                    "SELECT has_schema_privilege($1, $2, $3)",
                    &[&user, &self.schema, &p],
                )
                .await
                .unwrap();
            if row.get::<_, bool>(0) {
                privileges.push(format!("schema {p}"));
            }
        }
        for t in ["t1", "t2"] {
            for p in ["SELECT", "INSERT", "UPDATE", "DELETE", "REFERENCES"] {
                let table = format!("{}.{t}", quote_ident(&self.schema));
                let row = admin
                    .query_one(
                        "SELECT has_table_privilege($1, $2, $3)",
                        &[&user, &table, &p],
                    )
                    .await
                    .unwrap();
                if row.get::<_, bool>(0) {
                    privileges.push(format!("{t} {p}"));
                }
            }
        }
        (groups, privileges)
    }
}

#[tokio::test]
async fn alternating_copies_groups_and_privileges_both_ways() {
    let Some(pg) = require_pg() else { return };
    let fx = Arc::new(Fixture::new());
    let body = {
        let pg = pg.clone();
        let fx = fx.clone();
        async move {
            let (store, arn) = fx.setup(&pg).await;
            let admin = admin_md5(&pg).await;
            let rotator = Arc::new(RedshiftRotator::new(options(&pg, Strategy::Alternating)));
            let driver = Driver::new(store.clone(), rotator.clone()).with_passwords(passwords());
            let service = LocalService::new(store.clone());
            let log = pg.log_cursor();
            let mut seen = vec![password_of(&current(&store, &arn).await)];
            let mut rotation_log = String::new();
            let rotate = async |what: &str| -> (String, String, String) {
                let window = pg.log_cursor();
                service
                    .rotate(&arn, &driver)
                    .await
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                let text = log_until_now(&admin, &window).await;
                let value = current(&store, &arn).await;
                let (u, p) = (username_of(&value), password_of(&value));
                assert!(login_md5(&pg, &u, &p).await, "{what}: AWSCURRENT logs in");
                (u, p, text)
            };
            let step = async |what: &str, seen: &mut Vec<String>, log: &mut String| {
                let (u, p, text) = rotate(what).await;
                seen.push(p);
                log.push_str(&text);
                u
            };

            // A dry run first: the plan, and nothing changed (store, users, no write in the
            // statement log); the clone's privileges are computed after it exists.
            let users = [fx.base.as_str(), fx.clone.as_str(), fx.master.as_str()];
            let plan =
                dry_run_changes_nothing(&pg, &admin, &driver, &store, &arn, &fx, &users).await;
            assert_eq!(
                plan.set.changes[0].statement.as_deref(),
                Some(
                    format!(
                        "CREATE USER {} PASSWORD '<redacted hash>'; {}",
                        quote_ident(&fx.clone),
                        adopt_clone_sql(&fx.clone, true)
                    )
                    .as_str()
                ),
                "{plan:?}"
            );
            assert!(
                plan.set
                    .notes
                    .iter()
                    .any(|n| n.contains("computed after CREATE USER")),
                "{plan:?}"
            );

            // 1: the clone is created, marked, and holds what the base holds.
            assert_eq!(
                step("rotation 1", &mut seen, &mut rotation_log).await,
                fx.clone
            );
            let base_holds = fx.holdings(&admin, &fx.base).await;
            assert_eq!(
                base_holds.0,
                vec![fx.groups[0].clone(), fx.groups[1].clone()]
            );
            assert!(
                base_holds.1.contains(&"t1 INSERT".to_owned()),
                "{base_holds:?}"
            );
            assert_eq!(fx.holdings(&admin, &fx.clone).await, base_holds);
            assert!(
                login_md5(&pg, &fx.base, &seen[0]).await,
                "AWSPREVIOUS keeps working until the next rotation"
            );

            // Revokes and new grants on the base reach the clone at the next rotation.
            let (b, s) = (quote_ident(&fx.base), quote_ident(&fx.schema));
            let [g1, _, g3] = fx.groups.each_ref().map(|g| quote_ident(g));
            admin
                .batch_execute(&format!(
                    "REVOKE INSERT ON {s}.t1 FROM {b}; ALTER GROUP {g1} DROP USER {b}; \
                     ALTER GROUP {g3} ADD USER {b}; REVOKE CREATE ON DATABASE {DB} FROM {b}; \
                     GRANT CREATE ON SCHEMA {s} TO {b}"
                ))
                .await
                .unwrap();
            // The dry run lists the password change, the group moves and the revoke.
            let plan =
                dry_run_changes_nothing(&pg, &admin, &driver, &store, &arn, &fx, &users).await;
            let shown: Vec<&str> = plan
                .set
                .changes
                .iter()
                .filter_map(|c| c.statement.as_deref())
                .collect();
            assert_eq!(
                shown[0],
                format!("ALTER USER {b} PASSWORD '<redacted hash>'"),
                "{shown:?}"
            );
            assert!(
                shown
                    .iter()
                    .any(|s| s.contains(&format!("ALTER GROUP {g1} DROP USER"))),
                "{shown:?}"
            );
            assert!(
                shown
                    .iter()
                    .any(|st| st.contains(&format!("REVOKE INSERT ON TABLE {s}.\"t1\" FROM"))),
                "{shown:?}"
            );
            assert_eq!(
                step("rotation 2", &mut seen, &mut rotation_log).await,
                fx.base
            );
            let base_holds = fx.holdings(&admin, &fx.base).await;
            assert!(!base_holds.1.contains(&"t1 INSERT".to_owned()));
            assert!(
                base_holds.1.contains(&"t2 SELECT".to_owned()),
                "through group 3"
            );
            assert_eq!(
                fx.holdings(&admin, &fx.clone).await,
                base_holds,
                "after revokes"
            );
            assert!(
                !login_md5(&pg, &fx.base, &seen[0]).await,
                "the base's old password"
            );
            assert!(
                login_md5(&pg, &fx.clone, &seen[1]).await,
                "the clone still logs in"
            );

            // A table the clone creates stays its own: the base user cannot read it, yet no
            // revoke touches the clone's privileges on it.
            {
                let mut config = pg.config_for(&fx.clone, &seen[1]);
                config.dbname(DB);
                let as_clone = pg_connect(&config, pg.tls()).await.unwrap();
                as_clone
                    .batch_execute(&format!("CREATE TABLE {s}.own (id int)"))
                    .await
                    .unwrap();
            }
            let owned = format!("{s}.own");
            let can = async |user: &str| -> bool {
                admin
                    .query_one(
                        "SELECT has_table_privilege($1, $2, 'SELECT')",
                        &[&user, &owned],
                    )
                    .await
                    .unwrap()
                    .get(0)
            };
            assert!(!can(&fx.base).await && can(&fx.clone).await);

            // 3: the clone exists (marked): its password changes, nothing else drifts.
            assert_eq!(
                step("rotation 3", &mut seen, &mut rotation_log).await,
                fx.clone
            );
            assert_eq!(fx.holdings(&admin, &fx.clone).await, base_holds);
            assert!(!login_md5(&pg, &fx.clone, &seen[1]).await);
            assert!(can(&fx.clone).await, "the clone's own table is left alone");
            assert_eq!(
                stored_password(&admin, &fx.clone).await.as_deref(),
                Some(md5_hash(&SecretString::from(seen[3].as_str()), &fx.clone).as_str())
            );

            let text = log_until_now(&admin, &log).await;
            assert!(
                text.contains(&format!(
                    "CREATE USER {} PASSWORD 'md5",
                    quote_ident(&fx.clone)
                )),
                "positive control: the statements are in the log"
            );
            assert!(
                text.contains(&format!("REVOKE INSERT ON TABLE {s}.\"t1\" FROM")),
                "revoke logged"
            );
            assert_eq!(
                plaintext_hits(&text, &seen),
                0,
                "a plaintext password in the server log"
            );
            for u in [&fx.base, &fx.clone, &fx.master] {
                assert_eq!(failed_logins(&rotation_log, u), 0, "failed logins for {u}");
            }
        }
    };
    run_then_cleanup(body, fx.teardown(&pg)).await;
}

#[tokio::test]
async fn alternating_conformance() {
    let Some(pg) = require_pg() else { return };
    let fx = Arc::new(Fixture::new());
    let body = {
        let pg = pg.clone();
        let fx = fx.clone();
        async move {
            let (store, arn) = fx.setup(&pg).await;
            let admin = admin_md5(&pg).await;
            let rotator = Arc::new(RedshiftRotator::new(options(&pg, Strategy::Alternating)));
            let initial = current(&store, &arn).await;
            let log = pg.log_cursor();
            let target = Arc::new(Recorded::new(rotator.clone()));
            let report = Conformance::new(
                rotator.clone(),
                target.clone(),
                initial,
                Strategy::Alternating,
            )
            .with_store(store)
            .with_secret_name("rs/conformance-alt")
            .with_passwords(passwords())
            .run()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            let server_hits =
                plaintext_hits(&log_until_now(&admin, &log).await, &target.passwords());
            assert_eq!(server_hits, 0, "plaintext passwords in the server log");
            eprintln!("redshift alternating conformance: {report}");
        }
    };
    run_then_cleanup(body, fx.teardown(&pg)).await;
}

/// A user named like the clone that rotwise did not make (not in the marker group) is
/// never adopted: the rotation fails before any change, naming the statement that adopts
/// it; after that statement, the rotation goes through.
#[tokio::test]
async fn an_unmarked_clone_is_refused_then_adopted_on_purpose() {
    let Some(pg) = require_pg() else { return };
    let fx = Arc::new(Fixture::new());
    let body = {
        let pg = pg.clone();
        let fx = fx.clone();
        async move {
            let (store, arn) = fx.setup(&pg).await;
            let admin = admin_md5(&pg).await;
            let squatter = initial_password();
            create_user(&admin, &fx.clone, &squatter, "").await;
            let rotator = Arc::new(RedshiftRotator::new(options(&pg, Strategy::Alternating)));
            let driver = Driver::new(store.clone(), rotator.clone()).with_passwords(passwords());
            let service = LocalService::new(store.clone());
            let err = service.rotate(&arn, &driver).await.unwrap_err();
            assert!(
                err.message
                    .contains("ALTER GROUP \"rotwise_clones\" ADD USER"),
                "{}",
                err.message
            );
            assert!(
                login_md5(&pg, &fx.clone, &squatter).await,
                "its password is unchanged"
            );
            assert!(
                fx.holdings(&admin, &fx.clone).await.0.is_empty(),
                "no group given"
            );

            // Adopted on purpose, with the statement the message names.
            admin
                .batch_execute(&format!(
                    "ALTER GROUP {CLONE_GROUP} ADD USER {}",
                    quote_ident(&fx.clone)
                ))
                .await
                .unwrap();
            // Secrets Manager retries the failed rotation with the same token.
            let token = err.token.clone().expect("the failed rotation's token");
            service.resume(&arn, &token, &driver).await.unwrap();
            let value = current(&store, &arn).await;
            assert_eq!(username_of(&value), fx.clone);
            assert!(!login_md5(&pg, &fx.clone, &squatter).await);
            assert_eq!(
                fx.holdings(&admin, &fx.clone).await,
                fx.holdings(&admin, &fx.base).await
            );
        }
    };
    run_then_cleanup(body, fx.teardown(&pg)).await;
}

/// A clone made by AWS's function (unmarked, holding nothing) whose credential the secret
/// holds as AWSCURRENT: the current login proves possession, so it is adopted, marked, and
/// made equal to the base user.
#[tokio::test]
async fn a_clone_the_secret_holds_is_adopted_and_marked() {
    let Some(pg) = require_pg() else { return };
    let fx = Arc::new(Fixture::new());
    let body = {
        let pg = pg.clone();
        let fx = fx.clone();
        async move {
            let (store, arn) = fx.setup(&pg).await;
            let admin = admin_md5(&pg).await;
            let clone_pw = initial_password();
            create_user(&admin, &fx.clone, &clone_pw, "").await;
            // The secret as AWS's function leaves it after its first rotation: the clone
            // is AWSCURRENT.
            let base_value: Value = serde_json::from_str(
                current(&store, &arn)
                    .await
                    .as_string()
                    .unwrap()
                    .expose_secret(),
            )
            .unwrap();
            let mut value = base_value.clone();
            value["username"] = json!(fx.clone);
            value["password"] = json!(clone_pw);
            let arn = store
                .insert_secret(&format!("rs/aws-made/{}", fx.base), &value.to_string())
                .unwrap();
            let rotator = Arc::new(RedshiftRotator::new(options(&pg, Strategy::Alternating)));
            let driver = Driver::new(store.clone(), rotator.clone()).with_passwords(passwords());
            LocalService::new(store.clone())
                .rotate(&arn, &driver)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let now = current(&store, &arn).await;
            assert_eq!(username_of(&now), fx.base);
            assert!(login_md5(&pg, &fx.base, &password_of(&now)).await);
            assert!(
                login_md5(&pg, &fx.clone, &clone_pw).await,
                "the clone's password is kept"
            );
            let marked = admin
                .query_one(
                    "SELECT count(*) FROM pg_group g, pg_user u \
                     WHERE g.groname = $1 AND u.usename = $2 AND u.usesysid = ANY(g.grolist)",
                    &[&CLONE_GROUP, &fx.clone],
                )
                .await
                .unwrap()
                .get::<_, i64>(0);
            assert_eq!(marked, 1, "the clone is marked");
            assert_eq!(
                fx.holdings(&admin, &fx.clone).await,
                fx.holdings(&admin, &fx.base).await
            );
        }
    };
    run_then_cleanup(body, fx.teardown(&pg)).await;
}

/// The other proof: AWSPREVIOUS names the clone and still logs in (a secret whose clone
/// AWS's function made, rotated back to the base user). With a wrong AWSPREVIOUS password
/// the clone is refused and nothing changes (the control); with the right one it is
/// adopted and marked.
#[tokio::test]
async fn a_clone_awsprevious_logs_in_as_is_adopted() {
    let Some(pg) = require_pg() else { return };
    let fx = Arc::new(Fixture::new());
    let body = {
        let pg = pg.clone();
        let fx = fx.clone();
        async move {
            let (store, arn) = fx.setup(&pg).await;
            let admin = admin_md5(&pg).await;
            let clone_pw = initial_password();
            create_user(&admin, &fx.clone, &clone_pw, "").await;
            let base_value: Value = serde_json::from_str(
                current(&store, &arn)
                    .await
                    .as_string()
                    .unwrap()
                    .expose_secret(),
            )
            .unwrap();
            let rotator = Arc::new(RedshiftRotator::new(options(&pg, Strategy::Alternating)));
            let driver = Driver::new(store.clone(), rotator.clone()).with_passwords(passwords());
            let service = LocalService::new(store.clone());
            for (name, previous_pw, adopted) in [
                ("wrong", "Wrong-password-1".to_owned(), false),
                ("right", clone_pw.clone(), true),
            ] {
                // AWSPREVIOUS: the clone; AWSCURRENT: the base user.
                let mut clone_value = base_value.clone();
                clone_value["username"] = json!(fx.clone);
                clone_value["password"] = json!(previous_pw);
                let arn = store
                    .insert_secret(
                        &format!("rs/prev-{name}/{}", fx.base),
                        &clone_value.to_string(),
                    )
                    .unwrap();
                store
                    .put_secret_value(rotwise_core::store::PutSecretValue {
                        secret_id: arn.clone(),
                        token: format!("{:0<36}", unique_name("token")),
                        payload: SecretPayload::String(SecretString::from(base_value.to_string())),
                        stages: vec![],
                        rotation_token: None,
                    })
                    .await
                    .unwrap();
                let previous = store
                    .get_secret_value(&arn, None, Some("AWSPREVIOUS"))
                    .await
                    .unwrap()
                    .payload;
                assert_eq!(username_of(&previous), fx.clone, "{name}: the setup");
                let result = service.rotate(&arn, &driver).await;
                assert_eq!(result.is_ok(), adopted, "{name}: {result:?}");
                assert_eq!(
                    login_md5(&pg, &fx.clone, &clone_pw).await,
                    !adopted,
                    "{name}: the clone's password changed only when adopted"
                );
            }
            assert_eq!(
                fx.holdings(&admin, &fx.clone).await,
                fx.holdings(&admin, &fx.base).await
            );
        }
    };
    run_then_cleanup(body, fx.teardown(&pg)).await;
}

/// `driver.dry_run` on the alternating secret: answers a plan while the store, the users'
/// holdings and passwords stay as they were, and the logged statements of `users`'
/// sessions are reads and transaction boundaries only, in a `READ ONLY` transaction.
async fn dry_run_changes_nothing(
    pg: &PgService,
    admin: &Client,
    driver: &Driver,
    store: &MemoryStore,
    arn: &str,
    fx: &Fixture,
    users: &[&str],
) -> rotwise_core::plan::DryRun {
    let store_before = format!("{:?}", store.snapshot());
    let state = async |u: &str| {
        let exists = admin
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&u])
            .await
            .unwrap()
            .is_some();
        let holdings = if exists {
            Some(fx.holdings(admin, u).await)
        } else {
            None
        };
        (holdings, stored_password(admin, u).await)
    };
    let mut held = Vec::new();
    for u in users {
        held.push(state(u).await);
    }
    let window = pg.log_cursor();
    let plan = driver.dry_run(arn).await.unwrap();
    assert_eq!(format!("{:?}", store.snapshot()), store_before);
    for (u, before) in users.iter().zip(&held) {
        assert_eq!(&state(u).await, before, "the dry run changed {u}");
    }
    let text = log_until_now(admin, &window).await;
    let statements: Vec<&str> = text
        .lines()
        .filter(|l| users.iter().any(|u| l.contains(&format!("] {u}@"))))
        .filter_map(|l| l.split_once(" statement: ").map(|(_, s)| s))
        .collect();
    assert!(statements.contains(&"BEGIN READ ONLY"), "{statements:?}");
    for stmt in &statements {
        let upper = stmt.to_ascii_uppercase();
        assert!(
            ["SELECT", "BEGIN READ ONLY", "ROLLBACK"]
                .iter()
                .any(|r| upper.starts_with(r)),
            "the dry run wrote: {stmt}"
        );
    }
    plan
}
