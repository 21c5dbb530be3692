//! The intake port as a transactional outbox: the event row and its queue
//! message are written in one transaction, so a delivery costs one commit.

use async_trait::async_trait;
use portage_core::intake::Intake;
use portage_core::ports::RecordOutcome;
use portage_core::{NewEvent, StoreError, Task};

use crate::event_log::{insert, mark_queued};
use crate::queue::{SqliteQueue, push};

#[async_trait]
impl Intake for SqliteQueue {
    async fn record_and_enqueue(&self, event: NewEvent, reclaim_after_ms: i64) -> Result<RecordOutcome, StoreError> {
        let key = event.key();
        let message = Task::from(&key).encode();
        let now = self.now_ms();
        self.database()
            .write(move |conn| {
                let outcome = insert(conn, &event, reclaim_after_ms)?;
                if matches!(outcome, RecordOutcome::Inserted | RecordOutcome::Reclaimed) {
                    push(conn, &message, None, now, now)?;
                    mark_queued(conn, &key)?;
                }
                Ok(outcome)
            })
            .await
    }
}
