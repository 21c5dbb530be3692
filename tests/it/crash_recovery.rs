//! `portage serve` killed with SIGKILL while deliveries are arriving and the
//! worker is mid-batch, then restarted: every accepted event ends processed,
//! exactly once, and its state is the one its own event wrote.

use crate::common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use common::{Server, stripe_event, wait_for_events};
use serde_json::json;

const EVENTS: usize = 600;
const CONFIG: &str =
    "[server]\nreclaim_after_seconds = 1\n\n[worker]\nvisibility_timeout_seconds = 2\nstranded_check_seconds = 1\n";

fn event(i: usize) -> (String, Vec<u8>) {
    let id = format!("evt_crash_{i:04}");
    let body = stripe_event(
        &id,
        "customer.created",
        1_750_000_000 + i as i64,
        json!({"id": format!("cus_{i:04}"), "object": "customer", "name": format!("n{i}")}),
    );
    (id, body)
}

/// Sends every pending event, 16 at a time; returns the ids answered 200.
/// `answered` counts them as they come.
async fn send_all(base: &str, pending: &[usize], answered: Arc<std::sync::atomic::AtomicUsize>) -> BTreeSet<String> {
    let client = reqwest::Client::new();
    let accepted = Arc::new(Mutex::new(BTreeSet::new()));
    let queue = Arc::new(Mutex::new(pending.to_vec()));
    let senders: Vec<_> = (0..16)
        .map(|_| {
            let (client, accepted, queue, answered) =
                (client.clone(), accepted.clone(), queue.clone(), answered.clone());
            let url = format!("{base}/webhooks/stripe");
            tokio::spawn(async move {
                loop {
                    let Some(i) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let (id, body) = event(i);
                    let signature = common::stripe_signature(&body, common::SECRET, common::now());
                    let request = client.post(&url).header("Stripe-Signature", signature).body(body);
                    let sent = tokio::time::timeout(Duration::from_secs(5), request.send()).await;
                    if matches!(sent, Ok(Ok(ref response)) if response.status() == 200) {
                        accepted.lock().unwrap().insert(id);
                        answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for s in senders {
        s.await.unwrap();
    }
    accepted.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_batch_loses_nothing_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), Some(CONFIG));
    let all: Vec<usize> = (0..EVENTS).collect();

    // Kill the server while deliveries are in flight and the worker is busy.
    let base = server.base.clone();
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = answered.clone();
    let sender = tokio::spawn(async move { send_all(&base, &all, counted).await });
    // A third acknowledged, sixteen deliveries in flight: kill now.
    while answered.load(std::sync::atomic::Ordering::SeqCst) < EVENTS / 3 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.kill();
    let accepted_before = sender.await.unwrap();
    let snapshot = common::cli(dir.path(), &["events", "list", "--format", "json"]);
    let snapshot: Vec<serde_json::Value> = serde_json::from_slice(&snapshot.stdout).unwrap();
    let unfinished = snapshot.iter().filter(|e| e["status"] != "processed").count();
    eprintln!(
        "killed with {} accepted, {} recorded, {unfinished} not yet processed",
        accepted_before.len(),
        snapshot.len()
    );
    assert!(accepted_before.len() < EVENTS, "the kill interrupted the deliveries");

    // Restart; the provider retries whatever was not acknowledged.
    let server = Server::start(dir.path(), Some(CONFIG));
    let retry: Vec<usize> = (0..EVENTS).filter(|i| !accepted_before.contains(&event(*i).0)).collect();
    let accepted_after = send_all(&server.base, &retry, Arc::default()).await;
    assert_eq!(accepted_before.len() + accepted_after.len(), EVENTS, "every delivery is eventually acknowledged");

    let events = wait_for_events(dir.path(), |e| e.len() == EVENTS && e.iter().all(|e| e["status"] == "processed"));
    assert_eq!(events.len(), EVENTS, "each event recorded once");
    let not_processed: Vec<_> = events.iter().filter(|e| e["status"] != "processed").collect();
    assert!(not_processed.is_empty(), "{} events not processed: {:?}", not_processed.len(), not_processed.first());

    let state =
        common::cli(dir.path(), &["state", "list", "--provider", "stripe", "--kind", "customer", "--format", "json"]);
    let customers: Vec<serde_json::Value> = serde_json::from_slice(&state.stdout).unwrap();
    assert_eq!(customers.len(), EVENTS, "one customer per event");
    for c in &customers {
        let i: usize = c["id"].as_str().unwrap()["cus_".len()..].parse().unwrap();
        assert_eq!(c["source_event"], event(i).0, "state written by its own event");
        assert_eq!(c["version"]["primary"], 1_750_000_000 + i as i64);
    }
    let dlq = common::cli(dir.path(), &["dlq", "list", "--format", "json"]);
    assert_eq!(common::stdout(&dlq).trim(), "[]", "nothing dead-lettered");
}
