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

/// The trust roots for `mode` ([`rotwise_db::tls::load_roots`]: with `require`, a CA file
/// replaces the system bundle), DER-encoded for mysql_async. mysql_async's built-in web
/// roots are never used.
pub(crate) fn load_roots(
    ca_file: Option<&Path>,
    mode: TlsMode,
) -> Result<Arc<Vec<Vec<u8>>>, String> {
    let roots = rotwise_db::tls::load_roots(ca_file, mode)?;
    Ok(Arc::new(roots.into_iter().map(|c| c.to_vec()).collect()))
}

/// mysql_async's TLS options (`verify-full`): only `roots` trusted, chain and host name
/// verified. (`require` does not use mysql_async's TLS: see `connect/relay.rs`.)
pub(crate) fn ssl_opts(roots: &[Vec<u8>], name: Option<&str>) -> SslOpts {
    SslOpts::default()
        .with_root_certs(roots.iter().map(|der| der.clone().into()).collect())
        .with_disable_built_in_roots(true)
        .with_danger_tls_hostname_override(name.map(str::to_owned))
}
