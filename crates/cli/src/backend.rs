//! The store a command works on: the development file store, or Secrets Manager.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use rotwise_core::config::Env;
use rotwise_core::store::{AwsStore, SecretStore};

use crate::error::CliError;
use crate::file_store::{self, FileLayer, FileStore};

/// Where secrets are kept (global options).
#[derive(Args, Debug)]
pub struct StoreArgs {
    /// The development store file (default: $ROTWISE_STORE, $XDG_DATA_HOME/rotwise/secrets.json
    /// or ~/.local/share/rotwise/secrets.json).
    #[arg(long, global = true, value_name = "PATH")]
    pub store: Option<PathBuf>,
    /// Use AWS Secrets Manager (the AWS SDK credential chain; not SSO or credential_process
    /// profiles) instead of the file store.
    #[arg(long, global = true)]
    pub aws: bool,
    /// Use the Secrets Manager endpoint at URL (moto, a local endpoint) instead of the file store.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Region for --endpoint (default: $AWS_REGION, else us-east-1).
    #[arg(long, global = true)]
    pub region: Option<String>,
}

impl StoreArgs {
    /// Whether the store is Secrets Manager (`--aws` or `--endpoint`).
    pub fn on_service(&self) -> bool {
        self.aws || self.endpoint.is_some()
    }

    /// Options that do not go together.
    pub fn validate(&self) -> Result<(), CliError> {
        if self.aws && self.endpoint.is_some() {
            return Err(CliError::input("use either --aws or --endpoint, not both"));
        }
        if self.store.is_some() && self.on_service() {
            return Err(CliError::input(
                "--store is the file store; it cannot be combined with --aws or --endpoint",
            ));
        }
        Ok(())
    }
}

/// The store a command works on.
pub enum Backend {
    File(Arc<FileStore>),
    Aws(Arc<AwsStore>),
}

impl Backend {
    /// The store the options name. The file store warns that it keeps plaintext.
    pub async fn open(args: &StoreArgs, env: &Env) -> Result<Backend, CliError> {
        if let Some(url) = &args.endpoint {
            let region = args
                .region
                .clone()
                .or_else(|| env.get_set("AWS_REGION").map(str::to_string))
                .unwrap_or_else(|| "us-east-1".into());
            return Ok(Backend::Aws(Arc::new(AwsStore::for_endpoint(
                url.clone(),
                region,
            ))));
        }
        if args.aws {
            return Ok(Backend::Aws(Arc::new(AwsStore::from_env().await)));
        }
        let path = args
            .store
            .clone()
            .or_else(file_store::default_path)
            .ok_or_else(|| {
                CliError::input("no store path: set --store, $ROTWISE_STORE or $HOME")
            })?;
        eprintln!(
            "warning: development store {}: secrets are kept in plaintext on disk; use --aws for real secrets",
            path.display()
        );
        let store = file_store::open(path).map_err(|e| CliError::store_with(e.to_string(), e))?;
        Ok(Backend::File(Arc::new(store)))
    }

    /// The store, whichever it is.
    pub fn store(&self) -> Arc<dyn SecretStore> {
        match self {
            Backend::File(f) => f.clone(),
            Backend::Aws(a) => a.clone(),
        }
    }

    /// The file store's own operations (what the service does around a rotation), when
    /// the store is the file store.
    pub fn file(&self) -> Option<&FileLayer> {
        match self {
            Backend::File(f) => Some(&f.0),
            Backend::Aws(_) => None,
        }
    }

    pub fn is_file(&self) -> bool {
        matches!(self, Backend::File(_))
    }
}
