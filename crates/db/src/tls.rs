//! TLS modes ([`TlsMode`], its names), where the system's CA bundle is, and the trust
//! roots both engines load ([`load_roots`]); the engines connect with rustls
//! (aws-lc-rs) through their drivers.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Where the system's CA bundle is looked for when `SSL_CERT_FILE` is not set: Amazon
/// Linux (Lambda) first, then Debian/Ubuntu.
pub const SYSTEM_BUNDLES: [&str; 2] = [
    "/etc/pki/tls/cert.pem",
    "/etc/ssl/certs/ca-certificates.crt",
];

/// How a connection uses TLS. There is no "encrypt but don't verify" mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plaintext.
    Disable,
    /// Try [`TlsMode::VerifyFull`]; when the server refuses TLS or the handshake fails,
    /// reconnect in plaintext and log a WARN naming the host and the reason.
    Prefer,
    /// TLS; the certificate chain is verified, the host name is not.
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

/// The trust roots: the system bundle (`SSL_CERT_FILE`, else [`SYSTEM_BUNDLES`]) plus
/// `ca_file`. A broken system bundle only loses its unparsable entries; a `ca_file` that
/// cannot be read, or holds no usable certificate, is an error, and so is an empty result.
pub fn load_roots(ca_file: Option<&Path>) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut roots = Vec::new();
    if let Some(path) = system_bundle()
        && let Ok(certs) = read_pem(&path)
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

/// Read a PEM file of certificates (tests, tools).
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    read_pem(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_ca_file_is_an_error() {
        let e = load_roots(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
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
