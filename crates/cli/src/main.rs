//! `rotwise`: rotate a secret on a laptop in one command, inspect it, fix a stuck rotation.
//!
//! The default store is a development file of secrets (plaintext on disk, mode 0600);
//! `--aws` or `--endpoint URL` use Secrets Manager through the AWS SDK instead.
//!
//! Exit codes: 0 success; 1 the operation failed (a rotation step, a login, a problem
//! `doctor` found and did not fix); 2 bad input (unknown secret, malformed JSON,
//! unknown engine, usage), with the store unchanged.
//!
//! Engines: PostgreSQL (`postgres`, `aurora-postgresql`) and MySQL/MariaDB (`mysql`,
//! `aurora-mysql`, `mariadb`), configured by the environment variables their Lambda
//! functions read (see `engines`).

mod commands;
mod engines;
mod file_store;
mod my;
mod pg;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use rotwise_core::store::{AwsStore, SecretStore, StoreError, StoreErrorKind};

use crate::file_store::FileStore;

#[derive(Parser)]
#[command(
    name = "rotwise",
    version,
    about = "Rotate AWS Secrets Manager secrets locally or on AWS, inspect them, fix stuck rotations"
)]
struct Cli {
    /// The development store file (default: $ROTWISE_STORE, $XDG_DATA_HOME/rotwise/secrets.json
    /// or ~/.local/share/rotwise/secrets.json).
    #[arg(long, global = true, value_name = "PATH")]
    store: Option<PathBuf>,
    /// Use AWS Secrets Manager (the standard AWS configuration chain) instead of the file store.
    #[arg(long, global = true)]
    aws: bool,
    /// Use the Secrets Manager endpoint at URL (moto, a local endpoint) instead of the file store.
    #[arg(long, global = true, value_name = "URL")]
    endpoint: Option<String>,
    /// Region for --endpoint (default: $AWS_REGION, else us-east-1).
    #[arg(long, global = true)]
    region: Option<String>,
    /// Print one JSON object for scripts instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a secret, or put a new AWSCURRENT version, from a JSON object.
    Put {
        /// The secret's name (or ARN).
        secret: String,
        /// A file holding the JSON object, or `-` for stdin.
        #[arg(long, value_name = "FILE")]
        from_json: String,
    },
    /// Create a throwaway database user (PostgreSQL login role, or MySQL/MariaDB user) and
    /// a secret for it.
    InitDemo {
        /// The database: `postgres` or `mysql` (MySQL and MariaDB; the secret's `engine` is
        /// `mariadb` or `mysql`, from the server's version).
        #[arg(long, value_name = "ENGINE", default_value = "postgres")]
        engine: String,
        /// Admin URL of a PostgreSQL server that checks passwords (default:
        /// $ROTATION_TEST_PG_URL, the private test server from `scripts/services up`).
        #[arg(long, value_name = "URL", conflicts_with = "mysql_url")]
        pg_url: Option<String>,
        /// Admin URL (`mysql://USER:PASSWORD@HOST:PORT`) of a MySQL or MariaDB server, for
        /// `--engine mysql` (default: $ROTATION_TEST_MYSQL_URL, the private test MariaDB from
        /// `scripts/services up`). The user needs `CREATE USER`.
        #[arg(long, value_name = "URL")]
        mysql_url: Option<String>,
        /// The secret's name (default: demo/postgres or demo/mysql).
        #[arg(long)]
        name: Option<String>,
    },
    /// Run a whole rotation locally (file store): the four steps, then a login proof.
    Rotate {
        /// The secret's name (or ARN).
        secret: String,
        /// Use this engine instead of the secret's `engine` key.
        #[arg(long, value_name = "ENGINE")]
        engine: Option<String>,
        /// Use an example rotator (random-string) instead of a database engine.
        #[arg(long, value_name = "NAME", conflicts_with = "engine")]
        example: Option<String>,
        /// Resume the rotation whose AWSPENDING version is already there instead of
        /// starting a new one.
        #[arg(long)]
        resume: bool,
    },
    /// Versions, labels, dates and rotation settings of a secret.
    Status {
        /// The secret's name (or ARN).
        secret: String,
    },
    /// Find what blocks rotation and say how to fix it.
    Doctor {
        /// The secret's name (or ARN).
        secret: String,
        /// Remove a stale AWSPENDING label (asks first unless --yes).
        #[arg(long)]
        fix: bool,
        /// Do not ask before fixing.
        #[arg(long, requires = "fix")]
        yes: bool,
    },
    /// Development helpers for tests (hidden).
    #[command(hide = true, subcommand)]
    Debug(DebugCommand),
}

#[derive(Subcommand)]
enum DebugCommand {
    /// What RotateSecret does first: add a value-less AWSPENDING version (file store).
    BeginRotation { secret: String },
    /// PutSecretValue with VersionStages=[AWSPENDING] (any store).
    PutPending {
        secret: String,
        #[arg(long, value_name = "FILE")]
        from_json: String,
    },
    /// Set RotationEnabled (file store).
    SetRotation {
        secret: String,
        #[arg(long)]
        enabled: bool,
    },
}

/// A failed command: the exit code and what to print.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    /// Exit code 2: bad input, nothing changed.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    /// Exit code 1: the operation failed.
    pub fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }

    /// A store error: unknown secret and invalid parameters are bad input.
    pub fn store(secret: &str, e: StoreError) -> Self {
        match e.kind {
            StoreErrorKind::ResourceNotFound => Failure::bad_input(format!(
                "unknown secret {secret:?} ({e}); `rotwise put {secret} --from-json FILE` creates it"
            )),
            StoreErrorKind::InvalidParameter => Failure::bad_input(e.to_string()),
            _ => Failure::failed(e.to_string()),
        }
    }
}

/// The store a command works on.
pub enum Backend {
    File(Arc<FileStore>),
    Aws(Arc<AwsStore>),
}

impl Backend {
    pub fn store(&self) -> Arc<dyn SecretStore> {
        match self {
            Backend::File(f) => f.clone(),
            Backend::Aws(a) => a.clone(),
        }
    }

    pub fn is_file(&self) -> bool {
        matches!(self, Backend::File(_))
    }
}

async fn backend(cli: &Cli) -> Result<Backend, Failure> {
    if let Some(url) = &cli.endpoint {
        let region = cli
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
            .unwrap_or_else(|| "us-east-1".into());
        return Ok(Backend::Aws(Arc::new(AwsStore::for_endpoint(
            url.clone(),
            region,
        ))));
    }
    if cli.aws {
        return Ok(Backend::Aws(Arc::new(AwsStore::from_env().await)));
    }
    let path = cli
        .store
        .clone()
        .or_else(file_store::default_path)
        .ok_or_else(|| Failure::bad_input("no store path: set --store, $ROTWISE_STORE or $HOME"))?;
    eprintln!(
        "warning: development store {}: secrets are kept in plaintext on disk; use --aws for real secrets",
        path.display()
    );
    let store = FileStore::open(path).map_err(|e| Failure::failed(e.to_string()))?;
    Ok(Backend::File(Arc::new(store)))
}

async fn run(cli: Cli) -> Result<(), Failure> {
    if cli.aws && cli.endpoint.is_some() {
        return Err(Failure::bad_input(
            "use either --aws or --endpoint, not both",
        ));
    }
    if cli.store.is_some() && (cli.aws || cli.endpoint.is_some()) {
        return Err(Failure::bad_input(
            "--store is the file store; it cannot be combined with --aws or --endpoint",
        ));
    }
    if let Command::Rotate {
        engine,
        example,
        resume,
        ..
    } = &cli.command
        && (cli.aws || cli.endpoint.is_some())
        && (engine.is_some() || example.is_some() || *resume)
    {
        return Err(Failure::bad_input(
            "on Secrets Manager the secret's own rotation function runs the steps: --engine, --example and --resume apply to the file store only",
        ));
    }
    let backend = backend(&cli).await?;
    let json = cli.json;
    match cli.command {
        Command::Put { secret, from_json } => {
            commands::put(&backend, &secret, &from_json, json).await
        }
        Command::InitDemo {
            engine,
            pg_url,
            mysql_url,
            name,
        } => {
            let opts = commands::InitDemoOptions {
                engine,
                pg_url,
                mysql_url,
                name,
            };
            commands::init_demo(&backend, opts, json).await
        }
        Command::Rotate {
            secret,
            engine,
            example,
            resume,
        } => {
            let opts = commands::RotateOptions {
                engine,
                example,
                resume,
            };
            match &backend {
                Backend::Aws(aws) => commands::rotate_on_service(aws, &secret, json).await,
                Backend::File(_) => commands::rotate(&backend, &secret, &opts, json).await,
            }
        }
        Command::Status { secret } => commands::status(&backend, &secret, json).await,
        Command::Doctor { secret, fix, yes } => {
            commands::doctor(&backend, &secret, fix, yes, json).await
        }
        Command::Debug(d) => match d {
            DebugCommand::BeginRotation { secret } => {
                commands::debug_begin(&backend, &secret).await
            }
            DebugCommand::PutPending { secret, from_json } => {
                commands::debug_put_pending(&backend, &secret, &from_json).await
            }
            DebugCommand::SetRotation { secret, enabled } => {
                commands::debug_set_rotation(&backend, &secret, enabled).await
            }
        },
    }
}

/// Warnings (e.g. a TLS fallback to plaintext) go to stderr. `ROTWISE_LOG` takes an
/// `EnvFilter` directive; the database drivers stay capped at INFO whatever it says,
/// because tokio-postgres logs statement parameters at DEBUG.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let directives = std::env::var("ROTWISE_LOG").unwrap_or_else(|_| "warn".to_string());
    let filter = EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| EnvFilter::new("warn"))
        .add_directive("tokio_postgres=info".parse().expect("static directive"))
        .add_directive("postgres_protocol=info".parse().expect("static directive"))
        .add_directive("mysql_async=info".parse().expect("static directive"))
        .add_directive("mysql_common=info".parse().expect("static directive"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("error: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}
