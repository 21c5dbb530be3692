//! The command line: every subcommand and flag, in one place.

use std::net::SocketAddr;
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

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the webhook routes, the worker loop and the scheduler in one process.
    Serve(ServeArgs),
    /// Verify or send webhook deliveries.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Take notifications that come by queue rather than HTTP (Amazon SP-API).
    #[command(subcommand)]
    Notifications(NotificationsCommand),
    /// Inspect recorded events.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Process a stored event again through the sync path (idempotent).
    Replay(ReplayArgs),
    /// Inspect and redrive the dead-letter queue.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Inspect local state synced from providers.
    #[command(subcommand)]
    State(StateCommand),
    /// Repair drift: list what changed at each provider since the stored cursors, apply it,
    /// and print the run's report as JSON (what the scheduler of `serve` runs every 15 minutes).
    Reconcile(ReconcileArgs),
    /// Set up the AWS resources the functions use.
    #[command(subcommand)]
    Aws(AwsCommand),
    /// Write a connection's secrets.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Print what each provider can do: webhooks, sync, reconcile, commands, connect.
    Providers(crate::providers_cmd::ProvidersArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum AwsCommand {
    /// Create (idempotently) the table, queues and secrets in the account the standard AWS
    /// environment names (AWS_ENDPOINT_URL for an emulator); print the functions' environment.
    Provision {
        /// Name of the table; the queues are NAME-events and NAME-events-dlq, secrets NAME/…
        #[arg(long, default_value = "portage")]
        name: String,
        /// Receives before a message is moved to the dead-letter queue.
        #[arg(long, default_value_t = 5)]
        max_receives: u32,
    },
}

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

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
}

#[derive(Debug, Args)]
pub(crate) struct ReconcileArgs {
    /// `incremental` lists changes since the last completed run; `full` lists everything.
    #[arg(long, value_enum, default_value_t = ReconcileMode::Incremental)]
    pub mode: ReconcileMode,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ReconcileMode {
    Incremental,
    Full,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub(crate) enum Format {
    #[default]
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum WebhookCommand {
    /// Check captured deliveries: prints `valid` (exit 0) or `invalid: <reason_code>` (exit 1).
    Verify(VerifyArgs),
    /// Sign a fixture as the provider would and post it.
    Send(SendArgs),
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// JSON lines, one delivery each: {"id", "provider", "secret", "method", "url",
    /// "headers": {name: value}, "body_b64", "now", "tolerance"?, "legacy"?}; `-` reads stdin.
    #[arg(long, conflicts_with_all = ["provider", "body_file"])]
    pub batch: Option<PathBuf>,
    /// Provider name, e.g. stripe.
    #[arg(long, required_unless_present = "batch")]
    pub provider: Option<String>,
    /// Signing secret (repeat for several, as during rotation).
    #[arg(long = "secret", required_unless_present = "batch")]
    pub secrets: Vec<String>,
    /// HTTP method of the delivery.
    #[arg(long, default_value = "POST")]
    pub method: String,
    /// Public URL the provider called.
    #[arg(long, default_value = "http://localhost/webhook")]
    pub url: String,
    /// Verify as if now were this Unix time, in seconds.
    #[arg(long)]
    pub now: Option<i64>,
    /// Signature tolerance in seconds (default: the provider's).
    #[arg(long)]
    pub tolerance: Option<u64>,
    /// Also accept the provider's legacy schemes that sign no timestamp (HubSpot v1/v2).
    #[arg(long)]
    pub legacy: bool,
    /// A header, as 'Name: value' (repeatable).
    #[arg(long = "header")]
    pub headers: Vec<String>,
    /// File holding the raw body.
    #[arg(long, required_unless_present = "batch")]
    pub body_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// Provider name, e.g. stripe.
    #[arg(long)]
    pub provider: String,
    /// Signing secret (default: the connection's configured or development secret).
    #[arg(long)]
    pub secret: Option<String>,
    /// Connection whose secret to use when none is given.
    #[arg(long, default_value = "default")]
    pub connection: String,
    /// Where to post (default: http://127.0.0.1:8080/webhooks/<provider>).
    #[arg(long)]
    pub to: Option<String>,
    /// The payload to send, byte for byte.
    pub fixture: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum EventsCommand {
    /// List events, newest first.
    List(EventsListArgs),
    /// Show one event with its headers and raw body.
    Show(EventShowArgs),
}

#[derive(Debug, Args)]
pub(crate) struct EventsListArgs {
    /// Only events with this status (received, queued, processing, processed, failed).
    #[arg(long)]
    pub status: Option<String>,
    /// Only events from this provider.
    #[arg(long)]
    pub provider: Option<String>,
    /// The connection (tenant account) the events came in on.
    #[arg(long, default_value = portage_core::DEFAULT_CONNECTION)]
    pub connection: String,
    /// At most this many.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct EventShowArgs {
    /// The provider's event id.
    pub event_id: String,
    /// Provider, when the id exists under several.
    #[arg(long)]
    pub provider: Option<String>,
    /// The connection (tenant account) the event came in on.
    #[arg(long, default_value = portage_core::DEFAULT_CONNECTION)]
    pub connection: String,
}

#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// The provider's event id.
    pub event_id: String,
    /// Provider, when the id exists under several.
    #[arg(long)]
    pub provider: Option<String>,
    /// The connection (tenant account) the event came in on.
    #[arg(long, default_value = portage_core::DEFAULT_CONNECTION)]
    pub connection: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum NotificationsCommand {
    /// Record and enqueue one notification (a JSON file, or `-` for stdin), as the
    /// notifications function does with an SQS message or EventBridge event.
    Ingest {
        /// The provider, e.g. amazon.
        #[arg(long)]
        provider: String,
        /// The connection it belongs to.
        #[arg(long, default_value = portage_core::DEFAULT_CONNECTION)]
        connection: String,
        /// The notification.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DlqCommand {
    /// List dead letters, oldest first.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// The deployed queues and table (PORTAGE_TABLE, PORTAGE_QUEUE_URL, PORTAGE_DLQ_URL,
        /// as `aws provision` prints them) instead of the local store.
        #[arg(long)]
        aws: bool,
    },
    /// Put dead letters (all, or those named) back on the queue.
    Redrive {
        /// Dead-letter ids from `dlq list`; none means all.
        ids: Vec<String>,
        /// The deployed queues and table instead of the local store (see `dlq list --aws`).
        #[arg(long)]
        aws: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum StateCommand {
    /// List the records of one kind.
    List {
        /// Provider name, e.g. stripe.
        #[arg(long)]
        provider: String,
        /// The connection (tenant account) the records were synced from.
        #[arg(long, default_value = portage_core::DEFAULT_CONNECTION)]
        connection: String,
        /// Record kind, e.g. subscription.
        #[arg(long)]
        kind: String,
        /// `table` for people, `json` for programs.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show one record as JSON.
    Get {
        /// Provider name, e.g. stripe.
        #[arg(long)]
        provider: String,
        /// The connection (tenant account) the records were synced from.
        #[arg(long, default_value = portage_core::DEFAULT_CONNECTION)]
        connection: String,
        /// Record kind, e.g. subscription.
        #[arg(long)]
        kind: String,
        /// The provider's object id.
        id: String,
    },
}
