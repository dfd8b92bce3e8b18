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

/// The `verify-full` trust roots for mysql_async, DER, loaded once per process: the system
/// bundle and `ca_file` ([`rotwise_db::tls::load_roots_without_rds`]), plus Amazon RDS's
/// CAs when `rds` (the host is an RDS endpoint: no RDS CA can vouch for another name).
///
/// mysql_async copies and parses the roots it is given on every connection, so they are
/// kept as few as useful, and borrowed: the loaded certificates are leaked once into
/// `'static` (this list lives as long as the process's rotator anyway) and RDS's are
/// embedded, so handing them to a connection's options copies no certificate.
pub(crate) fn load_roots(
    ca_file: Option<&Path>,
    rds: bool,
) -> Result<Arc<Vec<&'static [u8]>>, String> {
    let loaded = rotwise_db::tls::load_roots_without_rds(ca_file, TlsMode::VerifyFull)?;
    let mut roots: Vec<&'static [u8]> = loaded
        .into_iter()
        .map(|c| &*Box::leak(c.to_vec().into_boxed_slice()))
        .collect();
    if rds {
        roots.extend(rotwise_db::rds::certificates().iter().map(|c| c.as_ref()));
    }
    Ok(Arc::new(roots))
}

/// mysql_async's TLS options (`verify-full`): only `roots` trusted, chain and host name
/// verified. (`require` does not use mysql_async's TLS: see `connect/relay.rs`.)
pub(crate) fn ssl_opts(roots: &[&'static [u8]], name: Option<&str>) -> SslOpts {
    SslOpts::default()
        .with_root_certs(roots.iter().map(|der| (*der).into()).collect())
        .with_disable_built_in_roots(true)
        .with_danger_tls_hostname_override(name.map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Amazon RDS's CAs are in mysql_async's roots only for an RDS host (mysql_async copies
    /// and parses every root on each connection, and no RDS CA can vouch for another name).
    #[test]
    fn rds_cas_only_for_an_rds_host() {
        let rds = rotwise_db::rds::certificates();
        let without = load_roots(None, false).unwrap();
        let with = load_roots(None, true).unwrap();
        assert_eq!(with.len(), without.len() + rds.len());
        assert!(rds.iter().all(|c| with.contains(&c.as_ref())));
        // Only the Amazon Root CAs RDS Proxy uses (5, also in public bundles) may be there.
        let shared = rds.iter().filter(|c| without.contains(&c.as_ref())).count();
        assert!(
            shared <= 5,
            "{shared} RDS certificates in the roots of a non-RDS host"
        );
    }
}
