//! `rotwise`: rotate a secret on a laptop in one command, inspect it, fix a stuck rotation.
//!
//! The default store is a development file of secrets (plaintext on disk, mode 0600);
//! `--aws` or `--endpoint URL` use Secrets Manager through the AWS SDK instead.
//!
//! Exit codes derive from the failure's kind (see [`error`]): 0 success; 1 the operation
//! failed; 2 bad input, nothing changed; 3 target unreachable; 4 login refused; 5 TLS
//! failed; 6 permission denied.
//!
//! Engines: PostgreSQL (`postgres`, `aurora-postgresql`) and MySQL/MariaDB (`mysql`,
//! `aurora-mysql`, `mariadb`), configured by the environment variables their Lambda
//! functions read (see `engines`). Each subcommand is a module of `commands`.

mod backend;
mod commands;
mod engines;
mod error;
mod file_store;
mod logging;
mod my;
mod pg;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rotwise_core::config::Env;

use crate::backend::{Backend, StoreArgs};
use crate::commands::{Ctx, debug, doctor, get, init_demo, put, rotate, status};
use crate::error::{CliError, EXIT_FAILED};

#[derive(Parser)]
#[command(
    name = "rotwise",
    version,
    about = "Rotate AWS Secrets Manager secrets locally or on AWS, inspect them, fix stuck rotations"
)]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    /// Print one JSON object for scripts instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a secret, or put a new AWSCURRENT version, from a JSON object.
    Put(put::PutArgs),
    /// Create a throwaway database user (PostgreSQL login role, or MySQL/MariaDB user) and
    /// a secret for it.
    InitDemo(init_demo::InitDemoArgs),
    /// Run a whole rotation locally (file store): the four steps, then a login proof.
    Rotate(rotate::RotateArgs),
    /// Versions, labels, dates and rotation settings of a secret.
    Status(status::StatusArgs),
    /// Print a secret's value (AWSCURRENT unless --version-stage/--version-id), as an
    /// application reads it.
    Get(get::GetArgs),
    /// Find what blocks rotation and say how to fix it.
    Doctor(doctor::DoctorArgs),
    /// Development helpers for tests (hidden).
    #[command(hide = true, subcommand)]
    Debug(debug::DebugCommand),
}

async fn run(cli: Cli, env: Env) -> Result<(), CliError> {
    cli.store.validate()?;
    if let Command::Rotate(args) = &cli.command {
        args.check_store(cli.store.on_service())?;
    }
    if let Command::Put(args) = &cli.command {
        args.check_store(cli.store.on_service())?;
    }
    // Before anything is opened: a password in argv is refused outright.
    if let Command::InitDemo(args) = &cli.command {
        args.check_argv()?;
    }
    let ctx = Ctx {
        backend: Backend::open(&cli.store, &env).await?,
        env,
        json: cli.json,
    };
    tracing::debug!(on_service = cli.store.on_service(), "store ready");
    match cli.command {
        Command::Put(args) => put::run(args, &ctx).await,
        Command::InitDemo(args) => init_demo::run(args, &ctx).await,
        Command::Rotate(args) => rotate::run(args, &ctx).await,
        Command::Status(args) => status::run(args, &ctx).await,
        Command::Get(args) => get::run(args, &ctx).await,
        Command::Doctor(args) => doctor::run(args, &ctx).await,
        Command::Debug(command) => debug::run(command, &ctx).await,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = Env::from_process();
    logging::init(env.get("ROTWISE_LOG"));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match runtime.block_on(run(cli, env)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
