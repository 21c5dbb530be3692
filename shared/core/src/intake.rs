//! The intake port: record a verified delivery and put its message on the
//! queue, as one step where the adapter can make it atomic.
//!
//! The embedded adapter keeps events and queue in one database and does both
//! in a single transaction (a transactional outbox), so a delivery waits for
//! one durable write. Where the two live in different services (DynamoDB and
//! SQS), [`SeparateIntake`] runs the design's three steps in order: record,
//! send, mark `queued`; a crash between them leaves the event `received`,
//! which the next delivery or [`crate::maintenance::StrandedRecovery`] repairs.

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{NewEvent, Task};
use crate::error::StoreError;
use crate::ports::{EventLog, Queue, RecordOutcome};

/// Records a delivery exactly once and enqueues it when the outcome calls for
/// it (see [`RecordOutcome`]); returns once both are durable.
#[async_trait]
pub trait Intake: Send + Sync {
    /// Records `event`; on [`RecordOutcome::Inserted`] or
    /// [`RecordOutcome::Reclaimed`] its message is on the queue and the event
    /// `queued` when this returns.
    async fn record_and_enqueue(&self, event: NewEvent, reclaim_after_ms: i64) -> Result<RecordOutcome, StoreError>;
}

/// Intake over an event log and a queue that cannot share a transaction.
pub struct SeparateIntake {
    events: Arc<dyn EventLog>,
    queue: Arc<dyn Queue>,
}

impl SeparateIntake {
    /// Composes the two ports.
    pub fn new(events: Arc<dyn EventLog>, queue: Arc<dyn Queue>) -> Self {
        Self { events, queue }
    }
}

#[async_trait]
impl Intake for SeparateIntake {
    async fn record_and_enqueue(&self, event: NewEvent, reclaim_after_ms: i64) -> Result<RecordOutcome, StoreError> {
        let key = event.key();
        let outcome = self.events.record(event, reclaim_after_ms).await?;
        if matches!(outcome, RecordOutcome::Inserted | RecordOutcome::Reclaimed) {
            self.queue.send(&[Task::from(&key)]).await?;
            self.events.mark_queued(&key).await?;
        }
        Ok(outcome)
    }
}
