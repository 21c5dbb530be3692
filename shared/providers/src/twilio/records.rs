//! Twilio's objects as state: a `message` record per SMS, keyed by its
//! `MessageSid` (what `sms.send` answers and every status callback names).
//! Shared by the action's result and sync.

use portage_core::{StateChange, Version};
use serde_json::{Map, Value, json};

/// The record kinds Twilio's callbacks become.
pub const SYNC_KINDS: [&str; 1] = ["message"];

/// How far along a message a status is: a later stage wins a tie in time.
fn rank(status: &str) -> i64 {
    match status {
        "accepted" | "scheduled" => 1,
        "queued" => 2,
        "sending" => 3,
        "sent" => 4,
        "delivered" | "undelivered" | "failed" | "read" | "canceled" => 5,
        _ => 0,
    }
}

/// The `message` record of SMS `sid` at `status`, as of `at` (Unix seconds).
pub fn message(sid: &str, status: &str, at: i64, fields: Map<String, Value>) -> StateChange {
    let mut data = Map::from_iter([
        ("channel".to_owned(), json!("sms")),
        ("sid".to_owned(), json!(sid)),
        ("status".to_owned(), json!(status)),
    ]);
    data.extend(fields);
    StateChange {
        kind: "message".to_owned(),
        id: sid.to_owned(),
        version: Version { primary: at, secondary: rank(status) },
        data: Value::Object(data),
        deleted: false,
    }
}
