//! Turns Stripe events into local state records: the event's object, as
//! [`super::records`] maps it, versioned by the event's `created`.
//!
//! Stripe's snapshot events carry the whole object as it was when the event
//! happened, so no fetch is needed: an event delivered late or out of order
//! is ordered by its `created` and status rank, and never overwrites a newer
//! record. (The API client is needed only by reconcile.)

use portage_core::{EventRecord, StateChange, SyncError};
use serde_json::Value;

use super::records::{self, Kind};

/// Computes the state changes for one stored Stripe event.
pub fn state_changes(event: &EventRecord) -> Result<Vec<StateChange>, SyncError> {
    let body: Value = serde_json::from_slice(&event.raw).map_err(|e| SyncError::malformed(e.to_string()))?;
    let object = body
        .pointer("/data/object")
        .and_then(Value::as_object)
        .ok_or_else(|| SyncError::malformed("event has no data.object"))?;
    let Some((kind, deleted)) = Kind::of_event(&event.event.event_type) else {
        return Ok(Vec::new());
    };
    Ok(vec![records::change(kind, object, event.event.occurred_at, deleted)?])
}
