//! TLS and authentication hardening (issue 19, items 1 and 2), with a fake MySQL server in
//! this file where the private MariaDB cannot show the case:
//!
//! - `prefer` retries without TLS only when the handshake itself failed: an error injected
//!   after a completed, verified handshake is reported, not retried in plaintext;
//! - `mysql_clear_password` is refused on an unverified connection unless
//!   `ROTATION_ALLOW_CLEARTEXT_PASSWORD` is set (negative control: the password arrives);
//! - `require` with a CA file trusts that file only (private MariaDB);
//! - `caching_sha2_password` full authentication is refused on an unverified connection
//!   (the login relay, `crates/mysql/src/connect/relay.rs`), unless allowed.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rotwise_core::ErrorKind;
use rotwise_mysql::{DbOptions, MysqlRotator, MysqlSecret, TlsMode};
use rotwise_test_services::rustls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;

const CANARY: &str = "Canary-Pw-31337";

const CLIENT_SSL: u32 = 0x800;

/// What the fake server does after the client's handshake response.
#[derive(Clone, Copy, Debug)]
enum After {
    /// Right after a completed TLS handshake, write a record that does not decrypt (what an
    /// on-path attacker can do); without TLS, refuse the login.
    Inject,
    /// Ask to switch to `mysql_clear_password`.
    ClearPassword,
    /// Ask for `caching_sha2_password` full authentication.
    FullAuth,
}

#[derive(Debug, Default)]
struct Seen {
    connections: usize,
    ssl_requests: usize,
    plaintext_responses: usize,
    key_requests: usize,
    passwords: Vec<Vec<u8>>,
}

struct FakeMy {
    port: u16,
    seen: Arc<Mutex<Seen>>,
}

trait Io: Read + Write + Send {}
impl<T: Read + Write + Send> Io for T {}

fn write_packet(io: &mut dyn Io, seq: u8, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len()).unwrap().to_le_bytes();
    io.write_all(&[len[0], len[1], len[2], seq])?;
    io.write_all(payload)?;
    io.flush()
}

fn read_packet(io: &mut dyn Io) -> io::Result<(u8, Vec<u8>)> {
    let mut head = [0; 4];
    io.read_exact(&mut head)?;
    let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
    let mut payload = vec![0; len];
    io.read_exact(&mut payload)?;
    Ok((head[3], payload))
}

fn initial_handshake(tls: bool) -> Vec<u8> {
    let caps: u32 = 0x1
        | 0x4
        | 0x8
        | 0x200
        | 0x2000
        | 0x8000
        | 0x20000
        | 0x80000
        | 0x200000
        | if tls { CLIENT_SSL } else { 0 };
    let mut p = vec![10];
    p.extend_from_slice(b"8.0.36-fake\0");
    p.extend_from_slice(&7u32.to_le_bytes());
    p.extend_from_slice(b"abcdefgh\0");
    p.extend_from_slice(&caps.to_le_bytes()[..2]);
    p.push(0xff);
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&caps.to_le_bytes()[2..]);
    p.push(21);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(b"ijklmnopqrst\0");
    p.extend_from_slice(b"caching_sha2_password\0");
    p
}

fn access_denied() -> Vec<u8> {
    let mut p = vec![0xff];
    p.extend_from_slice(&1045u16.to_le_bytes());
    p.extend_from_slice(b"#28000Access denied (fake server)");
    p
}

impl FakeMy {
    fn start(tls: Option<Arc<rustls::ServerConfig>>, after: After) -> FakeMy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                s.lock().unwrap().connections += 1;
                let _ = serve(conn, tls.clone(), after, &s);
            }
        });
        FakeMy { port, seen }
    }

    fn secret(&self) -> MysqlSecret {
        MysqlSecret::parse_str(
            &json!({
                "engine": "mysql",
                "host": "127.0.0.1",
                "port": self.port,
                "username": "victim",
                "password": CANARY,
            })
            .to_string(),
        )
        .unwrap()
    }

    fn passwords(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.passwords
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()
    }
}

fn serve(
    mut tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    after: After,
    seen: &Mutex<Seen>,
) -> io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    write_packet(&mut tcp, 0, &initial_handshake(tls.is_some()))?;
    let (seq, response) = read_packet(&mut tcp)?;
    let caps = u32::from_le_bytes([response[0], response[1], response[2], response[3]]);
    let mut io: Box<dyn Io>;
    let mut seq = seq;
    match &tls {
        Some(config) if caps & CLIENT_SSL != 0 && response.len() == 32 => {
            seen.lock().unwrap().ssl_requests += 1;
            let mut conn = rustls::ServerConnection::new(config.clone()).unwrap();
            while conn.is_handshaking() {
                conn.complete_io(&mut tcp)?;
            }
            if let After::Inject = after {
                // A TLS application-data record no key decrypts.
                tcp.write_all(&[0x17, 3, 3, 0, 32])?;
                tcp.write_all(&[0xa5; 32])?;
                tcp.flush()?;
                // Read until the client hangs up: closing with its handshake response still
                // unread would send a reset, which the client could see before the record
                // (a connection error instead of the TLS error this test is about).
                tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
                let mut sink = [0; 1024];
                while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
                return Ok(());
            }
            io = Box::new(rustls::StreamOwned::new(conn, tcp));
            let (s, _response) = read_packet(&mut *io)?;
            seq = s;
        }
        _ => {
            seen.lock().unwrap().plaintext_responses += 1;
            io = Box::new(tcp);
        }
    }
    match after {
        After::Inject => write_packet(&mut *io, seq + 1, &access_denied()),
        After::ClearPassword => {
            write_packet(&mut *io, seq + 1, b"\xfemysql_clear_password\0")?;
            let (s, password) = read_packet(&mut *io)?;
            let password = password.strip_suffix(b"\0").unwrap_or(&password).to_vec();
            seen.lock().unwrap().passwords.push(password);
            write_packet(&mut *io, s + 1, &access_denied())
        }
        After::FullAuth => {
            write_packet(&mut *io, seq + 1, &[0x01, 0x04])?;
            let (s, answer) = read_packet(&mut *io)?;
            if answer == [0x02] {
                // The client asks for the server's RSA key: it would encrypt the password
                // with whatever key this server sends.
                seen.lock().unwrap().key_requests += 1;
            } else {
                let password = answer.strip_suffix(b"\0").unwrap_or(&answer).to_vec();
                seen.lock().unwrap().passwords.push(password);
            }
            write_packet(&mut *io, s + 1, &access_denied())
        }
    }
}

fn tls_config(cert: &Path, key: &Path) -> Arc<rustls::ServerConfig> {
    let certs = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

fn rotator(tls: Option<TlsMode>, ca: Option<&Path>, allow: bool) -> MysqlRotator {
    MysqlRotator::new(DbOptions {
        tls,
        ca_file: ca.map(Path::to_path_buf),
        connect_timeout: Duration::from_secs(5),
        allow_cleartext_password: allow,
        ..DbOptions::default()
    })
}

/// `prefer`: a verified handshake completes, then a record that does not decrypt arrives.
/// The login fails as a TLS error and is NOT retried without TLS. Failed before the fix:
/// a second, plaintext connection followed.
#[tokio::test]
async fn prefer_does_not_retry_after_a_completed_handshake() {
    let Some(services) = rotwise_test_services::services() else {
        return;
    };
    let fake = FakeMy::start(
        Some(tls_config(&services.server_cert, &services.server_key)),
        After::Inject,
    );
    let secret = fake.secret();
    assert_eq!(secret.tls_mode(), TlsMode::Prefer);
    let err = rotator(None, Some(&services.ca), false)
        .connect(&secret)
        .await
        .map(drop)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    let seen = fake.seen.lock().unwrap();
    assert_eq!(seen.ssl_requests, 1, "{seen:?}");
    assert_eq!(
        (seen.connections, seen.plaintext_responses),
        (1, 0),
        "no plaintext retry: {err}"
    );
}

/// Control: a server that does not offer TLS still gets the plaintext retry.
#[tokio::test]
async fn prefer_retries_when_the_server_offers_no_tls() {
    let Some(services) = rotwise_test_services::services() else {
        return;
    };
    let fake = FakeMy::start(None, After::Inject);
    let err = rotator(None, Some(&services.ca), false)
        .connect(&fake.secret())
        .await
        .map(drop)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    let seen = fake.seen.lock().unwrap();
    assert_eq!((seen.connections, seen.plaintext_responses), (2, 1));
}

/// `mysql_clear_password` over plaintext and over `require` (a certificate for another
/// name) is refused with the documented message; with the opt-in the password is sent
/// (negative control).
#[tokio::test]
async fn clear_password_is_refused_on_unverified_connections() {
    let Some(services) = rotwise_test_services::services() else {
        return;
    };
    let wrong = || {
        Some(tls_config(
            &services.wrong_host_cert,
            &services.wrong_host_key,
        ))
    };
    for (mode, tls) in [(TlsMode::Disable, None), (TlsMode::Require, wrong())] {
        let fake = FakeMy::start(tls.clone(), After::ClearPassword);
        let err = rotator(Some(mode), Some(&services.ca), false)
            .connect(&fake.secret())
            .await
            .map(drop)
            .unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.kind(), ErrorKind::Tls, "{mode}: {msg}");
        assert!(
            msg.contains(
                "the server asked for the password in cleartext (mysql_clear_password) over a \
                 connection whose certificate was not verified for 127.0.0.1; use verify-full, \
                 or set ROTATION_ALLOW_CLEARTEXT_PASSWORD=true to allow it"
            ),
            "{mode}: {msg}"
        );
        assert!(fake.passwords().is_empty(), "{mode}");

        let fake = FakeMy::start(tls, After::ClearPassword);
        let err = rotator(Some(mode), Some(&services.ca), true)
            .connect(&fake.secret())
            .await
            .map(drop)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LoginRefused, "{mode}: {err}");
        assert_eq!(fake.passwords(), [CANARY], "{mode}");
    }
}

/// `caching_sha2_password` full authentication on an unverified connection is refused
/// before the client answers: over `require` (mysql_async would send the password in
/// cleartext inside the TLS), over `disable` and over `prefer`'s fallback (it would fetch
/// the server's RSA key unverified and encrypt the password with it). With the opt-in the
/// client answers (negative control). Failed before the fix: the fake server received the
/// password (require) or the key request (plaintext).
#[tokio::test]
async fn full_authentication_is_refused_on_unverified_connections() {
    let Some(services) = rotwise_test_services::services() else {
        return;
    };
    let wrong = || {
        Some(tls_config(
            &services.wrong_host_cert,
            &services.wrong_host_key,
        ))
    };
    let refusal = "the server asked for full authentication (caching_sha2_password), which \
                   sends the password, over a connection whose certificate was not verified \
                   for 127.0.0.1; use verify-full, or set ROTATION_ALLOW_CLEARTEXT_PASSWORD=true \
                   to allow it; a MySQL 8 caching_sha2_password account needs it on its first \
                   login after each password change";
    for (mode, tls) in [
        (Some(TlsMode::Require), wrong()),
        (Some(TlsMode::Disable), None),
        (None, None),
    ] {
        let fake = FakeMy::start(tls.clone(), After::FullAuth);
        let err = rotator(mode, Some(&services.ca), false)
            .connect(&fake.secret())
            .await
            .map(drop)
            .unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.kind(), ErrorKind::Tls, "{mode:?}: {msg}");
        assert!(msg.contains(refusal), "{mode:?}: {msg}");
        {
            let seen = fake.seen.lock().unwrap();
            assert!(seen.passwords.is_empty(), "{mode:?}: the password arrived");
            assert_eq!(seen.key_requests, 0, "{mode:?}: the RSA key was requested");
        }

        // Opt-in: the client answers (in cleartext inside TLS, or asks for the key).
        let fake = FakeMy::start(tls, After::FullAuth);
        let err = rotator(mode, Some(&services.ca), true)
            .connect(&fake.secret())
            .await
            .map(drop)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LoginRefused, "{mode:?}: {err}");
        let seen = fake.seen.lock().unwrap();
        assert_eq!(
            seen.passwords.len() + seen.key_requests,
            1,
            "{mode:?}: {seen:?}"
        );
    }
}

/// `require` with a CA file trusts that file only, even when the system bundle would
/// accept the server; `verify-full` keeps the system bundle (documented). Failed before
/// the fix: `require` connected through the system bundle.
#[tokio::test]
async fn require_with_a_ca_file_trusts_that_file_only() {
    let Some(my) = rotwise_test_services::require_mysql() else {
        return;
    };
    // SAFETY: nextest runs each test in its own process; nothing else in this test reads
    // the environment concurrently.
    unsafe { std::env::set_var("SSL_CERT_FILE", &my.ca) };
    let opts = mysql_async::Opts::from(my.admin_opts());
    let secret = MysqlSecret::parse_str(
        &json!({
            "engine": "mariadb",
            "host": "127.0.0.1",
            "port": opts.tcp_port(),
            "username": opts.user().unwrap(),
            "password": opts.pass().unwrap(),
        })
        .to_string(),
    )
    .unwrap();
    let err = rotator(Some(TlsMode::Require), Some(&my.other_ca), false)
        .connect(&secret)
        .await
        .map(drop)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    // Controls: require with the CA that signed the server; verify-full with the
    // unrelated CA file still trusts the system bundle.
    let conn = rotator(Some(TlsMode::Require), Some(&my.ca), false)
        .connect(&secret)
        .await
        .unwrap();
    drop(conn);
    let conn = rotator(Some(TlsMode::VerifyFull), Some(&my.other_ca), false)
        .connect(&secret)
        .await
        .unwrap();
    drop(conn);
    unsafe { std::env::remove_var("SSL_CERT_FILE") };
}
