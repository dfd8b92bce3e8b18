//! A TCP proxy that delays every byte by a fixed time in each direction: what the
//! benchmark puts between the function and its database to model a network in a region
//! (for example 1 ms each way, a 2 ms round trip added to every exchange).
//!
//! Each direction is a delay line, not a sleep per read: a chunk read at `t` is written
//! at `t + delay`, and chunks read while earlier ones wait keep their own deadlines, so
//! throughput is not cut and pipelined messages are not delayed twice. The proxy never
//! looks at the bytes (TLS passes through unchanged, so the function still verifies the
//! server's certificate).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A delaying TCP proxy on `127.0.0.1` in front of one address. Stops (and drops its
/// connections) when dropped.
#[derive(Debug)]
pub struct DelayProxy {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl DelayProxy {
    /// Listen on `127.0.0.1` (a port chosen by the OS) and forward each connection to
    /// `target`, delaying each direction by `one_way`.
    ///
    /// # Errors
    ///
    /// When binding fails. Must be called inside a tokio runtime.
    pub async fn start(target: SocketAddr, one_way: Duration) -> io::Result<DelayProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((client, _)) => {
                            connections.spawn(relay(client, target, one_way));
                        }
                        Err(e) => {
                            tracing_note(&e);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok(DelayProxy { addr, task })
    }

    /// The address to connect to instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port to connect to (on `127.0.0.1`).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every relay.
        self.task.abort();
    }
}

fn tracing_note(e: &io::Error) {
    // The test kit has no logger of its own; an accept error is rare and not fatal.
    eprintln!("delay proxy: accept failed: {e}");
}

async fn relay(client: TcpStream, target: SocketAddr, one_way: Duration) {
    let Ok(server) = TcpStream::connect(target).await else {
        return; // the client sees the connection close, as with a refused one
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        delay_line(client_read, server_write, one_way),
        delay_line(server_read, client_write, one_way),
    );
}

/// Copy `from` to `to`, each chunk written `delay` after it was read; the end of `from`
/// is passed on (after the delay) as a shutdown of `to`.
async fn delay_line(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    // Unbounded: the reader never waits for the writer, which is what keeps the delay
    // fixed; the peers' own flow control bounds what is in flight.
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let chunk = buf.get(..n).unwrap_or_default().to_vec();
                    if tx.send((Instant::now() + delay, chunk)).is_err() {
                        break;
                    }
                }
            }
        }
        // Dropping `tx` ends the writer once the queued chunks are out.
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server behind a 20 ms proxy: bytes come back intact, after at least 40 ms
    /// (20 ms each way); a second message sent right behind the first is not delayed
    /// twice.
    #[tokio::test]
    async fn delays_each_direction_once() {
        let echo = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let target = echo.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let proxy = DelayProxy::start(target, Duration::from_millis(20))
            .await
            .unwrap();
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        c.set_nodelay(true).unwrap();

        let started = std::time::Instant::now();
        c.write_all(b"ping").await.unwrap();
        let mut got = [0u8; 4];
        c.read_exact(&mut got).await.unwrap();
        let rtt = started.elapsed();
        assert_eq!(&got, b"ping");
        assert!(rtt >= Duration::from_millis(40), "round trip {rtt:?}");

        // Two messages back to back: both back within one round trip (plus slack), not two.
        let started = std::time::Instant::now();
        c.write_all(b"ab").await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        c.write_all(b"cd").await.unwrap();
        let mut got = [0u8; 4];
        c.read_exact(&mut got).await.unwrap();
        let both = started.elapsed();
        assert_eq!(&got, b"abcd");
        assert!(
            both >= Duration::from_millis(45) && both < Duration::from_millis(80),
            "pipelined: {both:?}"
        );
    }

    /// A target that refuses connections: the client's connection is closed (reads end).
    #[tokio::test]
    async fn refused_target_closes_the_client() {
        let target = SocketAddr::from(([127, 0, 0, 1], crate::harness::closed_port()));
        let proxy = DelayProxy::start(target, Duration::from_millis(1))
            .await
            .unwrap();
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        let mut buf = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
            .await
            .expect("closed promptly")
            .unwrap_or(0);
        assert_eq!(n, 0);
    }
}
