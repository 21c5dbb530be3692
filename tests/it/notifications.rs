//! Telling the app through `portage serve`: Standard Webhooks deliveries
//! verified by the official `standardwebhooks` library (PyPI, pinned in
//! infra/requirements-test.txt), the same `webhook-id` on every retry, a
//! restart between attempts losing nothing, and targets that would reach
//! private addresses refused.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use portage_fakes::stripe::Stripe;
use serde_json::{Value, json};

use crate::common::{Server, repo_root};

const KEY: &str = "sk_test_notify_4242";

/// A receiver that records every attempt and refuses the first `fail` of each message.
#[derive(Default)]
pub(crate) struct Receiver {
    pub(crate) attempts: Mutex<Vec<(String, String, String, String)>>,
    fail: Mutex<usize>,
}

pub(crate) async fn receive(State(receiver): State<Arc<Receiver>>, headers: HeaderMap, body: String) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let id = header("webhook-id");
    let mut attempts = receiver.attempts.lock().unwrap();
    let earlier = attempts.iter().filter(|a| a.0 == id).count();
    attempts.push((id, header("webhook-timestamp"), header("webhook-signature"), body));
    if earlier < *receiver.fail.lock().unwrap() { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::NO_CONTENT }
}

/// Checks each attempt with the official library's `Webhook(secret).verify`.
pub(crate) fn verified_by_the_official_library(secret: &str, attempts: &[(String, String, String, String)]) {
    let python = repo_root().join("target/ci-venv/bin/python");
    let cases: Vec<Value> =
        attempts.iter().map(|(id, ts, sig, body)| json!({"id": id, "ts": ts, "sig": sig, "body": body})).collect();
    let script = "import json, sys\nfrom standardwebhooks.webhooks import Webhook\n\
        cases = json.load(sys.stdin)\nhook = Webhook(sys.argv[1])\n\
        for c in cases:\n    hook.verify(c['body'], {'webhook-id': c['id'], 'webhook-timestamp': c['ts'], 'webhook-signature': c['sig']})\n\
        print(len(cases))\n";
    let mut child = std::process::Command::new(python)
        .args(["-c", script, secret])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(serde_json::to_string(&cases).unwrap().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "standardwebhooks refused a delivery: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), attempts.len().to_string());
}

fn config(stripe: &str) -> String {
    let host = stripe.trim_start_matches("http://");
    format!(
        "[origins]\n\"api.stripe.com\" = \"http://{host}\"\n[connections.stripe.default]\napi_key = \"{KEY}\"\n\
         [notifications]\nretry_schedule_seconds = [0, 1, 1, 1]\n"
    )
}

async fn subscribe(client: &reqwest::Client, server: &Server, key: &str, body: Value) -> (u16, Value) {
    let response = client.post(server.url("/v1/subscriptions")).bearer_auth(key).json(&body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

async fn create_customer(client: &reqwest::Client, server: &Server, key: &str, idempotency_key: &str) -> Value {
    let body = json!({"provider": "stripe", "action": "customer.create", "idempotency_key": idempotency_key,
        "input": {"email": format!("{idempotency_key}@example.com")}});
    let response = client
        .post(server.url("/v1/commands"))
        .bearer_auth(key)
        .header("prefer", "wait=10")
        .json(&body)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

fn wait_for(receiver: &Receiver, count: usize) -> Vec<(String, String, String, String)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let attempts = receiver.attempts.lock().unwrap().clone();
        if attempts.len() >= count {
            return attempts;
        }
        assert!(Instant::now() < deadline, "{} of {count} attempts arrived", attempts.len());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deliveries_are_signed_retried_under_one_id_and_survive_a_restart() {
    let stripe = Stripe::new(KEY, 0, 100);
    let stripe_running = portage_fakes::serve(stripe.router()).await;
    let receiver = Arc::new(Receiver::default());
    *receiver.fail.lock().unwrap() = 2;
    let app = portage_fakes::serve(Router::new().route("/hooks", post(receive)).with_state(receiver.clone())).await;
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), Some(&config(&stripe_running.base)));
    let key = std::fs::read_to_string(dir.path().join("dev-api-key")).unwrap().trim().to_owned();
    let client = reqwest::Client::new();

    for (url, why) in [
        ("https://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("https://10.1.2.3/hooks", "a private address"),
        ("http://example.com/hooks", "plain http off loopback"),
    ] {
        let (status, body) = subscribe(&client, &server, &key, json!({"url": url, "types": ["*"]})).await;
        assert_eq!((status, body["error"].clone()), (422, json!("invalid_url")), "{why}: {body}");
    }
    let (status, body) =
        subscribe(&client, &server, &key, json!({"url": format!("{}/hooks", app.base), "types": ["commands.*"]})).await;
    assert_eq!((status, body["error"].clone()), (422, json!("invalid_types")));

    let (status, subscription) =
        subscribe(&client, &server, &key, json!({"url": format!("{}/hooks", app.base), "types": ["command.*"]})).await;
    assert_eq!(status, 201, "{subscription}");
    let secret = subscription["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && subscription["id"].as_str().unwrap().starts_with("sub_"));
    let listed: Value =
        client.get(server.url("/v1/subscriptions")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
    assert!(!listed.to_string().contains(&secret), "a listing never shows the secret");

    let command = create_customer(&client, &server, &key, "notify-1").await;
    assert_eq!(command["status"], "succeeded");
    let attempts = wait_for(&receiver, 3);
    assert_eq!(attempts.len(), 3, "two refusals, then the delivery");
    assert!(attempts.iter().all(|a| a.0 == attempts[0].0 && a.3 == attempts[0].3), "one webhook-id, one body");
    let body: Value = serde_json::from_str(&attempts[0].3).unwrap();
    assert_eq!((body["type"].clone(), body["data"]["id"].clone()), (json!("command.succeeded"), command["id"].clone()));
    assert!(body["timestamp"].is_string() && body["data"]["result"]["customer"].is_string());
    verified_by_the_official_library(&secret, &attempts);

    // A restart between attempts loses nothing.
    *receiver.fail.lock().unwrap() = 1;
    create_customer(&client, &server, &key, "notify-2").await;
    let first = wait_for(&receiver, 4);
    server.kill();
    let server = Server::start(dir.path(), Some(&config(&stripe_running.base)));
    let attempts = wait_for(&receiver, 5);
    assert_eq!(attempts[4].0, first[3].0, "the retry after the restart carries the same webhook-id");
    verified_by_the_official_library(&secret, &attempts[3..]);
    let out = crate::common::cli(dir.path(), &["subscriptions", "deliveries", "--format", "json"]);
    let deliveries: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(deliveries.iter().all(|d| d["status"] == "delivered"), "{deliveries:?}");
    drop(server);
}
