//! How records look on the wire, for the API and the CLI's JSON alike:
//! times in RFC 3339 (UTC, milliseconds), bodies as text when they are UTF-8.

use base64::Engine;
use portage_core::{DeadLetter, EventRecord, StateRecord};
use serde_json::{Value, json};

/// Unix milliseconds as RFC 3339 UTC with milliseconds (the core's one formatting).
pub use portage_core::rfc3339_ms;

/// An event in a listing: what it is and where it stands, without its body.
pub fn event_summary(record: &EventRecord) -> Value {
    json!({
        "provider": record.provider,
        "connection": record.connection,
        "event_id": record.event.event_id,
        "type": record.event.event_type,
        "status": record.status,
        "received_at": rfc3339_ms(record.received_at_ms),
        "occurred_at": record.event.occurred_at,
        "object_kind": record.event.object_kind,
        "object_id": record.event.object_id,
        "attempts": record.attempts,
        "detail": record.detail,
    })
}

/// One event whole: the summary, its headers and its raw body (`body` when
/// it is UTF-8, else `body_b64`).
pub fn event_detail(record: &EventRecord) -> Value {
    let mut value = event_summary(record);
    value["livemode"] = json!(record.event.livemode);
    value["account"] = json!(record.event.account);
    value["headers"] = json!(record.headers);
    value["finished_at"] = json!(record.finished_at_ms.map(rfc3339_ms));
    match std::str::from_utf8(&record.raw) {
        Ok(text) => value["body"] = json!(text),
        Err(_) => value["body_b64"] = json!(base64::engine::general_purpose::STANDARD.encode(&record.raw)),
    }
    value
}

/// A state record: `provider`, `connection`, `kind`, `id`, `data`,
/// `version`, `deleted`, `updated_at`, `source` (the event that wrote it).
pub fn state_record(record: &StateRecord) -> Value {
    json!({
        "provider": record.provider,
        "connection": record.connection,
        "kind": record.kind,
        "id": record.id,
        "data": record.data,
        "version": record.version,
        "deleted": record.deleted,
        "updated_at": rfc3339_ms(record.updated_at_ms),
        "source": record.source_event,
    })
}

/// A dead letter, with its time in RFC 3339.
pub fn dead_letter(letter: &DeadLetter) -> Value {
    json!({
        "id": letter.id,
        "message": letter.message,
        "receive_count": letter.receive_count,
        "reason": letter.reason,
        "dead_at": rfc3339_ms(letter.dead_at_ms),
    })
}
