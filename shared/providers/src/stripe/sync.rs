//! Turns Stripe events into local state records.
//!
//! | event types | record kind | version |
//! |---|---|---|
//! | `customer.created`, `.updated`, `.deleted` | `customer` | event `created`, then deleted > live |
//! | `customer.subscription.*` | `subscription` | event `created`, then status rank |
//! | `invoice.*` | `invoice` | event `created`, then status rank (`invoice.deleted` last) |
//! | `checkout.session.completed` | `checkout_session` | event `created`, then status rank |
//! | `payment_intent.*` | `payment` | event `created`, then status rank |
//!
//! The status rank orders statuses that only move forward (an invoice goes
//! draft → open → paid or void), so two events of the same second still land
//! in the right order. Both the API versions before 2025-03-31 (period and
//! subscription fields on the object itself) and after it (on subscription
//! items and the invoice's `parent`) are read.

use portage_core::{EventRecord, StateChange, SyncError, Version};
use serde_json::{Map, Value, json};

/// Computes the state changes for one stored Stripe event.
pub fn state_changes(event: &EventRecord) -> Result<Vec<StateChange>, SyncError> {
    let body: Value = serde_json::from_slice(&event.raw).map_err(|e| SyncError::malformed(e.to_string()))?;
    let object = body
        .pointer("/data/object")
        .and_then(Value::as_object)
        .ok_or_else(|| SyncError::malformed("event has no data.object"))?;
    let id = || {
        object
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| SyncError::malformed("data.object has no id"))
    };
    let event_type = event.event.event_type.as_str();
    let created = event.event.occurred_at;
    let (kind, data, rank, deleted) = if event_type.starts_with("customer.subscription.") {
        let status = str_field(object, "status");
        ("subscription", subscription(object), subscription_rank(status), false)
    } else if matches!(event_type, "customer.created" | "customer.updated" | "customer.deleted") {
        let deleted = event_type == "customer.deleted";
        ("customer", customer(object), i64::from(deleted), deleted)
    } else if event_type.starts_with("invoice.") {
        // `invoice.deleted` is a draft being discarded: keep a tombstone.
        let deleted = event_type == "invoice.deleted";
        let rank = if deleted { 9 } else { invoice_rank(str_field(object, "status")) };
        ("invoice", invoice(object), rank, deleted)
    } else if event_type == "checkout.session.completed" {
        let status = str_field(object, "status");
        ("checkout_session", checkout_session(object), checkout_rank(status), false)
    } else if event_type.starts_with("payment_intent.") {
        let status = str_field(object, "status");
        ("payment", payment(object), payment_rank(status), false)
    } else {
        return Ok(Vec::new());
    };
    Ok(vec![StateChange {
        kind: kind.to_owned(),
        id: id()?,
        version: Version { primary: created, secondary: rank },
        data,
        deleted,
    }])
}

fn str_field<'a>(object: &'a Map<String, Value>, name: &str) -> &'a str {
    object.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// Copies the named fields, `null` where absent.
fn pick(object: &Map<String, Value>, names: &[&str]) -> Map<String, Value> {
    names.iter().map(|name| ((*name).to_owned(), object.get(*name).cloned().unwrap_or(Value::Null))).collect()
}

/// A field that may be an id or an expanded object: the id either way.
fn id_of(value: Option<&Value>) -> Value {
    match value {
        Some(Value::String(id)) => Value::String(id.clone()),
        Some(Value::Object(o)) => o.get("id").cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn customer(object: &Map<String, Value>) -> Value {
    Value::Object(pick(
        object,
        &["email", "name", "phone", "description", "currency", "delinquent", "created", "livemode", "metadata"],
    ))
}

fn subscription(object: &Map<String, Value>) -> Value {
    let items: Vec<Value> = object
        .get("items")
        .and_then(|i| i.get("data"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    json!({
                        "id": item.get("id"),
                        "price": id_of(item.get("price")),
                        "quantity": item.get("quantity"),
                        "current_period_start": item.get("current_period_start"),
                        "current_period_end": item.get("current_period_end"),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let first = items.first();
    // Before 2025-03-31 the period is on the subscription; since, on each item.
    let period = |name: &str| match object.get(name) {
        Some(v) if !v.is_null() => v.clone(),
        _ => items.iter().filter_map(|i| i.get(name).and_then(Value::as_i64)).max().map_or(Value::Null, Value::from),
    };
    let mut data = pick(
        object,
        &[
            "status",
            "cancel_at_period_end",
            "cancel_at",
            "canceled_at",
            "ended_at",
            "trial_start",
            "trial_end",
            "currency",
            "livemode",
            "metadata",
        ],
    );
    data.insert("customer".into(), id_of(object.get("customer")));
    data.insert("price".into(), first.map_or(Value::Null, |i| i["price"].clone()));
    data.insert("quantity".into(), first.map_or(Value::Null, |i| i["quantity"].clone()));
    data.insert("current_period_start".into(), period("current_period_start"));
    data.insert("current_period_end".into(), period("current_period_end"));
    data.insert("pause_collection".into(), object.get("pause_collection").cloned().unwrap_or(Value::Null));
    data.insert("items".into(), Value::Array(items));
    Value::Object(data)
}

fn invoice(object: &Map<String, Value>) -> Value {
    let mut data = pick(
        object,
        &[
            "status",
            "number",
            "currency",
            "amount_due",
            "amount_paid",
            "amount_remaining",
            "subtotal",
            "total",
            "attempt_count",
            "billing_reason",
            "due_date",
            "period_start",
            "period_end",
            "hosted_invoice_url",
            "livemode",
        ],
    );
    let subscription = match object.get("subscription") {
        Some(v) if !v.is_null() => id_of(Some(v)),
        _ => id_of(object.get("parent").and_then(|p| p.pointer("/subscription_details/subscription"))),
    };
    data.insert("customer".into(), id_of(object.get("customer")));
    data.insert("subscription".into(), subscription);
    data.insert(
        "paid_at".into(),
        object.get("status_transitions").and_then(|t| t.get("paid_at")).cloned().unwrap_or(Value::Null),
    );
    Value::Object(data)
}

fn checkout_session(object: &Map<String, Value>) -> Value {
    let mut data = pick(
        object,
        &[
            "mode",
            "status",
            "payment_status",
            "amount_total",
            "currency",
            "client_reference_id",
            "livemode",
            "metadata",
        ],
    );
    for field in ["customer", "subscription", "payment_intent", "invoice"] {
        data.insert(field.into(), id_of(object.get(field)));
    }
    data.insert(
        "customer_email".into(),
        object.get("customer_details").and_then(|d| d.get("email")).cloned().unwrap_or(Value::Null),
    );
    Value::Object(data)
}

fn payment(object: &Map<String, Value>) -> Value {
    let mut data = pick(
        object,
        &["status", "amount", "amount_received", "currency", "cancellation_reason", "livemode", "metadata"],
    );
    data.insert("customer".into(), id_of(object.get("customer")));
    data.insert("invoice".into(), id_of(object.get("invoice")));
    let error = object.get("last_payment_error").filter(|e| !e.is_null());
    data.insert(
        "last_payment_error".into(),
        error.map_or(
            Value::Null,
            |e| json!({ "code": e.get("code"), "decline_code": e.get("decline_code"), "message": e.get("message") }),
        ),
    );
    Value::Object(data)
}

fn subscription_rank(status: &str) -> i64 {
    match status {
        "incomplete" => 0,
        "trialing" => 1,
        "active" | "paused" | "past_due" => 2,
        "unpaid" => 3,
        "canceled" | "incomplete_expired" => 4,
        _ => 0,
    }
}

fn invoice_rank(status: &str) -> i64 {
    match status {
        "draft" => 0,
        "open" => 1,
        "uncollectible" => 2,
        "paid" | "void" => 3,
        _ => 0,
    }
}

fn checkout_rank(status: &str) -> i64 {
    match status {
        "open" => 0,
        "complete" | "expired" => 1,
        _ => 0,
    }
}

fn payment_rank(status: &str) -> i64 {
    match status {
        "requires_payment_method" | "requires_confirmation" => 0,
        "requires_action" => 1,
        "processing" => 2,
        "requires_capture" => 3,
        "succeeded" | "canceled" => 4,
        _ => 0,
    }
}
