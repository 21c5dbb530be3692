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

#[tokio::test]
async fn a_customer_past_grace_is_downgraded_once_and_restored_when_paid() {
    use portage_core::notifications::{NotificationStore, Notifier, Subscription};
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    let clock: Arc<dyn portage_core::ports::Clock> = Arc::new(portage_core::ports::SystemClock);
    let queue = Arc::new(portage_embedded::SqliteQueue::new(db.clone(), clock.clone(), 5));
    let subscription = Subscription {
        id: "sub_app".into(),
        url: "https://app.example/hooks".into(),
        types: vec!["billing.*".into()],
        description: None,
        secret: Some(portage_core::Secret::new("whsec_x")),
        allow_private: false,
        created_at_ms: 0,
    };
    db.add_subscription(&subscription).await.unwrap();
    let notifier = Arc::new(Notifier::new(db.clone(), queue.clone(), clock.clone()));
    let projection = BillingProjection::new(Arc::new(config()), db.clone()).with_notifier(notifier.clone());
    let state = Projecting::new(db.clone(), vec![Arc::new(projection)]);
    let change = |at: i64, status: &str| StateChange {
        kind: "subscription".into(),
        id: "sub_1".into(),
        version: Version { primary: at, secondary: 0 },
        data: json!({"status": status, "price": "price_pro", "quantity": 3, "metadata": {"portage_customer": "cust_1"}}),
        deleted: false,
    };
    let failed_at = 1_800_000_000;
    state.upsert("stripe", "default", &change(failed_at, "past_due"), None, 0).await.unwrap();
    let told = |kind: &'static str| {
        let db = db.clone();
        async move { db.notifications(None, 100).await.unwrap().iter().filter(|n| n.kind == kind).count() }
    };
    let config = config();
    let grace_end = failed_at * 1000 + 7 * 86_400_000;
    let pass = |now| portage_providers::entitlements::tell_downgrades(&config, db.as_ref(), &notifier, "default", now);
    assert!(pass(grace_end - 1).await.unwrap().is_empty(), "still in grace");
    assert_eq!(pass(grace_end).await.unwrap(), ["cust_1"]);
    assert!(pass(grace_end + 60_000).await.unwrap().is_empty(), "told once");
    assert_eq!(told("billing.downgraded").await, 1);

    state.upsert("stripe", "default", &change(failed_at + 900_000, "active"), None, 0).await.unwrap();
    assert_eq!(told("billing.restored").await, 1, "paid again: restored");
    let record = db.get("billing", "default", "customer", "cust_1").await.unwrap().unwrap();
    let billing_state: portage_core::billing::BillingState = serde_json::from_value(record.data).unwrap();
    let entitlement = portage_core::billing::entitlement(&config, &billing_state, grace_end + 120_000);
    assert_eq!((entitlement.plan.as_str(), entitlement.status), ("pro", "active"));
    state.upsert("stripe", "default", &change(failed_at + 900_001, "active"), None, 0).await.unwrap();
    assert_eq!(told("billing.restored").await, 1, "restored once");
}

#[tokio::test]
async fn paypal_subscriptions_map_onto_the_same_statuses() {
    let config: BillingConfig = serde_json::from_value(json!({
        "default_plan": "free", "grace_days": 7,
        "plans": {"free": {"limits": {"personas": 5}}, "pro": {"paypal_plan": "P-PRO", "per_seat": true, "limits": {"personas": 50}}}
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    let projection = BillingProjection::new(Arc::new(config.clone()), db.clone());
    let state = Projecting::new(db.clone(), vec![Arc::new(projection)]);
    let at = 1_800_000_000;
    let cases = [
        ("APPROVAL_PENDING", 0, "none", "free"),
        ("ACTIVE", 0, "active", "pro"),
        ("ACTIVE", 1, "grace", "pro"),
        ("SUSPENDED", 3, "past_due", "free"),
        ("ACTIVE", 0, "active", "pro"),
        ("SUSPENDED", 0, "canceled", "free"),
        ("CANCELLED", 0, "canceled", "free"),
    ];
    for (n, (status, failed, shown, plan)) in cases.into_iter().enumerate() {
        let change = StateChange {
            kind: "subscription".into(),
            id: "I-BW452GLLEP1G".into(),
            version: Version { primary: at + n as i64 * 60, secondary: 0 },
            data: json!({"status": status, "plan_id": "P-PRO", "quantity": "4", "custom_id": "cust_pp",
                "failed_payments_count": failed, "next_billing_time": "2027-01-15T10:00:00Z"}),
            deleted: false,
        };
        state.upsert("paypal", "default", &change, None, 0).await.unwrap();
        let record = db.get("billing", "default", "customer", "cust_pp").await.unwrap().unwrap();
        let billing: portage_core::billing::BillingState = serde_json::from_value(record.data).unwrap();
        let now_ms = (at + n as i64 * 60 + 1) * 1000;
        let entitlement = portage_core::billing::entitlement(&config, &billing, now_ms);
        assert_eq!(
            (entitlement.status, entitlement.plan.as_str()),
            (shown, plan),
            "{status} with {failed} failed payments"
        );
        assert_eq!((billing.provider.as_deref(), billing.seats), (Some("paypal"), Some(4)));
    }
    let unnamed = StateChange {
        kind: "subscription".into(),
        id: "I-OTHER".into(),
        version: Version { primary: at, secondary: 0 },
        data: json!({"status": "ACTIVE", "plan_id": "P-PRO"}),
        deleted: false,
    };
    state.upsert("paypal", "default", &unnamed, None, 0).await.unwrap();
    assert_eq!(
        db.list("billing", "default", "customer").await.unwrap().len(),
        1,
        "a subscription naming no customer is not Portage's"
    );
}
