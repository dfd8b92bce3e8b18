//! TLS through rustls (aws-lc-rs): trust roots and the chain-only verifier; the modes are
//! [`rotwise_dbsecret::tls`]'s.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

pub use rotwise_dbsecret::tls::{SYSTEM_BUNDLES, TlsMode, UnknownTlsMode};

pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn read_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let iter = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
    iter.collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM in CA file {}: {e}", path.display()))
}

/// The trust roots: the system bundle (`SSL_CERT_FILE`, else [`SYSTEM_BUNDLES`]) plus
/// `ca_file`. A `ca_file` that cannot be read, or holds no certificate, is an error.
pub(crate) fn load_roots(ca_file: Option<&Path>) -> Result<Arc<RootCertStore>, String> {
    let mut roots = RootCertStore::empty();
    let system = rotwise_dbsecret::tls::system_bundle();
    if let Some(path) = system {
        // A broken system bundle only loses its unparsable entries.
        if let Ok(certs) = read_pem(&path) {
            roots.add_parsable_certificates(certs);
        }
    }
    if let Some(path) = ca_file {
        let certs = read_pem(path)?;
        if certs.is_empty() {
            return Err(format!("CA file {} holds no certificate", path.display()));
        }
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!(
                "CA file {} holds no usable CA certificate",
                path.display()
            ));
        }
    }
    if roots.is_empty() {
        return Err(
            "no trusted CA certificates: set SSL_CERT_FILE or a CA file (ROTATION_CA_FILE)".into(),
        );
    }
    Ok(Arc::new(roots))
}

/// The client configuration for `mode` (`Require` or `VerifyFull`).
pub(crate) fn client_config(
    roots: Arc<RootCertStore>,
    mode: TlsMode,
) -> Result<ClientConfig, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn missing_ca_file_is_an_error() {
        let e = load_roots(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
