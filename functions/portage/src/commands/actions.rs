//! `portage actions list`: the effects providers offer, with their input
//! schemas and effect strategies, as `GET /v1/actions` lists them.

use std::process::ExitCode;

use clap::Subcommand;
use portage_api::actions::ActionCatalog;

use crate::cli::Format;
use crate::output::{print_json, print_table};

/// `portage actions`: the action catalogue.
#[derive(Debug, Subcommand)]
pub(crate) enum ActionsCommand {
    /// List actions.
    List {
        /// Only this provider's.
        #[arg(long)]
        provider: Option<String>,
        /// `table` for people, `json` for programs.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// Runs an `actions` subcommand.
pub(crate) fn run(command: &ActionsCommand) -> anyhow::Result<ExitCode> {
    let ActionsCommand::List { provider, format } = command;
    let catalog = ActionCatalog::new(portage_providers::catalog())?;
    let actions = catalog.view(provider.as_deref());
    match format {
        Format::Json => print_json(&actions)?,
        Format::Table => {
            let text = |v: &serde_json::Value, f: &str| v[f].as_str().unwrap_or_default().to_owned();
            let rows: Vec<Vec<String>> = actions
                .iter()
                .map(|a| vec![text(a, "provider"), text(a, "action"), text(a, "effect"), text(a, "description")])
                .collect();
            print_table(&["PROVIDER", "ACTION", "EFFECT", "DESCRIPTION"], &rows)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
