//! The operator commands against a running server: events list/show,
//! replay, dead letters and redrive, state list/get, webhook send.

use crate::common;

use common::{Server, cli, stdout, wait_for_events};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn operator_tour() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[worker]\nmax_receives = 2\n";
    let server = Server::start(dir.path(), Some(config));
    let data = dir.path();
    let url = server.url("/webhooks/stripe");

    let fixture = common::repo_root().join("fixtures/stripe/customer.subscription.created.json");
    let sent = cli(data, &["webhook", "send", "--provider", "stripe", "--to", &url, fixture.to_str().unwrap()]);
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    assert!(stdout(&sent).starts_with("200 "), "{}", stdout(&sent));
    let forged = std::process::Command::new(common::bin())
        .args([
            "--data",
            data.to_str().unwrap(),
            "webhook",
            "send",
            "--provider",
            "stripe",
            "--secret",
            "whsec_wrong",
            "--to",
            &url,
        ])
        .arg(&fixture)
        .output()
        .unwrap();
    assert_eq!(forged.status.code(), Some(1), "a refused delivery exits 1");
    assert!(stdout(&forged).starts_with("401 "));

    // A correctly signed event whose object cannot be synced: a poison message.
    let poison = common::stripe_event("evt_poison", "customer.updated", 1_750_000_000, json!({"object": "customer"}));
    let (status, _) = common::post_stripe(&reqwest::Client::new(), &url, poison).await;
    assert_eq!(status, 200);

    let events = wait_for_events(data, |e| {
        e.len() == 2 && e.iter().all(|e| e["status"] == "processed" || e["status"] == "failed")
    });
    let by_id = |id: &str| events.iter().find(|e| e["event_id"] == id).cloned().unwrap();
    let sub_event = by_id("evt_1HXr4tQrT5mNp2Xcs49bzNp1");
    assert_eq!(sub_event["status"], "processed");
    assert_eq!(sub_event["type"], "customer.subscription.created");
    assert_eq!(by_id("evt_poison")["status"], "failed");

    let filtered = cli(data, &["events", "list", "--status", "failed", "--format", "json"]);
    let filtered: Vec<Value> = serde_json::from_slice(&filtered.stdout).unwrap();
    assert_eq!(filtered.len(), 1);
    let table = stdout(&cli(data, &["events", "list", "--provider", "stripe"]));
    assert!(table.starts_with("PROVIDER") && table.contains("evt_poison"));
    let bad_status = cli(data, &["events", "list", "--status", "nope"]);
    assert_eq!(bad_status.status.code(), Some(2));

    let shown: Value =
        serde_json::from_slice(&cli(data, &["events", "show", "evt_1HXr4tQrT5mNp2Xcs49bzNp1"]).stdout).unwrap();
    let raw = std::fs::read_to_string(&fixture).unwrap();
    assert_eq!(shown["body"], raw, "the raw body is kept byte for byte");
    assert!(shown["headers"].as_array().unwrap().iter().any(|h| h[0] == "stripe-signature"));
    assert_eq!(cli(data, &["events", "show", "evt_nope"]).status.code(), Some(2));

    let replay: Value = serde_json::from_slice(&cli(data, &["replay", "evt_1HXr4tQrT5mNp2Xcs49bzNp1"]).stdout).unwrap();
    assert_eq!(
        (replay["applied"].clone(), replay["stale"].clone()),
        (json!(0), json!(1)),
        "replay is idempotent: {replay}"
    );

    let sub =
        cli(data, &["state", "get", "--provider", "stripe", "--kind", "subscription", "sub_1RLxQ3QrT5mNp2XcH8sJk4Wd"]);
    let sub: Value = serde_json::from_slice(&sub.stdout).unwrap();
    assert_eq!(sub["data"]["quantity"], 3);
    assert_eq!(sub["data"]["customer"], "cus_SGq4vN7kTz2XbL");
    let list = stdout(&cli(data, &["state", "list", "--provider", "stripe", "--kind", "subscription"]));
    assert!(list.contains("sub_1RLxQ3QrT5mNp2XcH8sJk4Wd"));
    assert_eq!(
        cli(data, &["state", "get", "--provider", "stripe", "--kind", "subscription", "sub_nope"]).status.code(),
        Some(2)
    );

    let dlq: Vec<Value> = serde_json::from_slice(&cli(data, &["dlq", "list", "--format", "json"]).stdout).unwrap();
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0]["message"]["event_id"], "evt_poison");
    assert_eq!(dlq[0]["reason"], "malformed_payload");
    let redrive = cli(data, &["dlq", "redrive"]);
    assert_eq!(stdout(&redrive).trim(), "redriven 1");
    // Redriven, processed again, failed again: back in the dead-letter queue.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let dlq: Vec<Value> = serde_json::from_slice(&cli(data, &["dlq", "list", "--format", "json"]).stdout).unwrap();
        let events = wait_for_events(data, |_| true);
        let poison = events.iter().find(|e| e["event_id"] == "evt_poison").unwrap();
        if dlq.len() == 1 && poison["attempts"] == 2 && poison["status"] == "failed" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "redriven message was not processed again");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn reconcile_reports_every_configured_connection() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    for target in ["stripe", "stripe/acme"] {
        let set = cli(data, &["secrets", "set", target, "webhook_secret=whsec_reconcile"]);
        assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    }
    let run = cli(data, &["reconcile", "--mode", "full"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let report: Value = serde_json::from_str(&stdout(&run)).unwrap();
    assert_eq!(report["mode"], "full");
    assert_eq!(report["not_listed"], json!(["stripe/acme", "stripe/default"]), "{report}");
    let refused = cli(data, &["reconcile", "--mode", "sometimes"]);
    assert_eq!(refused.status.code(), Some(2), "clap refuses an unknown mode");
}

#[tokio::test(flavor = "multi_thread")]
async fn amazon_notifications_are_ingested_locally_and_never_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let file = common::repo_root().join("fixtures/amazon/order_change.json");
    let ingest = |file: &str| cli(data, &["notifications", "ingest", "--provider", "amazon", file]);
    let first = ingest(file.to_str().unwrap());
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let first: Value = serde_json::from_str(&stdout(&first)).unwrap();
    assert_eq!(
        first,
        json!({"received": true, "event_id": "0e999936-da2c-4f9c-9fc2-02b67bae5f4a", "duplicate": false})
    );
    let again: Value = serde_json::from_str(&stdout(&ingest(file.to_str().unwrap()))).unwrap();
    assert_eq!(again["duplicate"], true);
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{}").unwrap();
    let refused = ingest(bad.to_str().unwrap());
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(stdout(&refused).trim(), r#"{"error":"malformed_payload"}"#);
    // A webhook source is never taken unverified through this path.
    let stripe = cli(data, &["notifications", "ingest", "--provider", "stripe", file.to_str().unwrap()]);
    assert_eq!(stdout(&stripe).trim(), r#"{"error":"unknown_provider"}"#);

    let server = Server::start(data, None);
    let posted = reqwest::Client::new()
        .post(server.url("/webhooks/amazon"))
        .body(std::fs::read(&file).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 404, "SP-API notifications never come over HTTP");
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_apps_are_set_replaced_and_listed_without_their_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let secret = "hubspot-client-secret-4242";
    let set = cli(
        data,
        &[
            "apps",
            "set",
            "hubspot",
            "client_id=portage-app",
            &format!("client_secret={secret}"),
            "redirect_uri=https://portage.example.com/connect/hubspot/callback",
            "scopes=crm.objects.contacts.read crm.objects.contacts.write",
        ],
    );
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    let listed = cli(data, &["apps", "list", "--format", "json"]);
    let text = stdout(&listed);
    assert!(!text.contains(secret) && !text.contains("portage-app"), "never the secrets: {text}");
    let apps: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        apps,
        json!([{"provider": "hubspot", "redirect_uri": "https://portage.example.com/connect/hubspot/callback",
            "scopes": ["crm.objects.contacts.read", "crm.objects.contacts.write"]}])
    );

    // Replaced whole: what is left out is cleared.
    assert!(cli(data, &["apps", "set", "hubspot", "client_id=portage-app", "client_secret=new"]).status.success());
    let apps: Value = serde_json::from_str(&stdout(&cli(data, &["apps", "list", "--format", "json"]))).unwrap();
    assert_eq!(apps, json!([{"provider": "hubspot", "redirect_uri": null, "scopes": []}]));

    // eBay's redirect_uri is its RuName.
    assert!(
        cli(data, &["apps", "set", "ebay", "client_id=a", "client_secret=b", "redirect_uri=Portage-PRD-1"])
            .status
            .success()
    );
    for refused in [
        vec!["apps", "set", "hubspot", "client_id=a"],
        vec!["apps", "set", "hubspot", "client_id=a", "client_secret=b", "token=c"],
        vec!["apps", "set", "hubspot", "client_id=a", "client_secret=b", "redirect_uri=http://x.example/cb"],
        vec!["apps", "set", "nosuch", "client_id=a", "client_secret=b"],
    ] {
        let out = cli(data, &refused);
        assert!(!out.status.success(), "{refused:?} was accepted");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("client_secret=b"), "values are never echoed");
    }
    let listed: Value = serde_json::from_str(&stdout(&cli(data, &["apps", "list", "--format", "json"]))).unwrap();
    let mut providers: Vec<&str> = listed.as_array().unwrap().iter().map(|a| a["provider"].as_str().unwrap()).collect();
    providers.sort_unstable();
    assert_eq!(providers, ["ebay", "hubspot"], "the refused settings changed nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_apps_live_in_secrets_manager_on_aws() {
    let prefix = format!("{}/", crate::moto::unique("portage"));
    let run = |args: &[&str]| {
        let out = std::process::Command::new(common::bin())
            .args(args)
            .envs(crate::lambda_common::aws_env())
            .output()
            .unwrap();
        assert!(out.status.success(), "portage {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        stdout(&out)
    };
    let said = run(&["apps", "set", "--aws", "--prefix", &prefix, "etsy", "client_id=keystring", "client_secret=shh"]);
    assert!(said.contains(&format!("{prefix}apps/etsy")) && !said.contains("shh"), "{said}");
    let listed: Value =
        serde_json::from_str(&run(&["apps", "list", "--aws", "--prefix", &prefix, "--format", "json"])).unwrap();
    assert_eq!(listed, json!([{"provider": "etsy", "redirect_uri": null, "scopes": []}]));
}
