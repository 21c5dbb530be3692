//! Every `/v1` route: its key and scope checks, and what it serves.

use bytes::Bytes;
use http::{Method, StatusCode};
use portage_core::api_keys::{ApiKeys, Scope};
use portage_core::ports::{EventLog, StateStore};
use portage_core::{NewEvent, NormalizedEvent, StateChange, Version};
use serde_json::json;

use crate::support::Api;

/// Every route with the scope it needs.
const ROUTES: &[(Method, &str, Scope)] = &[
    (Method::POST, "/v1/commands", Scope::CommandsWrite),
    (Method::GET, "/v1/commands", Scope::CommandsRead),
    (Method::GET, "/v1/commands/cmd_1", Scope::CommandsRead),
    (Method::GET, "/v1/actions", Scope::CommandsRead),
    (Method::GET, "/v1/state/stripe/customer", Scope::StateRead),
    (Method::GET, "/v1/state/stripe/customer/cus_1", Scope::StateRead),
    (Method::GET, "/v1/events", Scope::EventsRead),
    (Method::GET, "/v1/events/stripe/evt_1", Scope::EventsRead),
    (Method::POST, "/v1/events/stripe/evt_1/replay", Scope::EventsWrite),
    (Method::GET, "/v1/dlq", Scope::EventsRead),
    (Method::POST, "/v1/dlq/redrive", Scope::EventsWrite),
];

#[tokio::test]
async fn every_route_refuses_a_missing_unknown_or_underscoped_key() {
    let api = Api::new();
    let admin = api.key("admin", &[Scope::Admin]).await;
    let unauthorized = json!({ "error": "unauthorized" });
    for (i, (method, path, scope)) in ROUTES.iter().enumerate() {
        let (status, body) = api.call(method.clone(), path, None, None).await;
        assert_eq!((status, &body), (StatusCode::UNAUTHORIZED, &unauthorized), "{method} {path} without a key");
        let unknown = format!("{}x", &admin[..admin.len() - 1]);
        let (status, body) = api.call(method.clone(), path, Some(&unknown), None).await;
        assert_eq!((status, &body), (StatusCode::UNAUTHORIZED, &unauthorized), "{method} {path} with an unknown key");
        let others: Vec<Scope> = Scope::ALL.into_iter().filter(|s| s != scope && *s != Scope::Admin).collect();
        let name = format!("under-{i}");
        let under = api.key(&name, &others).await;
        let (status, body) = api.call(method.clone(), path, Some(&under), None).await;
        assert_eq!(
            (status, body),
            (StatusCode::FORBIDDEN, json!({ "error": "forbidden", "scope": scope.as_str() })),
            "{method} {path} with every other scope"
        );
        let exact = api.key(&format!("exact-{i}"), &[*scope]).await;
        for key in [&exact, &admin] {
            let (status, _) = api.call(method.clone(), path, Some(key), None).await;
            assert!(status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN, "{method} {path}: {status}");
        }
    }
    // Unknown paths under /v1 are behind the key too.
    assert_eq!(api.call(Method::GET, "/v1/nothing", None, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(api.get("/v1/nothing", &admin).await, (StatusCode::NOT_FOUND, json!({ "error": "not_found" })));
    // Other schemes and an empty bearer are not keys.
    let mut request = http::Request::get("/v1/events").header("authorization", format!("Basic {admin}"));
    request = request.header("x-ignored", "1");
    let response = tower::ServiceExt::oneshot(api.router.clone(), request.body(axum::body::Body::empty()).unwrap());
    assert_eq!(response.await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_revoked_key_is_refused_and_use_is_recorded() {
    let api = Api::new();
    let key = api.key("ci", &[Scope::EventsRead]).await;
    assert_eq!(api.get("/v1/events", &key).await.0, StatusCode::OK);
    let listed = ApiKeys::list(api.db.as_ref()).await.unwrap();
    assert!(listed[0].last_used_at_ms.is_some(), "the key's use is recorded");
    assert!(api.db.revoke("ci").await.unwrap());
    assert_eq!(api.get("/v1/events", &key).await.0, StatusCode::UNAUTHORIZED);
}

fn customer(id: &str, name: &str) -> StateChange {
    StateChange {
        kind: "customer".to_owned(),
        id: id.to_owned(),
        version: Version { primary: 10, secondary: 0 },
        data: json!({ "name": name }),
        deleted: false,
    }
}

#[tokio::test]
async fn state_is_served_by_page_and_by_id_per_connection() {
    let api = Api::new();
    let key = api.key("reader", &[Scope::StateRead]).await;
    for i in 0..5 {
        let id = format!("cus_{i}");
        api.db.upsert("stripe", "default", &customer(&id, "a"), Some("evt_a"), 1_800_000_000_000 + i).await.unwrap();
    }
    api.db.upsert("stripe", "shop-b", &customer("cus_0", "b"), None, 1_800_000_000_000).await.unwrap();

    let mut ids = Vec::new();
    let mut path = "/v1/state/stripe/customer?limit=2".to_owned();
    loop {
        let (status, page) = api.get(&path, &key).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for record in page["data"].as_array().unwrap() {
            assert_eq!(record["connection"], "default");
            ids.push(record["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/state/stripe/customer?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(ids, ["cus_0", "cus_1", "cus_2", "cus_3", "cus_4"]);

    let (status, one) = api.get("/v1/state/stripe/customer/cus_0?connection=shop-b", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["data"], json!({ "name": "b" }));
    assert_eq!(one["version"], json!({ "primary": 10, "secondary": 0 }));
    assert_eq!(one["deleted"], false);
    assert_eq!(one["source"], serde_json::Value::Null);
    assert_eq!(one["updated_at"], "2027-01-15T08:00:00.000Z");
    let (_, mine) = api.get("/v1/state/stripe/customer/cus_0", &key).await;
    assert_eq!((mine["data"].clone(), mine["source"].clone()), (json!({ "name": "a" }), json!("evt_a")));

    let (_, since) = api.get("/v1/state/stripe/customer?updated_since=2027-01-15T08:00:00.003Z", &key).await;
    let since: Vec<_> = since["data"].as_array().unwrap().iter().map(|r| r["id"].clone()).collect();
    assert_eq!(since, [json!("cus_3"), json!("cus_4")]);

    assert_eq!(api.get("/v1/state/stripe/customer/cus_9", &key).await.0, StatusCode::NOT_FOUND);
    let (status, body) = api.get("/v1/state/nosuch/customer", &key).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({ "error": "unknown_provider" })));
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=x",
        "cursor=%%%",
        "cursor=bm90IGpzb24",
        "connection=a%23b",
        "updated_since=yesterday",
    ] {
        let (status, body) = api.get(&format!("/v1/state/stripe/customer?{bad}"), &key).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"], "invalid_parameter", "{bad}");
    }
}

fn event(connection: &str, id: &str, at: i64) -> NewEvent {
    NewEvent {
        provider: "stripe".to_owned(),
        connection: connection.to_owned(),
        event: NormalizedEvent {
            event_id: id.to_owned(),
            event_type: "customer.updated".to_owned(),
            occurred_at: 1_700_000_000,
            account: None,
            object_kind: Some("customer".to_owned()),
            object_id: Some("cus_1".to_owned()),
            livemode: Some(false),
        },
        raw: Bytes::from_static(b"{\"id\":\"evt\"}"),
        headers: vec![("stripe-signature".to_owned(), "t=1,v1=00".to_owned())],
        received_at_ms: at,
    }
}

#[tokio::test]
async fn events_page_newest_first_show_whole_and_replay() {
    let api = Api::new();
    let key = api.key("ops", &[Scope::EventsRead, Scope::EventsWrite]).await;
    let t = 1_800_000_000_000;
    for (i, id) in ["evt_1", "evt_2", "evt_3"].into_iter().enumerate() {
        api.db.record(event("default", id, t + i64::try_from(i).unwrap()), 60_000).await.unwrap();
    }
    api.db.record(event("shop-b", "evt_1", t + 10), 60_000).await.unwrap();

    let (_, all) = api.get("/v1/events?limit=10", &key).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 4, "no connection named: every connection");
    let mut seen = Vec::new();
    let mut path = "/v1/events?provider=stripe&connection=default&limit=2".to_owned();
    loop {
        let (status, page) = api.get(&path, &key).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(page["data"].as_array().unwrap().iter().map(|e| e["event_id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/events?provider=stripe&connection=default&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ["evt_3", "evt_2", "evt_1"]);
    let (_, received) = api.get("/v1/events?status=received", &key).await;
    assert_eq!(received["data"].as_array().unwrap().len(), 4);
    assert_eq!(api.get("/v1/events?status=nonsense", &key).await.0, StatusCode::BAD_REQUEST);

    let (status, one) = api.get("/v1/events/stripe/evt_1?connection=shop-b", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((one["connection"].clone(), one["body"].clone()), (json!("shop-b"), json!("{\"id\":\"evt\"}")));
    assert_eq!(one["received_at"], "2027-01-15T08:00:00.010Z");
    let (status, body) = api.get("/v1/events/stripe/evt_9", &key).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({ "error": "event_not_found" })));

    let (status, report) = api.call(Method::POST, "/v1/events/stripe/evt_2/replay", Some(&key), None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["event_id"].clone(), report["connection"].clone()), (json!("evt_2"), json!("default")));
    let missing = api.call(Method::POST, "/v1/events/stripe/evt_9/replay", Some(&key), None).await;
    assert_eq!(missing.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn dead_letters_are_listed_and_redriven() {
    let api = Api::new();
    let key = api.key("ops", &[Scope::EventsRead, Scope::EventsWrite]).await;
    assert_eq!(api.get("/v1/dlq", &key).await, (StatusCode::OK, json!({ "data": [] })));
    let (status, body) = api.call(Method::POST, "/v1/dlq/redrive", Some(&key), Some(json!({ "ids": ["1"] }))).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "redriven": 0 })));
    let (status, body) = api.call(Method::POST, "/v1/dlq/redrive", Some(&key), None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "redriven": 0 })));
    let bad = api.call(Method::POST, "/v1/dlq/redrive", Some(&key), Some(json!({ "id": "1" }))).await;
    assert_eq!(bad.0, StatusCode::BAD_REQUEST);
}
