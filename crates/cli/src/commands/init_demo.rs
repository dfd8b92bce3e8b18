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
    /// Admin URL of a PostgreSQL server that checks passwords (default:
    /// $ROTATION_TEST_PG_URL, the private test server from `scripts/services up`).
    #[arg(long, value_name = "URL", conflicts_with = "mysql_url")]
    pub pg_url: Option<String>,
    /// Admin URL (`mysql://USER:PASSWORD@HOST:PORT`) of a MySQL or MariaDB server, for
    /// `--engine mysql` (default: $ROTATION_TEST_MYSQL_URL, the private test MariaDB from
    /// `scripts/services up`). The user needs `CREATE USER`.
    #[arg(long, value_name = "URL")]
    pub mysql_url: Option<String>,
    /// The secret's name (default: demo/postgres or demo/mysql).
    #[arg(long)]
    pub name: Option<String>,
}

pub async fn run(args: InitDemoArgs, ctx: &Ctx) -> Result<(), CliError> {
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
            if args.pg_url.is_some() {
                return Err(CliError::input(
                    "--pg-url is for --engine postgres; use --mysql-url",
                ));
            }
            mysql(ctx, args, policy).await
        }
        _ => {
            if args.mysql_url.is_some() {
                return Err(CliError::input(
                    "--mysql-url is for --engine mysql; use --pg-url",
                ));
            }
            postgres(ctx, args, policy).await
        }
    }
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
    let url = args.pg_url.or_else(|| default_url(&ctx.env, "ROTATION_TEST_PG_URL")).ok_or_else(|| {
        CliError::input(
            "no PostgreSQL URL: pass --pg-url postgres://ADMIN:PASSWORD@HOST:PORT/DB, or run `scripts/services up` for the private test server",
        )
    })?;
    let name = args.name.unwrap_or_else(|| "demo/postgres".into());
    let admin =
        pg::Target::from_url(&url).map_err(|e| CliError::input(format!("--pg-url: {e}")))?;
    let admin_secret = PgSecret::parse_str(&admin.to_secret().to_string())
        .map_err(|e| CliError::input(format!("--pg-url: {e}")))?;
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
    let url = args.mysql_url.or_else(|| default_url(&ctx.env, "ROTATION_TEST_MYSQL_URL")).ok_or_else(|| {
        CliError::input(
            "no MySQL URL: pass --mysql-url mysql://ADMIN:PASSWORD@HOST:PORT, or run `scripts/services up` for the private test MariaDB",
        )
    })?;
    let name = args.name.unwrap_or_else(|| "demo/mysql".into());
    let admin =
        my::Admin::from_url(&url).map_err(|e| CliError::input(format!("--mysql-url: {e}")))?;
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
