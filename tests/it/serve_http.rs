//! `portage serve` driven over HTTP: accept, duplicate, forged, stale,
//! oversized, unknown provider, per-connection secrets, concurrent duplicate
//! deliveries, no secret or body in the logs, graceful shutdown.

use crate::common;

use common::{SECRET, Server, now, post, post_stripe, stripe_event, stripe_signature, wait_for_events};
use serde_json::json;

const LEAK_MARKER: &str = "leak-marker-4c1b@example.com";

fn customer_event(id: &str) -> Vec<u8> {
    stripe_event(
        id,
        "customer.created",
        1_750_000_000,
        json!({"id": format!("cus_{id}"), "object": "customer", "email": LEAK_MARKER, "name": "Ada"}),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn accepts_dedupes_and_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None);
    let client = reqwest::Client::new();
    let url = server.url("/webhooks/stripe");

    let (status, body) = post_stripe(&client, &url, customer_event("evt_accept")).await;
    assert_eq!((status, body.clone()), (200, json!({"received": true, "event_id": "evt_accept", "duplicate": false})));
    let (status, body) = post_stripe(&client, &url, customer_event("evt_accept")).await;
    assert_eq!((status, body), (200, json!({"received": true, "event_id": "evt_accept", "duplicate": true})));

    let forged = customer_event("evt_forged");
    let sig = stripe_signature(&forged, "whsec_not_the_secret", now());
    let (status, body) = post(&client, &url, &[("Stripe-Signature", sig)], forged).await;
    assert_eq!((status, body), (401, json!({"error": "signature_mismatch"})));

    let stale = customer_event("evt_stale");
    let sig = stripe_signature(&stale, SECRET, now() - 301);
    let (status, body) = post(&client, &url, &[("Stripe-Signature", sig)], stale).await;
    assert_eq!((status, body), (401, json!({"error": "timestamp_outside_tolerance"})));

    let (status, body) = post(&client, &url, &[], customer_event("evt_unsigned")).await;
    assert_eq!((status, body), (401, json!({"error": "missing_signature"})));

    let mut huge = customer_event("evt_huge");
    huge.resize(1024 * 1024 + 1, b' ');
    let sig = stripe_signature(&huge, SECRET, now());
    let (status, body) = post(&client, &url, &[("Stripe-Signature", sig)], huge).await;
    assert_eq!((status, body), (413, json!({"error": "payload_too_large"})));

    let (status, body) = post_stripe(&client, &server.url("/webhooks/nosuchprovider"), customer_event("evt_x")).await;
    assert_eq!((status, body), (404, json!({"error": "unknown_provider"})));

    let (status, body) = post(
        &client,
        &url,
        &[("Stripe-Signature", stripe_signature(b"not json", SECRET, now()))],
        b"not json".to_vec(),
    )
    .await;
    assert_eq!((status, body), (400, json!({"error": "malformed_payload"})));

    let events = wait_for_events(dir.path(), |e| e.iter().any(|e| e["status"] == "processed"));
    let ids: Vec<&str> = events.iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["evt_accept"], "only the accepted event is stored");
    assert_eq!(events[0]["attempts"], 1, "the duplicate was not processed again");
    for field in ["provider", "event_id", "type", "status", "received_at"] {
        assert!(!events[0][field].is_null(), "events list has {field}");
    }
    let state =
        common::cli(dir.path(), &["state", "get", "--provider", "stripe", "--kind", "customer", "cus_evt_accept"]);
    assert!(state.status.success());

    let logs = server.logs();
    assert!(
        logs.contains("signature_mismatch")
            && logs.contains("timestamp_outside_tolerance")
            && logs.contains("payload_too_large"),
        "rejections are logged with their reason"
    );
    assert!(!logs.contains(SECRET), "the signing secret is never logged");
    assert!(!logs.contains(LEAK_MARKER), "bodies are never logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_deliveries_of_one_event_are_recorded_and_processed_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None);
    let client = reqwest::Client::new();
    let url = server.url("/webhooks/stripe");
    let body = customer_event("evt_concurrent");
    let deliveries: Vec<_> = (0..40)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            tokio::spawn(async move { post_stripe(&client, &url, body).await })
        })
        .collect();
    let mut firsts = 0;
    for d in deliveries {
        let (status, body) = d.await.unwrap();
        assert_eq!(status, 200);
        if body["duplicate"] == false {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1, "exactly one delivery is the first");
    let events = wait_for_events(dir.path(), |e| e.iter().all(|e| e["status"] == "processed") && !e.is_empty());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["status"], "processed");
    assert_eq!(events[0]["attempts"], 1, "processed exactly once");
    let dlq = common::cli(dir.path(), &["dlq", "list", "--format", "json"]);
    assert_eq!(common::stdout(&dlq).trim(), "[]");
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_have_their_own_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[connections.stripe.acme]\nwebhook_secret = \"whsec_acme_new\"\nwebhook_secret_previous = \"whsec_acme_old\"\n";
    let server = Server::start(dir.path(), Some(config));
    let client = reqwest::Client::new();
    let acme = server.url("/webhooks/stripe/acme");
    for (id, secret) in [("evt_new", "whsec_acme_new"), ("evt_old", "whsec_acme_old")] {
        let body = customer_event(id);
        let sig = stripe_signature(&body, secret, now());
        let (status, _) = post(&client, &acme, &[("Stripe-Signature", sig)], body).await;
        assert_eq!(status, 200, "{secret} accepted during rotation");
    }
    let (status, _) = post_stripe(&client, &acme, customer_event("evt_default_secret")).await;
    assert_eq!(status, 401, "the default connection's secret does not open another connection");
    let (status, body) = post_stripe(&client, &server.url("/webhooks/stripe/unknown"), customer_event("evt_u")).await;
    assert_eq!((status, body), (401, json!({"error": "no_secret_configured"})));
    let events = wait_for_events(dir.path(), |e| e.len() == 2);
    assert!(events.iter().all(|e| e["connection"] == "acme"));
}

#[tokio::test(flavor = "multi_thread")]
async fn starts_without_a_secret_and_prints_a_development_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["--data", dir.path().to_str().unwrap(), "serve", "--addr", "127.0.0.1:0"])
        .env_remove("PORTAGE_STRIPE_WEBHOOK_SECRET")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut child = out;
    let lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let first = lines.map(Result::unwrap).find(|l| l.contains("for stripe;")).expect("a line for stripe");
    let _ = child.kill();
    let _ = child.wait();
    let secret = first.rsplit(' ').next().unwrap().to_owned();
    assert!(first.contains("development secret") && secret.starts_with("whsec_"), "{first}");
    let saved = std::fs::read_to_string(dir.path().join("dev-secrets.toml")).unwrap();
    assert!(saved.contains(&secret), "the development secret is saved under the data directory");
    let fixture = common::repo_root().join("fixtures/stripe/customer.created.json");
    let verify = std::process::Command::new(common::bin())
        .args([
            "--data",
            dir.path().to_str().unwrap(),
            "webhook",
            "send",
            "--provider",
            "stripe",
            "--to",
            "http://127.0.0.1:9/none",
        ])
        .arg(&fixture)
        .env_remove("PORTAGE_STRIPE_WEBHOOK_SECRET")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&verify.stderr);
    assert!(err.contains("cannot post"), "send found the saved development secret and tried to post: {err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), None);
    let client = reqwest::Client::new();
    let url = server.url("/webhooks/stripe");
    for i in 0..50 {
        let (status, _) = post_stripe(&client, &url, customer_event(&format!("evt_term_{i}"))).await;
        assert_eq!(status, 200);
    }
    let status = server.terminate();
    assert!(status.success(), "graceful exit: {status:?}");
    let restarted = Server::start(dir.path(), None);
    let events = wait_for_events(dir.path(), |e| e.len() == 50 && e.iter().all(|e| e["status"] == "processed"));
    assert!(events.iter().all(|e| e["status"] == "processed"), "every accepted event is processed after restart");
    drop(restarted);
}
