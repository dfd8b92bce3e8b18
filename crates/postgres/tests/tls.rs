//! TLS and authentication hardening (issue 19, items 1 and 2):
//!
//! - a request for the password in cleartext (`AuthenticationCleartextPassword`) is refused
//!   on every connection whose certificate was not verified for the host name (`disable`,
//!   `prefer` after its fallback, `require`), unless `ROTATION_ALLOW_CLEARTEXT_PASSWORD` is
//!   set (negative control: the fake server then receives the password);
//! - `require` with a CA file trusts that file only; `verify-full` keeps the system bundle.
//!
//! The cleartext cases use a fake server in this file (the private PostgreSQL only speaks
//! SCRAM); the trust cases use the private server.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rotwise_core::ErrorKind;
use rotwise_postgres::{DbOptions, PgRotator, PgSecret, TlsMode};
use rotwise_test_services::rustls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;

/// The password the fake server must never see (unless allowed).
const CANARY: &str = "Canary-Pw-31337";

const SSL_REQUEST: i32 = 80_877_103;

trait Io: Read + Write + Send {}
impl<T: Read + Write + Send> Io for T {}

/// What a fake server saw.
#[derive(Debug, Default)]
struct Seen {
    connections: usize,
    ssl_requests: usize,
    /// Bodies of `PasswordMessage`s received.
    passwords: Vec<Vec<u8>>,
}

struct FakePg {
    port: u16,
    seen: Arc<Mutex<Seen>>,
}

impl FakePg {
    /// A server that asks every client for the password in cleartext. `tls`: answer
    /// SSLRequest with `S` and this configuration, else with `N`.
    fn start(tls: Option<Arc<rustls::ServerConfig>>) -> FakePg {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                s.lock().unwrap().connections += 1;
                let _ = serve(conn, tls.clone(), &s);
            }
        });
        FakePg { port, seen }
    }

    fn secret(&self) -> PgSecret {
        PgSecret::parse_str(
            &json!({
                "engine": "postgres",
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
        self.seen
            .lock()
            .unwrap()
            .passwords
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect()
    }
}

fn read_n(io: &mut dyn Io, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; n];
    io.read_exact(&mut buf)?;
    Ok(buf)
}

fn read_i32(io: &mut dyn Io) -> io::Result<i32> {
    let b = read_n(io, 4)?;
    Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn serve(
    tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    seen: &Mutex<Seen>,
) -> io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut io: Box<dyn Io> = Box::new(tcp);
    // SSLRequest(s), then the startup message.
    loop {
        let len = read_i32(&mut *io)?;
        let body = read_n(&mut *io, usize::try_from(len - 4).unwrap())?;
        if i32::from_be_bytes([body[0], body[1], body[2], body[3]]) != SSL_REQUEST {
            break;
        }
        seen.lock().unwrap().ssl_requests += 1;
        match &tls {
            None => io.write_all(b"N")?,
            Some(config) => {
                io.write_all(b"S")?;
                let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                io = Box::new(rustls::StreamOwned::new(conn, io));
            }
        }
    }
    // AuthenticationCleartextPassword.
    io.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3])?;
    io.flush()?;
    let kind = read_n(&mut *io, 1)?;
    let len = read_i32(&mut *io)?;
    let body = read_n(&mut *io, usize::try_from(len - 4).unwrap())?;
    if kind == b"p" {
        let password = body.strip_suffix(b"\0").unwrap_or(&body).to_vec();
        seen.lock().unwrap().passwords.push(password);
    }
    // invalid_password, so the client stops there.
    let fields = b"SFATAL\0C28P01\0Mpassword authentication failed (fake server)\0\0";
    let mut error = vec![b'E'];
    error.extend_from_slice(&(i32::try_from(fields.len()).unwrap() + 4).to_be_bytes());
    error.extend_from_slice(fields);
    io.write_all(&error)?;
    io.flush()
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

fn rotator(tls: TlsMode, ca: Option<&Path>, allow: bool) -> PgRotator {
    PgRotator::new(DbOptions {
        tls: Some(tls),
        ca_file: ca.map(Path::to_path_buf),
        connect_timeout: Duration::from_secs(5),
        allow_cleartext_password: allow,
        ..DbOptions::default()
    })
}

const REFUSAL: &str = "the server asked for the password in cleartext over a connection whose \
                       certificate was not verified for 127.0.0.1; use verify-full, or set \
                       ROTATION_ALLOW_CLEARTEXT_PASSWORD=true to allow it";

fn assert_refused(err: &rotwise_postgres::DbError, fake: &FakePg) {
    let msg = err.to_string();
    assert_eq!(err.kind(), ErrorKind::Tls, "{msg}");
    assert!(msg.contains(REFUSAL), "{msg}");
    assert!(!msg.contains(CANARY), "{msg}");
    assert!(
        fake.passwords().is_empty(),
        "the password reached the server"
    );
}

/// `disable`: the request is refused before anything is sent. Failed before the fix: the
/// fake server received the password.
#[tokio::test]
async fn plaintext_cleartext_request_is_refused() {
    let fake = FakePg::start(None);
    let err = rotator(TlsMode::Disable, None, false)
        .connect(&fake.secret())
        .await
        .map(drop)
        .unwrap_err();
    assert_refused(&err, &fake);
    assert_eq!(fake.seen.lock().unwrap().ssl_requests, 0);
}

/// Negative control: with the opt-in, the same server does receive the password (and
/// refuses it: a login failure, not a TLS one).
#[tokio::test]
async fn plaintext_cleartext_request_is_answered_when_allowed() {
    let fake = FakePg::start(None);
    let err = rotator(TlsMode::Disable, None, true)
        .connect(&fake.secret())
        .await
        .map(drop)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert_eq!(fake.passwords(), [CANARY]);
}

/// `prefer`: the server refuses TLS, the fallback connects in plaintext, and the cleartext
/// request there is refused.
#[tokio::test]
async fn prefer_fallback_cleartext_request_is_refused() {
    let fake = FakePg::start(None);
    // No `ssl` key: prefer.
    let secret = fake.secret();
    assert_eq!(secret.tls_mode(), TlsMode::Prefer);
    let err = PgRotator::new(DbOptions::default())
        .connect(&secret)
        .await
        .map(drop)
        .unwrap_err();
    assert_refused(&err, &fake);
    let seen = fake.seen.lock().unwrap();
    assert_eq!(
        (seen.connections, seen.ssl_requests),
        (2, 1),
        "a TLS attempt, then the plaintext fallback"
    );
}

/// `require`: TLS with a chain from the CA file but a certificate for another name
/// (`wrong.example`); the guard inside TLS refuses the request. With `verify-full` and the
/// right certificate the connection is verified and the password is sent (inside TLS).
#[tokio::test]
async fn require_cleartext_request_is_refused_inside_tls() {
    let Some(services) = rotwise_test_services::services() else {
        return;
    };
    let wrong = FakePg::start(Some(tls_config(
        &services.wrong_host_cert,
        &services.wrong_host_key,
    )));
    let err = rotator(TlsMode::Require, Some(&services.ca), false)
        .connect(&wrong.secret())
        .await
        .map(drop)
        .unwrap_err();
    assert_refused(&err, &wrong);
    assert_eq!(wrong.seen.lock().unwrap().ssl_requests, 1);

    // Opt-in: sent.
    let err = rotator(TlsMode::Require, Some(&services.ca), true)
        .connect(&wrong.secret())
        .await
        .map(drop)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert_eq!(wrong.passwords(), [CANARY]);

    // verify-full: the certificate names 127.0.0.1, so cleartext is allowed.
    let right = FakePg::start(Some(tls_config(
        &services.server_cert,
        &services.server_key,
    )));
    let err = rotator(TlsMode::VerifyFull, Some(&services.ca), false)
        .connect(&right.secret())
        .await
        .map(drop)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err}");
    assert_eq!(right.passwords(), [CANARY]);
}

/// `require` with a CA file trusts that file only, even when the system bundle would
/// accept the server; `verify-full` keeps the system bundle (documented). Failed before
/// the fix: `require` connected through the system bundle.
#[tokio::test]
async fn require_with_a_ca_file_trusts_that_file_only() {
    let Some(pg) = rotwise_test_services::require_pg() else {
        return;
    };
    // The test CA plays the system bundle; ROTATION_CA_FILE names an unrelated CA.
    // SAFETY: nextest runs each test in its own process; nothing else in this test reads
    // the environment concurrently.
    unsafe { std::env::set_var("SSL_CERT_FILE", &pg.ca) };
    let admin = pg.admin_config();
    let secret = PgSecret::parse_str(
        &json!({
            "engine": "postgres",
            "host": "127.0.0.1",
            "port": admin.get_ports().first().copied().unwrap(),
            "username": admin.get_user().unwrap(),
            "password": String::from_utf8(admin.get_password().unwrap().to_vec()).unwrap(),
            "dbname": "postgres",
        })
        .to_string(),
    )
    .unwrap();
    let err = rotator(TlsMode::Require, Some(&pg.other_ca), false)
        .connect(&secret)
        .await
        .map(drop)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    // Control: the same server passes require with the CA that signed it, and verify-full
    // with the unrelated CA file still trusts the system bundle.
    rotator(TlsMode::Require, Some(&pg.ca), false)
        .connect(&secret)
        .await
        .unwrap();
    rotator(TlsMode::VerifyFull, Some(&pg.other_ca), false)
        .connect(&secret)
        .await
        .unwrap();
    unsafe { std::env::remove_var("SSL_CERT_FILE") };
}
