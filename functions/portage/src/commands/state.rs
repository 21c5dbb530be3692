//! `portage state list|get`: local state synced from providers.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use portage_core::ports::StateStore;

use crate::app::App;
use crate::cli::{Format, Global};
use crate::output::{print_json, print_table, rfc3339_ms};

/// `portage state`: local state.
#[derive(Debug, Subcommand)]
pub(crate) enum StateCommand {
    /// List the records of one kind.
    List {
        #[command(flatten)]
        records: Records,
        /// `table` for people, `json` for programs.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show one record as JSON.
    Get {
        #[command(flatten)]
        records: Records,
        /// The provider's object id.
        id: String,
    },
}

/// Which records: one kind, of one provider's connection.
#[derive(Debug, Args)]
pub(crate) struct Records {
    /// Provider name, e.g. stripe.
    #[arg(long)]
    provider: String,
    /// The connection (tenant account) the records were synced from.
    #[arg(long, default_value = portage_core::DEFAULT_CONNECTION)]
    connection: String,
    /// Record kind, e.g. subscription.
    #[arg(long)]
    kind: String,
}

/// Runs a `state` subcommand.
pub(crate) async fn run(global: &Global, command: StateCommand) -> anyhow::Result<ExitCode> {
    let app = App::open(global)?;
    match command {
        StateCommand::List { records: Records { provider, connection, kind }, format } => {
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
        StateCommand::Get { records: Records { provider, connection, kind }, id } => {
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
