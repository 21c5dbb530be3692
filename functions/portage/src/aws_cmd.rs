//! `portage aws provision`, `portage secrets set`, and the deployed adapters
//! the `--aws` forms of operator commands use.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use portage_aws::{DynamoTable, SqsQueue};
use portage_core::ports::Secrets;
use portage_core::provider::Transport;
use portage_core::{DEFAULT_CONNECTION, Secret};

use crate::cli::{AwsCommand, Global, SecretsCommand};
use crate::config;

async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The deployed event log and queue, named by the functions' environment
/// (`PORTAGE_TABLE`, `PORTAGE_QUEUE_URL`, `PORTAGE_DLQ_URL`: what `aws
/// provision` prints, or the stack's resources).
pub(crate) async fn deployed() -> anyhow::Result<(Arc<DynamoTable>, Arc<SqsQueue>)> {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .with_context(|| format!("{name} is not set (see `portage aws provision`)"))
    };
    let (table, queue_url, dlq_url) = (var("PORTAGE_TABLE")?, var("PORTAGE_QUEUE_URL")?, var("PORTAGE_DLQ_URL")?);
    let sdk = sdk_config().await;
    let table = DynamoTable::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), queue_url, dlq_url);
    Ok((Arc::new(table), Arc::new(queue)))
}

/// Runs an `aws` subcommand.
pub(crate) async fn run_aws(command: AwsCommand) -> anyhow::Result<ExitCode> {
    let AwsCommand::Provision { name, max_receives } = command;
    let sdk = sdk_config().await;
    let provisioned = portage_aws::provision::provision(&sdk, &name, max_receives).await?;
    let prefix = format!("{name}/");
    let secrets = portage_aws::SecretsManagerSecrets::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        &prefix,
        std::time::Duration::ZERO,
    );
    let registry = portage_providers::registry();
    for provider in registry.iter().filter(|p| p.transport() == Transport::Http) {
        // An empty secret per webhook source's default connection, as template.yaml declares.
        secrets.put(provider.name(), DEFAULT_CONNECTION, &[]).await?;
    }
    println!("PORTAGE_TABLE={}", provisioned.table);
    println!("PORTAGE_QUEUE_URL={}", provisioned.queue_url);
    println!("PORTAGE_DLQ_URL={}", provisioned.dlq_url);
    println!("PORTAGE_SECRETS_PREFIX={prefix}");
    Ok(ExitCode::SUCCESS)
}

/// Runs a `secrets` subcommand.
pub(crate) async fn run_secrets(global: &Global, command: SecretsCommand) -> anyhow::Result<ExitCode> {
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
        let sdk = sdk_config().await;
        let secrets = portage_aws::SecretsManagerSecrets::new(
            aws_sdk_secretsmanager::Client::new(&sdk),
            &prefix,
            std::time::Duration::ZERO,
        );
        secrets.put(provider, connection, &values).await?;
        println!("set {} in {}", keys.join(", "), secrets.secret_name(provider, connection));
    } else {
        let path = config::save_local_secrets(&global.data, provider, connection, &values)?;
        println!("set {} for {provider}/{connection} in {}", keys.join(", "), path.display());
    }
    Ok(ExitCode::SUCCESS)
}
