//! Stripe through the core flows on the embedded store: every fixture
//! normalises and applies, delivery order does not change the final state,
//! and replay changes nothing.

use crate::common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use portage_core::ingest::{IngestConfig, Ingestor};
use portage_core::ports::{EventLog, Queue, StateStore, SystemClock};
use portage_core::provider::{Provider, WebhookRequest};
use portage_core::sync::{SyncConfig, Worker};
use portage_core::{EventFilter, EventStatus, Secret, StateRecord};
use portage_embedded::{Database, MapSecrets, SqliteQueue};
use portage_providers::stripe::Stripe;
use serde_json::Value;

fn fixtures() -> Vec<(PathBuf, Vec<u8>)> {
    let root = common::repo_root().join("fixtures/stripe");
    let mut files = Vec::new();
    for dir in [root.clone(), root.join("legacy-2024-06-20")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let body = std::fs::read(&path).unwrap();
                files.push((path, body));
            }
        }
    }
    files.sort();
    assert!(files.len() >= 25, "fixtures present");
    files
}

fn request(body: &[u8]) -> WebhookRequest {
    let mut headers = HeaderMap::new();
    let sig = common::stripe_signature(body, common::SECRET, common::now());
    headers.insert("stripe-signature", sig.parse().unwrap());
    WebhookRequest {
        method: "POST".into(),
        url: "http://localhost/webhooks/stripe".into(),
        headers,
        body: Bytes::copy_from_slice(body),
    }
}

fn expected_kind(event_type: &str) -> &'static str {
    match event_type {
        t if t.starts_with("customer.subscription.") => "subscription",
        t if t.starts_with("customer.") => "customer",
        t if t.starts_with("invoice.") => "invoice",
        t if t.starts_with("checkout.session.") => "checkout_session",
        t if t.starts_with("payment_intent.") => "payment",
        t if t.starts_with("charge.") => "charge",
        other => panic!("no expectation for {other}"),
    }
}

#[test]
fn every_fixture_normalises_and_applies() {
    for (path, body) in fixtures() {
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        let event = Stripe.normalise(&request(&body), 0).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(event.event_id, parsed["id"].as_str().unwrap());
        assert_eq!(event.event_type, parsed["type"].as_str().unwrap());
        assert_eq!(event.occurred_at, parsed["created"].as_i64().unwrap());
        assert_eq!(event.object_id.as_deref(), parsed["data"]["object"]["id"].as_str());
        assert_eq!(event.livemode, Some(false));

        let record = portage_core::EventRecord {
            provider: "stripe".into(),
            connection: "default".into(),
            event: event.clone(),
            status: EventStatus::Processing,
            received_at_ms: 0,
            attempts: 1,
            lease_until_ms: None,
            finished_at_ms: None,
            detail: None,
            headers: Vec::new(),
            raw: Bytes::from(body.clone()),
        };
        let changes = portage_providers::stripe::sync::snapshot_changes(&record).unwrap();
        assert_eq!(changes.len(), 1, "{}", path.display());
        let change = &changes[0];
        assert_eq!(change.kind, expected_kind(&event.event_type), "{}", path.display());
        assert_eq!(change.version.primary, event.occurred_at);
        let data = &change.data;
        match change.kind.as_str() {
            "subscription" => {
                assert!(data["status"].is_string() && data["customer"].is_string());
                assert!(data["price"].is_string() && data["quantity"].is_u64(), "{}", path.display());
                assert!(
                    data["current_period_end"].is_i64(),
                    "period end read in every API version: {}",
                    path.display()
                );
                assert!(data["cancel_at_period_end"].is_boolean());
            }
            "invoice" => {
                assert!(data["status"].is_string() && data["amount_due"].is_i64());
                assert!(
                    data["subscription"].is_string(),
                    "invoice subscription read in every API version: {}",
                    path.display()
                );
            }
            "payment" => assert!(data["amount"].is_i64() && data["status"].is_string()),
            "charge" => assert!(data["amount_refunded"].is_i64() && data["payment_intent"].is_string()),
            "checkout_session" => {
                assert!(data["customer"].is_string() && data["subscription"].is_string())
            }
            "customer" => assert_eq!(change.deleted, event.event_type == "customer.deleted"),
            _ => unreachable!(),
        }
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    db: Arc<Database>,
    queue: SqliteQueue,
    ingestor: Ingestor,
    worker: Worker,
}

impl Harness {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = portage_embedded::open(dir.path()).unwrap();
        let clock = Arc::new(SystemClock);
        let queue = Arc::new(SqliteQueue::new(db.clone(), clock.clone(), 5));
        let mut secrets = MapSecrets::new();
        secrets.insert("stripe", "default", "webhook_secret", Secret::new(common::SECRET));
        let registry = portage_providers::registry();
        let secrets = Arc::new(secrets);
        let clients =
            Arc::new(portage_client::ClientPool::new(secrets.clone(), portage_client::Origins::none()).unwrap());
        let handlers =
            portage_providers::sync_handlers(&clients, &(clock.clone() as Arc<dyn portage_core::ports::Clock>));
        let ingestor = Ingestor::new(registry, queue.clone(), secrets, clock.clone(), IngestConfig::default());
        let worker = Worker::new(handlers, db.clone(), db.clone(), clock.clone(), SyncConfig::default());
        let queue = SqliteQueue::new(db.clone(), clock, 5);
        Self { _dir: dir, db, queue, ingestor, worker }
    }

    async fn deliver(&self, body: &[u8]) {
        let response = self.ingestor.handle("stripe", "default", request(body)).await;
        assert_eq!(response.status, 200, "{:?}", response.body);
    }

    async fn drain(&self) {
        loop {
            let batch = self.queue.receive(10, Duration::from_secs(30)).await.unwrap();
            if batch.is_empty() {
                return;
            }
            for delivery in &batch {
                self.worker.handle_delivery(&self.queue, delivery).await;
            }
        }
    }

    async fn state(&self) -> Vec<StateRecord> {
        let mut all = Vec::new();
        for kind in ["customer", "subscription", "invoice", "checkout_session", "payment", "charge"] {
            all.extend(StateStore::list(self.db.as_ref(), "stripe", "default", kind).await.unwrap());
        }
        // When we wrote it, and which of two events carrying the same object
        // version wrote it (invoice.paid and invoice.payment_succeeded share
        // one snapshot), are provenance, not synced state.
        all.iter_mut().for_each(|r| {
            r.updated_at_ms = 0;
            r.source_event = None;
        });
        all
    }
}

/// A deterministic shuffle (xorshift), so a failure can be reproduced.
fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut out = items.to_vec();
    let mut x = seed.max(1);
    for i in (1..out.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.swap(i, (x % (i as u64 + 1)) as usize);
    }
    out
}

fn basil_fixtures_in_event_order() -> Vec<Vec<u8>> {
    let mut bodies: Vec<(i64, String, Vec<u8>)> = fixtures()
        .into_iter()
        .filter(|(p, _)| !p.to_string_lossy().contains("legacy"))
        .map(|(_, body)| {
            let v: Value = serde_json::from_slice(&body).unwrap();
            (v["created"].as_i64().unwrap(), v["id"].as_str().unwrap().to_owned(), body)
        })
        .collect();
    bodies.sort();
    bodies.into_iter().map(|(_, _, b)| b).collect()
}

#[tokio::test]
async fn delivery_order_does_not_change_the_final_state() {
    let in_order = basil_fixtures_in_event_order();
    let reference = Harness::new();
    for body in &in_order {
        reference.deliver(body).await;
        reference.drain().await;
    }
    let expected = reference.state().await;
    let sub = expected.iter().find(|r| r.kind == "subscription").unwrap();
    assert_eq!(sub.data["status"], "canceled", "the last subscription event wins");
    let customer = expected.iter().find(|r| r.kind == "customer").unwrap();
    assert!(customer.deleted, "customer.deleted is the newest customer event");

    let mut reversed = in_order.clone();
    reversed.reverse();
    let orders = [reversed, shuffled(&in_order, 7), shuffled(&in_order, 2024), shuffled(&in_order, 99)];
    for (n, order) in orders.iter().enumerate() {
        let h = Harness::new();
        for body in order {
            h.deliver(body).await;
        }
        h.drain().await;
        assert_eq!(h.state().await, expected, "order #{n} left different state");
    }
}

#[tokio::test]
async fn replay_is_idempotent() {
    let h = Harness::new();
    for body in basil_fixtures_in_event_order() {
        h.deliver(&body).await;
    }
    h.drain().await;
    let before = h.state().await;
    let events = EventLog::list(h.db.as_ref(), &EventFilter::default()).await.unwrap();
    assert!(events.iter().all(|e| e.status == EventStatus::Processed));
    for event in &events {
        let report = h.worker.process(&event.key(), 1, true).await;
        assert_eq!(report.applied, 0, "replaying {} changed state", event.event.event_id);
        assert_eq!(EventLog::get(h.db.as_ref(), &event.key()).await.unwrap().unwrap().status, EventStatus::Processed);
    }
    assert_eq!(h.state().await, before);
}
