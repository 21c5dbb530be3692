//! `portage notifications ingest`: a notification that comes by queue rather than HTTP.

use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bytes::Bytes;
use clap::Subcommand;
use http::HeaderMap;
use portage_core::provider::WebhookRequest;

use crate::app::App;
use crate::cli::Global;

/// `portage notifications`: notifications that come by queue.
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

/// Runs a `notifications` subcommand: prints the ingest answer as JSON; exits
/// 1 when the notification was not recorded.
pub(crate) async fn run(global: &Global, command: NotificationsCommand) -> anyhow::Result<ExitCode> {
    let NotificationsCommand::Ingest { provider, connection, file } = command;
    let body = if file == Path::new("-") {
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut body)?;
        body
    } else {
        std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?
    };
    let app = App::open(global)?;
    let request = WebhookRequest {
        method: "POST".into(),
        url: String::new(),
        headers: HeaderMap::new(),
        body: Bytes::from(body),
    };
    let response = app.ingestor().handle_trusted(&provider, &connection, request).await;
    println!("{}", response.body);
    Ok(if response.status == 200 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
