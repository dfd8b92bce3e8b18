//! The Redshift flavour at the SQL level: what only Amazon Redshift could show, checked
//! without a server. Each fixture names the Redshift documentation page it follows. The
//! rows below are written from those pages (the answer formats they document), not
//! captured from a running cluster: no Redshift was available here. What PostgreSQL can
//! run is proven end to end in `tests/redshift.rs` and `lambdas/redshift/tests/e2e.rs`.

use std::collections::BTreeSet;

use rotwise_core::{ErrorKind, SecretString};
use rotwise_postgres::redshift::sql::{
    self, CLONE_GROUP, Holdings, Object, TextRow, adopt_clone_sql, alter_password_sql,
    check_user_name, create_user_sql, group_statements, groups_sql, md5_hash, parse_names,
    parse_privileges, password_rules, privilege_statements, privileges_sql, user_exists_sql,
};
use rotwise_postgres::redshift::{DEFAULT_DBNAME, DEFAULT_PORT, RedshiftSecret};

fn rows(table: &[&[Option<&str>]]) -> Vec<TextRow> {
    table
        .iter()
        .map(|r| r.iter().map(|c| c.map(str::to_owned)).collect())
        .collect()
}

/// https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_USER.html: "md5" followed by
/// the MD5 of the password concatenated with the user name; its example is password `ez`,
/// user `user1`, hash `md5153c434b4b77c89e6b94f12c5393af5b`.
#[test]
fn md5_hash_is_the_documented_one() {
    let hash = md5_hash(&SecretString::from("ez"), "user1");
    assert_eq!(hash, "md5153c434b4b77c89e6b94f12c5393af5b");
    assert_eq!(
        create_user_sql("user1", &SecretString::from("ez")),
        format!("CREATE USER \"user1\" PASSWORD '{hash}'")
    );
}

/// https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_USER.html: `ALTER USER name
/// PASSWORD { 'password' | 'md5hash' | … }`; the hash is salted with the user whose
/// password it sets, so the same password gives another hash for another user.
#[test]
fn alter_user_sets_an_md5_hash() {
    let pw = SecretString::from("Canary-Alter-1");
    let sql = alter_password_sql("app", &pw);
    assert_eq!(
        sql,
        format!("ALTER USER \"app\" PASSWORD '{}'", md5_hash(&pw, "app"))
    );
    assert!(!sql.contains("Canary"));
    assert_ne!(md5_hash(&pw, "app"), md5_hash(&pw, "app_clone"));
}

/// https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_USER.html: a clear-text
/// password has 8 to 64 characters, an upper-case letter, a lower-case letter and a digit,
/// and any ASCII 33–126 except `'`, `"`, `\`, `/`, `@`. The server cannot check a hash,
/// so rotwise checks the password before hashing it.
#[test]
fn password_rules_are_the_documented_ones() {
    let ok = |p: &str| password_rules(&SecretString::from(p)).is_ok();
    assert!(ok("ABCd4321")); // the getting-started guide's example password
    assert!(ok(&format!(
        "Aa1{}",
        "!#$%&()*+,-.:;<=>?[]^_`{|}~".repeat(3)
    )[..64]));
    assert!(!ok("ABCd432"));
    assert!(!ok(&format!("Aa1{}", "b".repeat(62))));
    for forbidden in ["'", "\"", "\\", "/", "@", " ", "\t"] {
        assert!(!ok(&format!("ABCd4321{forbidden}")), "{forbidden:?}");
    }
}

/// https://docs.aws.amazon.com/redshift/latest/dg/r_names.html: identifiers have 1 to 127
/// bytes, and ASCII letters are folded to lower case. A secret naming `App` would name a
/// user Redshift stores as `app`: refused, naming the stored form.
#[test]
fn user_names_follow_the_identifier_rules() {
    assert!(check_user_name(&"u".repeat(127)).is_ok());
    // 64 two-byte characters: 128 bytes.
    let e = check_user_name(&"é".repeat(64)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidSecret);
    let e = check_user_name("App").unwrap_err();
    assert!(e.to_string().contains("\"app\""), "{e}");
    // The clone of a 121-byte name is 127 bytes; of a 122-byte one, too long.
    assert_eq!(
        rotwise_db::names::alt_username(&"u".repeat(121), sql::NAME_LIMIT)
            .unwrap()
            .len(),
        127
    );
    assert!(rotwise_db::names::alt_username(&"u".repeat(122), sql::NAME_LIMIT).is_err());
}

/// AWS's Redshift functions: port 5439 and database `dev` when the secret has none, and
/// `engine` must be `redshift`.
#[test]
fn secret_defaults_are_aws_s() {
    let s = RedshiftSecret::parse_str(
        r#"{"engine":"redshift","host":"c.abc.us-east-1.redshift.amazonaws.com","username":"app","password":"p"}"#,
    )
    .unwrap();
    assert_eq!((s.port, s.dbname.as_str()), (DEFAULT_PORT, DEFAULT_DBNAME));
    assert_eq!((DEFAULT_PORT, DEFAULT_DBNAME), (5439, "dev"));
    for engine in ["postgres", "Redshift", "aurora-postgresql"] {
        let e = RedshiftSecret::parse_str(&format!(
            r#"{{"engine":"{engine}","host":"h","username":"u","password":"p"}}"#
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Database engine must be set to 'redshift' in order to use this rotation lambda"
        );
    }
}

/// Rows of the privileges query as Redshift answers it.
/// https://docs.aws.amazon.com/redshift/latest/dg/r_HAS_DATABASE_PRIVILEGE.html and
/// https://docs.aws.amazon.com/redshift/latest/dg/r_HAS_SCHEMA_PRIVILEGE.html return a
/// CHAR or VARCHAR string (`true`/`false`), not a boolean;
/// https://docs.aws.amazon.com/redshift/latest/dg/r_HAS_TABLE_PRIVILEGE.html returns a
/// BOOLEAN (`t`/`f` as text). The statements follow
/// https://docs.aws.amazon.com/redshift/latest/dg/r_GRANT.html and
/// https://docs.aws.amazon.com/redshift/latest/dg/r_REVOKE.html (`GRANT { CREATE | TEMP }
/// ON DATABASE`, `{ CREATE | USAGE } ON SCHEMA`, `… ON TABLE schema.table`).
#[test]
fn privilege_answers_as_redshift_returns_them() {
    let answer = rows(&[
        &[
            Some("database"),
            None,
            Some("dev"),
            Some("CREATE"),
            Some("true"),
            Some("false"),
        ],
        &[
            Some("database"),
            None,
            Some("dev"),
            Some("TEMP"),
            Some("true"),
            Some("true"),
        ],
        &[
            Some("database"),
            None,
            Some("padb_harvest"),
            Some("CREATE"),
            Some("false"),
            Some("false"),
        ],
        &[
            Some("schema"),
            None,
            Some("public"),
            Some("CREATE"),
            Some("true"),
            Some("true"),
        ],
        &[
            Some("schema"),
            None,
            Some("sales"),
            Some("USAGE"),
            Some("true"),
            Some("false"),
        ],
        &[
            Some("schema"),
            None,
            Some("staging"),
            Some("USAGE"),
            Some("false"),
            Some("true"),
        ],
        &[
            Some("table"),
            Some("sales"),
            Some("orders"),
            Some("SELECT"),
            Some("t"),
            Some("f"),
        ],
        &[
            Some("table"),
            Some("sales"),
            Some("orders"),
            Some("UPDATE"),
            Some("t"),
            Some("f"),
        ],
        &[
            Some("table"),
            Some("sales"),
            Some("Order Lines"),
            Some("SELECT"),
            Some("t"),
            Some("t"),
        ],
        &[
            Some("table"),
            Some("staging"),
            Some("load"),
            Some("INSERT"),
            Some("f"),
            Some("t"),
        ],
    ]);
    let holdings = parse_privileges(&answer).unwrap();
    assert_eq!(holdings.to_grant.len(), 4);
    assert_eq!(holdings.to_revoke.len(), 2);
    assert_eq!(
        privilege_statements(&holdings, "app_clone"),
        [
            r#"GRANT CREATE ON DATABASE "dev" TO "app_clone""#,
            r#"GRANT USAGE ON SCHEMA "sales" TO "app_clone""#,
            r#"GRANT SELECT, UPDATE ON TABLE "sales"."orders" TO "app_clone""#,
            r#"REVOKE USAGE ON SCHEMA "staging" FROM "app_clone""#,
            r#"REVOKE INSERT ON TABLE "staging"."load" FROM "app_clone""#,
        ]
    );
    // Equal holdings: nothing to run.
    assert!(privilege_statements(&Holdings::default(), "app_clone").is_empty());
    // An answer that is neither form is an error that shows no value.
    let odd = rows(&[&[
        Some("table"),
        Some("s"),
        Some("secret_name"),
        Some("SELECT"),
        Some("yes"),
        Some("f"),
    ]]);
    let e = parse_privileges(&odd).unwrap_err();
    assert!(!e.to_string().contains("secret_name"), "{e}");
    assert!(matches!(
        holdings.to_grant.iter().next(),
        Some((Object::Database(d), p)) if d == "dev" && p == "CREATE"
    ));
}

/// Group memberships. Redshift keeps PostgreSQL 8.0's `pg_group` (`grolist`, an array of
/// `pg_user.usesysid`), listed in
/// https://docs.aws.amazon.com/redshift/latest/dg/c_intro_catalog_views.html; the
/// statements follow https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_GROUP.html
/// (`ALTER GROUP group_name { ADD USER | DROP USER } username`) and
/// https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_GROUP.html.
#[test]
fn group_answers_and_statements() {
    let q = groups_sql("app").unwrap();
    assert!(q.contains("FROM pg_group g, pg_user u"), "{q}");
    assert!(q.contains("u.usesysid = ANY(g.grolist)"), "{q}");
    let base = parse_names(&rows(&[&[Some("analysts")], &[Some("loaders")]]), "groups").unwrap();
    let clone = parse_names(
        &rows(&[&[Some("analysts")], &[Some("admins")], &[Some(CLONE_GROUP)]]),
        "groups",
    )
    .unwrap();
    assert_eq!(
        group_statements(&base, &clone, "app_clone"),
        [
            r#"ALTER GROUP "loaders" ADD USER "app_clone""#,
            r#"ALTER GROUP "admins" DROP USER "app_clone""#,
        ]
    );
    // The marker group is never dropped from the clone nor added to the base's copy.
    let marked: BTreeSet<String> = [CLONE_GROUP.to_owned()].into();
    assert!(group_statements(&marked, &BTreeSet::new(), "c").is_empty());
    assert_eq!(
        adopt_clone_sql("app_clone", false),
        r#"CREATE GROUP "rotwise_clones"; ALTER GROUP "rotwise_clones" ADD USER "app_clone""#
    );
}

/// What the queries may use on Redshift: the catalog tables and leader-node functions its
/// documentation lists (`pg_user`, `pg_group`, `pg_database`, `pg_namespace`,
/// `pg_tables`, `has_*_privilege`, `pg_get_userbyid`), no PostgreSQL-only catalog
/// (`pg_roles`, `pg_authid`, `pg_auth_members`), no `E''` literal, no bind parameter
/// (the simple query protocol), no backslash (its meaning in a literal differs:
/// https://docs.aws.amazon.com/redshift/latest/dg/r_Literals.html).
#[test]
fn queries_use_only_what_redshift_has() {
    let queries = [
        privileges_sql("o'neil", "o'neil_clone").unwrap(),
        groups_sql("o'neil").unwrap(),
        user_exists_sql("o'neil").unwrap(),
        sql::clone_group_exists_sql(),
    ];
    for q in &queries {
        for banned in [
            "pg_roles",
            "pg_authid",
            "pg_auth_members",
            " E'",
            "(E'",
            "$1",
            "\\",
            "::regrole",
        ] {
            assert!(!q.contains(banned), "{banned} in {q}");
        }
        assert!(q.contains("'o''neil'") || q.contains(CLONE_GROUP), "{q}");
    }
    let p = &queries[0];
    for used in [
        "pg_database",
        "pg_namespace",
        "pg_tables",
        "has_database_privilege",
        "has_schema_privilege",
        "has_table_privilege",
        "pg_get_userbyid",
    ] {
        assert!(p.contains(used), "{used}");
    }
    // Redshift's own schemas are left out (pg_internal, pg_automv, catalog_history).
    assert!(p.contains("substr(n.nspname, 1, 3) <> 'pg_'"), "{p}");
    assert!(p.contains("'catalog_history'"), "{p}");
    // A user name with a backslash never reaches a literal.
    assert!(user_exists_sql("a\\b").is_err());
}
