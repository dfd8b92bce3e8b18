//! Rotate a Redis ACL user's password (Redis 6+; tested on Redis 7), single-user or
//! alternating-users, with `ACL SETUSER` on an admin connection. Not for ElastiCache as it
//! is: ElastiCache's RBAC users need TLS, which this example does not speak.
//!
//! # Secret format
//!
//! ```json
//! {"host": "127.0.0.1", "port": 6379, "username": "app", "password": "..."}
//! ```
//! `port` may be a number or a string (default 6379); other keys are kept unchanged.
//! Alternating users take turns between `app` and `app_clone` (the secret's `username`
//! says which one is live).
//!
//! # Strategies
//!
//! The rotator changes passwords through an **admin** connection ([`AdminLogin`]: a user
//! allowed to run `ACL`), never through the rotated user's own session (which normally
//! has no `ACL` permission). Rules (commands, keys, channels, selectors, on/off) are
//! never lost: single user touches only passwords, and the clone is a copy of the base.
//!
//! - **Single user, with a short overlap.** setSecret adds the pending password
//!   (`ACL SETUSER app >pending`) and keeps the current one, so both log in from setSecret
//!   until finishSecret; `after_finish` removes every password but the new one
//!   (`ACL SETUSER app !<sha256>`). A consumer holding the old password keeps working
//!   through the rotation and fails only after it; a skipped `after_finish` is cleaned up
//!   by the next setSecret (which keeps only AWSCURRENT's and AWSPENDING's passwords).
//!   The user must already exist (setSecret refuses to create one: `ACL SETUSER` on an
//!   unknown name would create a user with no permissions).
//! - **Alternating users** (like AWS's multi-user rotations): the pending user gets
//!   exactly the pending password (`resetpass >pending`); on every rotation the clone is
//!   (re)made an exact copy of the base user's rules read with `ACL GETUSER`
//!   (`ACL SETUSER app_clone reset <rules> #<its own hashes>`), so the clone keeps its own
//!   password while a rule change on the base is repaired. AWSPREVIOUS keeps working
//!   until the next rotation's setSecret. Not copied: `nopass` (a clone always has a
//!   password); key/channel patterns containing spaces are not supported.
//!
//! The strategy is [`rotwise_core::Strategy`]: [`Strategy::Single`] or
//! [`Strategy::Alternating`].
//!
//! # Errors
//!
//! Every failure is a [`RotatorError`] whose [`ErrorKind`] is the Lambda's `errorType`:
//!
//! | failure | kind |
//! |---|---|
//! | connection refused, timed out or lost | [`ErrorKind::Unreachable`] |
//! | `AUTH` refused (the admin user, or the pending password in testSecret) | [`ErrorKind::LoginRefused`] |
//! | `NOPERM` on `ACL` (the admin user may not run it) | [`ErrorKind::Permission`] |
//! | a secret that is not the JSON above, or names another server or user | [`ErrorKind::InvalidSecret`] |
//! | the ACL user does not exist (setSecret will not create it) | [`ErrorKind::Conflict`] |
//! | any other Redis error reply, or a malformed reply | [`ErrorKind::Target`] |
//! | a Secrets Manager call | the store's kind |
//!
//! No password reaches an error or a log: Redis errors are redacted before they are
//! returned.
//!
//! [`RedisRotator`] is also the [`LoginProbe`] ("does this value log in?", with a fresh
//! connection and `AUTH`) that the test kit's conformance suite checks its invariants
//! with.

pub mod resp;

use std::io;
use std::time::Duration;

use async_trait::async_trait;
use rotwise_core::{
    ErrorKind, ExposeSecret, LoginProbe, Rotator, RotatorError, SecretPayload, SecretString,
    Strategy, Versions,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::resp::{Conn, Reply};

/// The clone's suffix in alternating-users rotation (as AWS's rotators name it).
pub const CLONE_SUFFIX: &str = "_clone";

/// The default Redis port.
pub const DEFAULT_PORT: u16 = 6379;

/// Who runs `ACL SETUSER` / `ACL GETUSER`. In a deployment these come from a master
/// secret; `None` username/password = the `default` user without AUTH.
#[derive(Clone, Default)]
pub struct AdminLogin {
    /// ACL user name for AUTH.
    pub username: Option<String>,
    /// Its password.
    pub password: Option<SecretString>,
}

/// An [`ErrorKind::InvalidSecret`] error: the secret value is not a usable Redis secret.
fn invalid(message: impl Into<String>) -> RotatorError {
    RotatorError::new(ErrorKind::InvalidSecret, message)
}

/// A connection's I/O failure: [`ErrorKind::Unreachable`] (refused, timed out, reset), or
/// [`ErrorKind::Target`] for a reply that is not RESP.
fn io_error(context: String, e: io::Error) -> RotatorError {
    let kind = if e.kind() == io::ErrorKind::InvalidData {
        ErrorKind::Target
    } else {
        ErrorKind::Unreachable
    };
    RotatorError::with_source(kind, context, e)
}

/// A fresh connection to `host:port`.
async fn connect(host: &str, port: u16, timeout: Duration) -> Result<Conn, RotatorError> {
    Conn::connect(host, port, timeout)
        .await
        .map_err(|e| io_error(format!("cannot connect to Redis at {host}:{port}"), e))
}

/// Send one command; `what` names it in the error (never an argument: it may be a password).
async fn call(conn: &mut Conn, args: &[&[u8]], what: &str) -> Result<Reply, RotatorError> {
    conn.call(args)
        .await
        .map_err(|e| io_error(format!("{what}: the Redis connection failed"), e))
}

/// The kind of a Redis error reply to an `ACL` command.
fn acl_error_kind(error: &str) -> ErrorKind {
    if error.starts_with("NOPERM") {
        ErrorKind::Permission
    } else {
        ErrorKind::Target
    }
}

/// The rotated secret.
#[derive(Clone)]
pub struct RedisSecret {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// The ACL user.
    pub username: String,
    /// Its password.
    pub password: SecretString,
    rest: Map<String, Value>,
}

impl RedisSecret {
    /// Parse a secret value; anything malformed is an [`ErrorKind::InvalidSecret`] error.
    pub fn parse(payload: &SecretPayload) -> Result<RedisSecret, RotatorError> {
        let text = payload
            .as_string()
            .ok_or_else(|| invalid("the Redis secret must be a SecretString, not SecretBinary"))?;
        let Ok(Value::Object(mut map)) = serde_json::from_str(text.expose_secret()) else {
            return Err(invalid(
                "the Redis secret is not a JSON object like {\"host\", \"port\", \"username\", \"password\"}",
            ));
        };
        let mut string = |key: &str| match map.remove(key) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s),
            _ => Err(invalid(format!(
                "the Redis secret has no non-empty string `{key}`"
            ))),
        };
        let host = string("host")?;
        let username = string("username")?;
        let password = SecretString::from(string("password")?);
        let not_a_port = || invalid("the Redis secret's `port` is not a port number");
        let port = match map.remove("port") {
            None => DEFAULT_PORT,
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(not_a_port)?,
            Some(Value::String(s)) => s.parse().map_err(|_| not_a_port())?,
            Some(_) => {
                return Err(invalid(
                    "the Redis secret's `port` must be a number or a string",
                ));
            }
        };
        Ok(RedisSecret {
            host,
            port,
            username,
            password,
            rest: map,
        })
    }

    /// A secret value (what to store before the first rotation).
    pub fn new(host: &str, port: u16, username: &str, password: &str) -> RedisSecret {
        RedisSecret {
            host: host.to_string(),
            port,
            username: username.to_string(),
            password: SecretString::from(password),
            rest: Map::new(),
        }
    }

    /// The JSON text.
    pub fn to_payload(&self) -> SecretPayload {
        let mut map = self.rest.clone();
        map.insert("host".into(), self.host.clone().into());
        map.insert("port".into(), self.port.into());
        map.insert("username".into(), self.username.clone().into());
        map.insert(
            "password".into(),
            self.password.expose_secret().to_string().into(),
        );
        Value::Object(map).to_string().into()
    }

    /// The base user (without [`CLONE_SUFFIX`]).
    pub fn base_user(&self) -> &str {
        self.username
            .strip_suffix(CLONE_SUFFIX)
            .unwrap_or(&self.username)
    }
}

/// Does `secret` log in (a fresh connection, `AUTH`)? `Ok(false)` for WRONGPASS; `Err` when
/// the check cannot run: [`ErrorKind::Unreachable`] when the server is unreachable,
/// [`ErrorKind::Target`] for another error reply.
pub async fn login_works(secret: &RedisSecret, timeout: Duration) -> Result<bool, RotatorError> {
    let mut conn = connect(&secret.host, secret.port, timeout).await?;
    let reply = call(
        &mut conn,
        &[
            b"AUTH",
            secret.username.as_bytes(),
            secret.password.expose_secret().as_bytes(),
        ],
        "AUTH",
    )
    .await?;
    match reply {
        Reply::Simple(_) => {}
        Reply::Error(e) if e.starts_with("WRONGPASS") => return Ok(false),
        Reply::Error(e) => {
            // Only the error code: the rest of the message could echo an argument.
            return Err(RotatorError::new(
                ErrorKind::Target,
                format!("AUTH failed: {}", e.split(' ').next().unwrap_or("")),
            ));
        }
        other => {
            return Err(RotatorError::new(
                ErrorKind::Target,
                format!("AUTH: unexpected reply {other:?}"),
            ));
        }
    }
    // AUTH answered OK: logged in (no further command: the user may not be allowed PING).
    Ok(true)
}

/// SHA-256 hex of a password: how Redis stores and reports it.
pub fn password_hash(password: &str) -> String {
    Sha256::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An ACL user as `ACL GETUSER` reports it: its rules and its password hashes.
pub struct AclUser {
    /// Rules that recreate the user after `reset` (no passwords).
    pub rules: Vec<String>,
    /// SHA-256 hex of each password.
    pub password_hashes: Vec<String>,
}

impl AclUser {
    fn from_reply(reply: &Reply) -> Option<AclUser> {
        if matches!(reply, Reply::Array(None)) || matches!(reply, Reply::Bulk(None)) {
            return None;
        }
        let words = |name: &str| -> Vec<String> {
            reply
                .field(name)
                .and_then(Reply::text)
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default()
        };
        let mut rules: Vec<String> = reply
            .field("flags")
            .map(|f| f.items().iter().filter_map(Reply::text).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f != "nopass")
            .collect();
        rules.extend(words("commands"));
        rules.extend(words("keys"));
        let channels = words("channels");
        if channels.is_empty() {
            rules.push("resetchannels".into());
        }
        rules.extend(channels);
        for selector in reply
            .field("selectors")
            .map(Reply::items)
            .unwrap_or_default()
        {
            let mut parts = Vec::new();
            for name in ["commands", "keys", "channels"] {
                if let Some(t) = selector.field(name).and_then(Reply::text)
                    && !t.is_empty()
                {
                    parts.push(t);
                }
            }
            rules.push(format!("({})", parts.join(" ")));
        }
        let password_hashes = reply
            .field("passwords")
            .map(|p| p.items().iter().filter_map(Reply::text).collect())
            .unwrap_or_default();
        Some(AclUser {
            rules,
            password_hashes,
        })
    }
}

/// The rotator.
pub struct RedisRotator {
    admin: AdminLogin,
    strategy: Strategy,
    timeout: Duration,
}

/// [`ErrorKind::Conflict`]: the ACL user is not there (a person has to create it).
fn missing_user(name: &str, hint: &str) -> RotatorError {
    RotatorError::new(
        ErrorKind::Conflict,
        format!("the ACL user {name:?} does not exist{hint}"),
    )
}

/// Replace every secret in `text` by `[REDACTED]`.
fn redact(mut text: String, secrets: &[&str]) -> String {
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(s, "[REDACTED]");
    }
    text
}

impl RedisRotator {
    /// A rotator using `admin` for ACL commands.
    pub fn new(admin: AdminLogin, strategy: Strategy) -> RedisRotator {
        RedisRotator {
            admin,
            strategy,
            timeout: Duration::from_secs(5),
        }
    }

    /// The strategy.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// An admin connection to the secret's server ([`ErrorKind::LoginRefused`] when the
    /// admin user cannot log in).
    pub async fn admin_conn(&self, secret: &RedisSecret) -> Result<Conn, RotatorError> {
        let mut conn = connect(&secret.host, secret.port, self.timeout).await?;
        if let Some(user) = &self.admin.username {
            let pw = self
                .admin
                .password
                .as_ref()
                .map(|p| p.expose_secret())
                .unwrap_or_default();
            match call(
                &mut conn,
                &[b"AUTH", user.as_bytes(), pw.as_bytes()],
                "AUTH",
            )
            .await?
            {
                Reply::Simple(_) => {}
                _ => {
                    return Err(RotatorError::new(
                        ErrorKind::LoginRefused,
                        format!("the admin user {user:?} cannot log in"),
                    ));
                }
            }
        }
        Ok(conn)
    }

    /// `ACL GETUSER name`, or `None` when there is no such user.
    pub async fn get_user(conn: &mut Conn, name: &str) -> Result<Option<AclUser>, RotatorError> {
        let reply = call(conn, &[b"ACL", b"GETUSER", name.as_bytes()], "ACL GETUSER").await?;
        if let Reply::Error(e) = &reply {
            return Err(RotatorError::new(
                acl_error_kind(e),
                format!("ACL GETUSER {name}: {e}"),
            ));
        }
        Ok(AclUser::from_reply(&reply))
    }

    /// `ACL SETUSER name rules...`; the error is redacted of `secrets`.
    async fn set_user(
        conn: &mut Conn,
        name: &str,
        rules: &[String],
        secrets: &[&str],
    ) -> Result<(), RotatorError> {
        let mut args: Vec<&[u8]> = vec![b"ACL", b"SETUSER", name.as_bytes()];
        args.extend(rules.iter().map(|r| r.as_bytes()));
        match call(conn, &args, "ACL SETUSER").await? {
            Reply::Simple(_) => Ok(()),
            Reply::Error(e) => Err(RotatorError::new(
                acl_error_kind(&e),
                format!("ACL SETUSER {name} failed: {}", redact(e, secrets)),
            )),
            other => Err(RotatorError::new(
                ErrorKind::Target,
                format!("ACL SETUSER {name}: unexpected reply {other:?}"),
            )),
        }
    }

    /// Remove every password of `name` whose hash is not in `keep`.
    async fn drop_passwords_except(
        conn: &mut Conn,
        name: &str,
        keep: &[String],
    ) -> Result<(), RotatorError> {
        let user = Self::get_user(conn, name)
            .await?
            .ok_or_else(|| missing_user(name, ""))?;
        let drop: Vec<String> = user
            .password_hashes
            .iter()
            .filter(|h| !keep.contains(h))
            .map(|h| format!("!{h}"))
            .collect();
        if drop.is_empty() {
            return Ok(());
        }
        Self::set_user(conn, name, &drop, &[]).await
    }
}

#[async_trait]
impl Rotator for RedisRotator {
    fn name(&self) -> &str {
        match self.strategy {
            Strategy::Single => "redis-acl-single",
            Strategy::Alternating => "redis-acl-alternating",
        }
    }

    async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
        let current = RedisSecret::parse(&versions.current().await?.payload)?;
        let username = match self.strategy {
            Strategy::Single => current.username.clone(),
            Strategy::Alternating if current.username.ends_with(CLONE_SUFFIX) => {
                current.base_user().to_string()
            }
            Strategy::Alternating => format!("{}{CLONE_SUFFIX}", current.username),
        };
        let next = RedisSecret {
            username,
            password: versions.new_password().await?,
            ..current
        };
        Ok(next.to_payload())
    }

    async fn set(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        let current = RedisSecret::parse(&versions.current().await?.payload)?;
        let pending = RedisSecret::parse(&versions.pending().await?.payload)?;
        if (pending.host.as_str(), pending.port) != (current.host.as_str(), current.port) {
            return Err(invalid(
                "the pending secret names another server than the current one",
            ));
        }
        let new_pw = pending.password.expose_secret();
        let new_hash = password_hash(new_pw);
        let mut conn = self.admin_conn(&pending).await?;
        match self.strategy {
            Strategy::Single => {
                if pending.username != current.username {
                    return Err(invalid(
                        "single user: the pending username differs from the current one",
                    ));
                }
                let name = &pending.username;
                if Self::get_user(&mut conn, name).await?.is_none() {
                    return Err(missing_user(name, "; create it first"));
                }
                // Add the new password; keep the current one (the overlap) and drop any
                // older one a skipped after_finish left.
                Self::set_user(&mut conn, name, &[format!(">{new_pw}")], &[new_pw]).await?;
                let keep = [new_hash, password_hash(current.password.expose_secret())];
                Self::drop_passwords_except(&mut conn, name, &keep).await
            }
            Strategy::Alternating => {
                let base = pending.base_user().to_string();
                if current.base_user() != base {
                    return Err(invalid(
                        "alternating users: the pending and current users are not a base user and its clone",
                    ));
                }
                let clone = format!("{base}{CLONE_SUFFIX}");
                let base_user = Self::get_user(&mut conn, &base)
                    .await?
                    .ok_or_else(|| missing_user(&base, "; create it first"))?;
                // The clone's passwords after this step: the pending one if the clone is
                // the pending user, else the ones it has (it is AWSCURRENT: keep it working).
                let clone_hashes = if pending.username == clone {
                    vec![new_hash]
                } else {
                    Self::get_user(&mut conn, &clone)
                        .await?
                        .map(|u| u.password_hashes)
                        .unwrap_or_default()
                };
                let mut rules = vec!["reset".to_string()];
                rules.extend(base_user.rules.iter().cloned());
                rules.extend(clone_hashes.iter().map(|h| format!("#{h}")));
                Self::set_user(&mut conn, &clone, &rules, &[]).await?;
                if pending.username == base {
                    Self::set_user(
                        &mut conn,
                        &base,
                        &["resetpass".to_string(), format!(">{new_pw}")],
                        &[new_pw],
                    )
                    .await?;
                }
                Ok(())
            }
        }
    }

    async fn test(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        let pending = RedisSecret::parse(&versions.pending().await?.payload)?;
        if login_works(&pending, self.timeout).await? {
            Ok(())
        } else {
            Err(RotatorError::new(
                ErrorKind::LoginRefused,
                format!(
                    "testSecret: the pending password of {:?} does not log in",
                    pending.username
                ),
            ))
        }
    }

    async fn after_finish(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        if self.strategy != Strategy::Single {
            // AWSPREVIOUS (the other user) keeps working until the next setSecret.
            return Ok(());
        }
        // End the overlap: the user keeps only the new password.
        let new = RedisSecret::parse(&versions.pending().await?.payload)?;
        let mut conn = self.admin_conn(&new).await?;
        let keep = [password_hash(new.password.expose_secret())];
        Self::drop_passwords_except(&mut conn, &new.username, &keep).await
    }
}

/// Does the value log in? A fresh connection and `AUTH` with the value's own user and
/// password ([`login_works`]), never the rotator's admin connection: the check the test
/// kit's conformance suite, the CLI's proof and `doctor` make.
#[async_trait]
impl LoginProbe for RedisRotator {
    async fn accepts(&self, value: &SecretPayload) -> Result<bool, RotatorError> {
        login_works(&RedisSecret::parse(value)?, self.timeout).await
    }
}
