//! `portage reconcile`: one run that repairs local state from the providers; its report on stdout.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use portage_core::reconcile::Mode;

use crate::app::App;
use crate::cli::Global;
use crate::output::print_json;

/// `portage reconcile`: one run, its report on stdout.
#[derive(Debug, Args)]
pub(crate) struct ReconcileArgs {
    /// `incremental` lists changes since the last completed run; `full` lists everything.
    #[arg(long, value_enum, default_value_t = ReconcileMode::Incremental)]
    pub mode: ReconcileMode,
}

/// Which objects a run lists.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ReconcileMode {
    Incremental,
    Full,
}

/// Runs one reconcile over every configured connection and prints its report.
/// Exits 1 when a listing stopped early (its cursor keeps the page reached).
pub(crate) async fn run(global: &Global, args: ReconcileArgs) -> anyhow::Result<ExitCode> {
    let app = App::open(global)?;
    let mode = match args.mode {
        ReconcileMode::Incremental => Mode::Incremental,
        ReconcileMode::Full => Mode::Full,
    };
    let progress = std::sync::Arc::new(crate::progress::TerminalProgress::new());
    let report = app.reconciler().await?.with_progress(progress).run(mode).await;
    print_json(&report)?;
    Ok(if report.kinds.iter().all(|k| k.complete) { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
