//! `portage aws provision`, and the deployed adapters the `--aws` forms of operator commands use.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use portage_aws::{DynamoTable, SqsQueue};
use portage_core::DEFAULT_CONNECTION;
use portage_core::ports::Secrets;
use portage_core::provider::Transport;

/// `portage aws`: the AWS resources the functions use.
#[derive(Debug, Subcommand)]
pub(crate) enum AwsCommand {
    /// Create (idempotently) the table, queues and secrets in the account the standard AWS
    /// environment names (AWS_ENDPOINT_URL for an emulator); print the functions' environment.
    Provision {
        /// Name of the table; the queues are NAME-events, NAME-events-dlq, NAME-commands.fifo and
        /// NAME-commands-dlq.fifo, secrets NAME/…
        #[arg(long, default_value = "portage")]
        name: String,
        /// Receives before a message is moved to the dead-letter queue.
        #[arg(long, default_value_t = 5)]
        max_receives: u32,
    },
}

/// The AWS configuration the standard environment names (`AWS_ENDPOINT_URL` for an emulator).
pub(crate) async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The deployed secrets under `prefix`, uncached: an operator command reads
/// and writes what is there now.
pub(crate) async fn deployed_secrets(prefix: &str) -> portage_aws::SecretsManagerSecrets {
    let client = aws_sdk_secretsmanager::Client::new(&sdk_config().await);
    portage_aws::SecretsManagerSecrets::new(client, prefix, std::time::Duration::ZERO)
}

/// The deployed table and queues, named by the functions' environment
/// (`PORTAGE_TABLE`, `PORTAGE_QUEUE_URL`, `PORTAGE_DLQ_URL`, and
/// `PORTAGE_COMMAND_QUEUE_URL` with `PORTAGE_COMMAND_DLQ_URL`: what `aws
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
    let mut queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), queue_url, dlq_url);
    if let Ok(command_queue_url) = var("PORTAGE_COMMAND_QUEUE_URL") {
        queue = queue.with_command_queue(command_queue_url, var("PORTAGE_COMMAND_DLQ_URL")?);
    }
    Ok((Arc::new(table), Arc::new(queue)))
}

/// Runs an `aws` subcommand.
pub(crate) async fn run(command: AwsCommand) -> anyhow::Result<ExitCode> {
    let AwsCommand::Provision { name, max_receives } = command;
    let sdk = sdk_config().await;
    let provisioned = portage_aws::provision::provision(&sdk, &name, max_receives).await?;
    let prefix = format!("{name}/");
    let secrets = deployed_secrets(&prefix).await;
    let registry = portage_providers::registry();
    for provider in registry.iter().filter(|p| p.transport() == Transport::Http) {
        // An empty secret per webhook source's default connection, as template.yaml declares.
        secrets.put(provider.name(), DEFAULT_CONNECTION, &[]).await?;
    }
    println!("PORTAGE_TABLE={}", provisioned.table);
    println!("PORTAGE_QUEUE_URL={}", provisioned.queue_url);
    println!("PORTAGE_DLQ_URL={}", provisioned.dlq_url);
    println!("PORTAGE_COMMAND_QUEUE_URL={}", provisioned.command_queue_url);
    println!("PORTAGE_COMMAND_DLQ_URL={}", provisioned.command_dlq_url);
    println!("PORTAGE_SECRETS_PREFIX={prefix}");
    Ok(ExitCode::SUCCESS)
}
