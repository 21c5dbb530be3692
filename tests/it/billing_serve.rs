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
    std::fs::write(bad.join("portage.toml"), BILLING.replace("default_plan = \"free\"", "default_plan = \"gold\"")).unwrap();
    let out = common::cli(&bad, &["state", "list", "--provider", "stripe", "--kind", "customer"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("default_plan 'gold'"), "{err}");
}
