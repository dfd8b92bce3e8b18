//! The authentication guard for connections not verified for the host name.
//!
//! mysql_async answers `caching_sha2_password` full authentication on any connection: over
//! any TLS it sends the password in cleartext, and without TLS it encrypts it with an RSA
//! key it fetches from the server without verifying it (mysql_async 0.37
//! `Conn::continue_caching_sha2_password_auth`). It has no option to refuse that, and it
//! opens its TCP connection itself, so no wrapper can be put around its stream.
//!
//! So, for an unverified login, mysql_async talks to a [`Relay`] on a loopback port, in
//! plaintext, and the relay talks to the server: in plaintext (`disable`, `prefer` after its
//! fallback), or with TLS it sets up itself (`require`: the `SSLRequest` and the handshake
//! are the relay's, with [`rotwise_db::tls::client_config`]). Until the login is over (the
//! server's OK or ERR), the relay reads the server's packets, and when one asks for full
//! authentication (`0x01 0x04`) it closes both sides before the client can answer, unless
//! cleartext is allowed. After the login it copies bytes both ways until either side closes.
//!
//! The relay accepts one connection and only during the login; mysql_async sees a plaintext
//! stream, so when full authentication is allowed it takes the RSA key route through the
//! relay (inside the relay's TLS for `require`).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rotwise_db::login::CleartextRefused;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// `CLIENT_SSL` in the capability flags.
const CLIENT_SSL: u32 = 0x800;
/// The largest login packet accepted (a login exchanges a few hundred bytes; an RSA key
/// is under 1 KiB).
const MAX_LOGIN_PACKET: usize = 64 * 1024;

/// How the relay reaches the server.
pub(crate) enum Upstream {
    /// Plaintext.
    Plain,
    /// TLS with this configuration, checking the certificate against `name`.
    Tls {
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    },
}

/// Why the relay ended a login.
#[derive(Clone, Debug)]
pub(crate) enum Stopped {
    /// The server asked for full authentication and cleartext is not allowed.
    Refused(CleartextRefused),
    /// TLS to the server failed during its handshake (`handshake`), or after it.
    Tls { reason: String, handshake: bool },
    /// The server could not be reached, or broke the protocol.
    Io(String),
}

/// A relay for one login; dropping it before [`Relay::keep`] stops it.
pub(crate) struct Relay {
    port: u16,
    stopped: Arc<Mutex<Option<Stopped>>>,
    task: Option<JoinHandle<()>>,
}

impl Relay {
    /// Listen on a loopback port for mysql_async and relay its one connection to
    /// `host:port`.
    pub(crate) async fn start(
        host: &str,
        port: u16,
        upstream: Upstream,
        refusal: Option<CleartextRefused>,
    ) -> io::Result<Relay> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let local = listener.local_addr()?.port();
        let stopped = Arc::new(Mutex::new(None));
        let record = stopped.clone();
        let host = host.to_owned();
        let task = tokio::spawn(async move {
            let outcome = run(listener, &host, port, upstream, refusal).await;
            if let Err(why) = outcome
                && let Ok(mut slot) = record.lock()
            {
                *slot = Some(why);
            }
        });
        Ok(Relay {
            port: local,
            stopped,
            task: Some(task),
        })
    }

    /// The loopback port mysql_async connects to.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Why the relay stopped the login, if it did.
    pub(crate) fn stopped(&self) -> Option<Stopped> {
        self.stopped.lock().ok().and_then(|s| s.clone())
    }

    /// The login succeeded: keep relaying for the session's lifetime.
    pub(crate) fn keep(mut self) {
        self.task = None;
    }

    /// The login failed: why the relay stopped it, if it did. Waits (briefly) for the relay
    /// to notice that the client went away, so its reason is recorded.
    pub(crate) async fn outcome(mut self) -> Option<Stopped> {
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(std::time::Duration::from_secs(1), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
        self.stopped()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

async fn run(
    listener: TcpListener,
    host: &str,
    port: u16,
    upstream: Upstream,
    refusal: Option<CleartextRefused>,
) -> Result<(), Stopped> {
    fn io(what: &'static str) -> impl Fn(io::Error) -> Stopped {
        move |e| Stopped::Io(format!("{what}: {e}"))
    }
    let (client, _) = listener.accept().await.map_err(io("relay accept"))?;
    drop(listener);
    let _ = client.set_nodelay(true);
    let mut server = TcpStream::connect((host, port))
        .await
        .map_err(io("error connecting to server"))?;
    let _ = server.set_nodelay(true);
    let (mut client_r, mut client_w) = tokio::io::split(client);

    // The server's greeting goes to the client as is.
    let greeting = read_packet(&mut server).await?;
    write_packet(&mut client_w, greeting.seq, &greeting.payload).await?;
    let response = read_packet(&mut client_r).await?;

    let (server, shift): (Box<dyn Stream>, u8) = match upstream {
        Upstream::Plain => {
            write_packet(&mut server, response.seq, &response.payload).await?;
            (Box::new(server), 0)
        }
        Upstream::Tls { config, name } => {
            if capabilities(&greeting.payload) & CLIENT_SSL == 0 {
                return Err(Stopped::Tls {
                    reason: "the server does not offer TLS".into(),
                    handshake: true,
                });
            }
            // SSLRequest: the response's first 32 bytes (capabilities, maximum packet
            // size, character set, MariaDB's extended capabilities) with CLIENT_SSL.
            let mut with_ssl = response.payload.clone();
            let head = with_ssl.get_mut(..4).ok_or_else(short)?;
            let caps = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) | CLIENT_SSL;
            head.copy_from_slice(&caps.to_le_bytes());
            let ssl_request = with_ssl.get(..32).ok_or_else(short)?;
            write_packet(&mut server, response.seq, ssl_request).await?;
            let mut tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, server)
                .await
                .map_err(|e| Stopped::Tls {
                    reason: tls_reason(&e),
                    handshake: true,
                })?;
            write_packet(&mut tls, response.seq.wrapping_add(1), &with_ssl).await?;
            (Box::new(tls), 1)
        }
    };
    let (mut server_r, mut server_w) = tokio::io::split(server);

    // The login: server → client inspected, sequence numbers shifted by the SSLRequest.
    let done = Arc::new(AtomicBool::new(false));
    let client_to_server = {
        let done = done.clone();
        async move {
            loop {
                let mut head = [0u8; 4];
                client_r.read_exact(&mut head).await.map_err(read_error)?;
                if done.load(Ordering::SeqCst) {
                    // The first command: the client sends it only after the login's OK.
                    server_w.write_all(&head).await.map_err(read_error)?;
                    break;
                }
                let payload = read_payload(&mut client_r, head).await?;
                write_packet(&mut server_w, head[3].wrapping_add(shift), &payload).await?;
            }
            // After the login: bytes as they come.
            tokio::io::copy(&mut client_r, &mut server_w)
                .await
                .map_err(|e| Stopped::Io(e.to_string()))?;
            let _ = server_w.shutdown().await;
            Ok::<(), Stopped>(())
        }
    };
    let server_to_client = async move {
        loop {
            let p = read_packet(&mut server_r).await?;
            match p.payload.as_slice() {
                [0x01, 0x04] => {
                    if let Some(refused) = refusal {
                        tracing::warn!(host = %refused.host, "{refused}");
                        return Err(Stopped::Refused(refused));
                    }
                }
                [0x00, ..] | [0xff, ..] => {
                    done.store(true, Ordering::SeqCst);
                    write_packet(&mut client_w, p.seq.wrapping_sub(shift), &p.payload).await?;
                    break;
                }
                _ => {}
            }
            write_packet(&mut client_w, p.seq.wrapping_sub(shift), &p.payload).await?;
        }
        tokio::io::copy(&mut server_r, &mut client_w)
            .await
            .map_err(|e| Stopped::Io(e.to_string()))?;
        let _ = client_w.shutdown().await;
        Ok::<(), Stopped>(())
    };
    // Either direction failing (or the refusal) ends both: the sockets close on return.
    tokio::select! {
        r = server_to_client => r,
        r = async {
            client_to_server.await?;
            // The client closed: wait for nothing more.
            Ok(())
        } => r,
    }
}

fn short() -> Stopped {
    Stopped::Io("the client's login packet is too short".into())
}

/// A TLS error's reason, as the classifier words rustls errors.
fn tls_reason(e: &io::Error) -> String {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(r) => format!("TLS handshake failed: {r:?}: {r}"),
        None => format!("TLS handshake failed: {e}"),
    }
}

/// The capability flags of a greeting (protocol 10).
fn capabilities(greeting: &[u8]) -> u32 {
    // protocol version, server version (NUL-terminated), connection id (4), auth data (8),
    // filler (1), capabilities low (2), character set (1), status (2), capabilities high (2).
    let Some(nul) = greeting.iter().skip(1).position(|b| *b == 0) else {
        return 0;
    };
    let low = 1 + nul + 1 + 4 + 8 + 1;
    let byte = |i: usize| u32::from(greeting.get(i).copied().unwrap_or(0));
    byte(low) | byte(low + 1) << 8 | byte(low + 5) << 16 | byte(low + 6) << 24
}

struct Packet {
    seq: u8,
    payload: Vec<u8>,
}

async fn read_packet<R: AsyncRead + Unpin>(r: &mut R) -> Result<Packet, Stopped> {
    let mut head = [0u8; 4];
    r.read_exact(&mut head).await.map_err(read_error)?;
    let payload = read_payload(r, head).await?;
    Ok(Packet {
        seq: head[3],
        payload,
    })
}

async fn read_payload<R: AsyncRead + Unpin>(r: &mut R, head: [u8; 4]) -> Result<Vec<u8>, Stopped> {
    let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
    if len > MAX_LOGIN_PACKET {
        return Err(Stopped::Io(format!("a {len}-byte packet during the login")));
    }
    let mut payload = vec![0; len];
    r.read_exact(&mut payload).await.map_err(read_error)?;
    Ok(payload)
}

fn read_error(e: io::Error) -> Stopped {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(r) => Stopped::Tls {
            reason: format!("TLS failed: {r:?}: {r}"),
            handshake: false,
        },
        None => Stopped::Io(e.to_string()),
    }
}

async fn write_packet<W: AsyncWrite + Unpin>(
    w: &mut W,
    seq: u8,
    payload: &[u8],
) -> Result<(), Stopped> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|l| *l < 1 << 24)
        .ok_or_else(|| Stopped::Io("packet too long".into()))?
        .to_le_bytes();
    let io = |e: io::Error| Stopped::Io(e.to_string());
    w.write_all(&[len[0], len[1], len[2], seq])
        .await
        .map_err(io)?;
    w.write_all(payload).await.map_err(io)?;
    w.flush().await.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_capabilities() {
        let mut g = vec![10];
        g.extend_from_slice(b"10.11.9-MariaDB\0");
        g.extend_from_slice(&[1, 0, 0, 0]);
        g.extend_from_slice(b"abcdefgh\0");
        g.extend_from_slice(&0x0a08u16.to_le_bytes());
        g.push(45);
        g.extend_from_slice(&[2, 0]);
        g.extend_from_slice(&0x0018u16.to_le_bytes());
        assert_eq!(capabilities(&g), 0x0018_0a08);
        assert_ne!(capabilities(&g) & CLIENT_SSL, 0);
        assert_eq!(capabilities(b"\x0a"), 0);
        assert_eq!(capabilities(&[]), 0);
    }
}
