//! A Stripe fake: `Authorization: Bearer <secret key>`, customers listed with
//! `limit` (at most 100), `starting_after` and `has_more`, created from form
//! bodies with `Idempotency-Key` replayed as Stripe does (the same key with
//! other parameters is an `idempotency_error`), fetched by id
//! (`resource_missing`), a per-second request limit (a token bucket, as
//! Stripe's own limiter is: `per_second` tokens, refilled at that rate)
//! answered with Stripe's 429 body, and `Request-Id` on every answer. Customers are updated by
//! `POST /v1/customers/{id}`; refunds of payment intents a test put in are
//! made by `POST /v1/refunds` (see `stripe/writes.rs` for writes and their
//! idempotency); every create and update is also an event on
//! `GET /v1/events` (`created[gte]`, `type` with a `*` wildcard, `types[]`,
//! newest first, the same paging). Subscriptions put in by a test are
//! served by id, and so are prices; subscriptions, invoices and payment
//! intents list empty.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::faults::{Fault, Switches, answer};

mod billing;
mod clock;
mod schedules;
mod writes;

/// A write that took effect: its request line (method, path, body) and its form.
pub type Write = (String, Vec<(String, String)>);

/// The fake's state.
pub struct Stripe {
    /// The secret key it accepts.
    pub key: String,
    /// Fault switches and counts.
    pub switches: Switches,
    customers: Mutex<Vec<Value>>,
    events: Mutex<Vec<Value>>,
    subscriptions: Mutex<HashMap<String, Value>>,
    idempotency: Mutex<HashMap<String, (String, Value)>>,
    payment_intents: Mutex<HashMap<String, Value>>,
    refunds: Mutex<Vec<Value>>,
    limit: Mutex<(Instant, f64)>,
    per_second: u32,
    ids: AtomicU64,
    failing: Mutex<std::collections::HashSet<String>>,
    clock: Mutex<i64>,
    writes: Mutex<Vec<Write>>,
}

impl Stripe {
    /// A fake with `customers` already created and `per_second` allowed.
    pub fn new(key: &str, customers: usize, per_second: u32) -> Arc<Self> {
        let fake = Self {
            key: key.to_owned(),
            switches: Switches::default(),
            customers: Mutex::new(Vec::new()),
            events: Mutex::new(Vec::new()),
            subscriptions: Mutex::new(HashMap::new()),
            idempotency: Mutex::new(HashMap::new()),
            payment_intents: Mutex::new(HashMap::new()),
            refunds: Mutex::new(Vec::new()),
            limit: Mutex::new((Instant::now(), f64::from(per_second))),
            per_second,
            ids: AtomicU64::new(1),
            failing: Mutex::new(std::collections::HashSet::new()),
            clock: Mutex::new(unix_now()),
            writes: Mutex::new(Vec::new()),
        };
        for i in 0..customers {
            fake.create(&[("email".into(), format!("c{i}@example.com"))]);
        }
        Arc::new(fake)
    }

    /// The router.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/v1/customers", get(list).post(writes::create_customer))
            .route("/v1/customers/{id}", get(retrieve).post(writes::update_customer))
            .route("/v1/refunds", post(writes::create_refund))
            .route("/v1/events", get(list_events))
            .route("/v1/subscriptions", get(list_subscriptions))
            .route(
                "/v1/subscriptions/{id}",
                get(retrieve_subscription).post(billing::update_subscription).delete(billing::cancel_subscription),
            )
            .route("/v1/subscription_items", post(billing::write_item))
            .route("/v1/subscription_items/{id}", post(billing::write_item).delete(billing::delete_item))
            .route("/v1/subscription_schedules", post(schedules::write_schedule))
            .route("/v1/subscription_schedules/{id}", get(retrieve_schedule).post(schedules::write_schedule))
            .route("/v1/checkout/sessions", post(billing::create_session))
            .route("/v1/checkout/sessions/{id}", get(retrieve_session))
            .route("/v1/billing_portal/sessions", post(billing::portal))
            .route("/v1/prices/{id}", get(retrieve_price))
            .route("/v1/invoices", get(list_empty))
            .route("/v1/payment_intents", get(list_empty))
            .with_state(self.clone())
    }

    /// Customers created so far.
    pub fn customer_count(&self) -> usize {
        self.customers.lock().map(|c| c.len()).unwrap_or(0)
    }

    fn create(&self, params: &[(String, String)]) -> Value {
        let n = self.ids.fetch_add(1, Ordering::SeqCst);
        let mut customer =
            json!({"id": format!("cus_{n:014}"), "object": "customer", "created": 1_795_000_000 + n, "metadata": {}});
        set_params(&mut customer, params);
        self.customers.lock().expect("customers").push(customer.clone());
        self.record_event("customer.created", &customer);
        customer
    }

    /// Changes a customer at the provider, as a dashboard edit would (the
    /// change is an event; no webhook is sent). `None` for an unknown id.
    pub fn update(&self, id: &str, params: &[(String, String)]) -> Option<Value> {
        let updated = {
            let mut customers = self.customers.lock().expect("customers");
            let customer = customers.iter_mut().find(|c| c["id"] == json!(id))?;
            set_params(customer, params);
            customer.clone()
        };
        self.record_event("customer.updated", &updated);
        Some(updated)
    }

    /// Stores a payment intent (`id`, `amount`, `currency`) that refunds may name.
    pub fn put_payment_intent(&self, payment_intent: Value) {
        let id = payment_intent["id"].as_str().unwrap_or_default().to_owned();
        self.payment_intents.lock().expect("payment intents").insert(id, payment_intent);
    }

    /// Every refund made, oldest first.
    pub fn refunds(&self) -> Vec<Value> {
        self.refunds.lock().expect("refunds").clone()
    }

    /// A customer's state after each of its updates, in the order they were made.
    pub fn update_history(&self, id: &str) -> Vec<Value> {
        let events = self.events.lock().expect("events");
        events
            .iter()
            .filter(|e| e["type"] == "customer.updated" && e["data"]["object"]["id"] == json!(id))
            .map(|e| e["data"]["object"].clone())
            .collect()
    }

    /// Every customer, oldest first.
    pub fn customers(&self) -> Vec<Value> {
        self.customers.lock().expect("customers").clone()
    }

    /// Puts in a price (`{"id": "price_…", "object": "price", …}`), served by id.
    pub fn put_price(&self, price: Value) {
        self.put_subscription(price);
    }

    /// Stores a subscription, served by `GET /v1/subscriptions/{id}`.
    pub fn put_subscription(&self, subscription: Value) {
        let id = subscription["id"].as_str().unwrap_or_default().to_owned();
        self.subscriptions.lock().expect("subscriptions").insert(id, subscription);
    }

    /// Every write that took effect, oldest first: its request line and form.
    pub fn writes(&self) -> Vec<Write> {
        self.writes.lock().expect("writes").clone()
    }

    /// Events recorded after the first `seen`, oldest first (what a test
    /// delivers as webhooks next).
    pub fn events_since(&self, seen: usize) -> Vec<Value> {
        self.events.lock().expect("events").iter().skip(seen).cloned().collect()
    }

    fn record_event(&self, kind: &str, object: &Value) {
        let n = self.ids.fetch_add(1, Ordering::SeqCst);
        let created = self.now();
        let event = json!({"id": format!("evt_{n:014}"), "object": "event", "type": kind, "created": created,
            "data": {"object": object}});
        self.events.lock().expect("events").push(event);
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Form parameters onto an object as Stripe reads them: `metadata[k]=v`
/// sets one metadata key (an empty value removes it), others set a field.
fn set_params(object: &mut Value, params: &[(String, String)]) {
    for (k, v) in params {
        match k.strip_prefix("metadata[").and_then(|rest| rest.strip_suffix(']')) {
            Some(name) if v.is_empty() => {
                if let Some(metadata) = object["metadata"].as_object_mut() {
                    metadata.remove(name);
                }
            }
            Some(name) => object["metadata"][name] = json!(v),
            None => object[k] = json!(v),
        }
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

/// An injected fault's answer, in Stripe's error shape.
fn injected(fault: Fault) -> Option<Response> {
    answer(fault, |status| {
        if status == StatusCode::TOO_MANY_REQUESTS {
            return error(status, "invalid_request_error", Some("rate_limit"), "Request rate limit exceeded.", None);
        }
        let mut response = error(status, "api_error", None, "An unknown error occurred.", None);
        response.headers_mut().insert("stripe-should-retry", HeaderValue::from_static("true"));
        response
    })
}

/// Injected faults, authentication and the per-second limit, in Stripe's order.
async fn gate(fake: &Stripe, headers: &HeaderMap) -> Option<Response> {
    injected(fake.switches.decide().await).or_else(|| admit(fake, headers))
}

/// Authentication and the per-second limit.
fn admit(fake: &Stripe, headers: &HeaderMap) -> Option<Response> {
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
    let mut bucket = fake.limit.lock().expect("limit");
    let rate = f64::from(fake.per_second);
    *bucket = (Instant::now(), (bucket.1 + bucket.0.elapsed().as_secs_f64() * rate).min(rate));
    if bucket.1 >= 1.0 {
        bucket.1 -= 1.0;
    } else {
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
    let Some(limit) = list_limit(&query) else { return invalid_limit() };
    let customers = fake.customers.lock().expect("customers");
    page(&customers, limit, &query, "/v1/customers")
}

/// The limit a list request asks for; `None` when it is not one Stripe takes.
fn list_limit(query: &HashMap<String, String>) -> Option<usize> {
    match query.get("limit").map(|l| l.parse::<usize>()) {
        None => Some(10),
        Some(Ok(l)) if (1..=100).contains(&l) => Some(l),
        Some(_) => None,
    }
}

/// Stripe's answer to a limit out of range.
fn invalid_limit() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        Some("parameter_invalid_integer"),
        "Invalid integer: limit must be between 1 and 100",
        Some("limit"),
    )
}

/// One page of `oldest_first`, newest first, after `starting_after`.
fn page(oldest_first: &[Value], limit: usize, query: &HashMap<String, String>, url: &str) -> Response {
    // Stripe lists newest first; `starting_after` continues after that id.
    // Only the page is copied: a listing of many objects costs what Stripe's does.
    let mut newest_first = oldest_first.iter().rev();
    if let Some(after) = query.get("starting_after")
        && newest_first.position(|c| c["id"].as_str() == Some(after.as_str())).is_none()
    {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("resource_missing"),
            &format!("No such object: '{after}'"),
            Some("starting_after"),
        );
    }
    let mut data: Vec<Value> = newest_first.by_ref().take(limit).cloned().collect();
    let has_more = newest_first.next().is_some();
    data.truncate(limit);
    ok(json!({"object": "list", "url": url, "has_more": has_more, "data": data}))
}

async fn retrieve_subscription(state: State<Arc<Stripe>>, headers: HeaderMap, id: Path<String>) -> Response {
    retrieve_put(state, headers, id, "subscription").await
}

async fn retrieve_schedule(state: State<Arc<Stripe>>, headers: HeaderMap, id: Path<String>) -> Response {
    retrieve_put(state, headers, id, "subscription_schedule").await
}

async fn retrieve_session(state: State<Arc<Stripe>>, headers: HeaderMap, id: Path<String>) -> Response {
    retrieve_put(state, headers, id, "checkout.session").await
}

/// `GET /v1/subscriptions`, optionally `customer=`.
async fn list_subscriptions(
    State(fake): State<Arc<Stripe>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = gate(&fake, &headers).await {
        return refused;
    }
    let Some(limit) = list_limit(&query) else { return invalid_limit() };
    let found = billing::subscriptions_of(&fake, query.get("customer").map(String::as_str));
    page(&found, limit, &query, "/v1/subscriptions")
}

async fn retrieve_price(state: State<Arc<Stripe>>, headers: HeaderMap, id: Path<String>) -> Response {
    retrieve_put(state, headers, id, "price").await
}

/// An object a test put in, by id.
async fn retrieve_put(
    State(fake): State<Arc<Stripe>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    kind: &str,
) -> Response {
    if let Some(refused) = gate(&fake, &headers).await {
        return refused;
    }
    let found = fake.subscriptions.lock().expect("objects").get(&id).filter(|o| o["object"] == kind).cloned();
    match found {
        Some(object) => ok(object),
        None => error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("resource_missing"),
            &format!("No such {kind}: '{id}'"),
            Some("id"),
        ),
    }
}

async fn list_events(
    State(fake): State<Arc<Stripe>>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(refused) = gate(&fake, &headers).await {
        return refused;
    }
    let single: HashMap<String, String> = query.iter().cloned().collect();
    let Some(limit) = list_limit(&single) else { return invalid_limit() };
    let types: Vec<&str> = query.iter().filter(|(k, _)| k == "types[]").map(|(_, v)| v.as_str()).collect();
    let wildcard = single.get("type");
    if wildcard.is_some() && !types.is_empty() {
        let message = "You may pass either `type` or `types`, but not both.";
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", None, message, Some("type"));
    }
    let since = single.get("created[gte]").and_then(|s| s.parse::<i64>().ok()).unwrap_or(i64::MIN);
    let matches = |kind: &str| match wildcard {
        Some(pattern) => pattern.strip_suffix('*').map_or(kind == pattern, |prefix| kind.starts_with(prefix)),
        None => types.is_empty() || types.contains(&kind),
    };
    let events: Vec<Value> = fake
        .events
        .lock()
        .expect("events")
        .iter()
        .filter(|e| e["created"].as_i64().unwrap_or(0) >= since && matches(e["type"].as_str().unwrap_or_default()))
        .cloned()
        .collect();
    page(&events, limit, &single, "/v1/events")
}

async fn list_empty(
    State(fake): State<Arc<Stripe>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = gate(&fake, &headers).await {
        return refused;
    }
    match list_limit(&query) {
        Some(limit) => page(&[], limit, &query, "/v1/list"),
        None => invalid_limit(),
    }
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
