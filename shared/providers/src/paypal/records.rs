//! PayPal objects as state records, from webhook resources (PayPal sends
//! the whole resource) and from the answers to Portage's own calls:
//!
//! | events | kind | version |
//! |---|---|---|
//! | `BILLING.SUBSCRIPTION.*` | `subscription` | `update_time` (else `status_update_time`, `create_time`), then status rank |
//! | `PAYMENT.SALE.*` | `sale` | `update_time`, then state rank |
//! | `PAYMENT.CAPTURE.*` (a capture resource) | `capture` | `update_time`, then status rank |
//! | `CHECKOUT.ORDER.*` | `order` | `update_time`, then status rank |

use portage_core::{StateChange, SyncError, Version};
use serde_json::{Map, Value, json};

use crate::fields::rfc3339_secs;

/// What a PayPal record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A billing subscription (`I-…`).
    Subscription,
    /// A subscription's payment.
    Sale,
    /// An order's captured payment.
    Capture,
    /// A checkout order.
    Order,
}

/// The record kinds PayPal's events become (the sync capability).
pub const SYNC_KINDS: [&str; 4] = ["subscription", "sale", "capture", "order"];

impl Kind {
    /// The record kind's name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Subscription => "subscription",
            Self::Sale => "sale",
            Self::Capture => "capture",
            Self::Order => "order",
        }
    }

    /// The kind an event's resource is, by event type and resource type.
    pub fn of_event(event_type: &str, resource_type: Option<&str>) -> Option<Self> {
        match (event_type.split('.').take(2).collect::<Vec<_>>().as_slice(), resource_type) {
            (["BILLING", "SUBSCRIPTION"], _) => Some(Self::Subscription),
            (["PAYMENT", "SALE"], _) => Some(Self::Sale),
            (["PAYMENT", "CAPTURE"], Some("capture") | None) => Some(Self::Capture),
            (["CHECKOUT", "ORDER"], _) => Some(Self::Order),
            _ => None,
        }
    }
}

fn rank(kind: Kind, status: &str) -> i64 {
    let order: &[&str] = match kind {
        Kind::Subscription => &["APPROVAL_PENDING", "APPROVED", "ACTIVE", "SUSPENDED", "CANCELLED", "EXPIRED"],
        Kind::Sale => &["pending", "completed", "partially_refunded", "refunded", "reversed", "denied"],
        Kind::Capture => &["PENDING", "COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED", "DECLINED", "FAILED"],
        Kind::Order => &["CREATED", "SAVED", "PAYER_ACTION_REQUIRED", "APPROVED", "VOIDED", "COMPLETED"],
    };
    order.iter().position(|s| s.eq_ignore_ascii_case(status)).map_or(0, |i| i as i64 + 1)
}

fn at(object: &Map<String, Value>, fallback: i64) -> i64 {
    ["update_time", "status_update_time", "create_time"]
        .iter()
        .find_map(|f| object.get(*f).and_then(Value::as_str).and_then(rfc3339_secs))
        .unwrap_or(fallback)
}

/// The record of one PayPal object of `kind`, as of its own update time
/// (`fallback`, Unix seconds, when it carries none).
pub fn change(kind: Kind, object: &Map<String, Value>, fallback: i64) -> Result<StateChange, SyncError> {
    let id = object.get("id").and_then(Value::as_str).ok_or_else(|| SyncError::malformed("the resource has no id"))?;
    let text = |pointer: &str| object.get(pointer).cloned().unwrap_or(Value::Null);
    let deep = |pointer: &str| Value::Object(object.clone()).pointer(pointer).cloned().unwrap_or(Value::Null);
    let (status, data) = match kind {
        Kind::Subscription => (
            text("status"),
            json!({"status": text("status"), "plan_id": text("plan_id"), "quantity": text("quantity"),
                "custom_id": text("custom_id"), "start_time": text("start_time"),
                "next_billing_time": deep("/billing_info/next_billing_time"),
                "failed_payments_count": deep("/billing_info/failed_payments_count"),
                "payer_id": deep("/subscriber/payer_id")}),
        ),
        Kind::Sale => (
            text("state"),
            json!({"state": text("state"), "billing_agreement_id": text("billing_agreement_id"), "amount": text("amount"),
                "custom": text("custom")}),
        ),
        Kind::Capture => (
            text("status"),
            json!({"status": text("status"), "amount": text("amount"), "custom_id": text("custom_id"),
                "invoice_id": text("invoice_id"), "order_id": deep("/supplementary_data/related_ids/order_id")}),
        ),
        Kind::Order => {
            let units = object.get("purchase_units").and_then(Value::as_array).cloned().unwrap_or_default();
            let units: Vec<Value> = units
                .iter()
                .map(|u| {
                    json!({"reference_id": u.get("reference_id"), "custom_id": u.get("custom_id"),
                    "invoice_id": u.get("invoice_id"), "amount": u.get("amount")})
                })
                .collect();
            (text("status"), json!({"status": text("status"), "intent": text("intent"), "purchase_units": units}))
        }
    };
    Ok(StateChange {
        kind: kind.name().to_owned(),
        id: id.to_owned(),
        version: Version { primary: at(object, fallback), secondary: rank(kind, status.as_str().unwrap_or_default()) },
        data,
        deleted: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_become_records_versioned_by_their_update_time() {
        let resource = json!({"id": "I-BW452GLLEP1G", "status": "ACTIVE", "plan_id": "P-5ML4271244454362WXNWU5NQ",
            "custom_id": "cust_1", "update_time": "2026-12-01T10:00:00Z",
            "billing_info": {"failed_payments_count": 1, "next_billing_time": "2027-01-01T10:00:00Z"}});
        let change = change(Kind::Subscription, resource.as_object().unwrap(), 0).unwrap();
        assert_eq!(change.version, Version { primary: 1_796_119_200, secondary: 3 });
        assert_eq!(
            (change.data["custom_id"].as_str(), change.data["failed_payments_count"].as_i64()),
            (Some("cust_1"), Some(1))
        );
        assert_eq!(Kind::of_event("PAYMENT.CAPTURE.REFUNDED", Some("refund")), None, "a refund is not a capture");
        assert_eq!(
            Kind::of_event("BILLING.SUBSCRIPTION.PAYMENT.FAILED", Some("subscription")),
            Some(Kind::Subscription)
        );
    }
}
