//! A database written by the release before connection-scoped keys
//! (`fixtures/upgrade/portage-v0.db`, made by `make_v0.sh` there) opens,
//! is upgraded in place, and keeps every event, payload, state record,
//! cursor and queued message.

use std::sync::Arc;
use std::time::Duration;

use portage_core::ports::{EventLog, Queue, StateStore, SystemClock};
use portage_core::{EventFilter, EventKey, EventStatus, Task};
use portage_embedded::SqliteQueue;

fn v0_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/upgrade/portage-v0.db");
    std::fs::copy(fixture, dir.path().join(portage_embedded::DATABASE_FILE)).unwrap();
    dir
}

#[tokio::test]
async fn a_version_0_database_is_upgraded_with_nothing_lost() {
    let dir = v0_copy();
    let db = portage_embedded::open(dir.path()).unwrap();
    let (log, state): (&dyn EventLog, &dyn StateStore) = (db.as_ref(), db.as_ref());

    let events = log.list(&EventFilter::default()).await.unwrap();
    assert_eq!(events.len(), 6, "every event is still there");
    let acme: Vec<_> = events.iter().filter(|e| e.connection == "acme").collect();
    assert_eq!(acme.len(), 1, "the connection each event came in on is kept");
    for event in &events {
        let full = log.get(&event.key()).await.unwrap().expect("found under its connection-scoped key");
        assert!(!full.raw.is_empty(), "{}: the raw body is still joined to its event", event.event.event_id);
        if event.provider == "stripe" {
            assert!(full.headers.iter().any(|(name, _)| name == "stripe-signature"), "and its headers");
        }
    }
    let processed = events.iter().filter(|e| e.status == EventStatus::Processed).count();
    assert_eq!(processed, 5);

    let subscription = state
        .get("stripe", "default", "subscription", "sub_1RLxQ3QrT5mNp2XcH8sJk4Wd")
        .await
        .unwrap()
        .expect("state kept under its connection");
    assert_eq!(subscription.data["customer"], "cus_SGq4vN7kTz2XbL");
    assert_eq!(state.list("stripe", "acme", "customer").await.unwrap().len(), 1);
    assert_eq!(state.list("stripe", "default", "invoice").await.unwrap().len(), 1);
    assert_eq!(state.list("stripe", "default", "payment").await.unwrap().len(), 1);

    let cursor = state.cursor("reconcile/stripe/default/customer").await.unwrap().expect("cursor kept");
    assert!(cursor.contains("cus_upgrade"), "{cursor}");

    // The message queued before the upgrade is now a versioned event task
    // naming its connection, and leads to its event.
    let queue = SqliteQueue::new(db.clone(), Arc::new(SystemClock), 5);
    let got = queue.receive(10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(got.len(), 1);
    let key = got[0].task.event_key().expect("an event task");
    assert_eq!(key, EventKey::new("amazon", "default", "0e999936-da2c-4f9c-9fc2-02b67bae5f4a"));
    assert_eq!(log.get(&key).await.unwrap().unwrap().status, EventStatus::Queued);
    assert!(matches!(got[0].task, Task::Event { .. }));
    db.close();
}

#[tokio::test]
async fn an_upgraded_database_opens_again_unchanged() {
    let dir = v0_copy();
    portage_embedded::open(dir.path()).unwrap().close();
    let db = portage_embedded::open(dir.path()).unwrap();
    let (log, state): (&dyn EventLog, &dyn StateStore) = (db.as_ref(), db.as_ref());
    assert_eq!(log.list(&EventFilter::default()).await.unwrap().len(), 6);
    assert_eq!(state.list("stripe", "acme", "customer").await.unwrap().len(), 1);
}
