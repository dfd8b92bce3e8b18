//! TLS through rustls (aws-lc-rs): trust roots and the chain-only verifier; the modes are
//! [`rotwise_db::tls`]'s.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use rotwise_db::tls::provider;
pub use rotwise_db::tls::{SYSTEM_BUNDLES, TlsMode, UnknownTlsMode};

/// The trust roots ([`rotwise_db::tls::load_roots`]) as a rustls store.
pub(crate) fn root_store(ca_file: Option<&Path>) -> Result<Arc<RootCertStore>, String> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rotwise_db::tls::load_roots(ca_file)?);
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
    use rotwise_db::tls::read_certificates as read_pem;

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
}
