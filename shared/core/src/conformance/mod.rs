//! The adapter conformance suite: one set of behavioural checks that every
//! implementation of the ports must pass (the embedded adapters, and the AWS
//! adapters against an emulator). Each function panics on the first breach.

// Test support: like a test, it fails by panicking.
#![allow(clippy::unwrap_used)]

mod api;
mod commands;
mod connect;
mod usage;

pub use api::{api_keys, event_pages, state_pages};
pub use commands::{command_store, notification_store, queue_groups};
pub use connect::connect_store;
pub use usage::usage_store;

use std::time::Duration;

use bytes::Bytes;
use serde_json::json;

use crate::domain::{EventFilter, EventKey, EventStatus, NewEvent, NormalizedEvent, StateChange, Task, Version};
use crate::ports::{EventLog, Finish, LeaseOutcome, Queue, RecordOutcome, StateStore, UpsertOutcome};

fn new_event(provider: &str, id: &str, received_at_ms: i64) -> NewEvent {
    on_connection(provider, "default", id, received_at_ms)
}

fn on_connection(provider: &str, connection: &str, id: &str, received_at_ms: i64) -> NewEvent {
    NewEvent {
        provider: provider.to_owned(),
        connection: connection.to_owned(),
        event: NormalizedEvent {
            event_id: id.to_owned(),
            event_type: "thing.updated".to_owned(),
            occurred_at: 1_700_000_000,
            account: Some("acct_1".to_owned()),
            object_kind: Some("thing".to_owned()),
            object_id: Some("thing_1".to_owned()),
            livemode: Some(false),
        },
        // Not UTF-8 on purpose: raw bytes must come back exactly.
        raw: Bytes::from_static(b"{\"id\":\"x\"}\xff\r\n"),
        headers: vec![("x-test".to_owned(), "1".to_owned())],
        received_at_ms,
    }
}

/// Checks the event log: exactly-once record, reclaim, leases, finishing,
/// queries and stranded detection. `provider` should be unique per run.
pub async fn event_log(log: &dyn EventLog, provider: &str) {
    let t0 = 1_800_000_000_000;
    let key = EventKey::new(provider, "default", "evt_1");
    assert_eq!(log.record(new_event(provider, "evt_1", t0), 60_000).await.unwrap(), RecordOutcome::Inserted);
    assert_eq!(
        log.record(new_event(provider, "evt_1", t0 + 1), 60_000).await.unwrap(),
        RecordOutcome::Duplicate(EventStatus::Received),
        "a fresh claim must not be reclaimed"
    );
    let stranded = log.stranded(t0 + 1, 10).await.unwrap();
    assert!(stranded.contains(&key), "an unqueued event is stranded");
    assert_eq!(
        log.record(new_event(provider, "evt_1", t0 + 120_000), 60_000).await.unwrap(),
        RecordOutcome::Reclaimed,
        "an old claim on a received event is taken again"
    );
    log.mark_queued(&key).await.unwrap();
    assert!(!log.stranded(t0 + 500_000, 10).await.unwrap().contains(&key));
    assert_eq!(
        log.record(new_event(provider, "evt_1", t0 + 600_000), 60_000).await.unwrap(),
        RecordOutcome::Duplicate(EventStatus::Queued)
    );

    let record = log.get(&key).await.unwrap().expect("recorded event");
    assert_eq!(record.raw.as_ref(), b"{\"id\":\"x\"}\xff\r\n");
    assert_eq!(record.received_at_ms, t0, "the first receipt time is kept");
    assert_eq!(record.event.event_type, "thing.updated");
    assert_eq!(record.headers, vec![("x-test".to_owned(), "1".to_owned())]);

    let now = t0 + 1_000_000;
    match log.lease(&key, now, now + 30_000, false).await.unwrap() {
        LeaseOutcome::Leased(r) => assert_eq!(r.attempts, 1),
        other => panic!("expected a lease, got {other:?}"),
    }
    assert!(
        matches!(log.lease(&key, now + 1, now + 30_000, false).await.unwrap(), LeaseOutcome::Busy(u) if u == now + 30_000)
    );
    match log.lease(&key, now + 30_001, now + 60_000, false).await.unwrap() {
        LeaseOutcome::Leased(r) => assert_eq!(r.attempts, 2, "an expired lease is taken over"),
        other => panic!("expected an expired lease to be taken, got {other:?}"),
    }
    log.finish(&key, Finish::Retry("boom".into()), now + 30_002).await.unwrap();
    assert_eq!(log.get(&key).await.unwrap().unwrap().status, EventStatus::Queued);
    assert!(matches!(log.lease(&key, now + 30_003, now + 60_000, false).await.unwrap(), LeaseOutcome::Leased(_)));
    log.finish(&key, Finish::Processed("applied 1".into()), now + 30_004).await.unwrap();
    let done = log.get(&key).await.unwrap().unwrap();
    assert_eq!(done.status, EventStatus::Processed);
    assert_eq!(done.detail.as_deref(), Some("applied 1"));
    assert_eq!(done.finished_at_ms, Some(now + 30_004));
    assert!(matches!(
        log.lease(&key, now + 40_000, now + 70_000, false).await.unwrap(),
        LeaseOutcome::AlreadyFinal(EventStatus::Processed)
    ));
    assert!(matches!(log.lease(&key, now + 40_000, now + 70_000, true).await.unwrap(), LeaseOutcome::Leased(_)));
    log.finish(&key, Finish::Failed("permanent".into()), now + 40_001).await.unwrap();
    assert_eq!(log.get(&key).await.unwrap().unwrap().status, EventStatus::Failed);
    assert!(log.requeue_failed(&key).await.unwrap(), "a failed event can be requeued");
    assert!(!log.requeue_failed(&key).await.unwrap(), "only a failed one");
    assert_eq!(log.get(&key).await.unwrap().unwrap().status, EventStatus::Queued);
    assert!(matches!(log.lease(&key, now + 40_000, now + 70_000, false).await.unwrap(), LeaseOutcome::Leased(_)));
    log.finish(&key, Finish::Processed("replayed".into()), now + 40_001).await.unwrap();
    log.finish(&key, Finish::Failed("late".into()), now + 40_002).await.unwrap();
    assert_eq!(
        log.get(&key).await.unwrap().unwrap().status,
        EventStatus::Processed,
        "finish has no effect without a lease"
    );

    let missing = EventKey::new(provider, "default", "evt_missing");
    assert!(matches!(log.lease(&missing, now, now + 1, false).await.unwrap(), LeaseOutcome::NotFound));
    assert!(log.get(&missing).await.unwrap().is_none());

    log.record(new_event(provider, "evt_2", t0 + 5), 60_000).await.unwrap();
    let all = log.list(&EventFilter { provider: Some(provider.to_owned()), ..EventFilter::default() }).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|r| r.event.event_id.as_str()).collect();
    assert_eq!(ids, ["evt_2", "evt_1"], "newest first");
    let received = log
        .list(&EventFilter {
            provider: Some(provider.to_owned()),
            status: Some(EventStatus::Received),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].event.event_id, "evt_2");

    // Many events (adapters may partition them): a limit keeps the newest, in order.
    for i in 0..12 {
        log.record(new_event(provider, &format!("evt_many_{i:02}"), t0 + 100 + i), 60_000).await.unwrap();
    }
    let newest = log
        .list(&EventFilter {
            provider: Some(provider.to_owned()),
            status: Some(EventStatus::Received),
            limit: Some(5),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    let ids: Vec<&str> = newest.iter().map(|r| r.event.event_id.as_str()).collect();
    assert_eq!(ids, ["evt_many_11", "evt_many_10", "evt_many_09", "evt_many_08", "evt_many_07"]);
    assert_eq!(log.stranded(t0 + 1_000, 4).await.unwrap().len(), 4, "stranded honours its limit");
    assert_eq!(log.stranded(t0 + 1_000, 100).await.unwrap().len(), 13, "and finds every stranded event");
}

fn change(id: &str, primary: i64, secondary: i64, name: &str) -> StateChange {
    StateChange {
        kind: "customer".to_owned(),
        id: id.to_owned(),
        version: Version { primary, secondary },
        data: json!({ "name": name }),
        deleted: false,
    }
}

/// Checks the state store: versioned conditional upsert, reads and cursors.
pub async fn state_store(store: &dyn StateStore, provider: &str) {
    let up = |c: StateChange| async move { store.upsert(provider, "default", &c, Some("evt_x"), 1).await.unwrap() };
    assert_eq!(up(change("cus_1", 10, 0, "first")).await, UpsertOutcome::Applied);
    assert_eq!(up(change("cus_1", 10, 0, "same version")).await, UpsertOutcome::Stale);
    assert_eq!(up(change("cus_1", 9, 5, "older")).await, UpsertOutcome::Stale);
    assert_eq!(up(change("cus_1", 10, 1, "tie broken")).await, UpsertOutcome::Applied);
    assert_eq!(up(change("cus_0", 1, 0, "other")).await, UpsertOutcome::Applied);
    let got = store.get(provider, "default", "customer", "cus_1").await.unwrap().unwrap();
    assert_eq!(got.data, json!({ "name": "tie broken" }));
    assert_eq!(got.version, Version { primary: 10, secondary: 1 });
    assert_eq!(got.source_event.as_deref(), Some("evt_x"));
    assert!(store.get(provider, "default", "customer", "cus_9").await.unwrap().is_none());
    assert!(store.get(provider, "default", "invoice", "cus_1").await.unwrap().is_none());
    let ids: Vec<String> =
        store.list(provider, "default", "customer").await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["cus_0", "cus_1"]);

    let cursor = format!("{provider}/default/customer");
    assert_eq!(store.cursor(&cursor).await.unwrap(), None);
    store.set_cursor(&cursor, "c1").await.unwrap();
    store.set_cursor(&cursor, "c2").await.unwrap();
    assert_eq!(store.cursor(&cursor).await.unwrap().as_deref(), Some("c2"));
}

fn message(id: &str) -> Task {
    Task::Event { provider: "conformance".to_owned(), connection: "default".to_owned(), event_id: id.to_owned() }
}

fn event_id(task: &Task) -> &str {
    match task {
        Task::Event { event_id, .. } => event_id,
        Task::Command { id, .. } | Task::Notification { id } => id,
        Task::Metadata { connection, .. } => connection,
    }
}

/// Checks the queue: visibility, ack, retry, dead letters after
/// `max_receives`, explicit dead-lettering and redrive. The queue must be
/// empty at the start.
pub async fn queue(queue: &dyn Queue, max_receives: u32) {
    let visibility = Duration::from_secs(1);
    queue.send(&[message("a"), message("b")]).await.unwrap();
    let got = queue.receive(10, visibility).await.unwrap();
    let mut ids: Vec<&str> = got.iter().map(|d| event_id(&d.task)).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["a", "b"]);
    assert!(got.iter().all(|d| d.receive_count == 1));
    assert!(queue.receive(10, visibility).await.unwrap().is_empty(), "received messages are hidden");

    let (a, b) = if event_id(&got[0].task) == "a" { (&got[0], &got[1]) } else { (&got[1], &got[0]) };
    queue.ack(&a.receipt).await.unwrap();
    queue.retry_later(&b.receipt, Duration::ZERO).await.unwrap();
    let again = queue.receive(10, visibility).await.unwrap();
    assert_eq!(again.len(), 1, "acked messages are gone, retried ones come back");
    assert_eq!(again[0].task, message("b"));
    assert_eq!(again[0].receive_count, 2);

    let mut last = again[0].clone();
    for _ in 2..max_receives {
        queue.retry_later(&last.receipt, Duration::ZERO).await.unwrap();
        last = queue.receive(10, visibility).await.unwrap().pop().expect("message comes back");
    }
    assert_eq!(last.receive_count, max_receives);
    queue.retry_later(&last.receipt, Duration::ZERO).await.unwrap();
    assert!(queue.receive(10, visibility).await.unwrap().is_empty(), "past max receives it is dead-lettered");
    let dead = queue.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message, Some(message("b")));

    queue.send(&[message("c")]).await.unwrap();
    let c = queue.receive(10, visibility).await.unwrap().pop().expect("c");
    queue.dead_letter(&c.receipt, "permanent").await.unwrap();
    let dead = queue.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 2);
    assert!(dead.iter().any(|d| d.message == Some(message("c")) && d.reason == "permanent"));

    let only_c: Vec<String> = dead.iter().filter(|d| d.message == Some(message("c"))).map(|d| d.id.clone()).collect();
    assert_eq!(queue.redrive(Some(&only_c)).await.unwrap(), 1);
    assert_eq!(queue.dead_letters().await.unwrap().len(), 1);
    assert_eq!(queue.redrive(None).await.unwrap(), 1);
    assert!(queue.dead_letters().await.unwrap().is_empty());
    let back = queue.receive(10, visibility).await.unwrap();
    let mut ids: Vec<&str> = back.iter().map(|d| event_id(&d.task)).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["b", "c"], "redriven messages are delivered again");
    for d in &back {
        queue.ack(&d.receipt).await.unwrap();
    }
    tokio::time::sleep(visibility + Duration::from_millis(200)).await;
    assert!(queue.receive(10, visibility).await.unwrap().is_empty(), "acked messages never return");

    // Every kind of task travels, and comes back as it was sent.
    let tasks = [
        message("d"),
        Task::Command { id: "cmd_1".into(), group: Some("stripe:default:customer:cus_1".into()) },
        Task::Notification { id: "ntf_1".into() },
    ];
    queue.send(&tasks).await.unwrap();
    let got = queue.receive(10, visibility).await.unwrap();
    assert_eq!(got.len(), 3);
    for task in &tasks {
        assert!(got.iter().any(|d| &d.task == task), "{task:?} comes back as sent");
    }
    for d in &got {
        queue.ack(&d.receipt).await.unwrap();
    }
}

/// Checks tenancy: two connections of one provider with the same event id
/// and the same object ids are both recorded, both leased and finished, and
/// keep their own state; a third connection's delivery is never a duplicate
/// of theirs. `provider` should be unique per run.
pub async fn tenancy(log: &dyn EventLog, store: &dyn StateStore, provider: &str) {
    let t0 = 1_800_000_000_000;
    for (i, connection) in ["shop-a", "shop-b", "shop-c"].into_iter().enumerate() {
        let mut event = on_connection(provider, connection, "evt_727", t0 + i as i64);
        event.raw = Bytes::from(format!("{{\"store\":\"{connection}\"}}"));
        assert_eq!(
            log.record(event, 60_000).await.unwrap(),
            RecordOutcome::Inserted,
            "{connection}'s event is its own, not another connection's duplicate"
        );
    }
    let key = |connection: &str| EventKey::new(provider, connection, "evt_727");
    let a = log.get(&key("shop-a")).await.unwrap().expect("shop-a's event");
    let b = log.get(&key("shop-b")).await.unwrap().expect("shop-b's event");
    assert_eq!((a.connection.as_str(), a.raw.as_ref()), ("shop-a", b"{\"store\":\"shop-a\"}".as_slice()));
    assert_eq!((b.connection.as_str(), b.raw.as_ref()), ("shop-b", b"{\"store\":\"shop-b\"}".as_slice()));
    let now = t0 + 1_000;
    for connection in ["shop-a", "shop-b"] {
        assert!(matches!(
            log.lease(&key(connection), now, now + 30_000, false).await.unwrap(),
            LeaseOutcome::Leased(_)
        ));
    }
    log.finish(&key("shop-a"), Finish::Processed("a".into()), now).await.unwrap();
    assert_eq!(log.get(&key("shop-a")).await.unwrap().unwrap().status, EventStatus::Processed);
    assert_eq!(
        log.get(&key("shop-b")).await.unwrap().unwrap().status,
        EventStatus::Processing,
        "untouched by a's finish"
    );
    let only_b = EventFilter {
        provider: Some(provider.to_owned()),
        connection: Some("shop-b".into()),
        ..EventFilter::default()
    };
    let listed = log.list(&only_b).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].connection, "shop-b");
    assert!(log.stranded(t0 + 100_000, 100).await.unwrap().contains(&key("shop-c")));
    assert!(!log.stranded(t0 + 100_000, 100).await.unwrap().contains(&key("shop-a")));

    let order = |total: &str| StateChange {
        kind: "order".to_owned(),
        id: "727".to_owned(),
        version: Version { primary: 5, secondary: 0 },
        data: json!({ "total": total }),
        deleted: false,
    };
    assert_eq!(
        store.upsert(provider, "shop-a", &order("10.00"), Some("evt_727"), 1).await.unwrap(),
        UpsertOutcome::Applied
    );
    assert_eq!(
        store.upsert(provider, "shop-b", &order("99.00"), Some("evt_727"), 1).await.unwrap(),
        UpsertOutcome::Applied,
        "the same version on another connection is another record"
    );
    let a = store.get(provider, "shop-a", "order", "727").await.unwrap().expect("shop-a's order");
    let b = store.get(provider, "shop-b", "order", "727").await.unwrap().expect("shop-b's order");
    assert_eq!((a.connection.as_str(), &a.data), ("shop-a", &json!({ "total": "10.00" })));
    assert_eq!((b.connection.as_str(), &b.data), ("shop-b", &json!({ "total": "99.00" })));
    assert!(store.get(provider, "shop-c", "order", "727").await.unwrap().is_none());
    assert_eq!(store.list(provider, "shop-a", "order").await.unwrap().len(), 1);
}

/// Checks an intake: a new delivery is recorded `queued` with exactly one
/// message; a duplicate adds none; a stranded `received` event is reclaimed
/// and enqueued. `queue` must be empty at the start and be the queue the
/// intake sends to.
pub async fn intake(intake: &dyn crate::intake::Intake, log: &dyn EventLog, queue: &dyn Queue, provider: &str) {
    let t0 = 1_800_000_000_000;
    let visibility = Duration::from_secs(30);
    let key = |id: &str| EventKey::new(provider, "default", id);
    assert_eq!(
        intake.record_and_enqueue(new_event(provider, "evt_in", t0), 60_000).await.unwrap(),
        RecordOutcome::Inserted
    );
    assert_eq!(log.get(&key("evt_in")).await.unwrap().unwrap().status, EventStatus::Queued);
    assert_eq!(
        intake.record_and_enqueue(new_event(provider, "evt_in", t0 + 1), 60_000).await.unwrap(),
        RecordOutcome::Duplicate(EventStatus::Queued)
    );
    let got = queue.receive(10, visibility).await.unwrap();
    assert_eq!(got.len(), 1, "one message for two deliveries");
    assert_eq!(got[0].task.event_key(), Some(key("evt_in")));
    queue.ack(&got[0].receipt).await.unwrap();

    log.record(new_event(provider, "evt_stranded", t0), 60_000).await.unwrap();
    assert_eq!(
        intake.record_and_enqueue(new_event(provider, "evt_stranded", t0 + 1), 60_000).await.unwrap(),
        RecordOutcome::Duplicate(EventStatus::Received),
        "a fresh claim is left alone"
    );
    assert!(queue.receive(10, visibility).await.unwrap().is_empty());
    assert_eq!(
        intake.record_and_enqueue(new_event(provider, "evt_stranded", t0 + 60_000), 60_000).await.unwrap(),
        RecordOutcome::Reclaimed
    );
    assert_eq!(log.get(&key("evt_stranded")).await.unwrap().unwrap().status, EventStatus::Queued);
    let got = queue.receive(10, visibility).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].task.event_key(), Some(key("evt_stranded")));
    queue.ack(&got[0].receipt).await.unwrap();
}

/// Checks a secrets adapter: nothing configured reads as empty, `put` merges,
/// every `webhook_secret*` key (and only those) is a signing secret, and `get`
/// reads one value.
pub async fn secrets(secrets: &dyn crate::ports::Secrets, provider: &str) {
    use crate::secret::Secret;
    let exposed = |v: Vec<Secret>| {
        let mut v: Vec<String> = v.iter().map(|s| s.expose().to_owned()).collect();
        v.sort();
        v
    };
    assert!(secrets.signing_secrets(provider, "none").await.unwrap().is_empty());
    secrets.put(provider, "c1", &[("webhook_secret".into(), Secret::new("new"))]).await.unwrap();
    secrets.put(provider, "c1", &[("api_key".into(), Secret::new("key"))]).await.unwrap();
    assert_eq!(exposed(secrets.signing_secrets(provider, "c1").await.unwrap()), ["new"]);
    let rotation =
        [("webhook_secret".into(), Secret::new("newer")), ("webhook_secret_previous".into(), Secret::new("new"))];
    secrets.put(provider, "c1", &rotation).await.unwrap();
    assert_eq!(exposed(secrets.signing_secrets(provider, "c1").await.unwrap()), ["new", "newer"]);
    assert!(secrets.signing_secrets(provider, "c2").await.unwrap().is_empty(), "connections are separate");
    assert_eq!(
        secrets.get(provider, "c1", "api_key").await.unwrap().map(|s| s.expose().to_owned()),
        Some("key".into())
    );
    assert!(secrets.get(provider, "c1", "client_id").await.unwrap().is_none());
    assert!(secrets.get(provider, "c2", "api_key").await.unwrap().is_none());
    secrets.put(provider, "c2", &[("api_key".into(), Secret::new("other"))]).await.unwrap();
    secrets.delete(provider, "c1").await.unwrap();
    assert!(secrets.get(provider, "c1", "api_key").await.unwrap().is_none(), "deleted");
    assert!(secrets.signing_secrets(provider, "c1").await.unwrap().is_empty(), "deleted");
    assert!(secrets.get(provider, "c2", "api_key").await.unwrap().is_some(), "only that connection");
    secrets.delete(provider, "c1").await.unwrap();
    secrets.put(provider, "c1", &[("api_key".into(), Secret::new("again"))]).await.unwrap();
    assert_eq!(
        secrets.get(provider, "c1", "api_key").await.unwrap().map(|s| s.expose().to_owned()),
        Some("again".into()),
        "a deleted connection can be connected again"
    );
}

/// Checks a leases adapter: one holder at a time, free again after release
/// or once expired, and a holder may renew its own lease.
pub async fn leases(leases: &dyn crate::ports::Leases, name: &str) {
    assert!(leases.try_lease(name, "a", 1_000, 2_000).await.unwrap(), "a free lease is taken");
    assert!(!leases.try_lease(name, "b", 1_500, 2_500).await.unwrap(), "held by another");
    assert!(leases.try_lease(name, "a", 1_500, 3_000).await.unwrap(), "the holder renews");
    assert!(!leases.try_lease(name, "b", 2_999, 4_000).await.unwrap(), "the renewal holds");
    assert!(leases.try_lease(name, "b", 3_001, 4_000).await.unwrap(), "expired: taken over");
    leases.release(name, "a").await.unwrap();
    assert!(!leases.try_lease(name, "c", 3_500, 5_000).await.unwrap(), "a former holder cannot release it");
    leases.release(name, "b").await.unwrap();
    assert!(leases.try_lease(name, "c", 3_500, 5_000).await.unwrap(), "released: free");
    assert!(leases.try_lease(&format!("{name}-other"), "d", 3_500, 5_000).await.unwrap(), "names are separate");
}
