//! Conformance checks for what the application API reads and writes: API
//! keys, and pages of state and events.

use serde_json::json;

use super::on_connection;
use crate::api_keys::{ApiKeyRecord, ApiKeys, LAST_USED_RESOLUTION_MS, Scope};
use crate::domain::{EventFilter, StateChange, Version};
use crate::ports::{EventLog, StateQuery, StateStore};

fn key(name: &str, hash: &str, scopes: Vec<Scope>) -> ApiKeyRecord {
    ApiKeyRecord {
        name: name.to_owned(),
        prefix: format!("ptg_{}", &hash[..4]),
        hash: hash.to_owned(),
        scopes,
        created_at_ms: 1_800_000_000_000,
        last_used_at_ms: None,
    }
}

/// Checks the API-key store: unique names, lookup by hash, throttled
/// last-used times, listing and revocation. The store must hold no keys.
pub async fn api_keys(keys: &dyn ApiKeys) {
    let ci = key("ci", "aaaa1111", vec![Scope::CommandsWrite, Scope::StateRead]);
    let ops = key("ops", "bbbb2222", vec![Scope::Admin]);
    assert!(keys.create(&ci).await.unwrap());
    assert!(keys.create(&ops).await.unwrap());
    assert!(!keys.create(&key("ci", "cccc3333", vec![Scope::Admin])).await.unwrap(), "a name is unique");
    assert!(keys.find("cccc3333").await.unwrap().is_none(), "a refused key is not saved");
    assert_eq!(keys.find("aaaa1111").await.unwrap().as_ref(), Some(&ci));
    assert!(keys.find("aaaa").await.unwrap().is_none(), "only the whole hash finds a key");

    let t = 1_800_000_100_000;
    keys.touch(&ci, t).await.unwrap();
    keys.touch(&ci, t + LAST_USED_RESOLUTION_MS - 1).await.unwrap();
    assert_eq!(keys.find("aaaa1111").await.unwrap().unwrap().last_used_at_ms, Some(t), "kept to the minute");
    keys.touch(&ci, t + LAST_USED_RESOLUTION_MS).await.unwrap();
    assert_eq!(keys.find("aaaa1111").await.unwrap().unwrap().last_used_at_ms, Some(t + LAST_USED_RESOLUTION_MS));

    let names: Vec<String> = keys.list().await.unwrap().into_iter().map(|k| k.name).collect();
    assert_eq!(names, ["ci", "ops"]);
    assert!(keys.revoke("ci").await.unwrap());
    assert!(!keys.revoke("ci").await.unwrap());
    assert!(keys.find("aaaa1111").await.unwrap().is_none(), "a revoked key no longer authenticates");
    keys.touch(&ci, t + 10 * LAST_USED_RESOLUTION_MS).await.unwrap();
    assert!(keys.find("aaaa1111").await.unwrap().is_none(), "touching a revoked key does not bring it back");
    assert_eq!(keys.list().await.unwrap().len(), 1);
    assert!(keys.create(&key("ci", "dddd4444", vec![Scope::EventsRead])).await.unwrap(), "a revoked name is free");
}

/// Checks paging of state: by id after a cursor, with `updated_since`, per
/// connection. `provider` should be unique per run.
pub async fn state_pages(store: &dyn StateStore, provider: &str) {
    for (i, connection) in [(0, "a"), (1, "a"), (2, "a"), (3, "a"), (4, "b")] {
        let change = StateChange {
            kind: "customer".to_owned(),
            id: format!("cus_{i}"),
            version: Version { primary: 1, secondary: 0 },
            data: json!({ "i": i }),
            deleted: false,
        };
        store.upsert(provider, connection, &change, None, 1_000 + i).await.unwrap();
    }
    let ids = |page: Vec<crate::domain::StateRecord>| page.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let mut query = StateQuery::new(provider, "a", "customer", 3);
    assert_eq!(ids(store.page(&query).await.unwrap()), ["cus_0", "cus_1", "cus_2"]);
    query.after_id = Some("cus_2".to_owned());
    assert_eq!(ids(store.page(&query).await.unwrap()), ["cus_3"], "another connection's records are not listed");
    let mut since = StateQuery::new(provider, "a", "customer", 1);
    since.updated_since_ms = Some(1_002);
    assert_eq!(ids(store.page(&since).await.unwrap()), ["cus_2"]);
    since.after_id = Some("cus_2".to_owned());
    assert_eq!(ids(store.page(&since).await.unwrap()), ["cus_3"]);
    assert_eq!(store.list(provider, "a", "customer").await.unwrap().len(), 4);
}

/// Checks paging of events: newest first, resumed from a position, with the
/// order stable among events received in one millisecond.
pub async fn event_pages(log: &dyn EventLog, provider: &str) {
    let t = 1_800_000_000_000;
    for (id, at) in [("e1", t), ("e2", t + 1), ("e3", t + 1), ("e4", t + 1), ("e5", t + 2)] {
        log.record(on_connection(provider, "p", id, at), 60_000).await.unwrap();
    }
    log.record(on_connection(provider, "q", "e9", t + 1), 60_000).await.unwrap();
    let mut filter = EventFilter {
        provider: Some(provider.to_owned()),
        connection: Some("p".to_owned()),
        limit: Some(2),
        ..EventFilter::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = log.list(&filter).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        filter.before = page.last().map(crate::domain::EventRecord::position);
        seen.extend(page.into_iter().map(|r| r.event.event_id));
    }
    assert_eq!(seen, ["e5", "e4", "e3", "e2", "e1"], "every event once, newest first");
}
