//! `portage providers`: what each provider can do, from the registry's
//! capabilities (nothing is called).

use std::process::ExitCode;

use clap::Args;

use crate::cli::Format;
use crate::output::{print_json, print_table};

/// `portage providers [--format table|json]`.
#[derive(Debug, Args)]
pub(crate) struct ProvidersArgs {
    /// `table` for people; `json` for programs: an array of `{"provider", "webhooks", "sync",
    /// "reconcile", "commands", "connect"}`.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Prints the capability matrix.
pub(crate) fn run(args: &ProvidersArgs) -> anyhow::Result<ExitCode> {
    let rows: Vec<_> = portage_providers::capabilities().iter().map(|c| c.row()).collect();
    match args.format {
        Format::Json => print_json(&rows)?,
        Format::Table => {
            let list = |items: &[&str]| if items.is_empty() { "-".to_owned() } else { items.join(",") };
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let connect = if r.connect.is_empty() { "-".to_owned() } else { r.connect.join(",") };
                    vec![
                        r.provider.to_owned(),
                        if r.webhooks { "yes" } else { "no" }.to_owned(),
                        list(&r.sync),
                        list(&r.reconcile),
                        list(&r.commands),
                        connect.trim_matches('"').to_owned(),
                    ]
                })
                .collect();
            print_table(&["PROVIDER", "WEBHOOKS", "SYNC", "RECONCILE", "COMMANDS", "CONNECT"], &table)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
