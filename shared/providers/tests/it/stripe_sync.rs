//! Stripe's sync handler fetches what a snapshot leaves out: a subscription
//! event that embeds only some of its items (`items.has_more`) is replaced by
//! the current subscription, read through the connection's client; without
//! an `api_key` the partial snapshot is kept.

use std::sync::Arc;

use portage_client::{ClientPool, Origins};
use portage_core::Secret;
use portage_core::ports::{Clock, Secrets, SystemClock};
use portage_core::provider::SyncHandler;
use portage_embedded::MapSecrets;
use portage_fakes::stripe::Stripe;
use portage_providers::stripe::sync::StripeSync;
use serde_json::{Value, json};

use crate::support::stripe_record;

const KEY: &str = "sk_test_sync_4242";

#[tokio::test]
async fn a_partial_subscription_snapshot_is_fetched_whole() {
    let fake = Stripe::new(KEY, 0, 25);
    let running = portage_fakes::serve(fake.router()).await;
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/stripe/customer.subscription.updated.json");
    let mut body: Value = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    body["data"]["object"]["items"]["has_more"] = json!(true);
    let mut current = body["data"]["object"].clone();
    let item = current["items"]["data"][0].clone();
    current["items"]["data"] = Value::Array(
        (0..12).map(|i| json!({"id": format!("si_{i}"), "price": item["price"], "quantity": i + 1})).collect(),
    );
    current["items"]["has_more"] = json!(false);
    fake.put_subscription(current);

    let mut secrets = MapSecrets::new();
    secrets.insert("stripe", "default", "api_key", Secret::new(KEY));
    let origins = Origins::parse(&format!("api.stripe.com={}", running.base)).unwrap();
    let clients = Arc::new(ClientPool::new(Arc::new(secrets) as Arc<dyn Secrets>, origins).unwrap());
    let sync = StripeSync::new(clients, Arc::new(SystemClock));

    let before = SystemClock.now_secs();
    let changes = sync.state_changes(&stripe_record("default", &body)).await.unwrap();
    assert_eq!(changes[0].data["items"].as_array().map(Vec::len), Some(12), "every item, as fetched");
    assert!(changes[0].version.primary >= before - 1, "versioned by the read, not the old event");
    assert_eq!(fake.switches.requests(), 1);

    let unconfigured = sync.state_changes(&stripe_record("no-key", &body)).await.unwrap();
    let snapshot_items = body["data"]["object"]["items"]["data"].as_array().map(Vec::len);
    assert_eq!(unconfigured[0].data["items"].as_array().map(Vec::len), snapshot_items, "the snapshot, kept");
    assert_eq!(fake.switches.requests(), 1, "nothing fetched without an api_key");
}
