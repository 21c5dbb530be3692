//! `portage replay`: a stored event through the sync path again (idempotent).

use std::process::ExitCode;

use clap::Args;
use portage_core::sync::Settlement;

use crate::app::App;
use crate::cli::Global;
use crate::output::print_json;

/// `portage replay`: one stored event through sync again.
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

/// Runs `replay`: processes the stored event again through the sync path.
pub(crate) async fn run(global: &Global, args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let app = App::open(global)?;
    let key = super::events::find(&app, &args.event_id, args.provider, &args.connection).await?;
    let report = app.worker()?.process(&key, 1, true).await;
    print_json(&report)?;
    Ok(match report.settlement {
        Settlement::Ack => ExitCode::SUCCESS,
        Settlement::Retry { .. } | Settlement::Later { .. } | Settlement::DeadLetter { .. } => ExitCode::from(1),
    })
}
