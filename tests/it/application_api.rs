//! The application API through `portage serve`: the development admin key,
//! keys made with `portage apikey`, state and events served over `/v1`, and
//! no key in any output but the one that shows it.

use std::time::{Duration, Instant};

use crate::common;

use common::{Server, cli, post_stripe, stdout, stripe_event};
use serde_json::{Value, json};

async fn get(client: &reqwest::Client, url: &str, key: Option<&str>) -> (u16, Value) {
    let mut request = client.get(url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_makes_a_dev_key_and_serves_state_and_events_to_keys_with_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None);
    let client = reqwest::Client::new();
    let saved = dir.path().join("dev-api-key");
    let dev = std::fs::read_to_string(&saved).unwrap().trim().to_owned();
    assert!(dev.starts_with("ptg_"), "{dev}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777, 0o600);
    }

    let id = "evt_api_1";
    let object = json!({"id": "cus_api_1", "object": "customer", "email": "ada@example.com", "name": "Ada"});
    let body = stripe_event(id, "customer.created", 1_750_000_000, object);
    assert_eq!(post_stripe(&client, &server.url("/webhooks/stripe"), body).await.0, 200);

    assert_eq!(get(&client, &server.url("/v1/events"), None).await, (401, json!({ "error": "unauthorized" })));
    let state_url = server.url("/v1/state/stripe/customer/cus_api_1");
    let deadline = Instant::now() + Duration::from_secs(30);
    let record = loop {
        let (status, record) = get(&client, &state_url, Some(&dev)).await;
        if status == 200 || Instant::now() > deadline {
            break record;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((record["connection"].clone(), record["data"]["name"].clone()), (json!("default"), json!("Ada")));
    assert_eq!(record["source"], id);

    let created = cli(dir.path(), &["apikey", "create", "--name", "reader", "--scope", "state:read"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let reader = stdout(&created);
    assert_eq!(reader.lines().count(), 1, "only the key is printed");
    let reader = reader.trim();
    assert!(reader.starts_with("ptg_") && reader != dev);
    assert_eq!(get(&client, &state_url, Some(reader)).await.0, 200);
    let (status, body) = get(&client, &server.url("/v1/events"), Some(reader)).await;
    assert_eq!((status, body), (403, json!({ "error": "forbidden", "scope": "events:read" })));
    let (status, events) = get(&client, &server.url("/v1/events?provider=stripe"), Some(&dev)).await;
    assert_eq!(status, 200);
    assert_eq!(events["data"][0]["event_id"], id);

    let taken = cli(dir.path(), &["apikey", "create", "--name", "reader", "--scope", "admin"]);
    assert!(!taken.status.success() && taken.stdout.is_empty(), "a taken name is refused");
    let listed = cli(dir.path(), &["apikey", "list", "--format", "json"]);
    let listed: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<&str> = listed.iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["dev", "reader"]);
    assert_eq!(listed[1]["scopes"], json!(["state:read"]));
    assert!(listed[1]["prefix"].as_str().is_some_and(|p| reader.starts_with(p) && p.len() < 16));
    assert!(listed[0]["last_used_at"].is_string() && listed[1]["created_at"].is_string());
    let text = serde_json::to_string(&listed).unwrap();
    assert!(!text.contains(reader) && !text.contains(&dev), "a listing never holds a key");

    assert!(cli(dir.path(), &["apikey", "revoke", "reader"]).status.success());
    assert_eq!(get(&client, &state_url, Some(reader)).await.0, 401, "a revoked key is refused at once");
    assert!(!cli(dir.path(), &["apikey", "revoke", "reader"]).status.success());

    let logs = server.logs();
    for key in [dev.as_str(), reader] {
        assert!(!logs.contains(key), "a key appears in the server's log");
        assert!(!logs.contains(&key[4..]), "part of a key appears in the server's log");
    }
    drop(server);
    let again = Server::start(dir.path(), None);
    assert_eq!(std::fs::read_to_string(&saved).unwrap().trim(), dev, "a second start makes no new key");
    assert_eq!(get(&client, &again.url("/v1/events"), Some(&dev)).await.0, 200);
}
