//! The fake's billing surface, as Stripe documents it: Checkout Sessions
//! (`subscription` mode needs a recurring price, `payment` mode a one-time
//! one; `success_url` required), Customer Portal sessions, subscription
//! updates (`items[n][id|price|quantity]`, `proration_behavior` one of
//! `create_prorations`, `always_invoice`, `none`), cancellation now or at
//! the period's end, subscription items, and subscription schedules
//! (`from_subscription`, then phases whose first keeps its start date).
//! Every write honours `Idempotency-Key` (see `writes.rs`).
//!
//! Schedules are in `schedules.rs`, the fake's time in `clock.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::writes::{Params, Refusal, missing, write};
use super::{Stripe, error};

const PRORATIONS: [&str; 3] = ["create_prorations", "always_invoice", "none"];

pub(super) fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `prefix[n][field]=v` pairs as n → field → v (`field` may nest further).
pub(super) fn indexed(params: &Params, prefix: &str) -> BTreeMap<usize, BTreeMap<String, String>> {
    let mut out: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
    for (k, v) in params {
        let Some(rest) = k.strip_prefix(prefix).and_then(|r| r.strip_prefix('[')) else { continue };
        let Some((n, field)) = rest.split_once(']') else { continue };
        let (Ok(n), Some(field)) = (n.parse::<usize>(), field.strip_prefix('[')) else { continue };
        let field = field.strip_suffix(']').unwrap_or(field).replacen("][", "/", 9);
        out.entry(n).or_default().insert(field, v.clone());
    }
    out
}

pub(super) fn metadata(params: &Params, prefix: &str) -> Value {
    let entries = params.iter().filter_map(|(k, v)| {
        let name = k.strip_prefix(prefix)?.strip_prefix("[metadata][").or_else(|| k.strip_prefix("metadata["))?;
        Some((name.strip_suffix(']')?.to_owned(), json!(v)))
    });
    Value::Object(entries.collect())
}

impl Stripe {
    pub(super) fn next_id(&self, prefix: &str) -> String {
        format!("{prefix}_{:014}", self.ids.fetch_add(1, Ordering::SeqCst))
    }

    pub(super) fn object(&self, id: &str, kind: &str) -> Option<Value> {
        self.subscriptions.lock().expect("objects").get(id).filter(|o| o["object"] == kind).cloned()
    }

    pub(super) fn store(&self, object: &Value) {
        self.put_subscription(object.clone());
    }

    pub(super) fn price(&self, id: &str) -> Result<Value, Refusal> {
        self.object(id, "price").ok_or_else(|| Box::new(missing("price", id)))
    }
}

pub(super) fn invalid(message: &str, param: &str) -> Refusal {
    Box::new(error(StatusCode::BAD_REQUEST, "invalid_request_error", Some("parameter_invalid"), message, Some(param)))
}

/// `POST /v1/checkout/sessions`.
pub(super) async fn create_session(State(fake): State<Arc<Stripe>>, headers: HeaderMap, body: String) -> Response {
    let request = format!("POST /v1/checkout/sessions {body}");
    write(&fake, &headers, request, &body, |fake, params| {
        let mode = param(params, "mode").unwrap_or_default();
        let customer = param(params, "customer").unwrap_or_default();
        if !fake.customers().iter().any(|c| c["id"] == json!(customer)) {
            return Err(Box::new(missing("customer", customer)));
        }
        let item =
            indexed(params, "line_items").remove(&0).ok_or_else(|| invalid("line_items is required", "line_items"))?;
        let price = item.get("price").cloned().unwrap_or_default();
        let kind = fake.price(&price)?["type"].as_str().unwrap_or("one_time").to_owned();
        match mode {
            "subscription" if kind != "recurring" => {
                return Err(invalid("subscription mode needs recurring prices", "line_items"));
            }
            "payment" if kind == "recurring" => {
                return Err(invalid("payment mode needs one-time prices", "line_items"));
            }
            "subscription" | "payment" => {}
            _ => return Err(invalid("mode must be payment, setup or subscription", "mode")),
        }
        if param(params, "success_url").is_none() {
            return Err(invalid("success_url is required", "success_url"));
        }
        let trial = param(params, "subscription_data[trial_period_days]").map(|d| d.parse::<i64>().unwrap_or(0));
        if trial.is_some_and(|d| d < 1) {
            return Err(invalid("trial_period_days must be at least 1", "subscription_data[trial_period_days]"));
        }
        let id = fake.next_id("cs_test");
        let quantity = item.get("quantity").and_then(|q| q.parse::<i64>().ok()).unwrap_or(1);
        let session = json!({"id": id, "object": "checkout.session", "mode": mode, "customer": customer,
            "status": "open", "payment_status": "unpaid", "url": format!("https://checkout.stripe.com/c/pay/{id}"),
            "client_reference_id": param(params, "client_reference_id"), "metadata": metadata(params, ""),
            "allow_promotion_codes": param(params, "allow_promotion_codes").map(|a| a == "true"),
            "success_url": param(params, "success_url"), "cancel_url": param(params, "cancel_url"),
            "subscription": null, "payment_intent": null, "currency": "usd", "livemode": false,
            "line_items": [{"price": price, "quantity": quantity}],
            "subscription_data": {"trial_period_days": trial, "metadata": metadata(params, "subscription_data")}});
        fake.store(&session);
        Ok(session)
    })
    .await
}

/// `POST /v1/billing_portal/sessions`.
pub(super) async fn portal(State(fake): State<Arc<Stripe>>, headers: HeaderMap, body: String) -> Response {
    let request = format!("POST /v1/billing_portal/sessions {body}");
    write(&fake, &headers, request, &body, |fake, params| {
        let customer = param(params, "customer").ok_or_else(|| invalid("customer is required", "customer"))?;
        if !fake.customers().iter().any(|c| c["id"] == json!(customer)) {
            return Err(Box::new(missing("customer", customer)));
        }
        let id = fake.next_id("bps");
        Ok(json!({"id": id, "object": "billing_portal.session", "customer": customer,
            "return_url": param(params, "return_url"), "url": format!("https://billing.stripe.com/p/session/{id}")}))
    })
    .await
}

pub(super) fn proration(params: &Params) -> Result<(), Refusal> {
    match param(params, "proration_behavior") {
        Some(p) if !PRORATIONS.contains(&p) => Err(invalid("Invalid proration_behavior", "proration_behavior")),
        _ => Ok(()),
    }
}

/// Changes a live subscription with `change`, then tells it as `customer.subscription.updated`.
fn change_subscription(
    fake: &Stripe,
    id: &str,
    change: impl FnOnce(&mut Value) -> Result<(), Refusal>,
) -> Result<Value, Refusal> {
    let mut sub = fake.subscription(id).ok_or_else(|| Box::new(missing("subscription", id)))?;
    if sub["status"] == "canceled" {
        return Err(invalid("A canceled subscription can only update its cancellation_details and metadata.", "id"));
    }
    change(&mut sub)?;
    fake.store(&sub);
    fake.record_event("customer.subscription.updated", &sub);
    Ok(sub)
}

/// `POST /v1/subscriptions/{id}`.
pub(super) async fn update_subscription(
    State(fake): State<Arc<Stripe>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let request = format!("POST /v1/subscriptions/{id} {body}");
    write(&fake, &headers, request, &body, |fake, params| {
        proration(params)?;
        change_subscription(fake, &id, |sub| {
            for (_, item) in indexed(params, "items") {
                let items = sub["items"]["data"].as_array_mut().expect("items");
                let found = items.iter_mut().find(|i| Some(&i["id"]) == item.get("id").map(|v| json!(v)).as_ref());
                let Some(found) = found else { return Err(invalid("No such subscription item", "items")) };
                if let Some(price) = item.get("price") {
                    fake.price(price)?;
                    found["price"] = json!({"id": price, "object": "price"});
                }
                if let Some(quantity) = item.get("quantity").and_then(|q| q.parse::<i64>().ok()) {
                    found["quantity"] = json!(quantity);
                }
            }
            if let Some(cancel) = param(params, "cancel_at_period_end") {
                sub["cancel_at_period_end"] = json!(cancel == "true");
            }
            if let Some(extra) = metadata(params, "").as_object() {
                extra.iter().for_each(|(k, v)| sub["metadata"][k] = v.clone());
            }
            Ok(())
        })
    })
    .await
}

/// `DELETE /v1/subscriptions/{id}`: canceled now.
pub(super) async fn cancel_subscription(
    State(fake): State<Arc<Stripe>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    write(&fake, &headers, format!("DELETE /v1/subscriptions/{id}"), "", |fake, _| {
        let mut sub = fake.subscription(&id).ok_or_else(|| Box::new(missing("subscription", &id)))?;
        let now = fake.now();
        sub["status"] = json!("canceled");
        sub["canceled_at"] = json!(now);
        sub["ended_at"] = json!(now);
        fake.store(&sub);
        fake.record_event("customer.subscription.deleted", &sub);
        Ok(sub)
    })
    .await
}

/// `POST /v1/subscription_items` and `POST /v1/subscription_items/{id}`.
pub(super) async fn write_item(
    State(fake): State<Arc<Stripe>>,
    headers: HeaderMap,
    item: Option<Path<String>>,
    body: String,
) -> Response {
    let item = item.map(|Path(id)| id);
    let request = format!("POST /v1/subscription_items/{} {body}", item.clone().unwrap_or_default());
    write(&fake, &headers, request, &body, |fake, params| {
        proration(params)?;
        let quantity = param(params, "quantity").and_then(|q| q.parse::<i64>().ok()).unwrap_or(1);
        let sub_id = match &item {
            Some(id) => fake.owner_of(id).ok_or_else(|| Box::new(missing("subscription_item", id)))?,
            None => param(params, "subscription").unwrap_or_default().to_owned(),
        };
        let mut made = Value::Null;
        change_subscription(fake, &sub_id, |sub| {
            let items = sub["items"]["data"].as_array_mut().expect("items");
            match &item {
                Some(id) => {
                    let found = items.iter_mut().find(|i| i["id"] == json!(id)).expect("owner checked");
                    found["quantity"] = json!(quantity);
                    made = found.clone();
                }
                None => {
                    let price = param(params, "price").unwrap_or_default();
                    fake.price(price)?;
                    made = json!({"id": fake.next_id("si"), "object": "subscription_item", "quantity": quantity,
                        "price": {"id": price, "object": "price"}, "subscription": sub_id,
                        "current_period_start": items[0]["current_period_start"], "current_period_end": items[0]["current_period_end"]});
                    items.push(made.clone());
                }
            }
            Ok(())
        })?;
        Ok(made)
    })
    .await
}

/// `DELETE /v1/subscription_items/{id}`.
pub(super) async fn delete_item(
    State(fake): State<Arc<Stripe>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    write(&fake, &headers, format!("DELETE /v1/subscription_items/{id} {query}"), &query, |fake, params| {
        proration(params)?;
        let sub_id = fake.owner_of(&id).ok_or_else(|| Box::new(missing("subscription_item", &id)))?;
        change_subscription(fake, &sub_id, |sub| {
            sub["items"]["data"].as_array_mut().expect("items").retain(|i| i["id"] != json!(id));
            Ok(())
        })?;
        Ok(json!({"id": id, "object": "subscription_item", "deleted": true}))
    })
    .await
}

impl Stripe {
    fn owner_of(&self, item: &str) -> Option<String> {
        let objects = self.subscriptions.lock().expect("objects");
        objects
            .values()
            .find(|o| {
                o["object"] == "subscription"
                    && o["items"]["data"].as_array().is_some_and(|items| items.iter().any(|i| i["id"] == json!(item)))
            })
            .and_then(|o| o["id"].as_str().map(str::to_owned))
    }
}

/// `GET /v1/subscriptions?customer=`: the customer's subscriptions, newest first.
pub(super) fn subscriptions_of(fake: &Stripe, customer: Option<&str>) -> Vec<Value> {
    let objects = fake.subscriptions.lock().expect("objects");
    let mut found: Vec<Value> = objects
        .values()
        .filter(|o| o["object"] == "subscription" && customer.is_none_or(|c| o["customer"] == json!(c)))
        .cloned()
        .collect();
    found.sort_by_key(|o| o["created"].as_i64().unwrap_or(0));
    found
}
