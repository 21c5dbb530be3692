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

/// A command as the worker hands it to an executor (running, first attempt).
pub(crate) fn command(provider: &str, id: &str, action: &str, input: Value) -> portage_core::commands::CommandRecord {
    portage_core::commands::CommandRecord {
        id: id.to_owned(),
        provider: provider.to_owned(),
        connection: "default".to_owned(),
        action: action.to_owned(),
        idempotency_key: format!("key-{id}"),
        fingerprint: String::new(),
        resource: None,
        status: portage_core::commands::CommandStatus::Running,
        attempts: 1,
        input,
        result: None,
        error: None,
        created_at_ms: 0,
        updated_at_ms: 0,
        lease_until_ms: None,
        steps: Vec::new(),
    }
}

/// The process's client pool over `secrets` (provider, key, value on the
/// `default` connection), with `host` reached at `base`.
pub(crate) fn pool(
    secrets: &[(&str, &str, &str)],
    host: &str,
    base: &str,
) -> std::sync::Arc<portage_client::ClientPool> {
    let mut map = portage_embedded::MapSecrets::new();
    for (provider, key, value) in secrets {
        map.insert(provider, "default", key, portage_core::Secret::new(*value));
    }
    let origins = portage_client::Origins::parse(&format!("{host}={base}")).unwrap();
    std::sync::Arc::new(portage_client::ClientPool::new(std::sync::Arc::new(map), origins).unwrap())
}

/// A command recorded and taken, as the runner hands it over.
pub(crate) async fn running(
    db: &portage_embedded::Database,
    id: &str,
    action: &str,
    input: Value,
) -> portage_core::commands::CommandRecord {
    let new = portage_core::commands::NewCommand {
        id: id.into(),
        provider: "billing".into(),
        connection: "default".into(),
        action: action.into(),
        input,
        idempotency_key: id.into(),
        fingerprint: id.into(),
        resource: None,
        created_at_ms: 1,
    };
    portage_core::commands::CommandStore::submit(db, &new).await.unwrap();
    match portage_core::commands::CommandStore::begin(db, id, 2, i64::MAX).await.unwrap() {
        portage_core::commands::BeginOutcome::Begun(command) => command,
        other => panic!("{other:?}"),
    }
}
