//! Entitlements and metered usage over `/v1/billing/customers/…`: what the
//! billing record (synced provider state) says, read against the plans;
//! usage consumed atomically and once per key.

use http::{Method, StatusCode};
use portage_core::api_keys::Scope;
use portage_core::ports::{Clock as _, StateStore};
use portage_core::{StateChange, Version};
use serde_json::{Value, json};

use crate::support::Api;

async fn billing_record(api: &Api, customer: &str, data: Value) {
    let change = StateChange {
        kind: "customer".into(),
        id: customer.into(),
        version: Version { primary: portage_core::ports::SystemClock.now_ms(), secondary: 0 },
        data,
        deleted: false,
    };
    api.db.upsert("billing", "default", &change, None, 0).await.unwrap();
}

fn usage(limit: &str, quantity: i64, key: &str) -> Value {
    json!({ "limit": limit, "quantity": quantity, "idempotency_key": key })
}

#[tokio::test]
async fn a_customer_without_a_subscription_has_the_default_plan_and_its_limits_hold_under_concurrency() {
    let api = Api::new();
    let reader = api.key("reader", &[Scope::StateRead]).await;
    let writer = api.key("writer", &[Scope::CommandsWrite]).await;
    let (status, shown) = api.get("/v1/billing/customers/cust_1", &reader).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!((shown["plan"].as_str(), shown["status"].as_str()), (Some("free"), Some("none")));
    assert_eq!(shown["limits"]["personas"], 5);
    assert_eq!(shown["credits"]["image_credits"], 0);

    let path = "/v1/billing/customers/cust_1/usage";
    let calls =
        (0..50).map(|i| api.call(Method::POST, path, Some(&writer), Some(usage("personas", 1, &format!("p-{i}")))));
    let answers = futures::future::join_all(calls).await;
    let granted = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let refused: Vec<&Value> =
        answers.iter().filter(|(s, _)| *s == StatusCode::PAYMENT_REQUIRED).map(|(_, b)| b).collect();
    assert_eq!((granted, refused.len()), (5, 45), "a limit of 5 grants exactly 5");
    assert_eq!(refused[0], &json!({"error": "quota_exceeded", "limit": "personas", "remaining": 0}));

    let first = answers.iter().position(|(s, _)| *s == StatusCode::OK).unwrap();
    let (status, again) =
        api.call(Method::POST, path, Some(&writer), Some(usage("personas", 1, &format!("p-{first}")))).await;
    assert_eq!((status, again), (StatusCode::OK, json!({"remaining": 0})), "the same key counts once");
    let (_, back) = api.call(Method::POST, path, Some(&writer), Some(usage("personas", -2, "undo-1"))).await;
    assert_eq!(back, json!({"remaining": 2}), "a negative quantity gives back");
    let (_, unlimited) = api.call(Method::POST, path, Some(&writer), Some(usage("exports", 1000, "e-1"))).await;
    assert_eq!(unlimited, json!({"remaining": null}), "a limit the plan does not name is unlimited");
    let (status, _) =
        api.call(Method::POST, path, Some(&writer), Some(json!({"limit": "personas", "quantity": 1}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an idempotency key is required");
    let (status, _) = api.call(Method::POST, path, Some(&reader), Some(usage("personas", 1, "r-1"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, shown) = api.get("/v1/billing/customers/cust_1", &reader).await;
    assert_eq!(shown["usage"], json!({"exports": 1000, "personas": 3}));
}

#[tokio::test]
async fn the_plan_seats_credits_and_grace_come_from_the_billing_record() {
    let api = Api::new();
    let reader = api.key("reader", &[Scope::StateRead]).await;
    let writer = api.key("writer", &[Scope::CommandsWrite]).await;
    let period_end = 1_900_000_000_000i64;
    billing_record(
        &api,
        "cust_pro",
        json!({"provider": "stripe", "plan": "pro", "subscription_status": "active",
        "seats": 5, "period_end_ms": period_end, "credits_granted": {"image_credits": 200}}),
    )
    .await;
    let (_, shown) = api.get("/v1/billing/customers/cust_pro", &reader).await;
    assert_eq!(
        (shown["plan"].as_str(), shown["status"].as_str(), shown["seats"].as_i64()),
        (Some("pro"), Some("active"), Some(5))
    );
    assert_eq!((shown["limits"]["personas"].as_i64(), shown["limits"]["seats"].as_i64()), (Some(50), Some(5)));
    assert_eq!(shown["credits"]["image_credits"], 200);
    assert_eq!(shown["period_end"], portage_core::rfc3339_ms(period_end));
    assert_eq!(shown["provider"], "stripe");

    let path = "/v1/billing/customers/cust_pro/usage";
    let (_, left) = api.call(Method::POST, path, Some(&writer), Some(usage("image_credits", 150, "img-1"))).await;
    assert_eq!(left, json!({"remaining": 50}));
    let (status, _) = api.call(Method::POST, path, Some(&writer), Some(usage("image_credits", 51, "img-2"))).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "credits are a limit");
    let (status, _) = api.call(Method::POST, path, Some(&writer), Some(usage("seats", 6, "seat-1"))).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "seats are a limit");
    let (_, shown) = api.get("/v1/billing/customers/cust_pro", &reader).await;
    assert_eq!(shown["credits"]["image_credits"], 50);

    let now = portage_core::ports::SystemClock.now_ms();
    billing_record(
        &api,
        "cust_late",
        json!({"provider": "stripe", "plan": "pro", "subscription_status": "past_due",
        "seats": 3, "first_failed_at_ms": now - 86_400_000}),
    )
    .await;
    let (_, late) = api.get("/v1/billing/customers/cust_late", &reader).await;
    assert_eq!((late["plan"].as_str(), late["status"].as_str()), (Some("pro"), Some("grace")), "{late}");
    assert_eq!(late["grace_until"], portage_core::rfc3339_ms(now - 86_400_000 + 7 * 86_400_000));
    billing_record(
        &api,
        "cust_gone",
        json!({"provider": "stripe", "plan": "pro", "subscription_status": "past_due",
        "first_failed_at_ms": now - 8 * 86_400_000}),
    )
    .await;
    let (_, gone) = api.get("/v1/billing/customers/cust_gone", &reader).await;
    assert_eq!(
        (gone["plan"].as_str(), gone["status"].as_str()),
        (Some("free"), Some("past_due")),
        "downgraded after the grace days"
    );
    assert_eq!(gone["limits"]["personas"], 5);
    let (status, _) = api.get("/v1/billing/customers/bad%23id", &reader).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
