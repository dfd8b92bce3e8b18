//! Find and reach the private test servers that `scripts/services up` starts.
//!
//! # What the services are, and why
//!
//! Engine tests need servers that *judge passwords*: "the old password no longer logs in" and "no
//! failed login on the normal path" mean nothing otherwise. The machine's own servers cannot do that
//! (ARCHITECTURE.md, "Tests judge with servers that judge"): its PostgreSQL on 127.0.0.1:5432 trusts every local connection, so any
//! password logs in; its MariaDB on 3306 runs with `skip-name-resolve`, without TLS, and with a
//! general log shared with everyone. So `scripts/services up` starts, once per machine (never one
//! server per test: nextest runs each test in its own process), in `$ROTATION_SERVICES_DIR`
//! (default `/tmp/rotwise-services`):
//!
//! - a private **PostgreSQL 15** cluster (port 54329): `scram-sha-256` for every TCP login,
//!   `ssl=on` with a generated CA, `log_statement='all'` and `log_connections=on` into a log file the
//!   tests read;
//! - a private **MariaDB** (port 33069) started with `--no-defaults` (the system `my.cnf` stays out):
//!   TLS with the generated CA, the general log in its own file, and name resolution **on**, so
//!   `'u'@'localhost'` and `'u'@'127.0.0.1'` are different accounts as on a real server;
//! - **moto** in server mode (port 50009), a Secrets Manager endpoint for the SDK store's contract
//!   tests;
//! - certificates: `ca.pem` (signs the servers' certificate for `localhost` / `127.0.0.1`),
//!   `other-ca.pem` (an unrelated CA, for "wrong CA is refused" tests) and a certificate signed by
//!   the CA for the wrong host name `wrong.example`.
//!
//! The script writes `ROTATION_TEST_*` variables to `$ROTATION_SERVICES_DIR/env`, and prints them
//! with `scripts/services env`. This crate reads the process environment first, then that file.
//!
//! # Skipping and failing
//!
//! Every accessor ([`services`], [`require_pg`], [`require_mysql`], [`require_sm_endpoint`]) checks
//! that the service answers (a TCP connect with a short timeout). When it does not, and
//! `ROTATION_REQUIRE_SERVICES=1` (set by `.ci/run` and `scripts/test`), it **panics** naming the
//! missing service and `scripts/services up`; otherwise it prints a loud `SKIPPED:` line to stderr
//! and returns `None`, so the test returns early:
//!
//! ```no_run
//! # async fn t() {
//! let Some(pg) = rotwise_test_services::require_pg() else { return };
//! let admin = pg.admin().await;
//! admin.batch_execute("SELECT 1").await.unwrap();
//! # }
//! ```
//!
//! # TLS
//!
//! Every TLS connection uses rustls with the aws-lc-rs provider, passed explicitly
//! ([`crypto_provider`]); [`install_crypto_provider`] also installs it as the process default for
//! libraries (mysql_async) that build their configuration from the default.

pub mod moto;

use std::collections::HashMap;
use std::fs;
use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

pub use mysql_async;
pub use rustls;
pub use tokio_postgres;
pub use tokio_postgres_rustls;

/// How long a reachability probe waits for a TCP connect.
const PROBE_TIMEOUT: Duration = Duration::from_millis(750);

/// The default state directory of `scripts/services`.
pub const DEFAULT_SERVICES_DIR: &str = "/tmp/rotwise-services";

// ------------------------------------------------------------------------------------------------
// Configuration lookup

/// The `ROTATION_TEST_*` values: process environment first, then `$ROTATION_SERVICES_DIR/env`.
#[derive(Debug, Clone)]
struct Vars {
    file: PathBuf,
    from_file: HashMap<String, String>,
}

impl Vars {
    fn load() -> Vars {
        let dir = std::env::var_os("ROTATION_SERVICES_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SERVICES_DIR));
        let file = dir.join("env");
        let from_file = fs::read_to_string(&file)
            .map(|text| parse_env_file(&text))
            .unwrap_or_default();
        Vars { file, from_file }
    }

    fn get(&self, key: &str) -> Result<String, String> {
        if let Ok(value) = std::env::var(key)
            && !value.is_empty()
        {
            return Ok(value);
        }
        match self.from_file.get(key) {
            Some(value) if !value.is_empty() => Ok(value.clone()),
            _ => Err(format!(
                "{key} is not set and not in {}",
                self.file.display()
            )),
        }
    }

    fn path(&self, key: &str) -> Result<PathBuf, String> {
        self.get(key).map(PathBuf::from)
    }
}

/// Parse `KEY=VALUE` lines (blank lines and `#` comments ignored; an `export ` prefix is allowed).
fn parse_env_file(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            Some((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

/// Whether a missing service is a failure (`ROTATION_REQUIRE_SERVICES` set, and not `0`/`false`).
pub fn services_required() -> bool {
    match std::env::var("ROTATION_REQUIRE_SERVICES") {
        Ok(v) => !matches!(v.trim(), "" | "0" | "false" | "no"),
        Err(_) => false,
    }
}

/// The rule for an unavailable service: panic when required, otherwise a loud skip.
fn unavailable<T>(what: &str, why: &str) -> Option<T> {
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed>")
        .to_owned();
    if services_required() {
        panic!(
            "{what} is not available ({why}); run `scripts/services up` \
             (ROTATION_REQUIRE_SERVICES is set, so this test fails instead of skipping)"
        );
    }
    eprintln!(
        "SKIPPED: {test}: {what} is not available ({why}); run `scripts/services up` \
         (set ROTATION_REQUIRE_SERVICES=1 to make this a failure)"
    );
    None
}

/// Can a TCP connection to `host:port` be opened within [`PROBE_TIMEOUT`]?
fn probe_tcp(host: &str, port: u16) -> Result<(), String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}:{port}: {e}"))?
        .collect();
    let mut last = format!("{host}:{port} resolves to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, PROBE_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("nothing answers on {addr}: {e}"),
        }
    }
    Err(last)
}

// ------------------------------------------------------------------------------------------------
// Services

/// Everything `scripts/services up` provides.
#[derive(Debug, Clone)]
pub struct Services {
    /// The state directory (`ROTATION_TEST_SERVICES_DIR`).
    pub dir: PathBuf,
    /// Superuser URL, `postgres://postgres:<pw>@127.0.0.1:<port>/postgres`.
    pub pg_url: String,
    /// The PostgreSQL server log (`log_statement='all'`, `log_connections=on`).
    pub pg_log: PathBuf,
    /// Root URL, `mysql://root:<pw>@127.0.0.1:<port>`.
    pub mysql_url: String,
    /// The MariaDB general log (every statement).
    pub mysql_log: PathBuf,
    /// The MariaDB error log (failed logins appear as `Access denied for user ...` warnings).
    pub mysql_error_log: PathBuf,
    /// moto's endpoint, `http://127.0.0.1:<port>`.
    pub sm_endpoint: String,
    /// The CA that signed both servers' certificate.
    pub ca: PathBuf,
    /// An unrelated CA: verification against it must fail.
    pub other_ca: PathBuf,
    /// The servers' certificate (SAN `DNS:localhost`, `IP:127.0.0.1`), signed by [`Services::ca`].
    pub server_cert: PathBuf,
    /// The private key of [`Services::server_cert`] (PEM).
    pub server_key: PathBuf,
    /// A certificate signed by [`Services::ca`] for the wrong host name `wrong.example`.
    pub wrong_host_cert: PathBuf,
    /// The private key of [`Services::wrong_host_cert`] (PEM).
    pub wrong_host_key: PathBuf,
}

impl Services {
    fn read(vars: &Vars) -> Result<Services, String> {
        Ok(Services {
            dir: vars.path("ROTATION_TEST_SERVICES_DIR")?,
            pg_url: vars.get("ROTATION_TEST_PG_URL")?,
            pg_log: vars.path("ROTATION_TEST_PG_LOG")?,
            mysql_url: vars.get("ROTATION_TEST_MYSQL_URL")?,
            mysql_log: vars.path("ROTATION_TEST_MYSQL_LOG")?,
            mysql_error_log: vars.path("ROTATION_TEST_MYSQL_ERROR_LOG")?,
            sm_endpoint: vars.get("ROTATION_TEST_SM_ENDPOINT")?,
            ca: vars.path("ROTATION_TEST_CA")?,
            other_ca: vars.path("ROTATION_TEST_OTHER_CA")?,
            server_cert: vars.path("ROTATION_TEST_SERVER_CERT")?,
            server_key: vars.path("ROTATION_TEST_SERVER_KEY")?,
            wrong_host_cert: vars.path("ROTATION_TEST_WRONG_HOST_CERT")?,
            wrong_host_key: vars.path("ROTATION_TEST_WRONG_HOST_KEY")?,
        })
    }

    /// The PostgreSQL part.
    pub fn pg(&self) -> PgService {
        PgService {
            url: self.pg_url.clone(),
            log: self.pg_log.clone(),
            ca: self.ca.clone(),
            other_ca: self.other_ca.clone(),
        }
    }

    /// The MariaDB part.
    pub fn mysql(&self) -> MysqlService {
        MysqlService {
            url: self.mysql_url.clone(),
            log: self.mysql_log.clone(),
            error_log: self.mysql_error_log.clone(),
            ca: self.ca.clone(),
            other_ca: self.other_ca.clone(),
        }
    }
}

/// All three services, or `None` (loud skip) / panic (`ROTATION_REQUIRE_SERVICES=1`) if any is
/// missing. Tests that need only one service should use [`require_pg`], [`require_mysql`] or
/// [`require_sm_endpoint`].
pub fn services() -> Option<Services> {
    let vars = Vars::load();
    let s = match Services::read(&vars) {
        Ok(s) => s,
        Err(why) => return unavailable("the test services", &why),
    };
    let mut missing = Vec::new();
    if let Err(why) = s.pg().probe() {
        missing.push(format!("PostgreSQL: {why}"));
    }
    if let Err(why) = s.mysql().probe() {
        missing.push(format!("MariaDB: {why}"));
    }
    if let Err(why) = probe_http_endpoint(&s.sm_endpoint) {
        missing.push(format!("moto: {why}"));
    }
    if missing.is_empty() {
        Some(s)
    } else {
        unavailable("the test services", &missing.join("; "))
    }
}

/// The private PostgreSQL, or `None` / panic as for [`services`].
pub fn require_pg() -> Option<PgService> {
    let vars = Vars::load();
    let pg = match PgService::read(&vars) {
        Ok(pg) => pg,
        Err(why) => return unavailable("PostgreSQL (private test server)", &why),
    };
    match pg.probe() {
        Ok(()) => Some(pg),
        Err(why) => unavailable("PostgreSQL (private test server)", &why),
    }
}

/// The private MariaDB, or `None` / panic as for [`services`].
pub fn require_mysql() -> Option<MysqlService> {
    let vars = Vars::load();
    let my = match MysqlService::read(&vars) {
        Ok(my) => my,
        Err(why) => return unavailable("MariaDB (private test server)", &why),
    };
    match my.probe() {
        Ok(()) => Some(my),
        Err(why) => unavailable("MariaDB (private test server)", &why),
    }
}

/// moto's Secrets Manager endpoint (`http://127.0.0.1:<port>`), or `None` / panic as for
/// [`services`].
pub fn require_sm_endpoint() -> Option<String> {
    let vars = Vars::load();
    let endpoint = match vars.get("ROTATION_TEST_SM_ENDPOINT") {
        Ok(e) => e,
        Err(why) => return unavailable("moto (Secrets Manager endpoint)", &why),
    };
    match probe_http_endpoint(&endpoint) {
        Ok(()) => Some(endpoint),
        Err(why) => unavailable("moto (Secrets Manager endpoint)", &why),
    }
}

/// `http://host:port[/...]` → a TCP probe of host:port.
fn probe_http_endpoint(endpoint: &str) -> Result<(), String> {
    let (host, port) = http_host_port(endpoint)?;
    probe_tcp(&host, port)
}

/// Host and port of an `http://` URL (port 80 when absent).
pub fn http_host_port(endpoint: &str) -> Result<(String, u16), String> {
    let rest = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| format!("{endpoint:?} is not an http:// URL"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    match authority.rsplit_once(':') {
        Some((host, port)) => {
            let port = port
                .parse::<u16>()
                .map_err(|e| format!("bad port in {endpoint:?}: {e}"))?;
            Ok((host.to_owned(), port))
        }
        None => Ok((authority.to_owned(), 80)),
    }
}

// ------------------------------------------------------------------------------------------------
// Names

/// `prefix` + `_` + 10 random lowercase hex characters: unique per call, and a valid unquoted SQL
/// identifier for PostgreSQL and MariaDB when `prefix` is one (lowercase ASCII letter first, then
/// lowercase letters, digits or `_`; at most 40 characters so the result fits PostgreSQL's 63).
///
/// # Panics
/// If `prefix` is not such an identifier.
pub fn unique_name(prefix: &str) -> String {
    let mut chars = prefix.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    assert!(
        first_ok && rest_ok && prefix.len() <= 40,
        "unique_name: prefix {prefix:?} must match [a-z][a-z0-9_]{{0,39}}"
    );
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}", &suffix[..10])
}

// ------------------------------------------------------------------------------------------------
// TLS

/// The rustls provider every connection here uses: aws-lc-rs, never the process default.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

/// Install aws-lc-rs as the process-default rustls provider, for libraries that build their TLS
/// configuration from the default (mysql_async). Idempotent; an already installed default is kept.
pub fn install_crypto_provider() {
    let _ = CryptoProvider::install_default(rustls::crypto::aws_lc_rs::default_provider());
}

/// Read every certificate of a PEM file.
///
/// # Panics
/// If the file cannot be read or holds no certificate.
pub fn load_certs(path: &Path) -> Vec<CertificateDer<'static>> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .unwrap_or_else(|e| panic!("cannot read certificates from {}: {e}", path.display()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("bad PEM in {}: {e}", path.display()));
    assert!(!certs.is_empty(), "no certificate in {}", path.display());
    certs
}

/// A rustls client configuration (aws-lc-rs) trusting only the certificates in `ca`, verifying the
/// server's certificate chain and host name (verify-full).
pub fn rustls_client_config(ca: &Path) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in load_certs(ca) {
        roots
            .add(cert)
            .unwrap_or_else(|e| panic!("bad CA certificate in {}: {e}", ca.display()));
    }
    rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

// ------------------------------------------------------------------------------------------------
// PostgreSQL

/// The private PostgreSQL server.
#[derive(Debug, Clone)]
pub struct PgService {
    /// Superuser URL (`postgres://postgres:<pw>@127.0.0.1:<port>/postgres`).
    pub url: String,
    /// Server log: statements (`log_statement='all'`), connections, failed authentications.
    pub log: PathBuf,
    /// The CA that signed the server's certificate: trust it for verify-full TLS.
    pub ca: PathBuf,
    /// An unrelated CA: verifying the server against it must fail.
    pub other_ca: PathBuf,
}

impl PgService {
    fn read(vars: &Vars) -> Result<PgService, String> {
        Ok(PgService {
            url: vars.get("ROTATION_TEST_PG_URL")?,
            log: vars.path("ROTATION_TEST_PG_LOG")?,
            ca: vars.path("ROTATION_TEST_CA")?,
            other_ca: vars.path("ROTATION_TEST_OTHER_CA")?,
        })
    }

    fn probe(&self) -> Result<(), String> {
        let config = tokio_postgres::Config::from_str(&self.url)
            .map_err(|e| format!("bad ROTATION_TEST_PG_URL: {e}"))?;
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => return Err("ROTATION_TEST_PG_URL has no TCP host".into()),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        probe_tcp(&host, port)
    }

    /// The superuser's configuration, with `sslmode=require` (rustls always verifies the chain and
    /// the host name, so with [`PgService::tls`] this is verify-full).
    pub fn admin_config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::from_str(&self.url)
            .unwrap_or_else(|e| panic!("bad ROTATION_TEST_PG_URL: {e}"));
        config
            .ssl_mode(tokio_postgres::config::SslMode::Require)
            .connect_timeout(Duration::from_secs(10));
        config
    }

    /// The superuser's configuration with another host name (TLS verifies the certificate against
    /// it) and, optionally, the address to reach it at (`hostaddr`, no name lookup): e.g.
    /// `config_at("wrong.example", Some(127.0.0.1))` for a host-name mismatch test.
    pub fn config_at(
        &self,
        host: &str,
        hostaddr: Option<std::net::IpAddr>,
    ) -> tokio_postgres::Config {
        let admin = self.admin_config();
        let mut config = tokio_postgres::Config::new();
        config
            .host(host)
            .port(admin.get_ports().first().copied().unwrap_or(5432))
            .user(admin.get_user().unwrap_or("postgres"))
            .dbname(admin.get_dbname().unwrap_or("postgres"))
            .ssl_mode(tokio_postgres::config::SslMode::Require)
            .connect_timeout(Duration::from_secs(10));
        if let Some(password) = admin.get_password() {
            config.password(password);
        }
        if let Some(addr) = hostaddr {
            config.hostaddr(addr);
        }
        config
    }

    /// The same server and database as a different user.
    pub fn config_for(&self, user: &str, password: &str) -> tokio_postgres::Config {
        let mut config = self.admin_config();
        config.user(user).password(password);
        config
    }

    /// A URL for `user`/`password` on this server (both must be URL-safe, e.g. from
    /// [`unique_name`] and hex).
    pub fn url_for(&self, user: &str, password: &str) -> String {
        let config = self.admin_config();
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let db = config.get_dbname().unwrap_or("postgres");
        format!("postgres://{user}:{password}@127.0.0.1:{port}/{db}")
    }

    /// TLS verifying against the generated CA.
    pub fn tls(&self) -> tokio_postgres_rustls::MakeRustlsConnect {
        pg_tls(&self.ca)
    }

    /// Connect as the superuser over TCP with verify-full TLS.
    ///
    /// # Panics
    /// If the connection fails.
    pub async fn admin(&self) -> tokio_postgres::Client {
        pg_connect(&self.admin_config(), self.tls())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the private PostgreSQL as admin: {e}"))
    }

    /// Connect as `user`/`password` with verify-full TLS; the error is returned (for login tests).
    pub async fn connect_as(
        &self,
        user: &str,
        password: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        pg_connect(&self.config_for(user, password), self.tls()).await
    }

    /// A cursor at the current end of the server log.
    pub fn log_cursor(&self) -> LogCursor {
        LogCursor::new(&self.log)
    }
}

/// tokio-postgres TLS (rustls, aws-lc-rs) trusting only the certificates in `ca`.
pub fn pg_tls(ca: &Path) -> tokio_postgres_rustls::MakeRustlsConnect {
    tokio_postgres_rustls::MakeRustlsConnect::new(rustls_client_config(ca))
}

/// Connect and spawn the connection task; the task ends when the client is dropped.
pub async fn pg_connect(
    config: &tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(async move {
        // Errors here are connection drops; the client sees them on its next call.
        let _ = connection.await;
    });
    Ok(client)
}

/// [`require_pg`] then [`PgService::admin`].
pub async fn pg_admin() -> Option<tokio_postgres::Client> {
    Some(require_pg()?.admin().await)
}

// ------------------------------------------------------------------------------------------------
// MariaDB

/// The private MariaDB server.
#[derive(Debug, Clone)]
pub struct MysqlService {
    /// Root URL (`mysql://root:<pw>@127.0.0.1:<port>`).
    pub url: String,
    /// The general log (every statement, every connect).
    pub log: PathBuf,
    /// The error log (failed logins: `Access denied for user ...`).
    pub error_log: PathBuf,
    /// The CA that signed the server's certificate: trust it for verify-full TLS.
    pub ca: PathBuf,
    /// An unrelated CA: verifying the server against it must fail.
    pub other_ca: PathBuf,
}

impl MysqlService {
    fn read(vars: &Vars) -> Result<MysqlService, String> {
        Ok(MysqlService {
            url: vars.get("ROTATION_TEST_MYSQL_URL")?,
            log: vars.path("ROTATION_TEST_MYSQL_LOG")?,
            error_log: vars.path("ROTATION_TEST_MYSQL_ERROR_LOG")?,
            ca: vars.path("ROTATION_TEST_CA")?,
            other_ca: vars.path("ROTATION_TEST_OTHER_CA")?,
        })
    }

    fn probe(&self) -> Result<(), String> {
        let opts = mysql_async::Opts::from_url(&self.url)
            .map_err(|e| format!("bad ROTATION_TEST_MYSQL_URL: {e}"))?;
        probe_tcp(opts.ip_or_hostname(), opts.tcp_port())
    }

    /// Root's options: TCP only (`prefer_socket(false)`), TLS verifying against the generated CA
    /// (built-in web roots disabled).
    pub fn admin_opts(&self) -> mysql_async::OptsBuilder {
        let opts = mysql_async::Opts::from_url(&self.url)
            .unwrap_or_else(|e| panic!("bad ROTATION_TEST_MYSQL_URL: {e}"));
        mysql_async::OptsBuilder::from_opts(opts)
            .prefer_socket(false)
            .ssl_opts(mysql_ssl_opts(&self.ca))
    }

    /// The same server as a different user.
    pub fn opts_for(&self, user: &str, password: &str) -> mysql_async::OptsBuilder {
        self.admin_opts().user(Some(user)).pass(Some(password))
    }

    /// A URL for `user`/`password` on this server (both must be URL-safe).
    pub fn url_for(&self, user: &str, password: &str) -> String {
        let opts = mysql_async::Opts::from_url(&self.url)
            .unwrap_or_else(|e| panic!("bad ROTATION_TEST_MYSQL_URL: {e}"));
        format!(
            "mysql://{user}:{password}@{}:{}",
            opts.ip_or_hostname(),
            opts.tcp_port()
        )
    }

    /// Connect as root over TCP with TLS.
    ///
    /// # Panics
    /// If the connection fails.
    pub async fn admin(&self) -> mysql_async::Conn {
        mysql_connect(self.admin_opts())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the private MariaDB as root: {e}"))
    }

    /// Connect as `user`/`password` over TCP with TLS; the error is returned (for login tests).
    pub async fn connect_as(
        &self,
        user: &str,
        password: &str,
    ) -> Result<mysql_async::Conn, mysql_async::Error> {
        mysql_connect(self.opts_for(user, password)).await
    }

    /// A cursor at the current end of the general log.
    pub fn log_cursor(&self) -> LogCursor {
        LogCursor::new(&self.log)
    }

    /// A cursor at the current end of the error log.
    pub fn error_log_cursor(&self) -> LogCursor {
        LogCursor::new(&self.error_log)
    }
}

/// mysql_async TLS options trusting only the certificates in `ca` (no built-in roots), with
/// certificate and host name verification on.
pub fn mysql_ssl_opts(ca: &Path) -> mysql_async::SslOpts {
    mysql_async::SslOpts::default()
        .with_root_certs(vec![ca.to_path_buf().into()])
        .with_disable_built_in_roots(true)
}

/// Connect with mysql_async after installing the aws-lc-rs provider as the process default
/// (mysql_async builds its rustls configuration from it).
pub async fn mysql_connect(
    opts: impl Into<mysql_async::Opts>,
) -> Result<mysql_async::Conn, mysql_async::Error> {
    install_crypto_provider();
    mysql_async::Conn::new(opts).await
}

/// [`require_mysql`] then [`MysqlService::admin`].
pub async fn mysql_admin() -> Option<mysql_async::Conn> {
    Some(require_mysql()?.admin().await)
}

// ------------------------------------------------------------------------------------------------
// Logs

/// Reads what a server appended to a log file since the cursor was made, so a test asserts only on
/// lines written during the test (the servers are shared by every test).
#[derive(Debug, Clone)]
pub struct LogCursor {
    path: PathBuf,
    offset: u64,
}

impl LogCursor {
    /// A cursor at the current end of `path` (0 if it does not exist yet).
    pub fn new(path: impl AsRef<Path>) -> LogCursor {
        let path = path.as_ref().to_path_buf();
        let offset = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        LogCursor { path, offset }
    }

    /// The log file this cursor reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Everything appended since the cursor was made (or last [`LogCursor::advance`]d), as lossy
    /// UTF-8. Empty if the file is missing or was truncated below the offset.
    pub fn new_text(&self) -> String {
        let Ok(mut file) = fs::File::open(&self.path) else {
            return String::new();
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return String::new();
        }
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() {
            return String::new();
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Move the cursor to the current end of the file.
    pub fn advance(&mut self) {
        self.offset = fs::metadata(&self.path)
            .map(|m| m.len())
            .unwrap_or(self.offset);
    }

    /// Poll [`LogCursor::new_text`] until it contains `needle` (servers may write a line just after
    /// answering the client), up to `timeout`. Returns the new text either way; the caller asserts.
    pub async fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.new_text();
            if text.contains(needle) || Instant::now() >= deadline {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Cleanup

/// Run `body` as its own task, then `cleanup` whether or not `body` panicked, then re-raise the
/// panic. Lets a test drop the roles/users it created even when an assertion fails.
pub async fn run_then_cleanup<B, C>(body: B, cleanup: C)
where
    B: Future<Output = ()> + Send + 'static,
    C: Future<Output = ()>,
{
    let outcome = tokio::spawn(body).await;
    cleanup.await;
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test body was cancelled: {e}");
    }
}

/// How many of `passwords` occur in `text` (a log).
pub fn plaintext_hits(text: &str, passwords: &[String]) -> usize {
    passwords
        .iter()
        .filter(|p| !p.is_empty() && text.contains(p.as_str()))
        .count()
}

/// For `scripts/reliability`: append one tab-separated record (kind, engine, strategy,
/// scenarios, fault points, inputs tried, app-log hits, server-log hits) to the file named by
/// `ROTATION_RELIABILITY_REPORT`, when set.
pub fn record_reliability(fields: &[&dyn std::fmt::Display]) {
    let Some(path) = std::env::var_os("ROTATION_RELIABILITY_REPORT") else {
        return;
    };
    let line: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("ROTATION_RELIABILITY_REPORT is writable");
    std::io::Write::write_all(&mut file, format!("{}\n", line.join("\t")).as_bytes())
        .expect("ROTATION_RELIABILITY_REPORT is writable");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_are_identifiers_and_differ() {
        let a = unique_name("rw_test");
        let b = unique_name("rw_test");
        assert_ne!(a, b);
        assert!(a.starts_with("rw_test_"));
        assert_eq!(a.len(), "rw_test_".len() + 10);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
    }

    #[test]
    #[should_panic(expected = "must match")]
    fn unique_name_rejects_bad_prefix() {
        unique_name("Bad-Prefix");
    }

    #[test]
    fn env_file_parsing() {
        let vars = parse_env_file("# c\n\nA=1\nexport B=x=y\n  C = z \n");
        assert_eq!(vars.get("A").map(String::as_str), Some("1"));
        assert_eq!(vars.get("B").map(String::as_str), Some("x=y"));
        assert_eq!(vars.get("C").map(String::as_str), Some("z"));
        assert_eq!(vars.len(), 3);
    }

    #[test]
    fn http_endpoints() {
        assert_eq!(
            http_host_port("http://127.0.0.1:50009").unwrap(),
            ("127.0.0.1".to_owned(), 50009)
        );
        assert_eq!(
            http_host_port("http://localhost/x").unwrap(),
            ("localhost".to_owned(), 80)
        );
        assert!(http_host_port("https://x").is_err());
    }

    #[test]
    fn log_cursor_reads_only_appended_text() {
        let dir = std::env::temp_dir().join(unique_name("logcursor"));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        fs::write(&path, "before\n").unwrap();
        let mut cursor = LogCursor::new(&path);
        assert_eq!(cursor.new_text(), "");
        let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut f, b"after\n").unwrap();
        assert_eq!(cursor.new_text(), "after\n");
        cursor.advance();
        assert_eq!(cursor.new_text(), "");
        fs::remove_dir_all(&dir).unwrap();
    }
}
