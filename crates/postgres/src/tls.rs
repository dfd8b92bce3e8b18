//! TLS through rustls (aws-lc-rs): trust roots, and the guard that refuses
//! `AuthenticationCleartextPassword` on an unverified connection; the modes and the client
//! configuration (with `require`'s chain-only verifier) are [`rotwise_db::tls`]'s.
//!
//! Channel binding: `tokio-postgres-rustls` implements `tls-server-end-point`, and
//! tokio-postgres' default `channel_binding=prefer` uses `SCRAM-SHA-256-PLUS` whenever the
//! server offers it over TLS; the cleartext guard passes the binding through.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rotwise_db::login::CleartextRefused;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, TlsConnect, TlsStream};

use rustls::RootCertStore;

pub use rotwise_db::tls::{SYSTEM_BUNDLES, TlsMode, UnknownTlsMode};

/// The trust roots for `mode` ([`rotwise_db::tls::root_store`]: with RDS's CAs pre-parsed).
pub(crate) fn root_store(
    ca_file: Option<&Path>,
    mode: TlsMode,
) -> Result<Arc<RootCertStore>, String> {
    rotwise_db::tls::root_store(ca_file, mode).map(Arc::new)
}

pub(crate) use rotwise_db::tls::client_config;

/// Reads the server's messages during startup and fails the read, before the driver sees
/// it, when an `AuthenticationCleartextPassword` request (`R`, code 3) arrives and `refusal`
/// is set. Sits on the plaintext socket, or inside TLS (wrapping the TLS stream, so it
/// reads decrypted messages). Stops looking at the first `AuthenticationOk` (code 0).
///
/// The driver has no switch for this (tokio-postgres answers code 3 with the password;
/// libpq's `require_auth` has no equivalent there), hence the wrapper.
pub(crate) struct CleartextGuard<S> {
    inner: S,
    scan: Scan,
}

impl<S> CleartextGuard<S> {
    /// `refusal`: the error to fail with (`None`: the connection is verified, or the
    /// operator allowed cleartext; the guard only passes bytes through).
    pub(crate) fn new(inner: S, refusal: Option<CleartextRefused>) -> CleartextGuard<S> {
        CleartextGuard {
            inner,
            scan: Scan {
                refusal,
                header: [0; 9],
                have: 0,
                skip: 0,
                done: false,
            },
        }
    }
}

/// The message scanner: the backend protocol's framing is a type byte and a big-endian
/// `i32` length that counts itself; an `R` message's body starts with an `i32` code.
struct Scan {
    refusal: Option<CleartextRefused>,
    /// Type, length and (for `R`) the code of the message being read.
    header: [u8; 9],
    have: usize,
    /// Body bytes of the current message still to pass over.
    skip: usize,
    done: bool,
}

/// The authentication request code for `AuthenticationCleartextPassword`.
const AUTH_CLEARTEXT: i32 = 3;
/// `AuthenticationOk`.
const AUTH_OK: i32 = 0;

impl Scan {
    /// Look at bytes the server sent; `Err` when they hold a refused request.
    fn feed(&mut self, mut data: &[u8]) -> Result<(), CleartextRefused> {
        while !self.done && !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = data.get(n..).unwrap_or_default();
                continue;
            }
            let want = if self.have >= 1 && self.header[0] == b'R' {
                9
            } else {
                5
            };
            let n = (want - self.have).min(data.len());
            self.header[self.have..self.have + n].copy_from_slice(&data[..n]);
            self.have += n;
            data = data.get(n..).unwrap_or_default();
            if self.have < want {
                continue;
            }
            // Read as the driver reads it (unsigned), so both agree on where messages end.
            let len = u32::from_be_bytes([
                self.header[1],
                self.header[2],
                self.header[3],
                self.header[4],
            ]);
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if len < 4 {
                // Not a message: the driver fails on it and reads nothing after it.
                self.done = true;
                break;
            }
            if want == 9 {
                let code = i32::from_be_bytes([
                    self.header[5],
                    self.header[6],
                    self.header[7],
                    self.header[8],
                ]);
                if code == AUTH_CLEARTEXT
                    && let Some(refusal) = &self.refusal
                {
                    return Err(refusal.clone());
                }
                if code == AUTH_OK {
                    self.done = true;
                }
                self.skip = len.saturating_sub(8);
            } else if self.header[0] == b'R' {
                // An `R` header whose code is still to come: read on.
                continue;
            } else {
                self.skip = len.saturating_sub(4);
            }
            self.have = 0;
        }
        Ok(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CleartextGuard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let new = buf.filled().get(before..).unwrap_or_default();
                match this.scan.feed(new) {
                    Ok(()) => Poll::Ready(Ok(())),
                    Err(refused) => {
                        // The driver never sees the request.
                        buf.set_filled(before);
                        tracing::warn!(host = %refused.host, "{refused}");
                        Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::PermissionDenied,
                            refused,
                        )))
                    }
                }
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CleartextGuard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl<S: TlsStream + Unpin> TlsStream for CleartextGuard<S> {
    fn channel_binding(&self) -> ChannelBinding {
        self.inner.channel_binding()
    }
}

/// A TLS connector whose stream is wrapped in a [`CleartextGuard`], so the guard reads the
/// decrypted messages.
pub(crate) struct GuardedTls<T> {
    pub(crate) inner: T,
    pub(crate) refusal: Option<CleartextRefused>,
}

impl<S, T> TlsConnect<S> for GuardedTls<T>
where
    T: TlsConnect<S>,
    T::Future: Send + 'static,
{
    type Stream = CleartextGuard<T::Stream>;
    type Error = T::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Stream, T::Error>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let connecting = self.inner.connect(stream);
        let refusal = self.refusal;
        Box::pin(async move { Ok(CleartextGuard::new(connecting.await?, refusal)) })
    }
}

/// The [`CleartextRefused`] inside a startup error, if the guard stopped the login.
pub(crate) fn refused(e: &tokio_postgres::Error) -> Option<&CleartextRefused> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(io) = err.downcast_ref::<io::Error>()
            && let Some(r) = io
                .get_ref()
                .and_then(|i| i.downcast_ref::<CleartextRefused>())
        {
            return Some(r);
        }
        next = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(i32::try_from(body.len()).unwrap() + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    fn auth(code: i32, rest: &[u8]) -> Vec<u8> {
        message(b'R', &[&code.to_be_bytes()[..], rest].concat())
    }

    fn scan(refuse: bool) -> Scan {
        CleartextGuard::new((), refuse.then(|| CleartextRefused::password("db"))).scan
    }

    /// The request is found whatever the chunking, after other messages; MD5 (5) and SASL
    /// (10) pass; nothing is refused after `AuthenticationOk` or when allowed.
    #[test]
    fn finds_the_cleartext_request_in_any_chunking() {
        let notice = message(b'N', b"Mhello\0\0");
        let cleartext = [notice.clone(), auth(3, b"")].concat();
        let md5 = [notice.clone(), auth(5, b"salt"), auth(0, b"")].concat();
        let sasl = [
            auth(10, b"SCRAM-SHA-256\0\0"),
            auth(11, b"r=abc"),
            auth(0, b""),
        ]
        .concat();
        let after_ok = [auth(0, b""), message(b'S', b"a\0b\0"), auth(3, b"")].concat();
        for chunk in 1..=cleartext.len().max(md5.len()) {
            let run = |bytes: &[u8], refuse: bool| {
                let mut s = scan(refuse);
                bytes.chunks(chunk).try_for_each(|c| s.feed(c))
            };
            assert!(run(&cleartext, true).is_err(), "chunk {chunk}");
            assert!(run(&cleartext, false).is_ok(), "chunk {chunk}");
            assert!(run(&md5, true).is_ok(), "chunk {chunk}");
            assert!(run(&sasl, true).is_ok(), "chunk {chunk}");
            assert!(run(&after_ok, true).is_ok(), "chunk {chunk}");
        }
    }
}
