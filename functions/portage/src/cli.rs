//! The command line's top: the global flags and the list of subcommands;
//! each subcommand's own arguments live with it in [`crate::commands`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Portage: webhook ingest, sync and reconcile for third-party services.
#[derive(Debug, Parser)]
#[command(name = "portage", version, about)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Data directory of the embedded store.
    #[arg(long, global = true, env = "PORTAGE_DATA", default_value = ".portage")]
    pub data: PathBuf,
    /// Configuration file (default: portage.toml in the data directory, if present).
    #[arg(long, global = true, env = "PORTAGE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the webhook routes, the worker loop and the scheduler in one process.
    Serve(crate::commands::serve::ServeArgs),
    /// Make, list and revoke the API keys apps call `/v1` with.
    #[command(subcommand)]
    Apikey(crate::commands::apikey::ApiKeyCommand),
    /// Ask a provider for an effect (create a customer, send an email), and follow it.
    #[command(subcommand)]
    Commands(crate::commands::command::CommandsCommand),
    /// List the actions commands can name.
    #[command(subcommand)]
    Actions(crate::commands::actions::ActionsCommand),
    /// Tell the app: webhook subscriptions, their deliveries, redrive.
    #[command(subcommand)]
    Subscriptions(crate::commands::subscriptions::SubscriptionsCommand),
    /// Verify or send webhook deliveries.
    #[command(subcommand)]
    Webhook(crate::commands::webhook::WebhookCommand),
    /// Take notifications that come by queue rather than HTTP (Amazon SP-API).
    #[command(subcommand)]
    Notifications(crate::commands::notifications::NotificationsCommand),
    /// Inspect recorded events.
    #[command(subcommand)]
    Events(crate::commands::events::EventsCommand),
    /// Process a stored event again through the sync path (idempotent).
    Replay(crate::commands::replay::ReplayArgs),
    /// Inspect and redrive the dead-letter queue.
    #[command(subcommand)]
    Dlq(crate::commands::dlq::DlqCommand),
    /// Inspect local state synced from providers.
    #[command(subcommand)]
    State(crate::commands::state::StateCommand),
    /// Repair drift: list what changed at each provider since the stored cursors, apply it,
    /// and print the run's report as JSON (what the scheduler of `serve` runs every 15 minutes).
    Reconcile(crate::commands::reconcile::ReconcileArgs),
    /// Set up the AWS resources the functions use.
    #[command(subcommand)]
    Aws(crate::commands::aws::AwsCommand),
    /// Write a connection's secrets.
    #[command(subcommand)]
    Secrets(crate::commands::secrets::SecretsCommand),
    /// Register Portage's app (OAuth client) at a provider, and list which have one.
    #[command(subcommand)]
    Apps(crate::commands::apps::AppsCommand),
    /// Link an account: print a connect session's URL (open it with --open) and wait until it is connected.
    Connect(crate::commands::connect::ConnectArgs),
    /// The registry of connections: list, show, disconnect.
    #[command(subcommand)]
    Connections(crate::commands::connect::ConnectionsCommand),
    /// Print what each provider can do: webhooks, sync, reconcile, commands, connect.
    Providers(crate::commands::providers::ProvidersArgs),
}

/// How a listing is printed.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub(crate) enum Format {
    #[default]
    Table,
    Json,
}
