//! A minimal RESP2 client: commands as arrays of bulk strings, replies parsed fully.
//!
//! Why not the `redis` crate: the rotator sends three commands (AUTH, ACL GETUSER,
//! ACL SETUSER; the tests add ACL DELUSER and ACL LOG); this is ~150 lines with no
//! dependency beyond tokio, so the example adds nothing to the lockfile and cannot pull a TLS stack into the workspace
//! (cargo-deny bans a second one). A real deployment that needs TLS to ElastiCache would
//! use the `redis` crate with its rustls feature; the rotator logic does not change.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A RESP2 reply.
#[derive(Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Simple(String),
    /// `-ERR ...` (the server's message; may be redacted by the caller).
    Error(String),
    /// `:1`
    Int(i64),
    /// `$n` (None: the null bulk string).
    Bulk(Option<Vec<u8>>),
    /// `*n` (None: the null array).
    Array(Option<Vec<Reply>>),
}

// Replies may carry password hashes: never print them.
impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Simple(s) => write!(f, "Simple({s})"),
            Reply::Error(e) => write!(f, "Error({e})"),
            Reply::Int(i) => write!(f, "Int({i})"),
            Reply::Bulk(_) => f.write_str("Bulk(..)"),
            Reply::Array(a) => write!(f, "Array({:?} items)", a.as_ref().map(Vec::len)),
        }
    }
}

impl Reply {
    /// The text of a bulk or simple string.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Simple(s) => Some(s.clone()),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    /// The items of an array (empty for anything else).
    pub fn items(&self) -> &[Reply] {
        match self {
            Reply::Array(Some(items)) => items,
            _ => &[],
        }
    }

    /// A flat `[name, value, name, value...]` array (ACL GETUSER) looked up by name.
    pub fn field(&self, name: &str) -> Option<&Reply> {
        self.items()
            .chunks(2)
            .find(|kv| kv[0].text().as_deref() == Some(name))
            .and_then(|kv| kv.get(1))
    }
}

/// One connection.
pub struct Conn {
    io: BufReader<TcpStream>,
}

impl Conn {
    /// Connect to `host:port` within `timeout`.
    pub async fn connect(host: &str, port: u16, timeout: Duration) -> io::Result<Conn> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting to {host}:{port} timed out"),
                )
            })??;
        stream.set_nodelay(true)?;
        Ok(Conn {
            io: BufReader::new(stream),
        })
    }

    /// Send one command and read its reply.
    pub async fn call(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        self.io.get_mut().write_all(&buf).await?;
        read_reply(&mut self.io).await
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad RESP reply: {what}"),
    )
}

type ReplyFuture<'a> = Pin<Box<dyn Future<Output = io::Result<Reply>> + Send + 'a>>;

fn read_reply(io: &mut BufReader<TcpStream>) -> ReplyFuture<'_> {
    Box::pin(async move {
        let mut line = Vec::new();
        io.read_until(b'\n', &mut line).await?;
        if line.len() < 3 || !line.ends_with(b"\r\n") {
            return Err(bad("connection closed or line without CRLF"));
        }
        let body = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        let int = |s: &str| s.parse::<i64>().map_err(|_| bad("not an integer"));
        match line[0] {
            b'+' => Ok(Reply::Simple(body)),
            b'-' => Ok(Reply::Error(body)),
            b':' => Ok(Reply::Int(int(&body)?)),
            b'$' => {
                let n = int(&body)?;
                if n < 0 {
                    return Ok(Reply::Bulk(None));
                }
                let mut data = vec![0u8; n as usize + 2];
                io.read_exact(&mut data).await?;
                data.truncate(n as usize);
                Ok(Reply::Bulk(Some(data)))
            }
            b'*' => {
                let n = int(&body)?;
                if n < 0 {
                    return Ok(Reply::Array(None));
                }
                let mut items = Vec::with_capacity(n.min(1024) as usize);
                for _ in 0..n {
                    items.push(read_reply(io).await?);
                }
                Ok(Reply::Array(Some(items)))
            }
            _ => Err(bad("unknown type byte")),
        }
    })
}
