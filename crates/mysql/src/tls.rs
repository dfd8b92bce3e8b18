//! TLS through rustls (aws-lc-rs, via mysql_async's `default-rustls`): trust roots; the
//! modes are [`rotwise_db::tls`]'s.

use std::path::Path;
use std::sync::Arc;

use mysql_async::SslOpts;

pub use rotwise_db::tls::{SYSTEM_BUNDLES, TlsMode, UnknownTlsMode};

/// Install aws-lc-rs as the process-default rustls provider: mysql_async builds its
/// client configuration from the default. Idempotent; an installed default is kept.
pub(crate) fn install_provider() {
    let _ = rustls::crypto::CryptoProvider::install_default(
        rustls::crypto::aws_lc_rs::default_provider(),
    );
}

/// The trust roots ([`rotwise_db::tls::load_roots`]), DER-encoded for mysql_async.
/// mysql_async's built-in web roots are never used.
pub(crate) fn load_roots(ca_file: Option<&Path>) -> Result<Arc<Vec<Vec<u8>>>, String> {
    let roots = rotwise_db::tls::load_roots(ca_file)?;
    Ok(Arc::new(roots.into_iter().map(|c| c.to_vec()).collect()))
}

/// mysql_async's TLS options: only `roots` trusted, chain and host name verified. With
/// `name`, the certificate is checked against that name instead of the host connected to
/// (the `require` mode's second attempt, see `connect`).
pub(crate) fn ssl_opts(roots: &[Vec<u8>], name: Option<&str>) -> SslOpts {
    SslOpts::default()
        .with_root_certs(roots.iter().map(|der| der.clone().into()).collect())
        .with_disable_built_in_roots(true)
        .with_danger_tls_hostname_override(name.map(str::to_owned))
}

/// For `require`: a DNS name the server's certificate is valid for, from rustls'
/// "not valid for name" error (`presented` holds `DnsName("…")` entries). A wildcard
/// `*.example.com` yields `rotwise.example.com`.
pub(crate) fn presented_dns_name(error: &rustls::Error) -> Option<String> {
    let rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext {
        presented,
        ..
    }) = error
    else {
        return None;
    };
    presented.iter().find_map(|p| {
        let name = p.strip_prefix("DnsName(\"")?.strip_suffix("\")")?;
        let name = match name.strip_prefix("*.") {
            Some(rest) => format!("rotwise.{rest}"),
            None => name.to_owned(),
        };
        (!name.is_empty()).then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_names() {
        let err = |presented: Vec<&str>| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext {
                expected: rustls::pki_types::ServerName::try_from("x.example")
                    .unwrap()
                    .to_owned(),
                presented: presented.into_iter().map(str::to_owned).collect(),
            })
        };
        assert_eq!(
            presented_dns_name(&err(vec!["IpAddress(1.2.3.4)", "DnsName(\"db.internal\")"])),
            Some("db.internal".to_owned())
        );
        assert_eq!(
            presented_dns_name(&err(vec!["DnsName(\"*.rds.amazonaws.com\")"])),
            Some("rotwise.rds.amazonaws.com".to_owned())
        );
        assert_eq!(presented_dns_name(&err(vec!["IpAddress(1.2.3.4)"])), None);
        assert_eq!(
            presented_dns_name(&rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            )),
            None
        );
    }
}
