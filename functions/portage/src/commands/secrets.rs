//! `portage secrets set`: a connection's secrets, locally or in Secrets Manager.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use portage_core::ports::Secrets;
use portage_core::{DEFAULT_CONNECTION, Secret};

use crate::cli::Global;
use crate::config;

/// `portage secrets`: a connection's secrets.
#[derive(Debug, Subcommand)]
pub(crate) enum SecretsCommand {
    /// Set secrets of PROVIDER[/CONNECTION], e.g. `stripe webhook_secret=whsec_…`.
    Set {
        /// Write to Secrets Manager (secret PREFIX + PROVIDER/CONNECTION) instead of DATA/secrets.toml.
        #[arg(long)]
        aws: bool,
        /// Secrets Manager name prefix, with --aws.
        #[arg(long, env = "PORTAGE_SECRETS_PREFIX", default_value = "portage/")]
        prefix: String,
        /// PROVIDER or PROVIDER/CONNECTION.
        target: String,
        /// KEY=VALUE pairs.
        #[arg(required = true)]
        pairs: Vec<String>,
    },
}

/// Runs a `secrets` subcommand.
pub(crate) async fn run(global: &Global, command: SecretsCommand) -> anyhow::Result<ExitCode> {
    let SecretsCommand::Set { aws, prefix, target, pairs } = command;
    let (provider, connection) = target.split_once('/').unwrap_or((target.as_str(), DEFAULT_CONNECTION));
    if provider.is_empty() || !portage_core::is_valid_connection(connection) {
        bail!(
            "expected PROVIDER or PROVIDER/CONNECTION (a connection is 1 to 64 letters, digits, '_', '-' or '.'), \
             got '{target}'"
        );
    }
    let mut values = Vec::new();
    for pair in &pairs {
        // The value is never echoed: it is a credential.
        let (key, value) = pair.split_once('=').with_context(|| "expected KEY=VALUE".to_owned())?;
        if key.is_empty() {
            bail!("expected KEY=VALUE with a non-empty key");
        }
        values.push((key.to_owned(), Secret::new(value)));
    }
    let keys: Vec<&str> = values.iter().map(|(k, _)| k.as_str()).collect();
    if aws {
        let secrets = super::aws::deployed_secrets(&prefix).await;
        secrets.put(provider, connection, &values).await?;
        println!("set {} in {}", keys.join(", "), secrets.secret_name(provider, connection));
    } else {
        let path = config::save_local_secrets(&global.data, provider, connection, &values)?;
        println!("set {} for {provider}/{connection} in {}", keys.join(", "), path.display());
    }
    Ok(ExitCode::SUCCESS)
}
