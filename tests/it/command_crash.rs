//! `portage serve` killed with SIGKILL while commands are being submitted
//! and executed, then restarted: every command it accepted ends
//! `succeeded`, none is lost (even one recorded just before the kill and
//! never queued), and none took effect twice (Stripe's idempotency key,
//! derived from the command id, makes the interrupted ones safe to run again).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use portage_fakes::Faults;
use portage_fakes::stripe::Stripe;
use serde_json::{Value, json};

use crate::common::Server;

const KEY: &str = "sk_test_crash_4242";
const COMMANDS: usize = 300;
const CONNECTIONS: [&str; 3] = ["k0", "k1", "k2"];

fn config(base: &str) -> String {
    let host = base.trim_start_matches("http://");
    let mut text = format!(
        "[server]\nreclaim_after_seconds = 1\n[worker]\nvisibility_timeout_seconds = 2\nstranded_check_seconds = 1\n\
         retry_base_ms = 100\n[origins]\n\"api.stripe.com\" = \"http://{host}\"\n"
    );
    for connection in CONNECTIONS {
        text.push_str(&format!("[connections.stripe.{connection}]\napi_key = \"{KEY}\"\n"));
    }
    text
}

fn body(i: usize) -> Value {
    json!({"provider": "stripe", "connection": CONNECTIONS[i % CONNECTIONS.len()], "action": "customer.create",
        "idempotency_key": format!("crash-{i}"), "input": {"email": format!("crash-{i}@example.com")}})
}

/// Submits every command, 8 at a time, until `stop`; returns the indexes answered 202.
async fn submit_all(server_url: String, key: String, stop: Arc<AtomicBool>) -> BTreeSet<usize> {
    let client = reqwest::Client::new();
    let mut accepted = BTreeSet::new();
    for chunk in (0..COMMANDS).collect::<Vec<_>>().chunks(8) {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let sends = chunk.iter().map(|&i| {
            let request = client.post(format!("{server_url}/v1/commands")).bearer_auth(&key).json(&body(i));
            async move { (i, tokio::time::timeout(Duration::from_secs(5), request.send()).await) }
        });
        for (i, sent) in futures::future::join_all(sends).await {
            if matches!(sent, Ok(Ok(ref response)) if response.status() == 202) {
                accepted.insert(i);
            }
        }
    }
    accepted
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_commands_loses_none_and_doubles_none() {
    let fake = Stripe::new(KEY, 0, 1000);
    // Slow answers keep commands mid-effect when the kill comes.
    fake.switches.set(Faults { latency: Duration::from_millis(30), ..Faults::default() });
    let running = portage_fakes::serve(fake.router()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(&running.base);
    let mut server = Server::start(dir.path(), Some(&config));
    let key = std::fs::read_to_string(dir.path().join("dev-api-key")).unwrap().trim().to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let submitting = tokio::spawn(submit_all(server.base.clone(), key.clone(), stop.clone()));
    while fake.customer_count() < COMMANDS / 4 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill();
    stop.store(true, Ordering::SeqCst);
    let accepted = submitting.await.unwrap();
    assert!(!accepted.is_empty());

    let server = Server::start(dir.path(), Some(&config));
    let client = reqwest::Client::new();
    // What was not accepted before the kill is submitted again now, as an app would.
    for i in (0..COMMANDS).filter(|i| !accepted.contains(i)) {
        let response = client.post(server.url("/v1/commands")).bearer_auth(&key).json(&body(i)).send().await.unwrap();
        assert!(matches!(response.status().as_u16(), 200 | 202));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let listed: Value = client
            .get(server.url("/v1/commands?limit=1000"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let commands = listed["data"].as_array().unwrap();
        let done = commands.iter().filter(|c| c["status"] == "succeeded").count();
        assert!(commands.iter().all(|c| c["status"] != "failed" && c["status"] != "unknown"), "{listed}");
        if commands.len() == COMMANDS && done == COMMANDS {
            break;
        }
        assert!(Instant::now() < deadline, "{done} of {} commands succeeded", commands.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let emails: Vec<String> = fake.customers().iter().map(|c| c["email"].as_str().unwrap().to_owned()).collect();
    let distinct: BTreeSet<&String> = emails.iter().collect();
    assert_eq!((emails.len(), distinct.len()), (COMMANDS, COMMANDS), "one customer per command, none twice");
}
