//! Commands through `portage serve` against the Stripe fake: each takes
//! effect once (Stripe's `Idempotency-Key`, derived from the command id),
//! results become state, refusals end `failed`, and a thousand commands
//! under injected 5xx, dropped connections and timeouts all end, none twice.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use portage_fakes::Faults;
use portage_fakes::stripe::Stripe;
use serde_json::{Value, json};

use crate::common::Server;

const KEY: &str = "sk_test_commands_4242";

fn config(base: &str, connections: &[&str]) -> String {
    let host = base.trim_start_matches("http://");
    let mut text = format!("[origins]\n\"api.stripe.com\" = \"http://{host}\"\n");
    for connection in connections {
        text.push_str(&format!("[connections.stripe.{connection}]\napi_key = \"{KEY}\"\n"));
    }
    text
}

fn dev_key(data: &Path) -> String {
    std::fs::read_to_string(data.join("dev-api-key")).unwrap().trim().to_owned()
}

async fn submit(client: &reqwest::Client, server: &Server, key: &str, body: Value, wait: Option<u64>) -> (u16, Value) {
    let mut request = client.post(server.url("/v1/commands")).bearer_auth(key).json(&body);
    if let Some(secs) = wait {
        request = request.header("prefer", format!("wait={secs}"));
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn get(client: &reqwest::Client, server: &Server, key: &str, path: &str) -> Value {
    client.get(server.url(path)).bearer_auth(key).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn stripe_actions_take_effect_once_and_their_results_become_state() {
    let fake = Stripe::new(KEY, 0, 100);
    fake.put_payment_intent(json!({"id": "pi_1", "amount": 5000, "currency": "eur"}));
    let running = portage_fakes::serve(fake.router()).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Some(&config(&running.base, &["default"])));
    let (client, key) = (reqwest::Client::new(), dev_key(dir.path()));

    let create = json!({"provider": "stripe", "action": "customer.create", "idempotency_key": "signup-1",
        "input": {"email": "ada@example.com", "name": "Ada", "metadata": {"plan": "pro"}}});
    let (status, done) = submit(&client, &server, &key, create.clone(), Some(10)).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!((done["status"].clone(), done["duplicate"].clone()), (json!("succeeded"), json!(false)));
    let customer = done["result"]["customer"].as_str().unwrap().to_owned();
    assert!(customer.starts_with("cus_"));
    assert_eq!(done["attempts"], 1);
    let state = get(&client, &server, &key, &format!("/v1/state/stripe/customer/{customer}")).await;
    assert_eq!(
        (state["data"]["email"].clone(), state["data"]["metadata"].clone()),
        (json!("ada@example.com"), json!({"plan": "pro"}))
    );

    let (status, again) = submit(&client, &server, &key, create, None).await;
    assert_eq!((status, again["id"].clone(), again["duplicate"].clone()), (200, done["id"].clone(), json!(true)));
    assert_eq!(fake.customer_count(), 1, "the repeated request had no effect");

    let concurrent = json!({"provider": "stripe", "action": "customer.create", "idempotency_key": "signup-2",
        "input": {"email": "bob@example.com"}});
    let answers =
        futures::future::join_all((0..20).map(|_| submit(&client, &server, &key, concurrent.clone(), None))).await;
    let ids: BTreeSet<String> = answers.iter().map(|(_, a)| a["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 1, "20 concurrent submissions with one key are one command");
    let id = ids.into_iter().next().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&client, &server, &key, &format!("/v1/commands/{id}")).await["status"] != "succeeded" {
        assert!(Instant::now() < deadline, "the command never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fake.customer_count(), 2, "one effect");

    let update = json!({"provider": "stripe", "action": "customer.update", "idempotency_key": "rename-1",
        "input": {"customer": customer, "name": "Ada L."}});
    let (_, updated) = submit(&client, &server, &key, update, Some(10)).await;
    assert_eq!(updated["status"], "succeeded", "{updated}");
    let state = get(&client, &server, &key, &format!("/v1/state/stripe/customer/{customer}")).await;
    assert_eq!(state["data"]["name"], "Ada L.");

    let refund = json!({"provider": "stripe", "action": "refund.create", "idempotency_key": "refund-1",
        "input": {"payment_intent": "pi_1", "amount": 1500}});
    let (_, refunded) = submit(&client, &server, &key, refund, Some(10)).await;
    assert_eq!(refunded["status"], "succeeded", "{refunded}");
    assert_eq!(refunded["result"]["status"], "succeeded");
    assert!(refunded["result"]["refund"].as_str().is_some_and(|r| r.starts_with("re_")));
    let too_much = json!({"provider": "stripe", "action": "refund.create", "idempotency_key": "refund-2",
        "input": {"payment_intent": "pi_1", "amount": 9000}});
    let (_, refused) = submit(&client, &server, &key, too_much, Some(10)).await;
    assert_eq!(refused["status"], "failed", "a refusal is final: {refused}");
    assert_eq!(
        (refused["error"]["kind"].clone(), refused["error"]["code"].clone()),
        (json!("provider"), json!("amount_too_large"))
    );
    assert!(refused["error"]["request_id"].as_str().is_some_and(|r| r.starts_with("req_")));
    assert_eq!(refused["attempts"], 1, "a refusal is not retried");
    assert_eq!(fake.refunds().len(), 1);

    let logs = server.logs();
    assert!(!logs.contains(KEY) && !logs.contains(&key), "no secret or key in the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_commands_under_faults_all_end_and_none_takes_effect_twice() {
    let fake = Stripe::new(KEY, 0, 2000);
    // 20 % faults: 5xx, dropped answers (after the effect) and answers too late for the client.
    fake.switches.set(Faults {
        error_rate: 0.08,
        drop_rate: 0.08,
        hang_rate: 0.04,
        hang: Duration::from_millis(1_500),
        ..Faults::default()
    });
    let running = portage_fakes::serve(fake.router()).await;
    let dir = tempfile::tempdir().unwrap();
    // Five connections, so five clients share the work (each within Stripe's test-mode rate).
    let connections = ["c0", "c1", "c2", "c3", "c4"];
    let config = format!("{}[client]\ncall_timeout_ms = 500\n", config(&running.base, &connections));
    let server = Server::start(dir.path(), Some(&config));
    let (client, key) = (reqwest::Client::new(), dev_key(dir.path()));

    let bodies: Vec<Value> = (0..1000)
        .map(|i| {
            json!({"provider": "stripe", "connection": connections[i % 5], "action": "customer.create",
                "idempotency_key": format!("bulk-{i}"), "input": {"email": format!("bulk-{i}@example.com")}})
        })
        .collect();
    let mut ids = Vec::new();
    for chunk in bodies.chunks(50) {
        let answers =
            futures::future::join_all(chunk.iter().map(|b| submit(&client, &server, &key, b.clone(), None))).await;
        for (status, answer) in answers {
            assert_eq!(status, 202, "{answer}");
            ids.push(answer["id"].as_str().unwrap().to_owned());
        }
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    let (succeeded, failed) = loop {
        let mut open = 0;
        let (mut succeeded, mut failed) = (0, 0);
        let mut path = "/v1/commands?limit=1000".to_owned();
        loop {
            let page = get(&client, &server, &key, &path).await;
            for command in page["data"].as_array().unwrap() {
                match command["status"].as_str().unwrap() {
                    "succeeded" => succeeded += 1,
                    "failed" => failed += 1,
                    "unknown" => panic!("a provider_key action never ends unknown: {command}"),
                    _ => open += 1,
                }
            }
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/v1/commands?limit=1000&cursor={cursor}"),
                None => break,
            }
        }
        if open == 0 {
            break (succeeded, failed);
        }
        assert!(Instant::now() < deadline, "{open} commands still open");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(succeeded + failed, 1000);
    let emails: Vec<String> = fake.customers().iter().map(|c| c["email"].as_str().unwrap().to_owned()).collect();
    let distinct: BTreeSet<&String> = emails.iter().collect();
    assert_eq!(distinct.len(), emails.len(), "no customer was created twice");
    assert_eq!(emails.len(), succeeded, "every success is one customer, and only successes are");
    assert!(succeeded >= 990, "retries carry nearly all through 20 % faults: {succeeded} succeeded");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_that_keeps_failing_ends_failed_in_the_dead_letter_queue_and_is_redriven() {
    let fake = Stripe::new(KEY, 0, 100);
    fake.switches.set(Faults { outage: true, ..Faults::default() });
    let running = portage_fakes::serve(fake.router()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{}[worker]\nmax_receives = 3\nretry_base_ms = 50\n", config(&running.base, &["default"]));
    let server = Server::start(dir.path(), Some(&config));
    let (client, key) = (reqwest::Client::new(), dev_key(dir.path()));

    let body = json!({"provider": "stripe", "action": "customer.create", "idempotency_key": "outage-1",
        "input": {"email": "eve@example.com"}});
    let (_, submitted) = submit(&client, &server, &key, body, None).await;
    let id = submitted["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let failed = loop {
        let command = get(&client, &server, &key, &format!("/v1/commands/{id}")).await;
        if command["status"] == "failed" {
            break command;
        }
        assert!(Instant::now() < deadline, "never failed: {command}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((failed["attempts"].clone(), failed["error"]["kind"].clone()), (json!(3), json!("transient")));
    let letters = get(&client, &server, &key, "/v1/dlq").await;
    let letter = letters["data"].as_array().unwrap().iter().find(|l| l["message"]["id"] == json!(id)).cloned();
    let letter = letter.unwrap_or_else(|| panic!("no dead letter for {id}: {letters}"));
    assert_eq!(
        (letter["message"]["task"].clone(), letter["reason"].clone()),
        (json!("command"), json!("attempts_exhausted"))
    );

    fake.switches.set(Faults::default());
    let redriven = client.post(server.url("/v1/dlq/redrive")).bearer_auth(&key).json(&json!({})).send().await.unwrap();
    assert_eq!(redriven.json::<Value>().await.unwrap(), json!({"redriven": 1}));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let command = get(&client, &server, &key, &format!("/v1/commands/{id}")).await;
        if command["status"] == "succeeded" {
            break;
        }
        assert!(Instant::now() < deadline, "the redriven command never ran: {command}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(fake.customer_count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_on_one_customer_run_in_submission_order() {
    let fake = Stripe::new(KEY, 1, 200);
    fake.switches.set(Faults { latency: Duration::from_millis(5), ..Faults::default() });
    let customer = fake.customers()[0]["id"].as_str().unwrap().to_owned();
    let running = portage_fakes::serve(fake.router()).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), Some(&config(&running.base, &["default"])));
    let (client, key) = (reqwest::Client::new(), dev_key(dir.path()));

    let mut ids = Vec::new();
    for i in 0..12 {
        let body = json!({"provider": "stripe", "action": "customer.update", "idempotency_key": format!("rename-{i}"),
            "input": {"customer": customer, "name": format!("n{i:02}")}});
        let (status, answer) = submit(&client, &server, &key, body, None).await;
        assert_eq!(status, 202, "{answer}");
        ids.push(answer["id"].as_str().unwrap().to_owned());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for id in &ids {
        while get(&client, &server, &key, &format!("/v1/commands/{id}")).await["status"] != "succeeded" {
            assert!(Instant::now() < deadline, "{id} never finished");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let names: Vec<String> =
        fake.update_history(&customer).into_iter().filter_map(|c| c["name"].as_str().map(str::to_owned)).collect();
    let expected: Vec<String> = (0..12).map(|i| format!("n{i:02}")).collect();
    assert_eq!(names, expected, "the updates reached Stripe in the order they were submitted");
    let state = get(&client, &server, &key, &format!("/v1/state/stripe/customer/{customer}")).await;
    assert_eq!(state["data"]["name"], "n11");
}
