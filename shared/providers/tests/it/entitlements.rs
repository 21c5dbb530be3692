//! The billing projection is indifferent to order: 1,000 customers' Stripe
//! subscription changes applied in order, and the same changes shuffled,
//! duplicated and written concurrently, end in the same billing records.

use std::sync::Arc;

use portage_core::billing::BillingConfig;
use portage_core::ports::StateStore;
use portage_core::projection::Projecting;
use portage_core::{StateChange, Version};
use portage_providers::entitlements::BillingProjection;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

fn config() -> BillingConfig {
    serde_json::from_value(json!({
        "default_plan": "free",
        "plans": {"free": {"limits": {"personas": 5}}, "pro": {"stripe_price": "price_pro", "per_seat": true},
                  "enterprise": {"stripe_price": "price_ent"}},
        "addons": {}
    }))
    .unwrap()
}

/// Each customer's subscription life: a few changes at rising times.
fn lives(customers: usize, seed: u64) -> Vec<StateChange> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let statuses = ["trialing", "active", "past_due", "past_due", "active", "unpaid", "canceled"];
    let mut changes = Vec::new();
    for c in 0..customers {
        let mut at = 1_800_000_000 + rng.random_range(0..10_000);
        for _ in 0..rng.random_range(2..8) {
            at += rng.random_range(1..5_000);
            let status = statuses[rng.random_range(0..statuses.len())];
            let price = if rng.random_bool(0.8) { "price_pro" } else { "price_ent" };
            changes.push(StateChange {
                kind: "subscription".into(),
                id: format!("sub_{c}"),
                version: Version { primary: at, secondary: 0 },
                data: json!({"status": status, "price": price, "quantity": rng.random_range(1..20),
                    "current_period_end": at + 2_592_000, "metadata": {"portage_customer": format!("cust_{c}")}}),
                deleted: false,
            });
        }
    }
    changes
}

async fn store(dir: &std::path::Path) -> (Arc<portage_embedded::Database>, Projecting) {
    let db = portage_embedded::open(dir).unwrap();
    let projection = BillingProjection::new(Arc::new(config()), db.clone());
    let projecting = Projecting::new(db.clone(), vec![Arc::new(projection)]);
    (db, projecting)
}

#[tokio::test]
async fn billing_records_do_not_depend_on_the_order_events_arrive_in() {
    let changes = lives(1_000, 7);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (in_order_db, in_order) = store(a.path()).await;
    for change in &changes {
        in_order.upsert("stripe", "default", change, None, 0).await.unwrap();
    }

    let mut shuffled: Vec<StateChange> = changes.iter().chain(changes.iter().step_by(3)).cloned().collect();
    shuffled.shuffle(&mut rand::rngs::StdRng::seed_from_u64(11));
    let (shuffled_db, projecting) = store(b.path()).await;
    for chunk in shuffled.chunks(16) {
        let writes = chunk.iter().map(|change| projecting.upsert("stripe", "default", change, None, 0));
        for written in futures::future::join_all(writes).await {
            written.unwrap();
        }
    }

    let expected = in_order_db.list("billing", "default", "customer").await.unwrap();
    let got = shuffled_db.list("billing", "default", "customer").await.unwrap();
    assert_eq!(expected.len(), 1_000);
    assert_eq!(got.len(), 1_000);
    let mut failing = 0;
    for (e, g) in expected.iter().zip(&got) {
        assert_eq!((&e.id, &e.data), (&g.id, &g.data), "the same record whatever the order");
        failing += usize::from(e.data["first_failed_at_ms"].is_number());
    }
    assert!(failing > 50, "the lives include failure runs ({failing})");
}
