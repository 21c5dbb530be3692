//! Billing's PayPal half against the PayPal fake (client-credentials token,
//! `PayPal-Request-Id`, its error bodies and faults), with Stripe
//! unreachable so checkouts fall back; then every Orders and Payments
//! request the fake accepted, sent again to PayPal's own descriptions
//! served by Prism (overlaid: see `prism.rs`), with a canary per operation
//! so Prism cannot pass them by failing open. PayPal publishes no
//! description of its Subscriptions API in `../shared/specs/`: that request
//! is checked by the fake alone (docs-derived).

use std::sync::Arc;

use portage_core::actions::{ActionError, ActionExecutor};
use portage_core::commands::CommandStore;
use portage_core::ports::{Clock, SystemClock};
use portage_core::provider::SyncHandler;
use portage_fakes::Faults;
use portage_fakes::paypal::PayPal;
use portage_fakes::recorded::Recorded;
use portage_providers::billing::commands::BillingActions;
use serde_json::{Value, json};

use crate::prism;

const PLAN: &str = "P-5ML4271244454362WXNWU5NQ";

fn config() -> portage_core::billing::BillingConfig {
    serde_json::from_value(json!({
        "default_plan": "free", "return_url": "https://app.example/billing",
        "plans": {"free": {}, "pro": {"stripe_price": "price_pro", "paypal_plan": PLAN, "per_seat": true}},
        "addons": {"image_credits": {"stripe_price": "price_credits", "grants": 100,
            "paypal_price": {"value": "9.00", "currency_code": "USD"}}}
    }))
    .unwrap()
}

struct Setup {
    db: Arc<portage_embedded::Database>,
    secrets: Arc<portage_embedded::MapSecrets>,
    actions: BillingActions,
    sync: portage_providers::paypal::sync::PayPalSync,
    _dir: tempfile::TempDir,
}

async fn setup(fake_base: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    let mut secrets = portage_embedded::MapSecrets::new();
    secrets.insert("stripe", "default", "api_key", portage_core::Secret::new("sk_test_unreachable"));
    secrets.insert("paypal", "default", "client_id", portage_core::Secret::new("client-1"));
    secrets.insert("paypal", "default", "client_secret", portage_core::Secret::new("secret-1"));
    // Stripe's host points at a port nobody listens on: every call fails to connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let origins =
        portage_client::Origins::parse(&format!("api.stripe.com=http://{closed},api-m.paypal.com={fake_base}"))
            .unwrap();
    let secrets = Arc::new(secrets);
    let clients = Arc::new(portage_client::ClientPool::new(secrets.clone(), origins).unwrap());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let actions = BillingActions::new(clients.clone(), db.clone(), db.clone(), clock.clone(), Some(Arc::new(config())));
    let sync = portage_providers::paypal::sync::PayPalSync::new(clients, clock);
    Setup { db, secrets, actions, sync, _dir: dir }
}

fn event(body: &Value) -> portage_core::EventRecord {
    let mut record = crate::support::stripe_record("default", body);
    record.provider = "paypal".into();
    record.event.event_type = body["event_type"].as_str().unwrap_or_default().into();
    record
}

#[tokio::test]
async fn checkouts_fall_back_to_paypal_and_its_orders_and_refunds_match_paypals_descriptions() {
    let fake = PayPal::new("client-1", "secret-1");
    fake.put_plan(PLAN);
    let running_fake = portage_fakes::serve(fake.router()).await;
    let s = setup(&running_fake.base).await;

    let input = json!({"customer": "cust_p", "plan": "pro", "seats": 3, "email": "ada@example.com",
        "success_url": "https://app.example/ok", "cancel_url": "https://app.example/no"});
    let done = s.actions.execute(&crate::support::running(&s.db, "cmd_p1", "checkout", input).await).await.unwrap();
    assert_eq!(done.result["provider"], "paypal", "{}", done.result);
    let journal = s.db.get("cmd_p1").await.unwrap().unwrap().steps;
    assert_eq!(
        journal.iter().map(|s| (s.name.as_str(), s.status.as_str())).collect::<Vec<_>>(),
        [("stripe.checkout", "failed"), ("paypal.subscription", "done")]
    );
    let subscription = fake.object(done.result["subscription"].as_str().unwrap()).unwrap();
    assert_eq!(
        (subscription["plan_id"].as_str(), subscription["quantity"].as_str(), subscription["custom_id"].as_str()),
        (Some(PLAN), Some("3"), Some("cust_p"))
    );

    let saved =
        portage_core::ports::Secrets::get(s.secrets.as_ref(), "paypal", "default", "access_token").await.unwrap();
    assert!(saved.is_none(), "a client-credentials token stays in the process");

    let credits = json!({"customer": "cust_p", "addon": "image_credits", "quantity": 2});
    let bought = s
        .actions
        .execute(&crate::support::running(&s.db, "cmd_p2", "buy_credits", credits.clone()).await)
        .await
        .unwrap();
    let order = bought.result["order"].as_str().unwrap().to_owned();
    assert!(bought.result["url"].as_str().unwrap().contains(&order), "{}", bought.result);
    // The same command again (a retry after a lost answer): its journal has the order.
    let retried = s.db.get("cmd_p2").await.unwrap().unwrap();
    let again = s.actions.execute(&retried).await.unwrap();
    assert_eq!(again.result, bought.result, "the order is made once");
    assert_eq!(fake.recorded.all().iter().filter(|r| r.path == "/v2/checkout/orders").count(), 1);

    // Approved by the buyer: PayPal's sync captures it, once.
    let approved = fake.approve_order(&order).unwrap();
    let approval = fake.events_since(0).into_iter().find(|e| e["event_type"] == "CHECKOUT.ORDER.APPROVED").unwrap();
    assert_eq!(approved["status"], "APPROVED");
    let changes = s.sync.state_changes(&event(&approval)).await.unwrap();
    let capture = changes.iter().find(|c| c.kind == "capture").expect("the capture is recorded at once");
    assert_eq!(
        (capture.data["status"].as_str(), capture.data["order_id"].as_str()),
        (Some("COMPLETED"), Some(order.as_str()))
    );
    let twice = s.sync.state_changes(&event(&approval)).await.unwrap();
    assert_eq!(twice.iter().filter(|c| c.kind == "capture").count(), 1, "a redelivery replays the same capture");

    let refund = json!({"payment": capture.id, "amount": 500});
    let refunded = s.actions.execute(&crate::support::running(&s.db, "cmd_p3", "refund", refund).await).await.unwrap();
    assert_eq!(
        (refunded.result["provider"].as_str(), refunded.result["status"].as_str()),
        (Some("paypal"), Some("COMPLETED"))
    );
    let too_much = json!({"payment": capture.id, "amount": 5_000});
    let refused =
        s.actions.execute(&crate::support::running(&s.db, "cmd_p4", "refund", too_much).await).await.unwrap_err();
    assert!(matches!(&refused, ActionError::Refused { code, .. } if code == "REFUND_AMOUNT_EXCEEDED"), "{refused:?}");

    // PayPal down too: the checkout is not done, and says so.
    fake.switches.set(Faults { outage: true, ..Faults::default() });
    let input = json!({"customer": "cust_q", "plan": "pro", "success_url": "https://app.example/ok", "cancel_url": "https://app.example/no"});
    let down = s.actions.execute(&crate::support::running(&s.db, "cmd_p5", "checkout", input).await).await.unwrap_err();
    assert!(matches!(down, ActionError::Transient { .. }), "{down:?}");

    // What PayPal accepted matches its own descriptions.
    let bearer = "Bearer prism";
    let recorded = fake.recorded.all();
    let orders: Vec<&Recorded> = recorded.iter().filter(|r| r.path.starts_with("/v2/checkout/")).collect();
    let payments: Vec<&Recorded> = recorded.iter().filter(|r| r.path.starts_with("/v2/payments/")).collect();
    assert!(orders.len() >= 3 && payments.len() >= 2, "{recorded:?}");
    for request in &orders {
        assert_eq!(prism::violations(prism::paypal_orders(), request, bearer).await, Ok(vec![]), "{}", request.body);
    }
    for request in &payments {
        assert_eq!(prism::violations(prism::paypal_payments(), request, bearer).await, Ok(vec![]), "{}", request.body);
    }
    let mut canary = (*orders[0]).clone();
    let mut body: Value = serde_json::from_str(&canary.body).unwrap();
    body.as_object_mut().unwrap().remove("intent");
    canary.body = body.to_string();
    assert!(
        !prism::violations(prism::paypal_orders(), &canary, bearer).await.unwrap().is_empty(),
        "orders: Prism fails open"
    );
    let mut canary = (*payments[0]).clone();
    canary.body = json!({"amount": {"value": "five"}}).to_string();
    assert!(
        !prism::violations(prism::paypal_payments(), &canary, bearer).await.unwrap().is_empty(),
        "payments: Prism fails open"
    );
}
