//! Twilio's message status callbacks as state: `MessageSid` and
//! `MessageStatus` update the SMS's `message` record (the one `sms.send`
//! made, or a new one for messages sent elsewhere). Versioned by receipt
//! time and the status's stage, so a late `sent` never undoes `delivered`.

use async_trait::async_trait;
use portage_core::provider::SyncHandler;
use portage_core::{EventRecord, StateChange, SyncError};
use serde_json::{Map, Value, json};

use super::records;

/// Twilio's sync handler.
#[derive(Debug, Clone, Copy, Default)]
pub struct TwilioSync;

#[async_trait]
impl SyncHandler for TwilioSync {
    async fn state_changes(&self, event: &EventRecord) -> Result<Vec<StateChange>, SyncError> {
        if event.event.object_kind.as_deref() != Some("message") {
            return Ok(Vec::new());
        }
        let params = super::verify::form_params(&event.raw);
        let param = |name: &str| params.get(name).and_then(|v| v.iter().next()).map(|v| v.to_string());
        let (Some(sid), Some(status)) = (param("MessageSid"), param("MessageStatus").or_else(|| param("SmsStatus")))
        else {
            return Ok(Vec::new());
        };
        let fields: Map<String, Value> = [("to", "To"), ("from", "From"), ("error_code", "ErrorCode")]
            .iter()
            .filter_map(|(field, name)| param(name).map(|v| ((*field).to_owned(), json!(v))))
            .collect();
        Ok(vec![records::message(&sid, &status, event.received_at_ms / 1000, fields)])
    }
}
