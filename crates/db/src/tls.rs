//! TLS modes ([`TlsMode`], its names), where the system's CA bundle is, the trust roots
//! both engines load ([`load_roots`]: with `require`, a CA file replaces the system
//! bundle), and the rustls client configuration for a mode ([`client_config`], with
//! `require`'s chain-only verifier); the engines connect with rustls (aws-lc-rs).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// Where the system's CA bundle is looked for when `SSL_CERT_FILE` is not set: Amazon
/// Linux (Lambda) first, then Debian/Ubuntu.
pub const SYSTEM_BUNDLES: [&str; 2] = [
    "/etc/pki/tls/cert.pem",
    "/etc/ssl/certs/ca-certificates.crt",
];

/// How a connection uses TLS. There is no "encrypt but don't verify" mode.
///
/// Only [`TlsMode::VerifyFull`] (and the TLS attempt of [`TlsMode::Prefer`]) proves the
/// server is the host named in the secret; every other connection is *unverified*, and on
/// it a request for the password in cleartext is refused unless
/// `ROTATION_ALLOW_CLEARTEXT_PASSWORD` allows it ([`crate::DbOptions::allow_cleartext_password`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plaintext.
    Disable,
    /// Try [`TlsMode::VerifyFull`]; when the server refuses TLS or the handshake fails,
    /// reconnect in plaintext and log a WARN naming the host and the reason.
    Prefer,
    /// TLS; the certificate chain is verified, the host name is not. With a CA file, the
    /// chain must lead to a certificate of that file (the system bundle is not used).
    Require,
    /// TLS; chain and host name verified.
    VerifyFull,
}

impl TlsMode {
    /// The mode's name as `ROTATION_TLS_MODE` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown TLS mode name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown TLS mode {0:?}: use disable, prefer, require or verify-full")]
pub struct UnknownTlsMode(pub String);

impl FromStr for TlsMode {
    type Err = UnknownTlsMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "disable" => Ok(TlsMode::Disable),
            "prefer" => Ok(TlsMode::Prefer),
            "require" => Ok(TlsMode::Require),
            "verify-full" | "verify_full" => Ok(TlsMode::VerifyFull),
            _ => Err(UnknownTlsMode(s.to_owned())),
        }
    }
}

/// The system's CA bundle: `SSL_CERT_FILE` when set and not empty, else the first of
/// [`SYSTEM_BUNDLES`] that is a file.
pub fn system_bundle() -> Option<PathBuf> {
    match std::env::var_os("SSL_CERT_FILE") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => SYSTEM_BUNDLES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file()),
    }
}

/// The process's one rustls crypto provider: aws-lc-rs.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn read_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let iter = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
    iter.collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM in CA file {}: {e}", path.display()))
}

/// Keep the certificates a trust store accepts (a driver may refuse a whole list when
/// one entry does not parse).
fn usable(certs: Vec<CertificateDer<'static>>) -> Vec<CertificateDer<'static>> {
    certs
        .into_iter()
        .filter(|c| RootCertStore::empty().add(c.clone()).is_ok())
        .collect()
}

/// The trust roots for `mode`:
///
/// - [`TlsMode::Require`] with `ca_file`: the certificates of `ca_file` only. `require` does
///   not check the host name, so trusting the public web PKI as well would let any holder of
///   a publicly trusted certificate, for any name, pass.
/// - otherwise: the system bundle (`SSL_CERT_FILE`, else [`SYSTEM_BUNDLES`]), Amazon RDS's
///   CA certificates ([`crate::rds::certificates`], embedded: RDS and Aurora servers chain to
///   them and the Lambda base images lack them) and `ca_file`. `verify-full` checks the host
///   name, so a public CA can only vouch for the host itself.
///
/// A broken system bundle only loses its unparsable entries; a `ca_file` that cannot be
/// read, or holds no usable certificate, is an error, and so is an empty result.
pub fn load_roots(
    ca_file: Option<&Path>,
    mode: TlsMode,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut roots = load_roots_with(system_bundle().as_deref(), ca_file, mode)?;
    if !file_only(ca_file, mode) {
        roots.extend(crate::rds::certificates().iter().cloned());
    }
    Ok(roots)
}

/// [`load_roots`] without Amazon RDS's CAs (for a caller that adds them itself, or knows
/// they cannot help: a `verify-full` connection to a host that is not an RDS endpoint, whose
/// certificate no RDS CA can vouch for).
pub fn load_roots_without_rds(
    ca_file: Option<&Path>,
    mode: TlsMode,
) -> Result<Vec<CertificateDer<'static>>, String> {
    load_roots_with(system_bundle().as_deref(), ca_file, mode)
}

/// Whether `mode` trusts the CA file alone (`require` with a CA file).
fn file_only(ca_file: Option<&Path>, mode: TlsMode) -> bool {
    mode == TlsMode::Require && ca_file.is_some()
}

/// [`load_roots`] as a rustls store, with RDS's certificates added as pre-parsed trust
/// anchors (nothing to decode; the system bundle and the CA file are parsed once here).
pub fn root_store(ca_file: Option<&Path>, mode: TlsMode) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(load_roots_with(system_bundle().as_deref(), ca_file, mode)?);
    if !file_only(ca_file, mode) {
        store.extend(crate::rds::trust_anchors().iter().cloned());
    }
    Ok(store)
}

/// [`load_roots`] with the system bundle given (tests).
fn load_roots_with(
    system: Option<&Path>,
    ca_file: Option<&Path>,
    mode: TlsMode,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut roots = Vec::new();
    if !file_only(ca_file, mode)
        && let Some(path) = system
        && let Ok(certs) = read_pem(path)
    {
        roots.extend(usable(certs));
    }
    if let Some(path) = ca_file {
        let certs = read_pem(path)?;
        if certs.is_empty() {
            return Err(format!("CA file {} holds no certificate", path.display()));
        }
        let certs = usable(certs);
        if certs.is_empty() {
            return Err(format!(
                "CA file {} holds no usable CA certificate",
                path.display()
            ));
        }
        roots.extend(certs);
    }
    if roots.is_empty() {
        return Err(
            "no trusted CA certificates: set SSL_CERT_FILE or a CA file (ROTATION_CA_FILE)".into(),
        );
    }
    Ok(roots)
}

/// A rustls client configuration for `mode` (`Require`: the chain-only verifier;
/// otherwise chain and host name) trusting `roots`, with aws-lc-rs.
pub fn client_config(roots: Arc<RootCertStore>, mode: TlsMode) -> Result<ClientConfig, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?;
    let config = if mode == TlsMode::Require {
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| format!("TLS configuration: {e}"))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnly(inner)))
            .with_no_client_auth()
    } else {
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(config)
}

/// `require`: the WebPKI verifier with only the host-name check waived. Everything else
/// (chain to a trusted root, validity period, usage, signatures) is enforced.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Read a PEM file of certificates (tests, tools).
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    read_pem(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_ca_file_is_an_error() {
        for mode in [TlsMode::Require, TlsMode::VerifyFull] {
            let e = load_roots(Some(Path::new("/nonexistent/ca.pem")), mode).unwrap_err();
            assert!(e.contains("/nonexistent/ca.pem"), "{e}");
        }
    }

    /// `require` with a CA file trusts that file only; `verify-full` (and `require` without
    /// a file) keeps the system bundle. Fails before the fix: `require` got both.
    #[test]
    fn require_with_a_ca_file_trusts_that_file_only() {
        let Some(services) = rotwise_test_services::services() else {
            return;
        };
        // The "system bundle" is the test CA, the CA file the unrelated one.
        let system = Some(services.ca.as_path());
        let file = Some(services.other_ca.as_path());
        let ca = read_pem(&services.ca).unwrap();
        let other = read_pem(&services.other_ca).unwrap();
        let require = load_roots_with(system, file, TlsMode::Require).unwrap();
        assert_eq!(require, other);
        let full = load_roots_with(system, file, TlsMode::VerifyFull).unwrap();
        assert_eq!(full, [ca.clone(), other].concat());
        let require_no_file = load_roots_with(system, None, TlsMode::Require).unwrap();
        assert_eq!(require_no_file, ca);
        // A file that is missing is still an error, never a silent fallback to the bundle.
        assert!(
            load_roots_with(
                system,
                Some(Path::new("/nonexistent/ca.pem")),
                TlsMode::Require
            )
            .is_err()
        );
    }

    /// `require` waives only the host name: a certificate from the right CA for another
    /// name passes; the same certificate from an untrusted CA does not.
    #[test]
    fn chain_only_ignores_only_the_name() {
        let Some(services) = rotwise_test_services::services() else {
            return;
        };
        let cert = read_pem(&services.wrong_host_cert).unwrap().remove(0);
        let name = ServerName::try_from("localhost").unwrap();
        let verify = |ca: &Path| {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(read_pem(ca).unwrap());
            let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .unwrap();
            let full = inner.verify_server_cert(&cert, &[], &name, &[], UnixTime::now());
            let chain =
                ChainOnly(inner).verify_server_cert(&cert, &[], &name, &[], UnixTime::now());
            (full.map(|_| ()), chain.map(|_| ()))
        };
        let (full, chain) = verify(&services.ca);
        assert!(
            matches!(
                full,
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                ))
            ),
            "{full:?}"
        );
        assert!(chain.is_ok(), "{chain:?}");
        let (full, chain) = verify(&services.other_ca);
        assert!(full.is_err() && chain.is_err(), "{full:?} {chain:?}");
    }

    /// Amazon RDS's CAs are in the default trust store of every mode, as certificates
    /// (mysql_async) and as anchors (rustls), except `require` with a CA file, which trusts
    /// that file only.
    #[test]
    fn rds_cas_are_trusted_by_default() {
        let rds = crate::rds::certificates();
        let anchors = crate::rds::trust_anchors();
        for mode in [TlsMode::Prefer, TlsMode::Require, TlsMode::VerifyFull] {
            let roots = load_roots(None, mode).unwrap();
            assert!(rds.iter().all(|c| roots.contains(c)), "{mode}");
            let store = root_store(None, mode).unwrap();
            assert!(
                anchors.iter().all(|a| store.roots.contains(a)),
                "{mode}: anchors"
            );
        }
        let Some(services) = rotwise_test_services::services() else {
            return;
        };
        let with_file = load_roots(Some(&services.ca), TlsMode::VerifyFull).unwrap();
        assert!(rds.iter().all(|c| with_file.contains(c)));
        let file_only = load_roots(Some(&services.ca), TlsMode::Require).unwrap();
        assert!(!file_only.iter().any(|c| rds.contains(c)));
        let store = root_store(Some(&services.ca), TlsMode::Require).unwrap();
        assert_eq!(store.roots.len(), file_only.len());
    }

    #[test]
    fn parse_modes() {
        for m in [
            TlsMode::Disable,
            TlsMode::Prefer,
            TlsMode::Require,
            TlsMode::VerifyFull,
        ] {
            assert_eq!(m.as_str().parse::<TlsMode>().unwrap(), m);
        }
        assert_eq!(
            " Verify-Full ".parse::<TlsMode>().unwrap(),
            TlsMode::VerifyFull
        );
        assert!("allow".parse::<TlsMode>().is_err());
    }
}
