//! The two strategies.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use rotwise_core::store::SecretVersion;
use rotwise_core::{BoxError, Rotator, SecretPayload, Versions};
use tokio_postgres::Client;

use crate::connect::Connector;
use crate::error::{Credential, PgError, sql};
use crate::secret::{PgSecret, SecretError};
use crate::sql::{
    alt_username, alter_password_sql, base_username, check_role_name, quote_ident, quote_literal,
    scram_verifier,
};
use crate::tls::TlsMode;

/// The default connect timeout (TCP, TLS and authentication together), as AWS's functions.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How the credential is rotated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgStrategy {
    /// One user; its password changes in place (AWS's `…SingleUser`).
    Single,
    /// Two users (`<user>` and `<user>_clone`) take turns, changed by the master user
    /// (AWS's `…MultiUser`).
    Alternating,
}

impl FromStr for PgStrategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "single" => Ok(PgStrategy::Single),
            "alternating" => Ok(PgStrategy::Alternating),
            _ => Err(format!(
                "unknown rotation strategy {s:?}: use single or alternating"
            )),
        }
    }
}

impl fmt::Display for PgStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PgStrategy::Single => "single",
            PgStrategy::Alternating => "alternating",
        })
    }
}

/// Settings the caller reads from its environment (`ROTATION_TLS_MODE`,
/// `ROTATION_CA_FILE`, `ROTATION_STRATEGY`, ...). This crate reads no environment
/// variable except `SSL_CERT_FILE` (the system CA bundle).
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// Overrides every secret's `ssl` key. `None`: `ssl` true → verify-full, false →
    /// disable, absent → prefer.
    pub tls: Option<TlsMode>,
    /// Trusted in addition to the system bundle (e.g. the RDS CA bundle).
    pub ca_file: Option<PathBuf>,
    /// Limit for one login (TCP connect, TLS handshake and authentication).
    pub connect_timeout: Duration,
    /// `None`: alternating when the current secret has `masterarn` (with a warning on
    /// every step), else single.
    pub strategy: Option<PgStrategy>,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            tls: None,
            ca_file: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            strategy: None,
        }
    }
}

/// The PostgreSQL rotator, for both strategies. See the [crate docs](crate).
pub struct PgRotator {
    connector: Connector,
    name: &'static str,
}

fn parse(version: &SecretVersion, credential: Credential) -> Result<PgSecret, PgError> {
    PgSecret::parse(&version.payload).map_err(|error| PgError::Secret { credential, error })
}

impl PgRotator {
    /// A rotator with these options.
    pub fn new(options: PgOptions) -> PgRotator {
        let name = match options.strategy {
            Some(PgStrategy::Single) => "postgres-single",
            Some(PgStrategy::Alternating) => "postgres-alternating",
            None => "postgres",
        };
        PgRotator {
            connector: Connector::new(options),
            name,
        }
    }

    /// The options.
    pub fn options(&self) -> &PgOptions {
        self.connector.options()
    }

    /// Log in with `secret` as this rotator would (TLS mode, trust roots, timeout). The
    /// connection closes when the client is dropped.
    pub async fn connect(&self, secret: &PgSecret) -> Result<Client, PgError> {
        self.connector.connect(secret, Credential::Given).await
    }

    /// Whether `value` logs in (fresh connection, `SELECT 1`): `Ok(false)` when the server
    /// refuses the credentials, `Err` when the check could not run.
    pub async fn login_works(&self, value: &SecretPayload) -> Result<bool, PgError> {
        let secret = PgSecret::parse(value).map_err(|error| PgError::Secret {
            credential: Credential::Given,
            error,
        })?;
        match self.connector.connect(&secret, Credential::Given).await {
            Ok(client) => {
                client
                    .simple_query("SELECT 1")
                    .await
                    .map_err(|e| sql("SELECT 1", &e))?;
                Ok(true)
            }
            Err(e) if e.is_auth_refused() => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn strategy(&self, current: &PgSecret) -> PgStrategy {
        match self.options().strategy {
            Some(s) => s,
            None if current.masterarn.is_some() => {
                tracing::warn!(
                    "no rotation strategy configured and the secret has masterarn: using alternating users \
                     (set ROTATION_STRATEGY=single|alternating to silence this)"
                );
                PgStrategy::Alternating
            }
            None => PgStrategy::Single,
        }
    }

    async fn set_single(
        &self,
        versions: &Versions<'_>,
        current: &PgSecret,
        pending: &PgSecret,
    ) -> Result<(), PgError> {
        if pending.username != current.username || pending.host != current.host {
            return Err(PgError::Refused(format!(
                "Attempting to modify user {} other than current user {}",
                pending.username, current.username
            )));
        }
        check_role_name(&pending.username)?;
        // Current first: on the normal path it is the one that works, so a rotation leaves
        // no failed login in the server's auth log (DESIGN section 4).
        let mut failures = Vec::new();
        match self.connector.connect(current, Credential::Current).await {
            Ok(client) => return change_password(&client, pending).await,
            Err(e) => failures.push(e.to_string()),
        }
        // A retry after the password already changed.
        match self.connector.connect(pending, Credential::Pending).await {
            Ok(_client) => {
                tracing::info!(user = %pending.username, "the pending credentials already log in: nothing to change");
                return Ok(());
            }
            Err(e) => failures.push(e.to_string()),
        }
        if let Some(prev) = versions.previous().await? {
            let mut prev = parse(prev, Credential::Previous)?;
            // As AWS: the previous secret is used with the current `ssl`, and must be
            // the same user on the same host.
            prev.ssl = current.ssl;
            if prev.username == current.username && prev.host == current.host {
                match self.connector.connect(&prev, Credential::Previous).await {
                    Ok(client) => return change_password(&client, pending).await,
                    Err(e) => failures.push(e.to_string()),
                }
            }
        }
        Err(PgError::Refused(format!(
            "Unable to log into database with previous, current, or pending secret of secret arn {}: {}",
            versions.arn(),
            failures.join("; ")
        )))
    }

    async fn set_alternating(
        &self,
        versions: &Versions<'_>,
        current: &PgSecret,
        pending: &PgSecret,
    ) -> Result<(), PgError> {
        let masterarn = current.masterarn.clone().ok_or(PgError::Secret {
            credential: Credential::Current,
            error: SecretError::Missing("masterarn"),
        })?;
        let expected = alt_username(&current.username)?;
        if pending.username != expected || pending.host != current.host {
            return Err(PgError::Refused(format!(
                "Attempting to modify user {} other than current user or clone {}",
                pending.username, current.username
            )));
        }
        // Current first: whoever can write this secret must also hold a working
        // credential for the database before the master acts for them.
        let client = self
            .connector
            .connect(current, Credential::Current)
            .await
            .map_err(|e| {
                PgError::step(
                    format!(
                        "Unable to log into database using current credentials for secret {}",
                        versions.arn()
                    ),
                    e,
                )
            })?;
        drop(client);

        let master_version = versions.other_secret(&masterarn).await?;
        let mut master = PgSecret::parse(&master_version.payload).map_err(|error| {
            let hint = match error {
                SecretError::Missing(_) | SecretError::Engine { .. } => {
                    "; an RDS-managed master secret holds only username and password: add host, port and engine keys to it"
                }
                _ => "",
            };
            PgError::Refused(format!(
                "the master secret {masterarn} is not usable: {error}{hint}"
            ))
        })?;
        master.dbname = current.dbname.clone();
        if master.host != current.host {
            return Err(PgError::Refused(format!(
                "Current database host {} is not the same host as/rds replica of master {}",
                current.host, master.host
            )));
        }
        let client = self
            .connector
            .connect(&master, Credential::Master)
            .await
            .map_err(|e| {
                PgError::step(
                    format!(
                        "Unable to log into database using credentials in master secret {masterarn}"
                    ),
                    e,
                )
            })?;
        ensure_pair(&client, pending).await
    }
}

async fn change_password(client: &Client, pending: &PgSecret) -> Result<(), PgError> {
    client
        .batch_execute(&alter_password_sql(&pending.username, &pending.password))
        .await
        .map_err(|e| {
            sql(
                format!("changing the password of role {:?}", pending.username),
                &e,
            )
        })?;
    tracing::info!(role = %pending.username, "password changed (SCRAM-SHA-256 verifier)");
    Ok(())
}

/// As master, in one transaction: create the clone on first use, set the pending user's
/// password, and repair what makes the clone equivalent to the base user.
async fn ensure_pair(client: &Client, pending: &PgSecret) -> Result<(), PgError> {
    let base = base_username(&pending.username).to_owned();
    let clone = alt_username(&base)?;
    check_role_name(&base)?;
    let ctx = |what: &str| format!("{what} (alternating users {base:?} / {clone:?})");
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|e| sql(ctx("starting a transaction"), &e))?;
    let result = async {
        let version: i32 = client
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .map_err(|e| sql(ctx("reading the server version"), &e))?
            .get(0);
        let clone_exists = client
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&clone])
            .await
            .map_err(|e| sql(ctx("looking up the clone role"), &e))?
            .is_some();
        if pending.username == clone && !clone_exists {
            client
                .batch_execute(&format!(
                    "CREATE ROLE {} LOGIN PASSWORD {}",
                    quote_ident(&clone),
                    quote_literal(&scram_verifier(&pending.password))
                ))
                .await
                .map_err(|e| sql(ctx("creating the clone role"), &e))?;
            tracing::info!(role = %clone, of = %base, "clone role created");
        } else {
            client
                .batch_execute(&alter_password_sql(&pending.username, &pending.password))
                .await
                .map_err(|e| {
                    sql(
                        ctx(&format!(
                            "changing the password of role {:?}",
                            pending.username
                        )),
                        &e,
                    )
                })?;
            tracing::info!(role = %pending.username, "password changed (SCRAM-SHA-256 verifier)");
        }
        if pending.username == clone || clone_exists {
            let options = if version >= 160_000 {
                " WITH INHERIT TRUE, SET TRUE"
            } else {
                ""
            };
            let attrs = client
                .query_one(
                    "SELECT rolconnlimit, rolvaliduntil::text FROM pg_roles WHERE rolname = $1",
                    &[&base],
                )
                .await
                .map_err(|e| sql(ctx("reading the base role"), &e))?;
            let connlimit: i32 = attrs.get(0);
            let valid_until: Option<String> = attrs.get(1);
            let q_base = quote_ident(&base);
            let q_clone = quote_ident(&clone);
            client
                .batch_execute(&format!(
                    "GRANT {q_base} TO {q_clone}{options}; \
                     ALTER ROLE {q_clone} SET role = {}; \
                     ALTER ROLE {q_clone} CONNECTION LIMIT {connlimit} VALID UNTIL {}",
                    quote_literal(&base),
                    quote_literal(valid_until.as_deref().unwrap_or("infinity")),
                ))
                .await
                .map_err(|e| sql(ctx("making the clone equivalent to the base role"), &e))?;
        }
        Ok::<(), PgError>(())
    }
    .await;
    match result {
        Ok(()) => client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| sql(ctx("committing"), &e)),
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

#[async_trait]
impl Rotator for PgRotator {
    fn name(&self) -> &str {
        self.name
    }

    async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, BoxError> {
        let current = parse(versions.current().await?, Credential::Current)?;
        let next = match self.strategy(&current) {
            PgStrategy::Single => {
                check_role_name(&current.username).map_err(PgError::from)?;
                current.clone()
            }
            PgStrategy::Alternating => {
                if current.masterarn.is_none() {
                    return Err(PgError::Secret {
                        credential: Credential::Current,
                        error: SecretError::Missing("masterarn"),
                    }
                    .into());
                }
                let alt = alt_username(&current.username).map_err(PgError::from)?;
                current.with_username(&alt)
            }
        };
        Ok(next
            .with_password(versions.new_password().await?)
            .to_payload())
    }

    async fn set(&self, versions: &Versions<'_>) -> Result<(), BoxError> {
        let current = parse(versions.current().await?, Credential::Current)?;
        let pending = parse(versions.pending().await?, Credential::Pending)?;
        match self.strategy(&current) {
            PgStrategy::Single => self.set_single(versions, &current, &pending).await?,
            PgStrategy::Alternating => self.set_alternating(versions, &current, &pending).await?,
        }
        Ok(())
    }

    async fn test(&self, versions: &Versions<'_>) -> Result<(), BoxError> {
        let pending = parse(versions.pending().await?, Credential::Pending)?;
        let message = || {
            format!(
                "Unable to log into database with pending secret of secret ARN {}",
                versions.arn()
            )
        };
        let client = self
            .connector
            .connect(&pending, Credential::Pending)
            .await
            .map_err(|e| PgError::step(message(), e))?;
        let row = client
            .query_one("SELECT current_user::text", &[])
            .await
            .map_err(|e| PgError::step(message(), sql("SELECT current_user", &e)))?;
        let effective: String = row.get(0);
        // Alternating users: both logins must act as the base role (the clone through
        // its `role` setting), or objects they create would not be shared.
        if self.strategy(&pending) == PgStrategy::Alternating {
            let base = base_username(&pending.username);
            if effective != base {
                return Err(PgError::Refused(format!(
                    "the pending user {:?} logs in but acts as {effective:?}, not as {base:?}: \
                     its `role` setting is missing (setSecret repairs it)",
                    pending.username
                ))
                .into());
            }
        }
        Ok(())
    }
}
