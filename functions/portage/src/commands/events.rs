//! `portage events list|show`: the operator's view of the event log.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use portage_api::views::{event_detail, event_summary};
use portage_core::ports::EventLog;
use portage_core::{EventFilter, EventKey, EventStatus};

use crate::app::App;
use crate::cli::{Format, Global};
use crate::output::{print_json, print_table, rfc3339_ms};

/// `portage events`: the event log.
#[derive(Debug, Subcommand)]
pub(crate) enum EventsCommand {
    /// List events, newest first.
    List(EventsListArgs),
    /// Show one event with its headers and raw body.
    Show(EventShowArgs),
}

/// `portage events list`.
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
    /// `table` for people, `json` for programs.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `portage events show`.
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

/// Runs an `events` subcommand.
pub(crate) async fn run(global: &Global, command: EventsCommand) -> anyhow::Result<ExitCode> {
    let app = App::open(global)?;
    match command {
        EventsCommand::List(args) => list(&app, args).await,
        EventsCommand::Show(args) => show(&app, args).await,
    }
}

async fn list(app: &App, args: EventsListArgs) -> anyhow::Result<ExitCode> {
    let status = args.status.as_deref().map(str::parse::<EventStatus>).transpose().map_err(anyhow::Error::msg)?;
    let filter = EventFilter {
        provider: args.provider,
        connection: Some(args.connection),
        status,
        event_id: None,
        before: None,
        limit: args.limit,
    };
    let records = app.db.list(&filter).await?;
    match args.format {
        Format::Json => print_json(&records.iter().map(event_summary).collect::<Vec<_>>())?,
        Format::Table => {
            let rows: Vec<Vec<String>> = records
                .iter()
                .map(|r| {
                    vec![
                        r.provider.clone(),
                        r.connection.clone(),
                        r.event.event_id.clone(),
                        r.event.event_type.clone(),
                        r.status.to_string(),
                        rfc3339_ms(r.received_at_ms),
                        r.detail.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print_table(&["PROVIDER", "CONNECTION", "EVENT_ID", "TYPE", "STATUS", "RECEIVED_AT", "DETAIL"], &rows)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Finds the one event with this id on `connection` (optionally under one provider).
pub(crate) async fn find(
    app: &App,
    event_id: &str,
    provider: Option<String>,
    connection: &str,
) -> anyhow::Result<EventKey> {
    let filter = EventFilter {
        provider,
        connection: Some(connection.to_owned()),
        event_id: Some(event_id.to_owned()),
        ..EventFilter::default()
    };
    let found = app.db.list(&filter).await?;
    match found.as_slice() {
        [] => bail!("no event '{event_id}' on connection '{connection}'"),
        [one] => Ok(one.key()),
        many => bail!(
            "event id '{event_id}' exists under several providers ({}): pass --provider",
            many.iter().map(|r| r.provider.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

async fn show(app: &App, args: EventShowArgs) -> anyhow::Result<ExitCode> {
    let key = find(app, &args.event_id, args.provider, &args.connection).await?;
    let record = app.db.get(&key).await?.context("the event vanished")?;
    print_json(&event_detail(&record))?;
    Ok(ExitCode::SUCCESS)
}
