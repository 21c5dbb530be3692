//! `portage state` and `portage reconcile`: the operator's view of local
//! state, and the run that repairs it from the providers.

use std::process::ExitCode;

use anyhow::Context;
use portage_core::ports::StateStore;
use portage_core::reconcile::Mode;

use crate::app::App;
use crate::cli::{Format, Global, ReconcileArgs, ReconcileMode, StateCommand};
use crate::output::{print_json, print_table, rfc3339_ms};

/// Runs a `state` subcommand.
pub(crate) async fn run(global: &Global, command: StateCommand) -> anyhow::Result<ExitCode> {
    let app = App::open(global)?;
    match command {
        StateCommand::List { provider, connection, kind, format } => {
            let records = app.db.list(&provider, &connection, &kind).await?;
            match format {
                Format::Json => print_json(&records)?,
                Format::Table => {
                    let rows: Vec<Vec<String>> = records
                        .iter()
                        .map(|r| {
                            let status = r.data.get("status").and_then(|s| s.as_str()).unwrap_or("-");
                            vec![
                                r.id.clone(),
                                if r.deleted { "deleted".to_owned() } else { status.to_owned() },
                                format!("{}.{}", r.version.primary, r.version.secondary),
                                rfc3339_ms(r.updated_at_ms),
                                r.source_event.clone().unwrap_or_default(),
                            ]
                        })
                        .collect();
                    print_table(&["ID", "STATUS", "VERSION", "UPDATED_AT", "SOURCE_EVENT"], &rows)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        StateCommand::Get { provider, connection, kind, id } => {
            let record = app
                .db
                .get(&provider, &connection, &kind, &id)
                .await?
                .with_context(|| format!("no {provider} {kind} '{id}' on connection '{connection}'"))?;
            print_json(&record)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Runs one reconcile over every configured connection and prints its report.
/// Exits 1 when a listing stopped early (its cursor keeps the page reached).
pub(crate) async fn run_reconcile(global: &Global, args: ReconcileArgs) -> anyhow::Result<ExitCode> {
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
