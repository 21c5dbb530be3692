//! `POST /v1/commands` and the routes that read commands and actions: the
//! submission contract (idempotency, conflicts, input, credentials), without
//! executing anything.

use http::{Method, StatusCode};
use portage_core::api_keys::Scope;
use portage_core::ports::Queue;
use serde_json::{Value, json};

use crate::support::Api;

fn create(key: &str, email: &str) -> Value {
    json!({ "provider": "stripe", "action": "customer.create", "input": { "email": email }, "idempotency_key": key })
}

#[tokio::test]
async fn a_command_is_recorded_once_per_key_and_a_reused_key_is_refused() {
    let api = Api::new();
    let key = api.key("app", &[Scope::CommandsWrite, Scope::CommandsRead]).await;
    let (status, first) =
        api.call(Method::POST, "/v1/commands", Some(&key), Some(create("k-1", "ada@example.com"))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let id = first["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("cmd_"));
    assert_eq!(first, json!({ "id": id, "status": "queued", "duplicate": false }));

    let (status, again) =
        api.call(Method::POST, "/v1/commands", Some(&key), Some(create("k-1", "ada@example.com"))).await;
    assert_eq!((status, again), (StatusCode::ACCEPTED, json!({ "id": id, "status": "queued", "duplicate": true })));
    let reordered = json!({ "idempotency_key": "k-1", "input": { "email": "ada@example.com" },
        "action": "customer.create", "connection": "default", "provider": "stripe" });
    let (_, same) = api.call(Method::POST, "/v1/commands", Some(&key), Some(reordered)).await;
    assert_eq!(same["id"], id.as_str(), "the same request, however written, is the same command");

    let (status, body) =
        api.call(Method::POST, "/v1/commands", Some(&key), Some(create("k-1", "bob@example.com"))).await;
    assert_eq!((status, body), (StatusCode::CONFLICT, json!({ "error": "idempotency_key_reused" })));
    let mut update = create("k-1", "ada@example.com");
    update["action"] = json!("customer.update");
    update["input"]["customer"] = json!("cus_1");
    assert_eq!(api.call(Method::POST, "/v1/commands", Some(&key), Some(update)).await.0, StatusCode::CONFLICT);
    let mut other = create("k-1", "bob@example.com");
    other["connection"] = json!("shop-b");
    let (status, _) = api.call(Method::POST, "/v1/commands", Some(&key), Some(other)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "another connection's keys are its own");

    let (status, shown) = api.get(&format!("/v1/commands/{id}"), &key).await;
    assert_eq!(status, StatusCode::OK);
    for field in [
        "provider",
        "connection",
        "action",
        "idempotency_key",
        "status",
        "attempts",
        "input",
        "result",
        "error",
        "created_at",
        "updated_at",
    ] {
        assert!(shown.get(field).is_some(), "{field} in {shown}");
    }
    assert_eq!(
        (shown["status"].clone(), shown["attempts"].clone(), shown["result"].clone()),
        (json!("queued"), json!(0), Value::Null)
    );
    assert_eq!(shown["input"], json!({ "email": "ada@example.com" }));
    let (status, body) = api.get("/v1/commands/cmd_nope", &key).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({ "error": "command_not_found" })));

    // Queued once per new command, and again for a duplicate still queued
    // (a lost enqueue heals); every message names a command.
    let messages = api.queue.receive(100, std::time::Duration::from_secs(30)).await.unwrap();
    assert!(messages.len() >= 2);
    assert!(messages.iter().all(|m| matches!(&m.task, portage_core::Task::Command { .. })));
}

#[tokio::test]
async fn bad_submissions_get_their_codes_and_record_nothing() {
    let api = Api::new();
    let key = api.key("app", &[Scope::CommandsWrite, Scope::CommandsRead]).await;
    let post = |body: Value| {
        let (api, key) = (&api, &key);
        async move { api.call(Method::POST, "/v1/commands", Some(key), Some(body)).await }
    };
    let mut missing = create("x", "ada@example.com");
    missing.as_object_mut().unwrap().remove("idempotency_key");
    assert_eq!(post(missing).await, (StatusCode::BAD_REQUEST, json!({ "error": "missing_idempotency_key" })));
    let mut unknown = create("k-2", "ada@example.com");
    unknown["action"] = json!("customer.explode");
    assert_eq!(post(unknown).await, (StatusCode::NOT_FOUND, json!({ "error": "unknown_action" })));
    let mut nowhere = create("k-3", "ada@example.com");
    nowhere["provider"] = json!("nosuch");
    assert_eq!(post(nowhere).await, (StatusCode::NOT_FOUND, json!({ "error": "unknown_action" })));

    let (status, body) = post(create("k-4", "not an email")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "invalid_input");
    assert_eq!(body["details"][0]["path"], "/email");
    assert!(
        body["details"][0]["message"].as_str().is_some_and(|m| !m.contains("not an email")),
        "values are not echoed"
    );
    let mut extra = create("k-5", "ada@example.com");
    extra["input"]["colour"] = json!("red");
    assert_eq!(post(extra).await.1["error"], "invalid_input");
    let refund =
        json!({ "provider": "stripe", "action": "refund.create", "input": { "amount": 5 }, "idempotency_key": "k-6" });
    let (status, body) = post(refund).await;
    assert_eq!((status, body["error"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("invalid_input")));

    let mut unready = create("k-7", "ada@example.com");
    unready["connection"] = json!("no-secrets");
    let (status, body) = post(unready).await;
    assert_eq!((status, body["error"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("connection_not_ready")));
    assert_eq!(post(json!({ "provider": "stripe" })).await.0, StatusCode::BAD_REQUEST);

    let (_, listed) = api.get("/v1/commands", &key).await;
    assert_eq!(listed, json!({ "data": [], "next_cursor": null }), "nothing was recorded");
    assert_eq!(api.queue.receive(10, std::time::Duration::from_secs(1)).await.unwrap().len(), 0, "nothing queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_key_may_come_as_a_header_and_twenty_concurrent_submissions_make_one_command() {
    let api = Api::new();
    let key = api.key("app", &[Scope::CommandsWrite, Scope::CommandsRead]).await;
    let mut body = create("unused", "ada@example.com");
    body.as_object_mut().unwrap().remove("idempotency_key");
    let submissions = (0..20).map(|_| {
        let request = http::Request::post("/v1/commands")
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .header("idempotency-key", "same-key")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        tokio::spawn(tower::ServiceExt::oneshot(api.router.clone(), request))
    });
    let handles: Vec<_> = submissions.collect();
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.unwrap());
    }
    let mut ids = std::collections::BTreeSet::new();
    let mut fresh = 0;
    for response in answers {
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        ids.insert(value["id"].as_str().unwrap().to_owned());
        fresh += usize::from(value["duplicate"] == false);
    }
    assert_eq!((ids.len(), fresh), (1, 1), "one command, recorded once");
    let (_, listed) = api.get("/v1/commands?provider=stripe&status=queued", &key).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn commands_page_newest_first_and_actions_are_listed() {
    let api = Api::new();
    let key = api.key("app", &[Scope::CommandsWrite, Scope::CommandsRead]).await;
    for i in 0..5 {
        let (status, _) =
            api.call(Method::POST, "/v1/commands", Some(&key), Some(create(&format!("k{i}"), "a@b.io"))).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let mut keys = Vec::new();
    let mut path = "/v1/commands?limit=2".to_owned();
    loop {
        let (status, page) = api.get(&path, &key).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        keys.extend(page["data"].as_array().unwrap().iter().map(|c| c["idempotency_key"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/commands?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(keys, ["k4", "k3", "k2", "k1", "k0"]);
    assert_eq!(api.get("/v1/commands?status=done", &key).await.0, StatusCode::BAD_REQUEST);

    let (status, actions) = api.get("/v1/actions?provider=stripe", &key).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = actions.as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(names, ["customer.create", "customer.update", "refund.create"]);
    let first = &actions[0];
    assert_eq!((first["provider"].clone(), first["effect"].clone()), (json!("stripe"), json!("provider_key")));
    assert_eq!(first["input_schema"]["type"], "object");
    assert!(first["description"].is_string());
    let (_, all) = api.get("/v1/actions", &key).await;
    assert!(all.as_array().unwrap().len() >= 3);
}
