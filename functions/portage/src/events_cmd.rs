//! `portage events`, `portage replay` and `portage dlq`: the operator's view of
//! the event log and the dead-letter queue.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use base64::Engine;
use portage_core::maintenance::redrive_dead_letters;
use portage_core::ports::{EventLog, Queue};
use portage_core::sync::Settlement;
use portage_core::{EventFilter, EventKey, EventRecord, EventStatus, Task};
use serde_json::json;

use crate::app::App;
use crate::cli::{DlqCommand, EventShowArgs, EventsCommand, EventsListArgs, Format, Global, ReplayArgs};
use crate::output::{print_json, print_table, rfc3339_ms};

/// Runs an `events` subcommand.
pub(crate) async fn run_events(global: &Global, command: EventsCommand) -> anyhow::Result<ExitCode> {
    let app = App::open(global)?;
    match command {
        EventsCommand::List(args) => list(&app, args).await,
        EventsCommand::Show(args) => show(&app, args).await,
    }
}

fn summary(record: &EventRecord) -> serde_json::Value {
    json!({
        "provider": record.provider,
        "connection": record.connection,
        "event_id": record.event.event_id,
        "type": record.event.event_type,
        "status": record.status,
        "received_at": rfc3339_ms(record.received_at_ms),
        "occurred_at": record.event.occurred_at,
        "object_kind": record.event.object_kind,
        "object_id": record.event.object_id,
        "attempts": record.attempts,
        "detail": record.detail,
    })
}

async fn list(app: &App, args: EventsListArgs) -> anyhow::Result<ExitCode> {
    let status = args.status.as_deref().map(str::parse::<EventStatus>).transpose().map_err(anyhow::Error::msg)?;
    let filter = EventFilter {
        provider: args.provider,
        connection: Some(args.connection),
        status,
        event_id: None,
        limit: args.limit,
    };
    let records = app.db.list(&filter).await?;
    match args.format {
        Format::Json => print_json(&records.iter().map(summary).collect::<Vec<_>>())?,
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
async fn find(app: &App, event_id: &str, provider: Option<String>, connection: &str) -> anyhow::Result<EventKey> {
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
    let mut value = summary(&record);
    value["livemode"] = json!(record.event.livemode);
    value["account"] = json!(record.event.account);
    value["headers"] = json!(record.headers);
    value["finished_at"] = json!(record.finished_at_ms.map(rfc3339_ms));
    match std::str::from_utf8(&record.raw) {
        Ok(text) => value["body"] = json!(text),
        Err(_) => value["body_b64"] = json!(base64::engine::general_purpose::STANDARD.encode(&record.raw)),
    }
    print_json(&value)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `replay`: processes the stored event again through the sync path.
pub(crate) async fn run_replay(global: &Global, args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let app = App::open(global)?;
    let key = find(&app, &args.event_id, args.provider, &args.connection).await?;
    let report = app.worker()?.process(&key, 1, true).await;
    print_json(&report)?;
    Ok(match report.settlement {
        Settlement::Ack => ExitCode::SUCCESS,
        Settlement::Retry { .. } | Settlement::DeadLetter { .. } => ExitCode::from(1),
    })
}

/// A dead letter's task in one column: `event provider/connection/id`,
/// `command id` or `notification id`.
fn task_label(task: &Task) -> String {
    match task {
        Task::Event { provider, connection, event_id } => format!("event {provider}/{connection}/{event_id}"),
        Task::Command { id } => format!("command {id}"),
        Task::Notification { id } => format!("notification {id}"),
    }
}

/// Runs a `dlq` subcommand.
pub(crate) async fn run_dlq(global: &Global, command: DlqCommand) -> anyhow::Result<ExitCode> {
    let aws = match &command {
        DlqCommand::List { aws, .. } | DlqCommand::Redrive { aws, .. } => *aws,
    };
    let (events, queue): (Arc<dyn EventLog>, Arc<dyn Queue>) = if aws {
        let (table, queue) = crate::aws_cmd::deployed().await?;
        (table, queue)
    } else {
        let app = App::open(global)?;
        (app.db.clone(), app.queue.clone())
    };
    match command {
        DlqCommand::List { format, .. } => {
            let letters = queue.dead_letters().await?;
            match format {
                Format::Json => print_json(&letters)?,
                Format::Table => {
                    let rows: Vec<Vec<String>> = letters
                        .iter()
                        .map(|d| {
                            vec![
                                d.id.clone(),
                                d.message.as_ref().map_or_else(|| "-".to_owned(), task_label),
                                d.receive_count.to_string(),
                                d.reason.clone(),
                                rfc3339_ms(d.dead_at_ms),
                            ]
                        })
                        .collect();
                    print_table(&["ID", "TASK", "RECEIVES", "REASON", "DEAD_AT"], &rows)?;
                }
            }
        }
        DlqCommand::Redrive { ids, .. } => {
            let ids = (!ids.is_empty()).then_some(ids);
            let moved = redrive_dead_letters(events.as_ref(), queue.as_ref(), ids.as_deref()).await?;
            println!("redriven {moved}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
