//! A PayPal fake: the client-credentials token (`POST /v1/oauth2/token`,
//! HTTP Basic, `expires_in`), bearer tokens checked on every call,
//! `PayPal-Request-Id` replayed (the same id answers the first call's
//! result), PayPal's error bodies (`{name, message, debug_id, details:
//! [{field, issue, description}]}`), and the calls billing makes:
//! subscriptions (`POST /v1/billing/subscriptions` to a plan the test put
//! in, `APPROVAL_PENDING` with an `approve` link), orders (`POST
//! /v2/checkout/orders`, a `payer-action` link; `POST …/capture` only once
//! approved), captures and their refunds (`POST
//! /v2/payments/captures/{id}/refund`, never beyond what is left).
//!
//! The buyer's side is the test's: [`PayPal::approve_subscription`],
//! [`PayPal::approve_order`]; each change is also a webhook event in
//! PayPal's shape, read with [`PayPal::events_since`].

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

use crate::faults::{Switches, answer};

/// The fake's state.
pub struct PayPal {
    /// Fault switches and counts.
    pub switches: Switches,
    /// The writes it accepted past authentication, for contract tests.
    pub recorded: crate::recorded::Recorder,
    client_id: String,
    client_secret: String,
    tokens: Mutex<HashSet<String>>,
    plans: Mutex<HashSet<String>>,
    objects: Mutex<HashMap<String, Value>>,
    replies: Mutex<HashMap<String, (StatusCode, Value)>>,
    events: Mutex<Vec<Value>>,
    ids: AtomicU64,
}

fn failure(status: StatusCode, name: &str, message: &str, details: Value) -> Response {
    let body = json!({"name": name, "message": message, "debug_id": format!("{:013x}", rand::random::<u64>() >> 12),
        "details": details});
    (status, axum::Json(body)).into_response()
}

/// A refusal inside a write (boxed: a response is large).
type Refusal = Box<Response>;

fn refusal(status: StatusCode, name: &str, message: &str, details: Value) -> Refusal {
    Box::new(failure(status, name, message, details))
}

fn invalid(field: &str, issue: &str, description: &str) -> Refusal {
    let details = json!([{"field": field, "location": "body", "issue": issue, "description": description}]);
    refusal(
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
        "Request is not well-formed, syntactically incorrect, or violates schema.",
        details,
    )
}

fn now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let (d, m) = (doy - (153 * mp + 2) / 5 + 1, if mp < 10 { mp + 3 } else { mp - 9 });
    let y = yoe + era * 400 + i64::from(m <= 2);
    let t = secs % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", t / 3600, t / 60 % 60, t % 60)
}

impl PayPal {
    /// A fake accepting this client id and secret.
    pub fn new(client_id: &str, client_secret: &str) -> Arc<Self> {
        Arc::new(Self {
            switches: Switches::default(),
            recorded: crate::recorded::Recorder::default(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            tokens: Mutex::new(HashSet::new()),
            plans: Mutex::new(HashSet::new()),
            objects: Mutex::new(HashMap::new()),
            replies: Mutex::new(HashMap::new()),
            events: Mutex::new(Vec::new()),
            ids: AtomicU64::new(1),
        })
    }

    /// The router.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/v1/oauth2/token", post(token))
            .route("/v1/billing/subscriptions", post(create_subscription))
            .route("/v1/billing/subscriptions/{id}", get(retrieve))
            .route("/v2/checkout/orders", post(create_order))
            .route("/v2/checkout/orders/{id}", get(retrieve))
            .route("/v2/checkout/orders/{id}/capture", post(capture))
            .route("/v2/payments/captures/{id}", get(retrieve))
            .route("/v2/payments/captures/{id}/refund", post(refund))
            .with_state(self.clone())
    }

    /// Puts in a billing plan subscriptions may name.
    pub fn put_plan(&self, plan: &str) {
        self.plans.lock().expect("plans").insert(plan.to_owned());
    }

    /// An object by id (subscription, order, capture, refund).
    pub fn object(&self, id: &str) -> Option<Value> {
        self.objects.lock().expect("objects").get(id).cloned()
    }

    /// Webhook events after the first `seen`, oldest first.
    pub fn events_since(&self, seen: usize) -> Vec<Value> {
        self.events.lock().expect("events").iter().skip(seen).cloned().collect()
    }

    fn next_id(&self, prefix: &str) -> String {
        format!("{prefix}{:013}", self.ids.fetch_add(1, Ordering::SeqCst))
    }

    fn store(&self, object: &Value) {
        let id = object["id"].as_str().unwrap_or_default().to_owned();
        self.objects.lock().expect("objects").insert(id, object.clone());
    }

    fn event(&self, event_type: &str, resource_type: &str, resource: &Value) {
        let event = json!({"id": self.next_id("WH-"), "event_version": "1.0", "create_time": now(),
            "resource_type": resource_type, "event_type": event_type, "summary": event_type,
            "resource": resource});
        self.events.lock().expect("events").push(event);
    }

    /// The buyer approves a subscription: it is `ACTIVE`, its first payment
    /// made (`BILLING.SUBSCRIPTION.ACTIVATED`, then `PAYMENT.SALE.COMPLETED`).
    pub fn approve_subscription(&self, id: &str) -> Option<Value> {
        let mut subscription = self.object(id)?;
        subscription["status"] = json!("ACTIVE");
        subscription["status_update_time"] = json!(now());
        subscription["update_time"] = json!(now());
        subscription["subscriber"] = json!({"payer_id": self.next_id("PAYER"), "email_address": "buyer@example.com"});
        subscription["billing_info"] = json!({"failed_payments_count": 0, "last_payment": {"amount": {"currency_code": "USD", "value": "10.00"}, "time": now()}});
        self.store(&subscription);
        self.event("BILLING.SUBSCRIPTION.ACTIVATED", "subscription", &subscription);
        let sale = json!({"id": self.next_id("SALE"), "state": "completed", "billing_agreement_id": id,
            "amount": {"total": "10.00", "currency": "USD"}, "create_time": now(), "update_time": now()});
        self.event("PAYMENT.SALE.COMPLETED", "sale", &sale);
        Some(subscription)
    }

    /// The buyer approves an order (`CHECKOUT.ORDER.APPROVED`); it can now be captured.
    pub fn approve_order(&self, id: &str) -> Option<Value> {
        let mut order = self.object(id)?;
        order["status"] = json!("APPROVED");
        order["update_time"] = json!(now());
        self.store(&order);
        self.event("CHECKOUT.ORDER.APPROVED", "checkout-order", &order);
        Some(order)
    }

    /// The gate every call passes: faults, then the bearer token.
    async fn admit(&self, headers: &HeaderMap) -> Option<Response> {
        let fault = self.switches.decide().await;
        if let Some(refused) = answer(fault, |status| {
            failure(status, "INTERNAL_SERVER_ERROR", "An internal server error occurred.", json!([]))
        }) {
            return Some(refused);
        }
        let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        if !bearer.is_some_and(|t| self.tokens.lock().expect("tokens").contains(t)) {
            let body = json!({"error": "invalid_token", "error_description": "Token signature verification failed"});
            return Some((StatusCode::UNAUTHORIZED, axum::Json(body)).into_response());
        }
        None
    }

    /// The first answer to a `PayPal-Request-Id`, or `make`'s, kept for the next.
    fn once(&self, headers: &HeaderMap, path: &str, make: impl FnOnce(&Self) -> Result<Value, Refusal>) -> Response {
        let key = headers.get("paypal-request-id").and_then(|v| v.to_str().ok()).map(|k| format!("{path} {k}"));
        if let Some((_, body)) = key.as_ref().and_then(|k| self.replies.lock().expect("replies").get(k).cloned()) {
            return (StatusCode::OK, axum::Json(body)).into_response();
        }
        match make(self) {
            Ok(body) => {
                if let Some(key) = key {
                    self.replies.lock().expect("replies").insert(key, (StatusCode::CREATED, body.clone()));
                }
                (StatusCode::CREATED, axum::Json(body)).into_response()
            }
            Err(refused) => *refused,
        }
    }
}

async fn token(State(fake): State<Arc<PayPal>>, headers: HeaderMap, body: String) -> Response {
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", fake.client_id, fake.client_secret));
    let basic = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "));
    let grant = form_urlencoded::parse(body.as_bytes()).any(|(k, v)| k == "grant_type" && v == "client_credentials");
    if basic != Some(expected.as_str()) {
        let body = json!({"error": "invalid_client", "error_description": "Client Authentication failed"});
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    if !grant {
        let body = json!({"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"});
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    let access = format!("A21AA{:032x}", rand::random::<u128>());
    fake.tokens.lock().expect("tokens").insert(access.clone());
    let body = json!({"scope": "https://uri.paypal.com/services/subscriptions", "access_token": access,
        "token_type": "Bearer", "app_id": "APP-80W284485P519543T", "expires_in": 32_400, "nonce": now()});
    axum::Json(body).into_response()
}

fn links(id: &str, rel: &str, href: String) -> Value {
    json!([{"href": href, "rel": rel, "method": "GET"},
        {"href": format!("https://api-m.paypal.com/{id}"), "rel": "self", "method": "GET"}])
}

async fn create_subscription(State(fake): State<Arc<PayPal>>, headers: HeaderMap, body: String) -> Response {
    if let Some(refused) = fake.admit(&headers).await {
        return refused;
    }
    fake.recorded.keep("POST", "/v1/billing/subscriptions", &headers, &body);
    let Ok(request) = serde_json::from_str::<Value>(&body) else {
        return *invalid("/", "MALFORMED_REQUEST_JSON", "The request JSON is not well formed.");
    };
    fake.once(&headers, "subscriptions", |fake| {
        let plan = request["plan_id"].as_str().ok_or_else(|| invalid("/plan_id", "MISSING_REQUIRED_PARAMETER", "A required field / parameter is missing."))?;
        if !fake.plans.lock().expect("plans").contains(plan) {
            let details = json!([{"issue": "INVALID_RESOURCE_ID", "description": "Requested resource ID was not found."}]);
            return Err(refusal(StatusCode::UNPROCESSABLE_ENTITY, "UNPROCESSABLE_ENTITY", "The requested action could not be performed, semantically incorrect, or failed business validation.", details));
        }
        if request["custom_id"].as_str().is_some_and(|c| c.len() > 127) {
            return Err(invalid("/custom_id", "INVALID_STRING_LENGTH", "The value of a field is either too short or too long."));
        }
        let id = fake.next_id("I-");
        let token = fake.next_id("BA-");
        let subscription = json!({"id": id, "status": "APPROVAL_PENDING", "plan_id": plan, "custom_id": request["custom_id"],
            "quantity": request["quantity"], "create_time": now(), "update_time": now(), "status_update_time": now(),
            "links": links(&format!("v1/billing/subscriptions/{id}"), "approve", format!("https://www.paypal.com/webapps/billing/subscriptions?ba_token={token}"))});
        fake.store(&subscription);
        fake.event("BILLING.SUBSCRIPTION.CREATED", "subscription", &subscription);
        Ok(subscription)
    })
}

async fn create_order(State(fake): State<Arc<PayPal>>, headers: HeaderMap, body: String) -> Response {
    if let Some(refused) = fake.admit(&headers).await {
        return refused;
    }
    fake.recorded.keep("POST", "/v2/checkout/orders", &headers, &body);
    let Ok(request) = serde_json::from_str::<Value>(&body) else {
        return *invalid("/", "MALFORMED_REQUEST_JSON", "The request JSON is not well formed.");
    };
    fake.once(&headers, "orders", |fake| {
        if !matches!(request["intent"].as_str(), Some("CAPTURE" | "AUTHORIZE")) {
            return Err(invalid("/intent", "MISSING_REQUIRED_PARAMETER", "A required field / parameter is missing."));
        }
        let unit = &request["purchase_units"][0];
        if unit["amount"]["value"].as_str().is_none() || unit["amount"]["currency_code"].as_str().is_none() {
            return Err(invalid("/purchase_units/@reference_id=='default'/amount", "MISSING_REQUIRED_PARAMETER", "A required field / parameter is missing."));
        }
        let id = fake.next_id("5O");
        let order = json!({"id": id, "intent": request["intent"], "status": "PAYER_ACTION_REQUIRED",
            "purchase_units": request["purchase_units"], "create_time": now(),
            "links": links(&format!("v2/checkout/orders/{id}"), "payer-action", format!("https://www.paypal.com/checkoutnow?token={id}"))});
        fake.store(&order);
        Ok(order)
    })
}

async fn capture(
    State(fake): State<Arc<PayPal>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    if let Some(refused) = fake.admit(&headers).await {
        return refused;
    }
    fake.recorded.keep("POST", &format!("/v2/checkout/orders/{id}/capture"), &headers, &body);
    fake.once(&headers, &format!("capture {id}"), |fake| {
        let Some(mut order) = fake.object(&id) else {
            let details =
                json!([{"issue": "INVALID_RESOURCE_ID", "description": "Specified resource ID does not exist."}]);
            return Err(refusal(
                StatusCode::NOT_FOUND,
                "RESOURCE_NOT_FOUND",
                "The specified resource does not exist.",
                details,
            ));
        };
        if order["status"] != "APPROVED" {
            let issue = if order["status"] == "COMPLETED" { "ORDER_ALREADY_CAPTURED" } else { "ORDER_NOT_APPROVED" };
            let details = json!([{"issue": issue, "description": "Payer has not yet approved the Order for payment."}]);
            return Err(refusal(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNPROCESSABLE_ENTITY",
                "The requested action could not be performed, semantically incorrect, or failed business validation.",
                details,
            ));
        }
        let unit = order["purchase_units"][0].clone();
        let captured = json!({"id": fake.next_id("3C"), "status": "COMPLETED", "amount": unit["amount"],
            "custom_id": unit["custom_id"], "invoice_id": unit["invoice_id"], "final_capture": true,
            "create_time": now(), "update_time": now(),
            "supplementary_data": {"related_ids": {"order_id": id}}});
        fake.store(&captured);
        order["status"] = json!("COMPLETED");
        order["purchase_units"][0]["payments"] = json!({"captures": [captured.clone()]});
        fake.store(&order);
        fake.event("PAYMENT.CAPTURE.COMPLETED", "capture", &captured);
        Ok(order)
    })
}

async fn refund(State(fake): State<Arc<PayPal>>, headers: HeaderMap, Path(id): Path<String>, body: String) -> Response {
    if let Some(refused) = fake.admit(&headers).await {
        return refused;
    }
    fake.recorded.keep("POST", &format!("/v2/payments/captures/{id}/refund"), &headers, &body);
    let request: Value = serde_json::from_str(&body).unwrap_or(json!({}));
    fake.once(&headers, &format!("refund {id}"), |fake| {
        let Some(mut captured) = fake.object(&id).filter(|c| c["supplementary_data"].is_object()) else {
            let details = json!([{"issue": "INVALID_RESOURCE_ID", "description": "Specified resource ID does not exist."}]);
            return Err(refusal(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND", "The specified resource does not exist.", details));
        };
        let cents = |v: &Value| v.as_str().and_then(|s| s.replace('.', "").parse::<i64>().ok()).unwrap_or(0);
        let left = cents(&captured["amount"]["value"]) - captured["refunded_cents"].as_i64().unwrap_or(0);
        let asked = request.pointer("/amount/value").map_or(left, cents);
        if asked < 1 || asked > left {
            let details = json!([{"issue": "REFUND_AMOUNT_EXCEEDED", "description": "The refund amount must be less than or equal to the capture amount that has not yet been refunded."}]);
            return Err(refusal(StatusCode::UNPROCESSABLE_ENTITY, "UNPROCESSABLE_ENTITY", "The requested action could not be performed, semantically incorrect, or failed business validation.", details));
        }
        captured["refunded_cents"] = json!(captured["refunded_cents"].as_i64().unwrap_or(0) + asked);
        captured["status"] = json!(if asked == left { "REFUNDED" } else { "PARTIALLY_REFUNDED" });
        fake.store(&captured);
        let made = json!({"id": fake.next_id("1R"), "status": "COMPLETED", "invoice_id": request["invoice_id"],
            "amount": {"value": format!("{}.{:02}", asked / 100, asked % 100), "currency_code": captured["amount"]["currency_code"]}});
        fake.store(&made);
        fake.event("PAYMENT.CAPTURE.REFUNDED", "refund", &made);
        Ok(made)
    })
}

async fn retrieve(State(fake): State<Arc<PayPal>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refused) = fake.admit(&headers).await {
        return refused;
    }
    match fake.object(&id) {
        Some(object) => axum::Json(object).into_response(),
        None => {
            let details =
                json!([{"issue": "INVALID_RESOURCE_ID", "description": "Specified resource ID does not exist."}]);
            failure(StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND", "The specified resource does not exist.", details)
        }
    }
}
