//! Positive controls for the private test services (ARCHITECTURE.md, "Tests judge with servers that judge").
//!
//! Every later "absent" or "zero" check (no plaintext password in a log, no failed login) relies on
//! the servers judging passwords and on the logs capturing what happens. These tests show that each
//! of those can fail: a wrong password is refused *and* shows in the log/counter, statements show in
//! the statement log, and TLS verification refuses an unrelated CA and a wrong host name.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use rotwise_test_services::{self as ts, MysqlService, PgService, run_then_cleanup, unique_name};

const LOG_WAIT: Duration = Duration::from_secs(5);

fn hex_secret() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

// ------------------------------------------------------------------------------------------------
// PostgreSQL

async fn pg_drop_role(pg: &PgService, role: &str) {
    pg.admin()
        .await
        .batch_execute(&format!("DROP ROLE IF EXISTS \"{role}\""))
        .await
        .expect("drop role");
}

/// (a) A wrong password is refused, and the log shows the failed authentication.
#[tokio::test]
async fn pg_wrong_password_is_refused_and_logged() {
    let Some(pg) = ts::require_pg() else { return };
    let role = unique_name("ctl_pg_auth");
    let password = hex_secret();
    pg.admin()
        .await
        .batch_execute(&format!(
            "CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'"
        ))
        .await
        .expect("create role");

    let body = {
        let (pg, role) = (pg.clone(), role.clone());
        async move {
            let log = pg.log_cursor();
            let err = pg
                .connect_as(&role, "not-the-password")
                .await
                .expect_err("a wrong password must be refused (is the server trusting logins?)");
            assert_eq!(
                err.code(),
                Some(&tokio_postgres::error::SqlState::INVALID_PASSWORD),
                "unexpected error: {err}"
            );
            let needle = format!("password authentication failed for user \"{role}\"");
            let text = log.wait_for(&needle, LOG_WAIT).await;
            assert!(
                text.contains(&needle),
                "the log does not show the failed login; new log text:\n{text}"
            );

            // And the right password works: the role itself is fine.
            let client = pg
                .connect_as(&role, &password)
                .await
                .expect("the right password logs in");
            let row = client
                .query_one("SELECT current_user::text", &[])
                .await
                .unwrap();
            assert_eq!(row.get::<_, String>(0), role);
        }
    };
    run_then_cleanup(body, pg_drop_role(&pg, &role)).await;
}

/// (b) A statement run by the test appears in the statement log (log_statement = 'all'), password
/// included: the control for later "no plaintext password in the log" checks.
#[tokio::test]
async fn pg_statement_appears_in_log() {
    let Some(pg) = ts::require_pg() else { return };
    let role = unique_name("ctl_pg_stmt");
    let admin = pg.admin().await;
    admin
        .batch_execute(&format!("CREATE ROLE \"{role}\" LOGIN"))
        .await
        .expect("create role");

    let body = {
        let (pg, role) = (pg.clone(), role.clone());
        async move {
            let admin = pg.admin().await;
            let marker = format!("marker-{}", hex_secret());
            let log = pg.log_cursor();
            let statement = format!("ALTER ROLE \"{role}\" PASSWORD '{marker}'");
            admin.batch_execute(&statement).await.expect("alter role");
            let text = log.wait_for(&statement, LOG_WAIT).await;
            assert!(
                text.contains(&format!("statement: {statement}")),
                "the ALTER ROLE statement is not in the log; new log text:\n{text}"
            );
            assert!(text.contains(&marker));
        }
    };
    run_then_cleanup(body, pg_drop_role(&pg, &role)).await;
}

/// (c) TLS verify-full: the generated CA verifies; an unrelated CA and a wrong host name are refused.
#[tokio::test]
async fn pg_tls_verifies_against_the_generated_ca_only() {
    let Some(pg) = ts::require_pg() else { return };

    let client = ts::pg_connect(&pg.admin_config(), ts::pg_tls(&pg.ca))
        .await
        .expect("TLS with the generated CA");
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "the connection is not encrypted");

    // Host name "localhost" is in the certificate too.
    let by_name = pg.config_at("localhost", None);
    ts::pg_connect(&by_name, ts::pg_tls(&pg.ca))
        .await
        .expect("TLS to localhost with the generated CA");

    let err = ts::pg_connect(&pg.admin_config(), ts::pg_tls(&pg.other_ca))
        .await
        .expect_err("an unrelated CA must be refused");
    let msg = format!("{err:?}");
    assert!(
        msg.contains("UnknownIssuer") || msg.contains("certificate"),
        "refused, but not for the certificate: {msg}"
    );

    // Same address, wrong name: the certificate does not cover wrong.example.
    let wrong_name = pg.config_at("wrong.example", Some("127.0.0.1".parse().unwrap()));
    let err = ts::pg_connect(&wrong_name, ts::pg_tls(&pg.ca))
        .await
        .expect_err("a wrong host name must be refused");
    let msg = format!("{err:?}");
    assert!(
        msg.contains("NotValidForName") || msg.contains("certificate"),
        "refused, but not for the name: {msg}"
    );
}

// ------------------------------------------------------------------------------------------------
// MariaDB

async fn mysql_drop_users(my: &MysqlService, users: &[(&str, &str)]) {
    let mut admin = my.admin().await;
    for (user, host) in users {
        admin
            .query_drop(format!("DROP USER IF EXISTS '{user}'@'{host}'"))
            .await
            .expect("drop user");
    }
    admin.disconnect().await.ok();
}

async fn access_denied_errors(conn: &mut mysql_async::Conn) -> u64 {
    let row: Option<(String, String)> = conn
        .query_first("SHOW GLOBAL STATUS LIKE 'Access_denied_errors'")
        .await
        .expect("status");
    row.expect("Access_denied_errors exists").1.parse().unwrap()
}

fn mysql_server_code(err: &mysql_async::Error) -> Option<u16> {
    match err {
        mysql_async::Error::Server(e) => Some(e.code),
        _ => None,
    }
}

/// (a) A wrong password is refused, `Access_denied_errors` grows, and both the error log and the
/// general log show it (as `Access denied for user '<u>'@'localhost'`: a loopback client is named
/// `localhost`).
#[tokio::test]
async fn mysql_wrong_password_is_refused_and_counted() {
    let Some(my) = ts::require_mysql() else {
        return;
    };
    let user = unique_name("ctl_my_auth");
    let password = hex_secret();
    let mut admin = my.admin().await;
    admin
        .query_drop(format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"
        ))
        .await
        .expect("create user");

    let body = {
        let (my, user) = (my.clone(), user.clone());
        async move {
            let mut admin = my.admin().await;
            let before = access_denied_errors(&mut admin).await;
            let errors = my.error_log_cursor();
            let general = my.log_cursor();
            let err = my
                .connect_as(&user, "not-the-password")
                .await
                .expect_err("a wrong password must be refused");
            assert_eq!(
                mysql_server_code(&err),
                Some(1045),
                "unexpected error: {err}"
            );
            let after = access_denied_errors(&mut admin).await;
            assert!(
                after > before,
                "Access_denied_errors did not grow ({before} -> {after})"
            );
            let needle = format!("Access denied for user '{user}'@'localhost'");
            let text = errors.wait_for(&needle, LOG_WAIT).await;
            assert!(
                text.contains(&needle),
                "the error log does not show the failed login; new text:\n{text}"
            );
            let text = general.wait_for(&needle, LOG_WAIT).await;
            assert!(
                text.contains(&needle),
                "the general log does not show the failed login; new text:\n{text}"
            );

            let mut conn = my
                .connect_as(&user, &password)
                .await
                .expect("the right password logs in");
            let who: Option<String> = conn.query_first("SELECT CURRENT_USER()").await.unwrap();
            assert_eq!(who.as_deref(), Some(format!("{user}@%").as_str()));
            conn.disconnect().await.ok();
            admin.disconnect().await.ok();
        }
    };
    run_then_cleanup(body, mysql_drop_users(&my, &[(&user, "%")])).await;
}

/// (b) Statements appear in the general log. Also records what MariaDB writes there for a password
/// change: the statement as sent, password included (no rewriting, unlike MySQL 8).
#[tokio::test]
async fn mysql_statement_appears_in_general_log() {
    let Some(my) = ts::require_mysql() else {
        return;
    };
    let user = unique_name("ctl_my_stmt");
    let mut admin = my.admin().await;
    admin
        .query_drop(format!("CREATE USER '{user}'@'%'"))
        .await
        .expect("create user");

    let body = {
        let (my, user) = (my.clone(), user.clone());
        async move {
            let mut admin = my.admin().await;
            let log = my.log_cursor();
            let marker = format!("marker-{}", hex_secret());
            let _: Option<String> = admin
                .query_first(format!("SELECT '{marker}'"))
                .await
                .unwrap();
            let text = log.wait_for(&marker, LOG_WAIT).await;
            assert!(
                text.contains(&format!("Query\tSELECT '{marker}'")),
                "the SELECT is not in the general log; new text:\n{text}"
            );

            let secret = format!("pw-{}", hex_secret());
            let statement = format!("ALTER USER '{user}'@'%' IDENTIFIED BY '{secret}'");
            admin.query_drop(&statement).await.expect("alter user");
            let text = log.wait_for(&user, LOG_WAIT).await;
            assert!(
                text.contains(&format!("ALTER USER '{user}'@'%'")),
                "the ALTER USER is not in the general log; new text:\n{text}"
            );
            assert!(
                text.contains(&secret),
                "MariaDB 10.11 logs ALTER USER verbatim (password included); new text:\n{text}"
            );
            admin.disconnect().await.ok();
        }
    };
    run_then_cleanup(body, mysql_drop_users(&my, &[(&user, "%")])).await;
}

/// (c) TLS: the generated CA verifies (and the session is encrypted); an unrelated CA is refused.
#[tokio::test]
async fn mysql_tls_verifies_against_the_generated_ca_only() {
    let Some(my) = ts::require_mysql() else {
        return;
    };

    let mut conn = ts::mysql_connect(my.admin_opts())
        .await
        .expect("TLS with the generated CA");
    let cipher: Option<(String, String)> = conn
        .query_first("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .await
        .unwrap();
    let cipher = cipher.expect("Ssl_cipher exists").1;
    assert!(!cipher.is_empty(), "the connection is not encrypted");
    conn.disconnect().await.ok();

    let err = ts::mysql_connect(my.admin_opts().ssl_opts(ts::mysql_ssl_opts(&my.other_ca)))
        .await
        .expect_err("an unrelated CA must be refused");
    let msg = format!("{err:?}");
    assert!(
        msg.contains("UnknownIssuer") || msg.contains("certificate") || msg.contains("Tls"),
        "refused, but not for the certificate: {msg}"
    );

    // The name "localhost" is in the certificate; "wrong.example" is not.
    let by_name = my.admin_opts().ip_or_hostname("localhost");
    ts::mysql_connect(by_name)
        .await
        .expect("TLS to localhost with the generated CA")
        .disconnect()
        .await
        .ok();
    let wrong_name = my.admin_opts().ssl_opts(
        ts::mysql_ssl_opts(&my.ca).with_danger_tls_hostname_override(Some("wrong.example")),
    );
    let err = ts::mysql_connect(wrong_name)
        .await
        .expect_err("a wrong host name must be refused");
    let msg = format!("{err:?}");
    assert!(
        msg.contains("NotValidForName") || msg.contains("certificate"),
        "refused, but not for the name: {msg}"
    );
}

/// (d) Host rules with name resolution on: which account a TCP login from 127.0.0.1 matches.
///
/// Observed on MariaDB 10.11 (asserted here, so a change shows):
/// - MariaDB names a loopback client `localhost`, so a TCP login from 127.0.0.1 matches an account
///   `'u'@'localhost'` as well as `'u'@'127.0.0.1'`;
/// - with both accounts present, only one of them is tried (no fall-through to the other on a wrong
///   password); the test finds which and asserts it is `'u'@'localhost'`.
#[tokio::test]
async fn mysql_host_rules_for_tcp_from_loopback() {
    let Some(my) = ts::require_mysql() else {
        return;
    };
    let both = unique_name("ctl_my_both");
    let only_local = unique_name("ctl_my_lh");
    let only_ip = unique_name("ctl_my_ip");
    let (pw_localhost, pw_ip) = (hex_secret(), hex_secret());
    let mut admin = my.admin().await;
    for stmt in [
        format!("CREATE USER '{both}'@'localhost' IDENTIFIED BY '{pw_localhost}'"),
        format!("CREATE USER '{both}'@'127.0.0.1' IDENTIFIED BY '{pw_ip}'"),
        format!("CREATE USER '{only_local}'@'localhost' IDENTIFIED BY '{pw_localhost}'"),
        format!("CREATE USER '{only_ip}'@'127.0.0.1' IDENTIFIED BY '{pw_ip}'"),
    ] {
        admin.query_drop(stmt).await.expect("create user");
    }
    admin.disconnect().await.ok();

    let body = {
        let my = my.clone();
        let (both, only_local, only_ip) = (both.clone(), only_local.clone(), only_ip.clone());
        async move {
            async fn login(my: &MysqlService, user: &str, pw: &str) -> Result<String, String> {
                match my.connect_as(user, pw).await {
                    Ok(mut conn) => {
                        let who: Option<String> =
                            conn.query_first("SELECT CURRENT_USER()").await.unwrap();
                        conn.disconnect().await.ok();
                        Ok(who.unwrap())
                    }
                    Err(e) => Err(e.to_string()),
                }
            }

            // Only 'u'@'localhost': a TCP login from 127.0.0.1 matches it.
            assert_eq!(
                login(&my, &only_local, &pw_localhost).await,
                Ok(format!("{only_local}@localhost"))
            );
            // Only 'u'@'127.0.0.1': matches too.
            assert_eq!(
                login(&my, &only_ip, &pw_ip).await,
                Ok(format!("{only_ip}@127.0.0.1"))
            );

            // Both: exactly one account is tried.
            let with_localhost_pw = login(&my, &both, &pw_localhost).await;
            let with_ip_pw = login(&my, &both, &pw_ip).await;
            eprintln!(
                "host rules: both accounts exist; localhost password -> {with_localhost_pw:?}; \
                 127.0.0.1 password -> {with_ip_pw:?}"
            );
            assert!(
                with_localhost_pw.is_ok() != with_ip_pw.is_ok(),
                "expected exactly one of the two passwords to work"
            );
            assert_eq!(with_localhost_pw, Ok(format!("{both}@localhost")));
            assert!(with_ip_pw.unwrap_err().contains("Access denied"));
        }
    };
    run_then_cleanup(
        body,
        mysql_drop_users(
            &my,
            &[
                (&both, "localhost"),
                (&both, "127.0.0.1"),
                (&only_local, "localhost"),
                (&only_ip, "127.0.0.1"),
            ],
        ),
    )
    .await;
}

// ------------------------------------------------------------------------------------------------
// moto

/// moto answers a Secrets Manager POST (plain HTTP over a TcpStream; no SDK needed).
#[tokio::test]
async fn moto_answers_a_post() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let Some(endpoint) = ts::require_sm_endpoint() else {
        return;
    };
    let (host, port) = ts::http_host_port(&endpoint).unwrap();
    let mut stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .expect("connect to moto");
    let body = "{}";
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}:{port}\r\n\
         X-Amz-Target: secretsmanager.ListSecrets\r\n\
         Content-Type: application/x-amz-json-1.1\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("moto answers within 10 s")
    .expect("read the response");
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "unexpected response:\n{response}"
    );
    assert!(
        response.contains("\"SecretList\""),
        "unexpected body:\n{response}"
    );
}

/// The log cursor sees a line that is written after it is made, and not one written before.
#[tokio::test]
async fn log_cursor_sees_only_new_server_lines() {
    let Some(pg) = ts::require_pg() else { return };
    let admin = pg.admin().await;
    let before = format!("before-{}", hex_secret());
    let start = pg.log_cursor();
    admin
        .batch_execute(&format!("SELECT '{before}'"))
        .await
        .unwrap();
    // Wait until the first line is in the file, then start the cursor.
    assert!(start.wait_for(&before, LOG_WAIT).await.contains(&before));
    let cursor = pg.log_cursor();
    let after = format!("after-{}", hex_secret());
    admin
        .batch_execute(&format!("SELECT '{after}'"))
        .await
        .unwrap();
    let text = cursor.wait_for(&after, LOG_WAIT).await;
    assert!(text.contains(&after), "new text:\n{text}");
    assert!(!text.contains(&before), "new text:\n{text}");
}
