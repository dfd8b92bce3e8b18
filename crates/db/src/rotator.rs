//! [`DbRotator`]: the rotation logic both engines share, over a small [`Dialect`] each
//! engine implements.
//!
//! What lives here, once: the strategy choice, AWS's checks and texts, the single-user
//! login order (current first, then pending, then previous: no failed login on the
//! normal path), the alternating prologue (the current user logs in first, then the
//! master from `masterarn` on the same host), createSecret's next value, testSecret,
//! and the [`LoginProbe`]. What an engine knows (how to log in, change a password, make
//! the clone equal to its base user) is behind [`Dialect`].

use std::sync::Arc;

use async_trait::async_trait;
use rotwise_core::config::{ConfigError, Env};
use rotwise_core::plan::SetPlan;
use rotwise_core::store::SecretVersion;
use rotwise_core::{
    ErrorKind, ExposeSecret, LoginProbe, Rotator, RotatorError, SecretPayload, SecretString,
    Strategy, Versions,
};
use serde_json::Value;

use crate::changes::Changes;
use crate::credential::Credential;
use crate::error::DbError;
use crate::managed::{Locator, ManagedDatabase, TAGS, secret_engine};
use crate::names::{NameLimit, Pair, alt_username, check_name};
use crate::options::DbOptions;
use crate::rds::is_rds_host;
use crate::secret::{DbSecret, Engine, SecretError};
use crate::tls::TlsMode;

/// What an engine implements for [`DbRotator`]: its secret JSON, its sessions, and the
/// statements only it knows. Every method that changes the database is idempotent.
#[async_trait]
pub trait Dialect: Send + Sync + Sized + 'static {
    /// The secret JSON's engine description.
    type Engine: Engine;
    /// A logged-in session.
    type Session: Send;
    /// What the alternating step learns from the current user's own session (MySQL: the
    /// host of the account the server matched).
    type Account: Send;

    /// Short name for logs and the rotator's name: `postgres`, `mysql`.
    const NAME: &'static str;
    /// `EXCLUDE_CHARACTERS` when unset, as the engine's AWS function.
    const DEFAULT_EXCLUDE_CHARACTERS: &'static str;
    /// The driver's log targets: capped at INFO by every binary (they log statements or
    /// connection options at DEBUG).
    const LOG_TARGETS: &'static [&'static str];
    /// The environment variable that overrides the clone-name limit, if the engine has one.
    const USERNAME_LIMIT_VAR: Option<&'static str>;

    /// The engine's state for a rotator with `options` (trust roots loaded on first use).
    fn new(options: &DbOptions) -> Self;

    /// The limit every user name must fit, known without a session.
    fn name_limit(&self, secret: &DbSecret<Self::Engine>) -> NameLimit;

    /// The limit the clone's name must fit in createSecret (no session).
    fn clone_limit(&self, secret: &DbSecret<Self::Engine>, options: &DbOptions) -> NameLimit {
        let _ = options;
        self.name_limit(secret)
    }

    /// Log in with `secret` (TLS mode from the options or the secret's `ssl`).
    async fn connect(
        &self,
        secret: &DbSecret<Self::Engine>,
        credential: Credential,
    ) -> Result<Self::Session, DbError>;

    /// Run a trivial query on `session`, then close it.
    async fn probe(&self, session: Self::Session) -> Result<(), DbError>;

    /// Close `session` (best effort).
    async fn close(&self, session: Self::Session);

    /// Single user: change the session user's own password to `pending`'s. Reads and
    /// checks first; each change goes through [`Changes::admit`] (a dry run records it
    /// instead).
    async fn change_own_password(
        &self,
        session: Self::Session,
        pending: &DbSecret<Self::Engine>,
        changes: &mut Changes,
    ) -> Result<(), DbError>;

    /// Alternating: read what the pair needs from the current user's session, then close it.
    async fn current_account(
        &self,
        session: Self::Session,
        current: &DbSecret<Self::Engine>,
    ) -> Result<Self::Account, DbError>;

    /// Alternating, as the master: create the clone on first use or set the pending
    /// user's password, and make the clone equivalent to the base user. `pair` is the
    /// pair [`Pair::of`] the current user: the engine must not derive it again from the
    /// pending name. An existing clone is used only if rotwise made it (the engine's
    /// marker, or on engines without one a check that it holds nothing the base does
    /// not); otherwise this fails before any change, naming the clone and the statement
    /// that adopts it.
    ///
    /// `holder` tells what the secret proves about the clone, for engines without a
    /// marker: whether the current login (already made) was the clone's, and the clone's
    /// credential from AWSPREVIOUS (fetched only when asked).
    ///
    /// Every read and check comes before the first change, and each change goes through
    /// [`Changes::admit`]: a dry run records the statements, redacted, and runs none.
    async fn ensure_pair(
        &self,
        master: Self::Session,
        pending: &DbSecret<Self::Engine>,
        pair: &Pair,
        account: Self::Account,
        holder: &Holder<'_, '_, Self::Engine>,
        changes: &mut Changes,
    ) -> Result<(), DbError>;

    /// Whether [`Dialect::after_finish`] has work to do for this rotator's options; when
    /// `false` (the default) finishSecret reads no secret and logs in nowhere, so the call
    /// budget of the engines that need nothing after finishSecret is unchanged.
    fn needs_after_finish(&self) -> bool {
        false
    }

    /// finishSecret, after AWSCURRENT moved to `current` (the value setSecret set), when
    /// [`Dialect::needs_after_finish`]: e.g. MySQL 8's `DISCARD OLD PASSWORD` for dual
    /// passwords. Not re-run when a retried finishSecret finds the token already current.
    /// The default does nothing.
    async fn after_finish(
        &self,
        current: &DbSecret<Self::Engine>,
        strategy: Strategy,
    ) -> Result<(), DbError> {
        let _ = (current, strategy);
        Ok(())
    }

    /// testSecret: prove the pending login works. The default probes; an engine may check
    /// more (PostgreSQL: a clone acts as its base role). testSecret reads only the pending
    /// version (the call budget), so what the engine checks comes from `pending`, the
    /// `strategy` and the server itself (PostgreSQL reads the clone's marker), never from a
    /// pair derived from the pending user's name, which is ambiguous (`a_clone` is the
    /// clone of `a`, or the base of `a_clone_clone`).
    async fn test_pending(
        &self,
        session: Self::Session,
        pending: &DbSecret<Self::Engine>,
        strategy: Strategy,
    ) -> Result<(), DbError> {
        let _ = (pending, strategy);
        self.probe(session).await
    }
}

/// What the secret being rotated proves about the alternating pair's clone: whoever can
/// write the secret already holds a working credential for the clone when the current
/// login (made before the master acts) is the clone's, or when AWSPREVIOUS is the clone's
/// and still logs in. An engine without a marker for the clones rotwise creates (MariaDB)
/// uses it to accept a clone whose grants differ from the base user's.
pub struct Holder<'a, 'v, E: Engine> {
    versions: &'a Versions<'v>,
    current: &'a DbSecret<E>,
    pair: &'a Pair,
}

impl<E: Engine> Holder<'_, '_, E> {
    /// The current user is the clone (and its login already succeeded).
    pub fn current_is_clone(&self) -> bool {
        self.pair.is_clone(&self.current.username)
    }

    /// The clone's credential from AWSPREVIOUS, with the current secret's connection
    /// fields, when AWSPREVIOUS names the clone. Not tried: log in with it (as
    /// [`Credential::Previous`]) to prove possession. One `GetSecretValue`, on the first
    /// call only.
    pub async fn previous_clone(&self) -> Result<Option<DbSecret<E>>, DbError> {
        let Some(version) = self.versions.previous().await? else {
            return Ok(None);
        };
        let Ok(previous) = DbSecret::<E>::parse(&version.payload) else {
            return Ok(None);
        };
        if previous.username != self.pair.clone || previous.host != self.current.host {
            return Ok(None);
        }
        Ok(Some(
            self.current
                .with_username(&self.pair.clone)
                .with_password(previous.password.clone()),
        ))
    }
}

/// A database rotator for both strategies, over an engine's [`Dialect`].
pub struct DbRotator<D: Dialect> {
    dialect: D,
    options: DbOptions,
    name: String,
    locator: Option<Arc<dyn Locator>>,
}

fn parse<E: Engine>(
    version: &SecretVersion,
    credential: Credential,
) -> Result<DbSecret<E>, DbError> {
    DbSecret::parse(&version.payload).map_err(|error| DbError::secret(credential, error))
}

fn missing_masterarn() -> DbError {
    DbError::secret(Credential::Current, SecretError::Missing("masterarn"))
}

/// AWSPENDING must connect exactly as AWSCURRENT does: same user (single) or the other
/// user of `pair` (alternating), same host (AWS's texts for these two), and the same port,
/// database, engine, `ssl` and `masterarn`. Checked in setSecret and testSecret before any
/// login, so a planted pending value can neither send a password elsewhere nor turn TLS
/// off. The message names the field, never its value.
fn check_pending<E: Engine>(
    current: &DbSecret<E>,
    pending: &DbSecret<E>,
    pair: Option<&Pair>,
) -> Result<(), DbError> {
    let user_ok = match pair {
        None => pending.username == current.username,
        Some(pair) => pair.other(&current.username) == Some(pending.username.as_str()),
    };
    if !user_ok || pending.host != current.host {
        return Err(DbError::rejected(
            ErrorKind::InvalidSecret,
            match pair {
                None => format!(
                    "Attempting to modify user {} other than current user {}",
                    pending.username, current.username
                ),
                Some(_) => format!(
                    "Attempting to modify user {} other than current user or clone {}",
                    pending.username, current.username
                ),
            },
        ));
    }
    if let Some(field) = current.connection_mismatch(pending, pair.is_some()) {
        let changes = if pair.is_some() {
            "the password and the username (to the other user of the pair)"
        } else {
            "only the password"
        };
        return Err(DbError::rejected(
            ErrorKind::InvalidSecret,
            format!(
                "the pending secret's {field} differs from the current secret's: a rotation changes \
                 {changes}, so this pending value was not made by createSecret; refusing to log in \
                 with it (remove the AWSPENDING label from that version and rotate again)"
            ),
        ));
    }
    Ok(())
}

impl<D: Dialect> DbRotator<D> {
    /// A rotator with these options.
    pub fn new(options: DbOptions) -> Self {
        let name = match options.strategy {
            Some(s) => format!("{}-{s}", D::NAME),
            None => D::NAME.to_owned(),
        };
        DbRotator {
            dialect: D::new(&options),
            options,
            name,
            locator: None,
        }
    }

    /// This rotator, asking `locator` where the database of a managed master secret is
    /// (one holding only `username` and `password`: see [`crate::managed`]) and whether
    /// a user's host is a read replica of the master's. Without one, such a master secret
    /// is refused with the keys to add, and a user on another host than the master's is
    /// refused, as before.
    pub fn with_locator(mut self, locator: Arc<dyn Locator>) -> Self {
        self.locator = Some(locator);
        self
    }

    /// A rotator configured from the environment as the Lambdas and the CLI read it
    /// ([`DbOptions::from_env`], with the engine's username-limit variable). Logs the
    /// settings it took at INFO.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let options = DbOptions::from_env(env, D::USERNAME_LIMIT_VAR)?;
        tracing::info!(
            engine = D::NAME,
            strategy = options
                .strategy
                .map_or("unset (masterarn decides)", Strategy::as_str),
            tls = options
                .tls
                .map_or("unset (the secret's ssl key decides)", TlsMode::as_str),
            ca_file = options.ca_file.as_deref().map(|p| p.display().to_string()),
            connect_timeout_ms = options.connect_timeout.as_millis() as u64,
            username_limit = options.username_limit,
            "database options"
        );
        Ok(Self::new(options))
    }

    /// The options.
    pub fn options(&self) -> &DbOptions {
        &self.options
    }

    /// The engine's side.
    pub fn dialect(&self) -> &D {
        &self.dialect
    }

    /// Log in with `secret` as this rotator would (TLS mode, trust roots, timeout). The
    /// session closes when dropped.
    pub async fn connect(&self, secret: &DbSecret<D::Engine>) -> Result<D::Session, DbError> {
        self.dialect.connect(secret, Credential::Given).await
    }

    /// The strategy for a secret: the configured one, else alternating when the secret
    /// has `masterarn` (with a WARN), else single.
    pub fn strategy_for(&self, current: &DbSecret<D::Engine>) -> Strategy {
        match self.options.strategy {
            Some(s) => s,
            None if current.masterarn.is_some() => {
                tracing::warn!(
                    "no rotation strategy configured and the secret has masterarn: using alternating users \
                     (set ROTATION_STRATEGY=single|alternating to silence this)"
                );
                Strategy::Alternating
            }
            None => Strategy::Single,
        }
    }

    async fn next(&self, versions: &Versions<'_>) -> Result<DbSecret<D::Engine>, DbError> {
        let current: DbSecret<D::Engine> = parse(versions.current().await?, Credential::Current)?;
        Ok(match self.strategy_for(&current) {
            Strategy::Single => {
                check_name(&current.username, self.dialect.name_limit(&current))?;
                current
            }
            Strategy::Alternating => {
                if current.masterarn.is_none() {
                    return Err(missing_masterarn());
                }
                // The same derivation as setSecret's and the engine's (`Pair::of`).
                let limit = self.dialect.clone_limit(&current, &self.options);
                let alt = alt_username(&current.username, limit)?;
                current.with_username(&alt)
            }
        })
    }

    async fn set_single(
        &self,
        versions: &Versions<'_>,
        current: &DbSecret<D::Engine>,
        pending: &DbSecret<D::Engine>,
        changes: &mut Changes,
    ) -> Result<(), DbError> {
        check_pending(current, pending, None)?;
        check_name(&pending.username, self.dialect.name_limit(pending))?;
        // Current first: on the normal path it is the one that works, so a rotation
        // leaves no failed login in the server's log (ARCHITECTURE.md, "No failed login on the normal path").
        let mut failures = Vec::new();
        match self.dialect.connect(current, Credential::Current).await {
            Ok(session) => {
                changes.login("AWSCURRENT", &current.username);
                return self
                    .dialect
                    .change_own_password(session, pending, changes)
                    .await;
            }
            Err(e @ DbError::Login(_)) if changes.is_dry_run() => {
                // A dry run logs in with the current credential only: its pending value
                // is not in the secret, and AWSPREVIOUS is for retries.
                return Err(DbError::step(
                    format!(
                        "AWSCURRENT of secret {} does not log in; a dry run tries no other credential \
                         (setSecret would try AWSPREVIOUS next): `rotwise doctor` tells whether the \
                         password was changed outside rotation",
                        versions.arn()
                    ),
                    e,
                ));
            }
            Err(DbError::Login(e)) => failures.push(e),
            Err(e) => return Err(e),
        }
        // A retry after the password already changed.
        match self.dialect.connect(pending, Credential::Pending).await {
            Ok(session) => {
                self.dialect.close(session).await;
                tracing::info!(user = %pending.username, "the pending credentials already log in: nothing to change");
                return Ok(());
            }
            Err(DbError::Login(e)) => failures.push(e),
            Err(e) => return Err(e),
        }
        if let Some(prev) = versions.previous().await? {
            let prev: DbSecret<D::Engine> = parse(prev, Credential::Previous)?;
            // As AWS: the previous secret must be the same user on the same host. Only
            // its password is used: everything else (port, database, `ssl`: AWS takes
            // only `ssl`) is the current secret's.
            if prev.username == current.username && prev.host == current.host {
                let prev = current.with_password(prev.password.clone());
                match self.dialect.connect(&prev, Credential::Previous).await {
                    Ok(session) => {
                        return self
                            .dialect
                            .change_own_password(session, pending, changes)
                            .await;
                    }
                    Err(DbError::Login(e)) => failures.push(e),
                    Err(e) => return Err(e),
                }
            }
        }
        Err(DbError::NoLogin {
            message: format!(
                "Unable to log into database with previous, current, or pending secret of secret arn {}",
                versions.arn()
            ),
            failures,
        })
    }

    async fn set_alternating(
        &self,
        versions: &Versions<'_>,
        current: &DbSecret<D::Engine>,
        pending: &DbSecret<D::Engine>,
        changes: &mut Changes,
    ) -> Result<(), DbError> {
        let masterarn = current.masterarn.clone().ok_or_else(missing_masterarn)?;
        let pair = Pair::of(&current.username, self.dialect.name_limit(current))?;
        check_pending(current, pending, Some(&pair))?;
        // Current first: whoever can write this secret must also hold a working
        // credential for the database before the master acts for them.
        let session = self
            .dialect
            .connect(current, Credential::Current)
            .await
            .map_err(|e| {
                DbError::step(
                    format!(
                        "Unable to log into database using current credentials for secret {}",
                        versions.arn()
                    ),
                    e,
                )
            })?;
        changes.login("AWSCURRENT", &current.username);
        let account = self.dialect.current_account(session, current).await?;

        let master_version = versions.other_secret(&masterarn).await?;
        let mut master = self
            .master_secret(versions, &masterarn, &master_version)
            .await?;
        master.dbname = current.dbname.clone();
        if master.host != current.host {
            self.check_replica(&master.host, &current.host, changes)
                .await?;
        }
        let session = self
            .dialect
            .connect(&master, Credential::Master)
            .await
            .map_err(|e| {
                DbError::step(
                    format!(
                        "Unable to log into database using credentials in master secret {masterarn}"
                    ),
                    e,
                )
            })?;
        changes.login(format!("master secret {masterarn}"), &master.username);
        let holder = Holder {
            versions,
            current,
            pair: &pair,
        };
        self.dialect
            .ensure_pair(session, pending, &pair, account, &holder, changes)
            .await
    }

    /// The master secret named by `masterarn`, with the connection of a managed master
    /// (no `host`: RDS, Aurora or Redshift keeps it) read from its tags and the service's
    /// API. A master with `host` costs no call beyond its `GetSecretValue`.
    async fn master_secret(
        &self,
        versions: &Versions<'_>,
        masterarn: &str,
        version: &SecretVersion,
    ) -> Result<DbSecret<D::Engine>, DbError> {
        let unusable = |error: &dyn std::fmt::Display| {
            DbError::rejected(
                ErrorKind::InvalidSecret,
                format!("the master secret {masterarn} is not usable: {error}"),
            )
        };
        // The common case, a master with `host`, is parsed once; only a JSON object without
        // `host` (the first key checked) is read again as a managed master.
        let fields = match DbSecret::parse(&version.payload) {
            Ok(master) => return Ok(master),
            Err(SecretError::Missing("host")) => match version
                .payload
                .as_string()
                .map(|s| serde_json::from_str(s.expose_secret()))
            {
                Some(Ok(Value::Object(fields))) => fields,
                _ => return Err(unusable(&SecretError::Missing("host"))),
            },
            Err(e) => return Err(unusable(&e)),
        };
        let Some(locator) = &self.locator else {
            return Err(unusable(&format_args!(
                "{}; a master secret RDS or Redshift manages holds only username and password, and \
                 this rotator was built without the service lookup: add host, port and engine keys to it",
                SecretError::Missing("host")
            )));
        };
        let description = versions.describe_other(masterarn).await?;
        let Some(database) = ManagedDatabase::from_tags(&description.tags)? else {
            return Err(unusable(&format_args!(
                "{}, and the secret has none of the tags {} that name the database of a master \
                 secret RDS or Redshift manages: add host, port and engine keys to it",
                SecretError::Missing("host"),
                TAGS.join(", ")
            )));
        };
        let endpoint = locator.locate(&database).await?;
        tracing::info!(
            master = masterarn,
            database = %database,
            host = %endpoint.host,
            port = endpoint.port,
            engine = %endpoint.engine,
            "managed master secret: its connection comes from the service's API"
        );
        let engine = secret_engine(&endpoint.engine).to_string();
        let mut fields = fields;
        fields.insert("host".into(), Value::String(endpoint.host));
        fields.insert("port".into(), Value::from(endpoint.port));
        fields.insert("engine".into(), Value::String(engine.clone()));
        let text = SecretString::from(Value::Object(fields).to_string());
        DbSecret::parse_str(text.expose_secret()).map_err(|e| {
            unusable(&format_args!(
                "{e} (the API of {database} reports engine {engine})"
            ))
        })
    }

    /// The master reaches `master_host` and the user's secret names `user_host`: allowed
    /// only when the user's host is a read replica or another endpoint of the master's
    /// database (its users are then changed through the master's endpoint and replicate),
    /// as AWS's functions allow for replicas.
    async fn check_replica(
        &self,
        master_host: &str,
        user_host: &str,
        changes: &mut Changes,
    ) -> Result<(), DbError> {
        let replica = match &self.locator {
            Some(locator) if is_rds_host(master_host) && is_rds_host(user_host) => {
                locator.is_replica(master_host, user_host).await?
            }
            _ => false,
        };
        if !replica {
            return Err(DbError::rejected(
                ErrorKind::InvalidSecret,
                format!(
                    "Current database host {user_host} is not the same host as/rds replica of master {master_host}"
                ),
            ));
        }
        tracing::info!(
            user_host,
            writer = master_host,
            "the user's host is a replica or another endpoint of the master's database: the users are changed through the master's endpoint"
        );
        changes.note(|| {
            format!(
                "the user's host {user_host} is a replica or another endpoint of the database at \
                 {master_host}: the changes are made through {master_host} and reach it from there"
            )
        });
        Ok(())
    }

    async fn set_db(&self, versions: &Versions<'_>, changes: &mut Changes) -> Result<(), DbError> {
        let current = parse(versions.current().await?, Credential::Current)?;
        let pending = parse(versions.pending().await?, Credential::Pending)?;
        match self.strategy_for(&current) {
            Strategy::Single => self.set_single(versions, &current, &pending, changes).await,
            Strategy::Alternating => {
                self.set_alternating(versions, &current, &pending, changes)
                    .await
            }
        }
    }

    /// setSecret's dry run ([`Rotator::plan`]): the same reads, checks and logins (the
    /// current credential and the master's; never the pending value, which is not in the
    /// secret), every change recorded instead of made.
    pub async fn plan_set(&self, versions: &Versions<'_>) -> Result<SetPlan, DbError> {
        let mut changes = Changes::dry_run();
        self.set_db(versions, &mut changes).await?;
        let mut plan = changes.into_plan();
        if plan.changes.is_empty() {
            plan.note("setSecret would change nothing: the database already matches the new value");
        }
        Ok(plan)
    }

    async fn test_db(&self, versions: &Versions<'_>) -> Result<(), DbError> {
        // Only the pending version: setSecret already compared it with AWSCURRENT
        // (`check_pending`), the driver's pre-check made sure the token still holds
        // AWSPENDING, and a version's value cannot change once written, so reading
        // AWSCURRENT again would cost a call and prove nothing more.
        let pending = parse(versions.pending().await?, Credential::Pending)?;
        let strategy = self.strategy_for(&pending);
        let message = || {
            format!(
                "Unable to log into database with pending secret of secret ARN {}",
                versions.arn()
            )
        };
        let session = self
            .dialect
            .connect(&pending, Credential::Pending)
            .await
            .map_err(|e| DbError::step(message(), e))?;
        match self.dialect.test_pending(session, &pending, strategy).await {
            Err(e @ DbError::Sql { .. }) => Err(DbError::step(message(), e)),
            other => other,
        }
    }

    async fn after_finish_db(&self, versions: &Versions<'_>) -> Result<(), DbError> {
        // AWSCURRENT has just moved to this rotation's value.
        let current = parse(versions.current().await?, Credential::Current)?;
        let strategy = self.strategy_for(&current);
        self.dialect.after_finish(&current, strategy).await
    }

    /// Whether `value` logs in (fresh connection, a trivial query): `Ok(false)` when the
    /// server refuses the credentials, `Err` when the check could not run.
    pub async fn login_works(&self, value: &SecretPayload) -> Result<bool, DbError> {
        let secret = DbSecret::<D::Engine>::parse(value)
            .map_err(|error| DbError::secret(Credential::Given, error))?;
        match self.dialect.connect(&secret, Credential::Given).await {
            Ok(session) => {
                self.dialect.probe(session).await?;
                Ok(true)
            }
            Err(e) if e.is_auth_refused() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl<D: Dialect> Rotator for DbRotator<D> {
    fn name(&self) -> &str {
        &self.name
    }

    async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
        let next = self.next(versions).await?;
        Ok(next
            .with_password(versions.new_password().await?)
            .to_payload())
    }

    async fn set(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        Ok(self.set_db(versions, &mut Changes::apply()).await?)
    }

    async fn plan(&self, versions: &Versions<'_>) -> Result<SetPlan, RotatorError> {
        Ok(self.plan_set(versions).await?)
    }

    async fn test(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        Ok(self.test_db(versions).await?)
    }

    async fn after_finish(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        if !self.dialect.needs_after_finish() {
            return Ok(());
        }
        Ok(self.after_finish_db(versions).await?)
    }
}

#[async_trait]
impl<D: Dialect> LoginProbe for DbRotator<D> {
    async fn accepts(&self, value: &SecretPayload) -> Result<bool, RotatorError> {
        Ok(self.login_works(value).await?)
    }
}

#[cfg(test)]
#[path = "rotator_tests.rs"]
mod tests;
