//! `portage dlq list|redrive`: the dead-letter queue, local or deployed.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;
use portage_core::Task;
use portage_core::commands::CommandStore;
use portage_core::maintenance::{RedriveStores, redrive_dead_letters};
use portage_core::notifications::NotificationStore;
use portage_core::ports::{Clock, EventLog, Queue};

use crate::app::App;
use crate::cli::{Format, Global};
use crate::output::{print_json, print_table, rfc3339_ms};

/// `portage dlq`: the dead-letter queue.
#[derive(Debug, Subcommand)]
pub(crate) enum DlqCommand {
    /// List dead letters, oldest first.
    List {
        /// `table` for people, `json` for programs.
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

/// A dead letter's task in one column: `event provider/connection/id`,
/// `command id`, `notification id` or `metadata provider/connection`.
fn task_label(task: &Task) -> String {
    match task {
        Task::Event { provider, connection, event_id } => format!("event {provider}/{connection}/{event_id}"),
        Task::Command { id, .. } => format!("command {id}"),
        Task::Notification { id } => format!("notification {id}"),
        Task::Metadata { provider, connection } => format!("metadata {provider}/{connection}"),
    }
}

/// The stores a redrive touches: events, commands, notifications and the queue.
type Stores = (Arc<dyn EventLog>, Arc<dyn CommandStore>, Arc<dyn NotificationStore>, Arc<dyn Queue>);

/// Runs a `dlq` subcommand.
pub(crate) async fn run(global: &Global, command: DlqCommand) -> anyhow::Result<ExitCode> {
    let aws = match &command {
        DlqCommand::List { aws, .. } | DlqCommand::Redrive { aws, .. } => *aws,
    };
    let (events, commands, notifications, queue): Stores = if aws {
        let (table, queue) = super::aws::deployed().await?;
        (table.clone(), table.clone(), table, queue)
    } else {
        let app = App::open(global)?;
        (app.db.clone(), app.db.clone(), app.db.clone(), app.queue.clone())
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
            let now = portage_core::ports::SystemClock.now_ms();
            let stores = RedriveStores {
                events: events.as_ref(),
                commands: Some(commands.as_ref()),
                notifications: Some(notifications.as_ref()),
            };
            let moved = redrive_dead_letters(stores, queue.as_ref(), ids.as_deref(), now).await?;
            println!("redriven {moved}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
