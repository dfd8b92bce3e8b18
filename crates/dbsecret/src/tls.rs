//! TLS modes (no TLS code: the engines connect with rustls): [`TlsMode`], its names, and
//! where the system's CA bundle is.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

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

#[cfg(test)]
mod tests {
    use super::*;

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
