//! Tenancy through `portage serve`: two connections of one provider that
//! send the same event id about the same object ids are both recorded, both
//! processed, and keep their own state; a third connection's delivery is
//! never taken for a duplicate of theirs.

use serde_json::{Value, json};

use crate::common::{Server, cli, now, post, repo_root, stdout, stripe_event, stripe_signature};

const CONFIG: &str = r#"
[connections.woocommerce.shop-a]
webhook_secret = "wc-secret-shop-a"
[connections.woocommerce.shop-b]
webhook_secret = "wc-secret-shop-b"
[connections.woocommerce.shop-c]
webhook_secret = "wc-secret-shop-c"
[connections.stripe.acme]
webhook_secret = "whsec_tenancy_acme"
[connections.stripe.globex]
webhook_secret = "whsec_tenancy_globex"
"#;

fn json_out(data: &std::path::Path, args: &[&str]) -> Value {
    let out = cli(data, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// Waits until `connection`'s events of `provider` are all processed.
fn processed(data: &std::path::Path, provider: &str, connection: &str, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let args = ["events", "list", "--provider", provider, "--connection", connection, "--format", "json"];
        let events = json_out(data, &args).as_array().cloned().unwrap_or_default();
        if events.len() == count && events.iter().all(|e| e["status"] == "processed") {
            return events;
        }
        assert!(std::time::Instant::now() < deadline, "{provider}/{connection}: {events:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_stores_with_the_same_order_never_meet() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Some(CONFIG));
    let fixture = repo_root().join("fixtures/woocommerce/order.updated.json");
    for shop in ["shop-a", "shop-b", "shop-c"] {
        let to = server.url(&format!("/webhooks/woocommerce/{shop}"));
        let secret = format!("wc-secret-{shop}");
        let args = [
            "webhook",
            "send",
            "--provider",
            "woocommerce",
            "--secret",
            &secret,
            "--to",
            &to,
            fixture.to_str().unwrap(),
        ];
        let out = cli(dir.path(), &args);
        let answer: Value = serde_json::from_str(stdout(&out).trim_start_matches("200 ")).unwrap_or(Value::Null);
        assert_eq!(answer["duplicate"], json!(false), "{shop}: {}", stdout(&out));
    }
    for shop in ["shop-a", "shop-b", "shop-c"] {
        let events = processed(dir.path(), "woocommerce", shop, 1);
        assert_eq!(events[0]["connection"], shop);
    }

    // Stripe keeps state: the same event id about the same customer, with
    // different content, on two connections.
    let client = reqwest::Client::new();
    for (connection, secret, name) in
        [("acme", "whsec_tenancy_acme", "Ada"), ("globex", "whsec_tenancy_globex", "Grace")]
    {
        let body = stripe_event(
            "evt_same_id",
            "customer.created",
            1_750_000_000,
            json!({"id": "cus_same", "object": "customer", "email": format!("{name}@example.com"), "name": name}),
        );
        let signature = stripe_signature(&body, secret, now());
        let url = server.url(&format!("/webhooks/stripe/{connection}"));
        let (status, answer) = post(&client, &url, &[("Stripe-Signature", signature)], body).await;
        assert_eq!((status, answer["duplicate"].clone()), (200, json!(false)), "{connection}: {answer}");
    }
    for (connection, name) in [("acme", "Ada"), ("globex", "Grace")] {
        processed(dir.path(), "stripe", connection, 1);
        let args =
            ["state", "get", "--provider", "stripe", "--connection", connection, "--kind", "customer", "cus_same"];
        let record = json_out(dir.path(), &args);
        assert_eq!((record["connection"].as_str(), record["data"]["name"].as_str()), (Some(connection), Some(name)));
    }
    let missing = cli(dir.path(), &["state", "get", "--provider", "stripe", "--kind", "customer", "cus_same"]);
    assert!(!missing.status.success(), "the default connection has no such customer");

    // A connection name that cannot be a key is refused at the edge.
    let (status, answer) = post(&client, &server.url("/webhooks/stripe/a%23b"), &[], b"{}".to_vec()).await;
    assert_eq!((status, answer), (404, json!({"error": "invalid_connection"})));
}
