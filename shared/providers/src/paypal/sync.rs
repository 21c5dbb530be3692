//! Turns PayPal's events into records (see [`super::records`]): webhook
//! resources are whole, so nothing is fetched. One event is acted on: an
//! order Portage created (its purchase unit's `invoice_id` is
//! `portage-{command}`) that the buyer approved (`CHECKOUT.ORDER.APPROVED`)
//! is captured through the connection's client, once (`PayPal-Request-Id`
//! from the order id; an order already captured is fine), and the capture's
//! answer is recorded at once — so credits bought on PayPal are granted
//! without waiting for `PAYMENT.CAPTURE.COMPLETED`.

use std::sync::Arc;

use async_trait::async_trait;
use portage_client::{ApiRequest, ClientPool, CredentialSource, ProviderError};
use portage_core::ports::Clock;
use portage_core::provider::SyncHandler;
use portage_core::{EventRecord, StateChange, SyncError};
use serde_json::{Map, Value};

use super::api::{PayPalApi, token_endpoint};
use super::records::{self, Kind};

/// PayPal's sync handler, over the process's API clients.
pub struct PayPalSync {
    clients: Arc<ClientPool>,
    clock: Arc<dyn Clock>,
}

impl PayPalSync {
    /// The handler, capturing approved orders through `clients`.
    pub fn new(clients: Arc<ClientPool>, clock: Arc<dyn Clock>) -> Self {
        Self { clients, clock }
    }

    /// Captures an approved order of Portage's; its answer's records.
    async fn capture(&self, connection: &str, order: &str) -> Result<Vec<StateChange>, SyncError> {
        let credential = CredentialSource::ClientCredentials(token_endpoint);
        let Some(client) = self.clients.client(Arc::new(PayPalApi), connection, credential).await? else {
            return Err(SyncError::Permanent {
                code: "connection_not_ready",
                message: "an approved order cannot be captured: the connection has no PayPal credentials".into(),
            });
        };
        let request = ApiRequest::post_json(format!("/v2/checkout/orders/{order}/capture"), &Value::Object(Map::new()))
            .idempotency_key(format!("portage-capture-{order}"));
        let answer = match client.send(&request).await {
            Ok(answer) => answer.json("paypal").map_err(|e| SyncError::Transient(e.to_string()))?,
            // Captured already (by an earlier delivery, or by hand): its
            // capture event records it.
            Err(ProviderError::Validation { detail, .. })
                if detail.code.as_deref() == Some("ORDER_ALREADY_CAPTURED") =>
            {
                return Ok(Vec::new());
            }
            Err(error) if error.is_retryable() => return Err(SyncError::Transient(error.to_string())),
            Err(error) => return Err(SyncError::Permanent { code: "provider_error", message: error.to_string() }),
        };
        let now = self.clock.now_secs();
        let mut changes = Vec::new();
        if let Some(object) = answer.as_object() {
            changes.push(records::change(Kind::Order, object, now)?);
        }
        let captures = answer
            .pointer("/purchase_units")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|u| u.pointer("/payments/captures").and_then(Value::as_array).cloned().unwrap_or_default());
        for capture in captures {
            if let Some(object) = capture.as_object() {
                changes.push(records::change(Kind::Capture, object, now)?);
            }
        }
        Ok(changes)
    }
}

/// Whether an order's first purchase unit is Portage's.
fn is_portages(order: &Map<String, Value>) -> bool {
    let invoice = order.get("purchase_units").and_then(|u| u.get(0)).and_then(|u| u.get("invoice_id"));
    invoice.and_then(Value::as_str).is_some_and(|i| i.starts_with("portage-"))
}

#[async_trait]
impl SyncHandler for PayPalSync {
    async fn state_changes(&self, event: &EventRecord) -> Result<Vec<StateChange>, SyncError> {
        let body: Value = serde_json::from_slice(&event.raw).map_err(|e| SyncError::malformed(e.to_string()))?;
        let Some(resource) = body.get("resource").and_then(Value::as_object) else { return Ok(Vec::new()) };
        let resource_type = body.get("resource_type").and_then(Value::as_str);
        let Some(kind) = Kind::of_event(&event.event.event_type, resource_type) else { return Ok(Vec::new()) };
        let mut changes = vec![records::change(kind, resource, event.event.occurred_at)?];
        if event.event.event_type == "CHECKOUT.ORDER.APPROVED" && is_portages(resource) {
            let order = changes[0].id.clone();
            changes.extend(self.capture(&event.connection, &order).await?);
        }
        Ok(changes)
    }
}
