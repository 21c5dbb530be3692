//! Sync: turn a recorded event into local state, exactly once in effect.
//!
//! A worker leases the event (so two workers never apply it at once), asks the
//! provider module for the state changes, writes each with a versioned
//! conditional upsert (so an older or repeated event changes nothing), and ends
//! the event `processed`, `failed`, or back to `queued` for a retry. The queue
//! message is settled by the caller from the returned [`Settlement`]: the local
//! worker loop acks or retries on the embedded queue; the Lambda handler turns
//! it into a partial batch response.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tracing::{Instrument, info, info_span, warn};

use crate::command_runner::CommandRunner;
use crate::domain::{Delivery, EventKey, Task};
use crate::error::SyncError;
use crate::notifications::{NotificationHandler, Notifier, state_changed};
use crate::ports::{Clock, EventLog, Finish, LeaseOutcome, Queue, StateStore, UpsertOutcome};
use crate::provider::SyncHandlers;

/// Sync settings.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// How long a worker holds an event while applying it.
    pub lease: Duration,
    /// First retry delay after a transient failure.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self { lease: Duration::from_secs(30), retry_base: Duration::from_secs(2), retry_max: Duration::from_secs(300) }
    }
}

/// What should happen to the queue message after processing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Settlement {
    /// Done (or nothing left to do): delete the message.
    Ack,
    /// Try again after the delay.
    Retry {
        /// How long to keep the message hidden.
        #[serde(with = "secs")]
        delay: Duration,
    },
    /// Try again after the delay, as a fresh message (its receive count
    /// starts again): for retries on a schedule of their own, longer than
    /// the queue's receive limit allows (notifications).
    Later {
        /// How long until the new message is visible.
        #[serde(with = "secs")]
        delay: Duration,
    },
    /// Failed permanently: park the message in the dead-letter queue.
    DeadLetter {
        /// The error code.
        reason: String,
    },
}

mod secs {
    use std::time::Duration;

    pub(super) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

/// What one processing attempt did.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessReport {
    /// The event's provider.
    pub provider: String,
    /// The event's connection.
    pub connection: String,
    /// The event's id.
    pub event_id: String,
    /// State writes that landed.
    pub applied: usize,
    /// State writes skipped because newer (or the same) state was stored.
    pub stale: usize,
    /// What happened, in words.
    pub detail: String,
    /// What to do with the message.
    pub settlement: Settlement,
}

/// Runs the sync flow over the ports it is given.
pub struct Worker {
    handlers: SyncHandlers,
    events: Arc<dyn EventLog>,
    state: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    config: SyncConfig,
    commands: Option<Arc<CommandRunner>>,
    notifications: Option<Arc<dyn NotificationHandler>>,
    notifier: Option<Arc<Notifier>>,
    metadata: Option<Arc<dyn crate::connect::MetadataHandler>>,
}

impl Worker {
    /// Wires the flow to its ports.
    pub fn new(
        handlers: SyncHandlers,
        events: Arc<dyn EventLog>,
        state: Arc<dyn StateStore>,
        clock: Arc<dyn Clock>,
        config: SyncConfig,
    ) -> Self {
        Self {
            handlers,
            events,
            state,
            clock,
            config,
            commands: None,
            notifications: None,
            notifier: None,
            metadata: None,
        }
    }

    /// Tells the app of state it writes (`state.changed`) and events that fail (`event.failed`).
    pub fn with_notifier(mut self, notifier: Arc<Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Also delivers notification tasks, with `handler`.
    pub fn with_notifications(mut self, handler: Arc<dyn NotificationHandler>) -> Self {
        self.notifications = Some(handler);
        self
    }

    /// Also pulls connected accounts' metadata, with `handler`.
    pub fn with_metadata(mut self, handler: Arc<dyn crate::connect::MetadataHandler>) -> Self {
        self.metadata = Some(handler);
        self
    }

    /// Also runs command tasks, with `runner`.
    pub fn with_commands(mut self, runner: Arc<CommandRunner>) -> Self {
        self.commands = Some(runner);
        self
    }

    /// Processes one queue message and settles it on `queue`.
    pub async fn handle_delivery(&self, queue: &dyn Queue, delivery: &Delivery) -> Settlement {
        let settlement = match (&delivery.task, &self.commands) {
            (Task::Event { provider, connection, event_id }, _) => {
                let key = EventKey::new(provider, connection, event_id);
                self.process(&key, delivery.receive_count, false).await.settlement
            }
            (Task::Command { id, .. }, Some(runner)) => runner.run(id, delivery.receive_count).await.settlement,
            (Task::Notification { id }, _) if self.notifications.is_some() => match &self.notifications {
                Some(handler) => handler.deliver(id).await,
                None => Settlement::Ack,
            },
            (Task::Metadata { provider, connection }, _) if self.metadata.is_some() => match &self.metadata {
                Some(handler) => handler.pull(provider, connection).await,
                None => Settlement::Ack,
            },
            // No handler in this build (notifications, before their handler is
            // wired in): parked in the dead-letter queue, where it can be
            // inspected and redriven, never lost.
            (task, _) => {
                warn!(task = task.kind(), "no handler for this task in this build");
                Settlement::DeadLetter { reason: "unhandled_task".into() }
            }
        };
        let settled = match &settlement {
            Settlement::Ack => queue.ack(&delivery.receipt).await,
            Settlement::Retry { delay } => queue.retry_later(&delivery.receipt, *delay).await,
            // The new message first: a crash between the two repeats an
            // attempt rather than losing it.
            Settlement::Later { delay } => match queue.send_delayed(std::slice::from_ref(&delivery.task), *delay).await
            {
                Ok(()) => queue.ack(&delivery.receipt).await,
                Err(error) => Err(error),
            },
            Settlement::DeadLetter { reason } => queue.dead_letter(&delivery.receipt, reason).await,
        };
        if let Err(error) = settled {
            // The message becomes visible again after its timeout; the task's
            // status makes the next attempt a no-op if this one finished.
            warn!(task = delivery.task.kind(), %error, "could not settle queue message");
        }
        settlement
    }

    /// Processes one event. `attempt` (1-based) sets the retry delay; `force`
    /// processes a final event again (operator replay), which is idempotent
    /// because every state write is versioned.
    pub async fn process(&self, key: &EventKey, attempt: u32, force: bool) -> ProcessReport {
        self.process_within(key, attempt, force, self.config.lease).await
    }

    /// As [`Worker::process`], holding the lease for `lease` rather than the
    /// configured time: a Lambda passes what remains of its invocation.
    pub async fn process_within(&self, key: &EventKey, attempt: u32, force: bool, lease: Duration) -> ProcessReport {
        let span =
            info_span!("event", provider = %key.provider, connection = %key.connection, event_id = %key.event_id);
        self.process_leased(key, attempt, force, lease).instrument(span).await
    }

    async fn process_leased(&self, key: &EventKey, attempt: u32, force: bool, lease: Duration) -> ProcessReport {
        let mut report = ProcessReport {
            provider: key.provider.clone(),
            connection: key.connection.clone(),
            event_id: key.event_id.clone(),
            applied: 0,
            stale: 0,
            detail: String::new(),
            settlement: Settlement::Ack,
        };
        let now = self.clock.now_ms();
        let until = now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let record = match self.events.lease(key, now, until, force).await {
            Ok(LeaseOutcome::Leased(record)) => record,
            Ok(LeaseOutcome::AlreadyFinal(status)) => {
                report.detail = format!("already {status}");
                return report;
            }
            Ok(LeaseOutcome::Busy(lease_until)) => {
                report.detail = "leased by another worker".into();
                let wait = u64::try_from(lease_until.saturating_sub(now)).unwrap_or(0);
                report.settlement =
                    Settlement::Retry { delay: Duration::from_millis(wait).max(Duration::from_secs(1)) };
                return report;
            }
            Ok(LeaseOutcome::NotFound) => {
                report.detail = "no such event".into();
                report.settlement = Settlement::DeadLetter { reason: "event_not_found".into() };
                return report;
            }
            Err(error) => {
                report.detail = format!("lease failed: {error}");
                report.settlement = self.retry(attempt);
                return report;
            }
        };

        let outcome = self.apply(&record, &mut report).await;
        let finish = match outcome {
            Ok(()) => {
                report.detail = format!("applied {}, stale {}", report.applied, report.stale);
                Finish::Processed(report.detail.clone())
            }
            Err(SyncError::Permanent { code, message }) => {
                report.detail = format!("{code}: {message}");
                report.settlement = Settlement::DeadLetter { reason: code.to_owned() };
                if let Some(notifier) = &self.notifier {
                    let data = serde_json::json!({ "provider": key.provider, "connection": key.connection,
                        "event_id": key.event_id, "type": record.event.event_type, "error": report.detail });
                    notifier.publish("event.failed", data).await;
                }
                Finish::Failed(report.detail.clone())
            }
            Err(error) => {
                report.detail = error.to_string();
                report.settlement = self.retry(attempt);
                Finish::Retry(report.detail.clone())
            }
        };
        if let Err(error) = self.events.finish(key, finish, self.clock.now_ms()).await {
            // State writes already landed and are idempotent: the retry will
            // find them stale and finish the event.
            warn!(%error, "could not finish event");
            report.settlement = self.retry(attempt);
        }
        info!(
            applied = report.applied,
            stale = report.stale,
            detail = %report.detail,
            "event processed"
        );
        report
    }

    async fn apply(&self, record: &crate::domain::EventRecord, report: &mut ProcessReport) -> Result<(), SyncError> {
        let Some(handler) = self.handlers.get(&record.provider) else {
            // Recorded and kept for replay; no state is kept from it yet.
            return Ok(());
        };
        for change in handler.state_changes(record).await? {
            let outcome = self
                .state
                .upsert(
                    &record.provider,
                    &record.connection,
                    &change,
                    Some(&record.event.event_id),
                    self.clock.now_ms(),
                )
                .await?;
            match outcome {
                UpsertOutcome::Applied => {
                    report.applied += 1;
                    if let Some(notifier) = &self.notifier {
                        notifier
                            .publish("state.changed", state_changed(&record.provider, &record.connection, &change))
                            .await;
                    }
                }
                UpsertOutcome::Stale => report.stale += 1,
            }
        }
        Ok(())
    }

    fn retry(&self, attempt: u32) -> Settlement {
        Settlement::Retry { delay: backoff(self.config.retry_base, self.config.retry_max, attempt) }
    }
}

/// The delay before retry `attempt` (1-based): `base`, doubled per attempt, at most `max`.
pub(crate) fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16)).min(max)
}
