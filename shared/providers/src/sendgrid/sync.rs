//! SendGrid's Event Webhook batches as state: each event that carries a
//! command id (`custom_args.portage_command`, set by `email.send`) updates
//! that command's `message` record; others are kept as events only. The
//! batch is the whole truth SendGrid sends (no fetch).

use async_trait::async_trait;
use portage_core::provider::SyncHandler;
use portage_core::{EventRecord, StateChange, SyncError};
use serde_json::Value;

use super::records;

/// SendGrid's sync handler.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendGridSync;

#[async_trait]
impl SyncHandler for SendGridSync {
    async fn state_changes(&self, event: &EventRecord) -> Result<Vec<StateChange>, SyncError> {
        let batch: Vec<Value> =
            serde_json::from_slice(&event.raw).map_err(|e| SyncError::malformed(format!("not an event batch: {e}")))?;
        Ok(batch.iter().filter_map(records::from_event).collect())
    }
}
