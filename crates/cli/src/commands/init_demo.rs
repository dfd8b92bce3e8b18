//! `init-demo`: create a throwaway database user (PostgreSQL login role, or MySQL/MariaDB
//! user) and a secret for it.

use clap::Args;
use rotwise_core::SecretString;
use rotwise_core::config::Env;
use rotwise_core::password::PasswordPolicy;
use rotwise_mysql::MysqlRotator;
use rotwise_postgres::{PgRotator, PgSecret};
use secrecy::ExposeSecret;
use serde_json::json;

use super::output::print_json;
use super::{Ctx, Written, put_value};
use crate::engines::Engine;
use crate::error::CliError;
use crate::{my, pg};

#[derive(Args, Debug)]
pub struct InitDemoArgs {
    /// The database: `postgres` or `mysql` (MySQL and MariaDB; the secret's `engine` is
    /// `mariadb` or `mysql`, from the server's version).
    #[arg(long, value_name = "ENGINE", default_value = "postgres")]
    pub engine: String,
    /// Read the admin URL of a PostgreSQL server that checks passwords
    /// (`postgres://ADMIN:PASSWORD@HOST:PORT/DB`) from the first line of standard input.
    /// Default: $ROTWISE_PG_URL, else $ROTATION_TEST_PG_URL (the private test server from
    /// `scripts/services up`).
    #[arg(long, conflicts_with = "mysql_url_stdin")]
    pub pg_url_stdin: bool,
    /// Read the admin URL (`mysql://ADMIN:PASSWORD@HOST:PORT`) of a MySQL or MariaDB
    /// server, for `--engine mysql`, from the first line of standard input. Default:
    /// $ROTWISE_MYSQL_URL, else $ROTATION_TEST_MYSQL_URL (the private test MariaDB from
    /// `scripts/services up`). The user needs `CREATE USER`.
    #[arg(long)]
    pub mysql_url_stdin: bool,
    /// Refused: a URL on the command line shows its password in `ps` and the shell's
    /// history. Kept only to explain what to do instead.
    #[arg(long, value_name = "URL", hide = true)]
    pub pg_url: Option<String>,
    /// Refused, as `--pg-url`.
    #[arg(long, value_name = "URL", hide = true)]
    pub mysql_url: Option<String>,
    /// The secret's name (default: demo/postgres or demo/mysql).
    #[arg(long)]
    pub name: Option<String>,
}

/// The environment variable read first for each engine's admin URL.
pub const ENV_PG_URL: &str = "ROTWISE_PG_URL";
/// See [`ENV_PG_URL`].
pub const ENV_MYSQL_URL: &str = "ROTWISE_MYSQL_URL";

/// `--pg-url` / `--mysql-url` given: always refused, before anything is read or
/// connected. The message never repeats the URL.
fn refuse_url_in_argv(flag: &str, var: &str) -> CliError {
    CliError::input(format!(
        "{flag} is refused: an admin URL on the command line shows its password to every \
         user (ps) and stays in the shell's history; set {var} in the environment, or pass \
         {flag}-stdin and write the URL on standard input"
    ))
}

impl InitDemoArgs {
    /// Refuse an admin URL given as an argument; called before the store is opened.
    pub fn check_argv(&self) -> Result<(), CliError> {
        if self.pg_url.is_some() {
            return Err(refuse_url_in_argv("--pg-url", ENV_PG_URL));
        }
        if self.mysql_url.is_some() {
            return Err(refuse_url_in_argv("--mysql-url", ENV_MYSQL_URL));
        }
        Ok(())
    }
}

pub async fn run(args: InitDemoArgs, ctx: &Ctx) -> Result<(), CliError> {
    args.check_argv()?;
    let engine = match Engine::from_engine_key(&args.engine) {
        Some(e @ (Engine::Postgres | Engine::Mysql)) => e,
        _ => {
            return Err(CliError::input(format!(
                "unknown engine {:?} for init-demo; use postgres or mysql",
                args.engine
            )));
        }
    };
    let passwords = engine
        .passwords(&ctx.env)
        .map_err(|e| CliError::config(None, e))?;
    let policy = passwords.policy();
    match engine {
        Engine::Mysql => {
            if args.pg_url_stdin {
                return Err(CliError::input(
                    "--pg-url-stdin is for --engine postgres; use --mysql-url-stdin",
                ));
            }
            mysql(ctx, args, policy).await
        }
        _ => {
            if args.mysql_url_stdin {
                return Err(CliError::input(
                    "--mysql-url-stdin is for --engine mysql; use --pg-url-stdin",
                ));
            }
            postgres(ctx, args, policy).await
        }
    }
}

/// The admin URL: the first line of standard input (`from_stdin`), else `var`
/// (`ROTWISE_PG_URL`, `ROTWISE_MYSQL_URL`), else the test servers' variable.
fn admin_url(
    env: &Env,
    from_stdin: bool,
    var: &str,
    test_var: &str,
) -> Result<Option<SecretString>, CliError> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| CliError::Io {
                context: "cannot read the admin URL from standard input".into(),
                source: e,
            })?;
        let url = SecretString::from(line.trim().to_string());
        secrecy::zeroize::Zeroize::zeroize(&mut line);
        if url.expose_secret().is_empty() {
            return Err(CliError::input(
                "no admin URL on standard input (expected one line: the URL)",
            ));
        }
        return Ok(Some(url));
    }
    if let Some(u) = env.get(var).map(str::trim).filter(|u| !u.is_empty()) {
        return Ok(Some(SecretString::from(u.to_string())));
    }
    Ok(default_url(env, test_var).map(SecretString::from))
}

/// `var` (`ROTATION_TEST_PG_URL`, `ROTATION_TEST_MYSQL_URL`), else the same line in the
/// `scripts/services` env file.
fn default_url(env: &Env, var: &str) -> Option<String> {
    if let Some(u) = env.get(var).filter(|u| !u.is_empty()) {
        return Some(u.to_string());
    }
    let dir = env
        .get("ROTATION_SERVICES_DIR")
        .filter(|d| !d.is_empty())
        .unwrap_or("/tmp/rotwise-services");
    let text = std::fs::read_to_string(std::path::Path::new(dir).join("env")).ok()?;
    let prefix = format!("{var}=");
    text.lines().find_map(|l| {
        let l = l.trim().strip_prefix("export ").unwrap_or(l.trim());
        l.strip_prefix(prefix.as_str())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

fn demo_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

fn generate(policy: &PasswordPolicy) -> Result<SecretString, CliError> {
    policy
        .generate()
        .map_err(|e| CliError::target("cannot generate a password", e))
}

async fn postgres(ctx: &Ctx, args: InitDemoArgs, policy: &PasswordPolicy) -> Result<(), CliError> {
    let url = admin_url(&ctx.env, args.pg_url_stdin, ENV_PG_URL, "ROTATION_TEST_PG_URL")?
        .ok_or_else(|| {
            CliError::input(format!(
                "no PostgreSQL URL: set {ENV_PG_URL}=postgres://ADMIN:PASSWORD@HOST:PORT/DB (or pass --pg-url-stdin and write it on standard input), or run `scripts/services up` for the private test server"
            ))
        })?;
    let name = args.name.unwrap_or_else(|| "demo/postgres".into());
    let admin = pg::Target::from_url(url.expose_secret())
        .map_err(|e| CliError::input(format!("the PostgreSQL admin URL: {e}")))?;
    let admin_secret = PgSecret::parse_str(&admin.to_secret().to_string())
        .map_err(|e| CliError::input(format!("the PostgreSQL admin URL: {e}")))?;
    let options = engine_options(ctx, Engine::Postgres)?;
    let client = PgRotator::new(options)
        .connect(&admin_secret)
        .await
        .map_err(|e| {
            CliError::target(
                format!(
                    "cannot log in to PostgreSQL at {}:{} as {}",
                    admin.host, admin.port, admin.user
                ),
                e,
            )
        })?;
    let role = demo_name("rotwise_demo");
    let password = generate(policy)?;
    pg::create_role(&client, &role, &password).await?;
    let secret = json!({
        "engine": "postgres",
        "host": admin.host,
        "port": admin.port,
        "username": role,
        "password": password.expose_secret(),
        "dbname": admin.dbname,
    });
    let store = ctx.backend.store();
    let w = put_value(store.as_ref(), &name, secret.to_string()).await?;
    if ctx.json {
        print_json(&json!({
            "secret": name, "arn": w.arn, "version_id": w.version_id, "created": w.created,
            "engine": "postgres", "role": role, "host": admin.host, "port": admin.port,
            "dbname": admin.dbname,
        }));
    } else {
        println!(
            "created login role {role} on {}:{}/{} with a random password",
            admin.host, admin.port, admin.dbname
        );
        print_next(&name, &w);
    }
    Ok(())
}

async fn mysql(ctx: &Ctx, args: InitDemoArgs, policy: &PasswordPolicy) -> Result<(), CliError> {
    let url = admin_url(
        &ctx.env,
        args.mysql_url_stdin,
        ENV_MYSQL_URL,
        "ROTATION_TEST_MYSQL_URL",
    )?
    .ok_or_else(|| {
        CliError::input(format!(
            "no MySQL URL: set {ENV_MYSQL_URL}=mysql://ADMIN:PASSWORD@HOST:PORT (or pass --mysql-url-stdin and write it on standard input), or run `scripts/services up` for the private test MariaDB"
        ))
    })?;
    let name = args.name.unwrap_or_else(|| "demo/mysql".into());
    let admin = my::Admin::from_url(url.expose_secret())
        .map_err(|e| CliError::input(format!("the MySQL admin URL: {e}")))?;
    let rotator = MysqlRotator::new(engine_options(ctx, Engine::Mysql)?);
    let mut conn = admin.connect(&rotator).await.map_err(|e| {
        CliError::target(
            format!(
                "cannot log in to MySQL at {}:{} as {}",
                admin.host, admin.port, admin.user
            ),
            e,
        )
    })?;
    let user = demo_name("rotwise_demo");
    let password = generate(policy)?;
    let created_user = my::create_user(&mut conn, &user, &password).await;
    let _ = conn.disconnect().await;
    let demo = created_user?;
    let secret = my::demo_secret(&admin, &demo, &user, &password);
    let store = ctx.backend.store();
    let w = put_value(store.as_ref(), &name, secret.to_string()).await?;
    if ctx.json {
        print_json(&json!({
            "secret": name, "arn": w.arn, "version_id": w.version_id, "created": w.created,
            "engine": demo.engine, "user": user, "account_host": demo.account_host,
            "host": admin.host, "port": admin.port,
        }));
    } else {
        println!(
            "created user '{user}'@'{}' on {} {}:{} with a random password",
            demo.account_host, demo.engine, admin.host, admin.port
        );
        print_next(&name, &w);
    }
    Ok(())
}

/// The engine's database options from the environment.
fn engine_options(ctx: &Ctx, engine: Engine) -> Result<rotwise_db::DbOptions, CliError> {
    Ok(engine
        .options(&ctx.env)
        .map_err(|e| CliError::config(None, e))?
        .unwrap_or_default())
}

fn print_next(name: &str, w: &Written) {
    println!(
        "{} secret {name} (version {} is AWSCURRENT)",
        if w.created { "created" } else { "updated" },
        w.version_id
    );
    println!("next: rotwise rotate {name}");
}
