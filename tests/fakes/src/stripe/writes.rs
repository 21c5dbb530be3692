//! The fake's writes: customers created and updated, refunds made. Each
//! honours `Idempotency-Key` as Stripe does: the first answer is saved and
//! replayed (`Idempotent-Replayed: true`), the same key with another path or
//! body is an `idempotency_error`, and the check and the effect are one
//! step, so concurrent requests with one key take effect once. An injected
//! dropped connection drops the answer *after* the effect: the write
//! happened and the client cannot know it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{Stripe, admit, error, injected, ok};
use crate::faults::{Fault, dropped};

pub(super) type Params = Vec<(String, String)>;

/// A write's refusal: Stripe's error answer (boxed: it is large).
pub(super) type Refusal = Box<Response>;

pub(super) fn missing(what: &str, id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        Some("resource_missing"),
        &format!("No such {what}: '{id}'"),
        Some("id"),
    )
}

/// Runs `effect` once per idempotency key, with Stripe's faults, checks and replay.
pub(super) async fn write(
    fake: &Stripe,
    headers: &HeaderMap,
    request: String,
    body: &str,
    effect: impl FnOnce(&Stripe, &Params) -> Result<Value, Refusal>,
) -> Response {
    let fault = fake.switches.decide().await;
    if fault != Fault::Drop
        && let Some(refused) = injected(fault)
    {
        return refused;
    }
    if let Some(refused) = admit(fake, headers) {
        return refused;
    }
    let params: Params = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let answer = {
        let mut keys = fake.idempotency.lock().expect("keys");
        match key.as_ref().and_then(|k| keys.get(k)) {
            Some((seen, _)) if *seen != request => error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                None,
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                None,
            ),
            Some((_, saved)) => {
                let mut replayed = ok(saved.clone());
                replayed.headers_mut().insert("idempotent-replayed", "true".parse().expect("header"));
                replayed
            }
            None => match effect(fake, &params) {
                Ok(value) => {
                    fake.writes.lock().expect("writes").push((request.clone(), params.clone()));
                    if let Some(key) = key {
                        keys.insert(key, (request, value.clone()));
                    }
                    ok(value)
                }
                Err(refusal) => *refusal,
            },
        }
    };
    if fault == Fault::Drop {
        return dropped();
    }
    answer
}

/// `POST /v1/customers`.
pub(super) async fn create_customer(State(fake): State<Arc<Stripe>>, headers: HeaderMap, body: String) -> Response {
    let request = format!("POST /v1/customers {body}");
    write(&fake, &headers, request, &body, |fake, params| {
        if params.iter().any(|(k, v)| k == "email" && !v.contains('@')) {
            return Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("email_invalid"),
                "Invalid email address",
                Some("email"),
            )));
        }
        Ok(fake.create(params))
    })
    .await
}

/// `POST /v1/customers/{id}`.
pub(super) async fn update_customer(
    State(fake): State<Arc<Stripe>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let request = format!("POST /v1/customers/{id} {body}");
    write(&fake, &headers, request, &body, |fake, params| {
        fake.update(&id, params).ok_or_else(|| Box::new(missing("customer", &id)))
    })
    .await
}

/// `POST /v1/refunds`: a payment intent the test put in, refunded wholly
/// or by `amount`, never beyond what is left.
pub(super) async fn create_refund(State(fake): State<Arc<Stripe>>, headers: HeaderMap, body: String) -> Response {
    let request = format!("POST /v1/refunds {body}");
    write(&fake, &headers, request, &body, |fake, params| {
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let id = param("payment_intent").unwrap_or_default();
        let intents = fake.payment_intents.lock().expect("payment intents");
        let intent = intents.get(&id).ok_or_else(|| Box::new(missing("payment_intent", &id)))?;
        let mut refunds = fake.refunds.lock().expect("refunds");
        let refunded: i64 =
            refunds.iter().filter(|r| r["payment_intent"] == json!(id)).filter_map(|r| r["amount"].as_i64()).sum();
        let left = intent["amount"].as_i64().unwrap_or(0) - refunded;
        let amount = param("amount").and_then(|a| a.parse::<i64>().ok()).unwrap_or(left);
        if amount < 1 || amount > left {
            return Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("amount_too_large"),
                "Refund amount is greater than the unrefunded amount.",
                Some("amount"),
            )));
        }
        let n = fake.ids.fetch_add(1, Ordering::SeqCst);
        let refund = json!({"id": format!("re_{n:014}"), "object": "refund", "amount": amount,
            "currency": intent["currency"], "payment_intent": id, "status": "succeeded",
            "reason": param("reason"), "created": 1_795_000_000 + n});
        refunds.push(refund.clone());
        let charge = json!({"id": intent["latest_charge"].as_str().map_or_else(|| format!("ch_{n:014}"), str::to_owned),
            "object": "charge", "amount": intent["amount"], "amount_refunded": refunded + amount,
            "refunded": refunded + amount == intent["amount"].as_i64().unwrap_or(0), "currency": intent["currency"],
            "payment_intent": id, "customer": intent["customer"], "status": "succeeded", "metadata": {}});
        fake.record_event("charge.refunded", &charge);
        Ok(refund)
    })
    .await
}
