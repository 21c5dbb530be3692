//! SendGrid's objects as state: a `message` record per command that sent
//! mail, keyed by the command id that `custom_args.portage_command` carries
//! back on every Event Webhook event. Shared by the action's result and sync.

use portage_core::{StateChange, Version};
use serde_json::{Map, Value, json};

use super::commands::COMMAND_ARG;

/// The record kinds SendGrid's events become.
pub const SYNC_KINDS: [&str; 1] = ["message"];

/// How far along a message an event is: a later stage wins a tie in time.
fn rank(event: &str) -> i64 {
    match event {
        "processed" => 1,
        "deferred" => 2,
        "delivered" => 3,
        "open" => 4,
        "click" => 5,
        "bounce" | "dropped" | "spamreport" | "unsubscribe" | "group_unsubscribe" => 6,
        _ => 0,
    }
}

/// The `message` record for one command's mail.
pub fn message(command_id: &str, status: &str, at: i64, fields: Map<String, Value>) -> StateChange {
    let mut data = Map::from_iter([("channel".to_owned(), json!("email")), ("status".to_owned(), json!(status))]);
    data.extend(fields);
    StateChange {
        kind: "message".to_owned(),
        id: command_id.to_owned(),
        version: Version { primary: at, secondary: rank(status) },
        data: Value::Object(data),
        deleted: false,
    }
}

/// The record one Event Webhook event updates, if it names a command.
pub fn from_event(event: &Value) -> Option<StateChange> {
    let command = event.get(COMMAND_ARG)?.as_str()?;
    let status = event.get("event")?.as_str()?;
    let at = event.get("timestamp").and_then(Value::as_i64)?;
    let pick = |names: &[&str]| -> Map<String, Value> {
        names.iter().filter_map(|n| event.get(*n).map(|v| ((*n).to_owned(), v.clone()))).collect()
    };
    let mut fields = pick(&["email", "reason", "response", "url", "attempt"]);
    if let Some(id) = event.get("sg_message_id").and_then(Value::as_str) {
        // `sg_message_id` is the X-Message-Id the send answered, a filter suffix appended.
        fields.insert("message_id".to_owned(), json!(id.split('.').next().unwrap_or(id)));
    }
    Some(message(command, status, at, fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_naming_a_command_update_its_message_and_later_stages_win_ties() {
        let delivered = json!({"event": "delivered", "timestamp": 100, "portage_command": "cmd_1",
            "email": "ada@example.com", "sg_message_id": "abc123.filter0001.1.2", "sg_event_id": "e1"});
        let change = from_event(&delivered).unwrap();
        assert_eq!((change.id.as_str(), change.data["status"].clone()), ("cmd_1", json!("delivered")));
        assert_eq!(change.data["message_id"], "abc123");
        let processed = json!({"event": "processed", "timestamp": 100, "portage_command": "cmd_1"});
        assert!(from_event(&processed).unwrap().version < change.version);
        assert!(from_event(&json!({"event": "open", "timestamp": 5})).is_none(), "no command: not ours");
    }
}
