//! Helpers the provider tests share.

use portage_core::{EventRecord, EventStatus, NormalizedEvent};
use serde_json::Value;

/// A Stripe event as the event log hands it to sync: `body` as received on
/// `connection`, leased for its first attempt.
pub(crate) fn stripe_record(connection: &str, body: &Value) -> EventRecord {
    EventRecord {
        provider: "stripe".into(),
        connection: connection.into(),
        event: NormalizedEvent {
            event_id: body["id"].as_str().unwrap_or_default().into(),
            event_type: body["type"].as_str().unwrap_or_default().into(),
            occurred_at: body["created"].as_i64().unwrap_or_default(),
            account: None,
            object_kind: None,
            object_id: None,
            livemode: None,
        },
        status: EventStatus::Processing,
        received_at_ms: 0,
        attempts: 1,
        lease_until_ms: None,
        finished_at_ms: None,
        detail: None,
        headers: Vec::new(),
        raw: serde_json::to_vec(body).unwrap_or_default().into(),
    }
}
