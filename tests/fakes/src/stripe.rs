//! A Stripe fake: `Authorization: Bearer <secret key>`, customers listed with
//! `limit` (at most 100), `starting_after` and `has_more`, created from form
//! bodies with `Idempotency-Key` replayed as Stripe does (the same key with
//! other parameters is an `idempotency_error`), fetched by id
//! (`resource_missing`), a per-second request limit answered with Stripe's
//! 429 body, and `Request-Id` on every answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::faults::{Switches, answer};

/// The fake's state.
pub struct Stripe {
    /// The secret key it accepts.
    pub key: String,
    /// Fault switches and counts.
    pub switches: Switches,
    customers: Mutex<Vec<Value>>,
    idempotency: Mutex<HashMap<String, (String, Value)>>,
    limit: Mutex<(Instant, u32)>,
    per_second: u32,
    ids: AtomicU64,
}

impl Stripe {
    /// A fake with `customers` already created and `per_second` allowed.
    pub fn new(key: &str, customers: usize, per_second: u32) -> Arc<Self> {
        let fake = Self {
            key: key.to_owned(),
            switches: Switches::default(),
            customers: Mutex::new(Vec::new()),
            idempotency: Mutex::new(HashMap::new()),
            limit: Mutex::new((Instant::now(), 0)),
            per_second,
            ids: AtomicU64::new(1),
        };
        for i in 0..customers {
            fake.create(&[("email".into(), format!("c{i}@example.com"))]);
        }
        Arc::new(fake)
    }

    /// The router.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/v1/customers", get(list).post(create))
            .route("/v1/customers/{id}", get(retrieve))
            .with_state(self.clone())
    }

    /// Customers created so far.
    pub fn customer_count(&self) -> usize {
        self.customers.lock().map(|c| c.len()).unwrap_or(0)
    }

    fn create(&self, params: &[(String, String)]) -> Value {
        let n = self.ids.fetch_add(1, Ordering::SeqCst);
        let mut customer = json!({"id": format!("cus_{n:014}"), "object": "customer", "created": 1_795_000_000 + n});
        for (k, v) in params {
            customer[k] = json!(v);
        }
        self.customers.lock().expect("customers").push(customer.clone());
        customer
    }
}

fn error(status: StatusCode, kind: &str, code: Option<&str>, message: &str, param: Option<&str>) -> Response {
    let mut body = json!({"error": {"type": kind, "message": message}});
    if let Some(code) = code {
        body["error"]["code"] = json!(code);
    }
    if let Some(param) = param {
        body["error"]["param"] = json!(param);
    }
    (status, [("request-id", request_id())], axum::Json(body)).into_response()
}

fn request_id() -> String {
    format!("req_{:016x}", rand::random::<u64>())
}

fn ok(body: Value) -> Response {
    ([("request-id", request_id())], axum::Json(body)).into_response()
}

/// Authentication, the per-second limit and injected faults, in Stripe's order.
async fn gate(fake: &Stripe, headers: &HeaderMap) -> Option<Response> {
    let injected = answer(fake.switches.decide().await, |status| {
        if status == StatusCode::TOO_MANY_REQUESTS {
            return error(status, "invalid_request_error", Some("rate_limit"), "Request rate limit exceeded.", None);
        }
        let mut response = error(status, "api_error", None, "An unknown error occurred.", None);
        response.headers_mut().insert("stripe-should-retry", HeaderValue::from_static("true"));
        response
    });
    if injected.is_some() {
        return injected;
    }
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(fake.key.as_str()) {
        let shown = bearer.map(|k| format!("{}****", k.chars().take(8).collect::<String>())).unwrap_or_default();
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            &format!("Invalid API Key provided: {shown}"),
            None,
        ));
    }
    let mut window = fake.limit.lock().expect("limit");
    if window.0.elapsed().as_secs_f64() >= 1.0 {
        *window = (Instant::now(), 0);
    }
    window.1 += 1;
    if window.1 > fake.per_second {
        fake.switches.throttled.fetch_add(1, Ordering::SeqCst);
        return Some(error(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_request_error",
            Some("rate_limit"),
            "Request rate limit exceeded.",
            None,
        ));
    }
    None
}

async fn list(
    State(fake): State<Arc<Stripe>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = gate(&fake, &headers).await {
        return refused;
    }
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => 10,
        Some(Ok(l)) if (1..=100).contains(&l) => l,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("parameter_invalid_integer"),
                "Invalid integer: limit must be between 1 and 100",
                Some("limit"),
            );
        }
    };
    let customers = fake.customers.lock().expect("customers").clone();
    // Stripe lists newest first; `starting_after` continues after that id.
    let mut newest_first: Vec<Value> = customers.into_iter().rev().collect();
    if let Some(after) = query.get("starting_after") {
        let Some(at) = newest_first.iter().position(|c| c["id"] == json!(after)) else {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("resource_missing"),
                &format!("No such customer: '{after}'"),
                Some("starting_after"),
            );
        };
        newest_first.drain(..=at);
    }
    let has_more = newest_first.len() > limit;
    newest_first.truncate(limit);
    ok(json!({"object": "list", "url": "/v1/customers", "has_more": has_more, "data": newest_first}))
}

async fn retrieve(State(fake): State<Arc<Stripe>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refused) = gate(&fake, &headers).await {
        return refused;
    }
    let found = fake.customers.lock().expect("customers").iter().find(|c| c["id"] == json!(id)).cloned();
    match found {
        Some(customer) => ok(customer),
        None => error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("resource_missing"),
            &format!("No such customer: '{id}'"),
            Some("id"),
        ),
    }
}

async fn create(State(fake): State<Arc<Stripe>>, headers: HeaderMap, body: String) -> Response {
    if let Some(refused) = gate(&fake, &headers).await {
        return refused;
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let replay = key.as_ref().and_then(|k| fake.idempotency.lock().expect("keys").get(k).cloned());
    if let Some((seen, response)) = replay {
        if seen != body {
            return error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                None,
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                None,
            );
        }
        let mut replayed = ok(response);
        replayed.headers_mut().insert("idempotent-replayed", "true".parse().expect("header"));
        return replayed;
    }
    if params.iter().any(|(k, v)| k == "email" && !v.contains('@')) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("email_invalid"),
            "Invalid email address",
            Some("email"),
        );
    }
    let customer = fake.create(&params);
    if let Some(key) = key {
        fake.idempotency.lock().expect("keys").insert(key, (body, customer.clone()));
    }
    ok(customer)
}
