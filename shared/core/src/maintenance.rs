//! Periodic repair that keeps the "nothing accepted is lost" promise when a
//! process dies between recording an event and enqueueing it.

use std::sync::Arc;
use std::time::Duration;

use tracing::info;

use crate::commands::CommandStore;
use crate::domain::{EventKey, Task};
use crate::error::StoreError;
use crate::notifications::NotificationStore;
use crate::ports::{Clock, EventLog, Queue};

/// Finds events stuck in `received` (and commands recorded but never
/// queued) and puts them on the queue.
pub struct StrandedRecovery {
    events: Arc<dyn EventLog>,
    commands: Option<Arc<dyn CommandStore>>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
    /// How old an enqueue claim must be before the event counts as stranded.
    grace: Duration,
}

impl StrandedRecovery {
    /// Wires the repair to its ports; `grace` should exceed the time an
    /// ingest takes from record to enqueue.
    pub fn new(events: Arc<dyn EventLog>, queue: Arc<dyn Queue>, clock: Arc<dyn Clock>, grace: Duration) -> Self {
        Self { events, commands: None, queue, clock, grace }
    }

    /// Also recovers commands recorded in `commands` but never queued.
    pub fn with_commands(mut self, commands: Arc<dyn CommandStore>) -> Self {
        self.commands = Some(commands);
        self
    }

    /// Enqueues every stranded event (in pages of 100); returns how many.
    pub async fn run(&self) -> Result<usize, StoreError> {
        let grace_ms = i64::try_from(self.grace.as_millis()).unwrap_or(i64::MAX);
        let before = self.clock.now_ms().saturating_sub(grace_ms);
        let mut total = 0;
        loop {
            let keys = self.events.stranded(before, 100).await?;
            if keys.is_empty() {
                break;
            }
            let tasks: Vec<Task> = keys.iter().map(Task::from).collect();
            self.queue.send(&tasks).await?;
            for key in &keys {
                self.events.mark_queued(key).await?;
            }
            total += keys.len();
        }
        if let Some(commands) = &self.commands {
            loop {
                let stranded = commands.stranded(before, 100).await?;
                if stranded.is_empty() {
                    break;
                }
                let tasks: Vec<Task> = stranded.iter().map(|c| c.task()).collect();
                self.queue.send(&tasks).await?;
                let now = self.clock.now_ms();
                for command in &stranded {
                    commands.mark_enqueued(&command.id, now).await?;
                }
                total += stranded.len();
            }
        }
        if total > 0 {
            info!(count = total, "re-enqueued stranded events and commands");
        }
        Ok(total)
    }
}

/// The stores whose records a redrive makes runnable again, beside the queue.
#[derive(Clone, Copy)]
pub struct RedriveStores<'a> {
    /// Events.
    pub events: &'a dyn EventLog,
    /// Commands, where the deployment keeps them.
    pub commands: Option<&'a dyn CommandStore>,
    /// Notifications, where the deployment keeps them.
    pub notifications: Option<&'a dyn NotificationStore>,
}

/// Puts dead letters back on the queue (all, or those with `ids`), first
/// making their `failed` events, commands and notifications runnable again
/// (a notification with a fresh schedule). Returns how many moved.
pub async fn redrive_dead_letters(
    stores: RedriveStores<'_>,
    queue: &dyn Queue,
    ids: Option<&[String]>,
    now_ms: i64,
) -> Result<usize, StoreError> {
    for letter in queue.dead_letters().await? {
        if ids.is_some_and(|ids| !ids.contains(&letter.id)) {
            continue;
        }
        match &letter.message {
            Some(Task::Event { provider, connection, event_id }) => {
                stores.events.requeue_failed(&EventKey::new(provider, connection, event_id)).await?;
            }
            Some(Task::Command { id, .. }) => {
                if let Some(commands) = stores.commands {
                    commands.requeue_failed(id, now_ms).await?;
                }
            }
            Some(Task::Notification { id }) => {
                if let Some(notifications) = stores.notifications {
                    notifications.requeue_notification(id, now_ms).await?;
                }
            }
            // A pull keeps no status of its own: the redriven message runs it again.
            Some(Task::Metadata { .. }) | None => {}
        }
    }
    queue.redrive(ids).await
}
