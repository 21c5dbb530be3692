//! `portage subscriptions add|list|remove|deliveries|redrive`: where the app
//! is told (Standard Webhooks-signed deliveries), and how that went.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use clap::Subcommand;
use portage_api::subscriptions::add;
use portage_api::views::rfc3339_ms;
use portage_core::Task;
use portage_core::maintenance::{RedriveStores, redrive_dead_letters};
use portage_core::notifications::{NotificationStatus, NotificationStore};
use portage_core::ports::Queue;
use serde_json::json;

use crate::app::App;
use crate::cli::{Format, Global};
use crate::output::{print_json, print_table};

/// `portage subscriptions`: the app's webhook subscriptions.
#[derive(Debug, Subcommand)]
pub(crate) enum SubscriptionsCommand {
    /// Subscribe a URL to event types; prints its id and signing secret (shown once).
    Add {
        /// The target: `https`, or `http` on loopback.
        #[arg(long)]
        url: String,
        /// An event type or a prefix with `*` (repeatable): command.succeeded, command.failed,
        /// command.unknown, state.changed, event.failed, command.*, *.
        #[arg(long = "type", required = true)]
        types: Vec<String>,
        /// A note for people.
        #[arg(long)]
        description: Option<String>,
        /// Allow a target that is or resolves to a private address (an app on the same network).
        #[arg(long)]
        allow_private: bool,
        /// `table` for people, `json` for programs.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// List subscriptions (never their secrets).
    List {
        /// `table` for people, `json` for programs.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Remove a subscription; its pending deliveries are given up.
    Remove {
        /// The subscription's id (`sub_…`).
        id: String,
    },
    /// List deliveries, newest first.
    Deliveries {
        /// Only those given up after their last attempt.
        #[arg(long)]
        failed: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// `table` for people, `json` for programs.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Try failed deliveries again, with a fresh schedule (all, or those named).
    Redrive {
        /// Delivery ids (`msg_…`); none means every failed one.
        ids: Vec<String>,
    },
}

/// Runs a `subscriptions` subcommand.
pub(crate) async fn run(global: &Global, command: SubscriptionsCommand) -> anyhow::Result<ExitCode> {
    let app = App::open(global)?;
    let store: &dyn NotificationStore = app.db.as_ref();
    match command {
        SubscriptionsCommand::Add { url, types, description, allow_private, format } => {
            let ctx = app.api_context(Arc::new(app.worker()?), None, None)?;
            let shown = match add(&ctx, url, types, description, allow_private).await {
                Ok(shown) => shown,
                Err(error) => bail!("{}", error.describe()),
            };
            match format {
                Format::Json => print_json(&shown)?,
                Format::Table => println!(
                    "{} {}",
                    shown["id"].as_str().unwrap_or_default(),
                    shown["secret"].as_str().unwrap_or_default()
                ),
            }
        }
        SubscriptionsCommand::List { format } => {
            let all = store.subscriptions().await?;
            let rows: Vec<serde_json::Value> = all
                .iter()
                .map(|s| {
                    json!({"id": s.id, "url": s.url, "types": s.types, "description": s.description,
                    "allow_private": s.allow_private, "created_at": rfc3339_ms(s.created_at_ms)})
                })
                .collect();
            match format {
                Format::Json => print_json(&rows)?,
                Format::Table => print_table(
                    &["ID", "URL", "TYPES", "CREATED"],
                    &all.iter()
                        .map(|s| vec![s.id.clone(), s.url.clone(), s.types.join(","), rfc3339_ms(s.created_at_ms)])
                        .collect::<Vec<_>>(),
                )?,
            }
        }
        SubscriptionsCommand::Remove { id } => {
            if !store.remove_subscription(&id).await? {
                bail!("no subscription {id}");
            }
            println!("removed {id}");
        }
        SubscriptionsCommand::Deliveries { failed, limit, format } => {
            let status = failed.then_some(NotificationStatus::Failed);
            let listed = store.notifications(status, limit).await?;
            let rows: Vec<serde_json::Value> = listed
                .iter()
                .map(|n| {
                    json!({"id": n.id, "subscription": n.subscription_id, "type": n.kind, "status": n.status,
                    "attempts": n.attempts, "last_error": n.last_error, "created_at": rfc3339_ms(n.created_at_ms),
                    "updated_at": rfc3339_ms(n.updated_at_ms)})
                })
                .collect();
            match format {
                Format::Json => print_json(&rows)?,
                Format::Table => print_table(
                    &["ID", "SUBSCRIPTION", "TYPE", "STATUS", "ATTEMPTS", "LAST_ERROR"],
                    &listed
                        .iter()
                        .map(|n| {
                            vec![
                                n.id.clone(),
                                n.subscription_id.clone(),
                                n.kind.clone(),
                                n.status.as_str().to_owned(),
                                n.attempts.to_string(),
                                n.last_error.clone().unwrap_or_default(),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )?,
            }
        }
        SubscriptionsCommand::Redrive { ids } => {
            let letters: Vec<String> = app
                .queue
                .dead_letters()
                .await?
                .into_iter()
                .filter(|d| match &d.message {
                    Some(Task::Notification { id }) => ids.is_empty() || ids.contains(id),
                    _ => false,
                })
                .map(|d| d.id)
                .collect();
            let stores = RedriveStores { events: app.db.as_ref(), commands: None, notifications: Some(store) };
            let moved = redrive_dead_letters(stores, app.queue.as_ref(), Some(&letters), app.clock.now_ms()).await?;
            println!("redriven {moved}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
