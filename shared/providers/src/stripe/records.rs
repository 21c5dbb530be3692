//! Stripe objects as local state records: shared by sync (an event's
//! object), reconcile (a listed object, or a listed event's) and, later,
//! commands (an object an action returned).
//!
//! | object | record kind | version |
//! |---|---|---|
//! | customer | `customer` | the change's time, then deleted > live |
//! | subscription | `subscription` | the change's time, then status rank |
//! | invoice | `invoice` | the change's time, then status rank (a deleted draft last) |
//! | checkout session | `checkout_session` | the change's time, then status rank |
//! | payment intent | `payment` | the change's time, then status rank |
//! | charge | `charge` | the change's time, then the amount refunded |
//!
//! The change's time is the event's `created` for an event, and the second
//! before the read for a listed object (the object is current as of that
//! read). The status rank orders statuses that only move forward (an
//! invoice goes draft → open → paid or void), so two changes of the same
//! second still land in the right order. Both the API versions before
//! 2025-03-31 (period and subscription fields on the object itself) and
//! after it (on subscription items and the invoice's `parent`) are read.

use portage_core::{StateChange, SyncError, Version};
use serde_json::{Map, Value, json};

/// The kinds of record Stripe objects become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A customer.
    Customer,
    /// A subscription.
    Subscription,
    /// An invoice.
    Invoice,
    /// A completed checkout session.
    CheckoutSession,
    /// A payment intent.
    Payment,
    /// A charge (what a refund is recorded on: `charge.refunded`).
    Charge,
}

impl Kind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [Self; 6] =
        [Self::Customer, Self::Subscription, Self::Invoice, Self::CheckoutSession, Self::Payment, Self::Charge];

    /// The record kind's name in the state store.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Subscription => "subscription",
            Self::Invoice => "invoice",
            Self::CheckoutSession => "checkout_session",
            Self::Payment => "payment",
            Self::Charge => "charge",
        }
    }

    /// The kind an event type is about, and whether it deletes the object;
    /// `None` for event types Portage keeps no state for.
    pub fn of_event(event_type: &str) -> Option<(Self, bool)> {
        if event_type.starts_with("customer.subscription.") {
            Some((Self::Subscription, false))
        } else if matches!(event_type, "customer.created" | "customer.updated" | "customer.deleted") {
            Some((Self::Customer, event_type == "customer.deleted"))
        } else if event_type.starts_with("invoice.") {
            // `invoice.deleted` is a draft being discarded: keep a tombstone.
            Some((Self::Invoice, event_type == "invoice.deleted"))
        } else if event_type == "checkout.session.completed" {
            Some((Self::CheckoutSession, false))
        } else if event_type.starts_with("payment_intent.") {
            Some((Self::Payment, false))
        } else if matches!(event_type, "charge.succeeded" | "charge.refunded" | "charge.updated") {
            Some((Self::Charge, false))
        } else {
            None
        }
    }
}

/// The record kinds Stripe's events become (the sync capability).
pub const SYNC_KINDS: [&str; 6] = [
    Kind::ALL[0].name(),
    Kind::ALL[1].name(),
    Kind::ALL[2].name(),
    Kind::ALL[3].name(),
    Kind::ALL[4].name(),
    Kind::ALL[5].name(),
];

/// The state change for one Stripe `object` of `kind`, as of `at` (Unix
/// seconds); `deleted` when the change removes it.
pub fn change(kind: Kind, object: &Map<String, Value>, at: i64, deleted: bool) -> Result<StateChange, SyncError> {
    let id = object
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| SyncError::malformed("the object has no id"))?;
    let status = str_field(object, "status");
    let (data, rank) = match kind {
        Kind::Subscription => (subscription(object), subscription_rank(status)),
        Kind::Customer => (customer(object), i64::from(deleted)),
        Kind::Invoice => (invoice(object), if deleted { 9 } else { invoice_rank(status) }),
        Kind::CheckoutSession => (checkout_session(object), checkout_rank(status)),
        Kind::Payment => (payment(object), payment_rank(status)),
        Kind::Charge => (charge(object), object.get("amount_refunded").and_then(Value::as_i64).unwrap_or(0)),
    };
    Ok(StateChange {
        kind: kind.name().to_owned(),
        id,
        version: Version { primary: at, secondary: rank },
        data,
        deleted,
    })
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

fn charge(object: &Map<String, Value>) -> Value {
    let mut data =
        pick(object, &["status", "amount", "amount_refunded", "refunded", "currency", "livemode", "metadata"]);
    for field in ["customer", "payment_intent", "invoice"] {
        data.insert(field.into(), id_of(object.get(field)));
    }
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
