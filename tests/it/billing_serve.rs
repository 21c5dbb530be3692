//! `[billing]` in portage.toml: checked when the program starts (a plan
//! the default names must exist), then served by `portage serve`'s
//! `/v1/billing/customers/…`.

use serde_json::{Value, json};

use crate::common::{self, Server};

const BILLING: &str = r#"
[billing]
default_plan = "free"
grace_days = 7
[billing.plans.free]
limits = { personas = 2 }
[billing.plans.pro]
stripe_price = "price_pro"
per_seat = true
limits = { personas = 50 }
[billing.addons.image_credits]
stripe_price = "price_credits"
grants = 100
"#;

#[tokio::test(flavor = "multi_thread")]
async fn serve_answers_entitlements_and_meters_usage_from_its_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, Some(BILLING));
    let key = std::fs::read_to_string(data.join("dev-api-key")).unwrap().trim().to_owned();
    let http = reqwest::Client::new();
    let shown: Value = http
        .get(server.url("/v1/billing/customers/cust_9"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((shown["plan"].as_str(), shown["limits"]["personas"].as_i64()), (Some("free"), Some(2)), "{shown}");
    let mut statuses = Vec::new();
    for i in 0..3 {
        let body = json!({"limit": "personas", "quantity": 1, "idempotency_key": format!("k{i}")});
        let answer = http.post(server.url("/v1/billing/customers/cust_9/usage")).bearer_auth(&key).json(&body).send();
        statuses.push(answer.await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 402]);

    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("portage.toml"), BILLING.replace("default_plan = \"free\"", "default_plan = \"gold\""))
        .unwrap();
    let out = common::cli(&bad, &["state", "list", "--provider", "stripe", "--kind", "customer"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("default_plan 'gold'"), "{err}");
}

fn subscription(status: &str, quantity: i64) -> Value {
    json!({
        "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status,
        "metadata": {"portage_customer": "cust_42"},
        "trial_end": null,
        "items": {"object": "list", "has_more": false, "data": [
            {"id": "si_1", "object": "subscription_item", "quantity": quantity,
             "current_period_end": 1_900_000_000, "price": {"id": "price_pro", "object": "price"}}]},
    })
}

async fn entitlement(http: &reqwest::Client, server: &Server, key: &str) -> Value {
    let url = server.url("/v1/billing/customers/cust_42");
    http.get(url).bearer_auth(key).send().await.unwrap().json().await.unwrap()
}

/// Polls the entitlement until `done` holds (or 20 s pass).
async fn until(http: &reqwest::Client, server: &Server, key: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let shown = entitlement(http, server, key).await;
        if done(&shown) || std::time::Instant::now() > deadline {
            return shown;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn entitlements_follow_stripe_events_in_their_order_and_credits_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), Some(BILLING));
    let key = std::fs::read_to_string(dir.path().join("data/dev-api-key")).unwrap().trim().to_owned();
    let http = reqwest::Client::new();
    let hook = server.url("/webhooks/stripe");
    let now = common::now();

    let created = common::stripe_event("evt_b1", "customer.subscription.created", now - 300, subscription("active", 5));
    assert_eq!(common::post_stripe(&http, &hook, created).await.0, 200);
    let shown = until(&http, &server, &key, |v| v["status"] == "active").await;
    assert_eq!((shown["plan"].as_str(), shown["seats"].as_i64()), (Some("pro"), Some(5)), "{shown}");
    assert_eq!(shown["limits"]["seats"], 5);
    assert_eq!(shown["period_end"], portage_core::rfc3339_ms(1_900_000_000_000));

    // An older event arriving late changes nothing.
    let older = common::stripe_event("evt_b0", "customer.subscription.updated", now - 600, subscription("trialing", 1));
    common::post_stripe(&http, &hook, older).await;
    let failed =
        common::stripe_event("evt_b2", "customer.subscription.updated", now - 100, subscription("past_due", 8));
    common::post_stripe(&http, &hook, failed).await;
    let shown = until(&http, &server, &key, |v| v["status"] == "grace").await;
    assert_eq!((shown["plan"].as_str(), shown["seats"].as_i64()), (Some("pro"), Some(8)), "{shown}");
    assert_eq!(shown["grace_until"], portage_core::rfc3339_ms((now - 100) * 1000 + 7 * 86_400_000));

    let checkout = json!({"id": "cs_credits_1", "object": "checkout.session", "mode": "payment",
        "payment_status": "paid", "status": "complete", "customer": "cus_1",
        "metadata": {"portage_customer": "cust_42", "portage_addon": "image_credits", "portage_units": "2"}});
    for event_id in ["evt_c1", "evt_c1", "evt_c2"] {
        let paid = common::stripe_event(event_id, "checkout.session.completed", now - 50, checkout.clone());
        common::post_stripe(&http, &hook, paid).await;
    }
    let shown = until(&http, &server, &key, |v| v["credits"]["image_credits"] == 200).await;
    assert_eq!(shown["credits"]["image_credits"], 200, "two units of 100, granted once: {shown}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(entitlement(&http, &server, &key).await["credits"]["image_credits"], 200, "a replay grants nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_refuses_to_start_with_a_price_stripe_does_not_know() {
    let fake = portage_fakes::stripe::Stripe::new("sk_test_prices_1", 0, 100);
    fake.put_price(
        json!({"id": "price_pro", "object": "price", "unit_amount": 1500, "recurring": {"interval": "month"}}),
    );
    let stripe = portage_fakes::serve(fake.router()).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let config = format!(
        "{BILLING}\n[origins]\n\"api.stripe.com\" = \"{}\"\n[connections.stripe.default]\napi_key = \"sk_test_prices_1\"\n",
        stripe.base
    );
    std::fs::write(data.join("portage.toml"), config).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(common::bin())
            .args(["--data", data.to_str().unwrap(), "serve", "--addr", "127.0.0.1:0"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success(), "serve must not start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("prices Stripe does not know: price_credits"), "{err}");
    assert!(!err.contains("price_pro,"), "a known price is not reported: {err}");
}
