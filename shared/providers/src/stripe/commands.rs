//! Stripe's actions: `customer.create`, `customer.update`, `refund.create`.
//! Each is sent with `Idempotency-Key: portage-{command id}`, so Stripe
//! answers a repeated attempt with the first one's result (for 24 hours at
//! least): the `provider_key` strategy, safe to retry after any failure.

use std::sync::Arc;

use async_trait::async_trait;
use portage_client::{ApiRequest, ClientPool, CredentialSource};
use portage_core::actions::{Action, ActionError, ActionExecutor, EffectStrategy, Execution};
use portage_core::commands::CommandRecord;
use portage_core::ports::Clock;
use portage_core::{StateChange, Version};
use serde_json::{Map, Value, json};

use super::api::StripeApi;
use super::records::{self, Kind};
use crate::actions::{client_for, from_provider, refused};

const CREDENTIALS: &[&str] = &["api_key"];

/// Stripe's actions, as the catalogue lists them.
pub const ACTIONS: [Action; 3] = [
    Action {
        provider: "stripe",
        name: "customer.create",
        description: "Create a customer (email, name, metadata); result {\"customer\": \"cus_…\"}.",
        input_schema: r#"{"type": "object", "additionalProperties": false,
            "properties": {
                "email": {"type": "string", "format": "email", "maxLength": 512},
                "name": {"type": "string", "minLength": 1, "maxLength": 256},
                "description": {"type": "string", "maxLength": 350},
                "metadata": {"type": "object", "maxProperties": 50,
                    "additionalProperties": {"type": "string", "maxLength": 500}}
            }}"#,
        effect: EffectStrategy::ProviderKey,
        credentials: CREDENTIALS,
        resource_field: None,
    },
    Action {
        provider: "stripe",
        name: "customer.update",
        description: "Update a customer's email, name, description or metadata; result {\"customer\": \"cus_…\"}.",
        input_schema: r#"{"type": "object", "additionalProperties": false, "required": ["customer"],
            "properties": {
                "customer": {"type": "string", "pattern": "^cus_[A-Za-z0-9]+$"},
                "email": {"type": "string", "format": "email", "maxLength": 512},
                "name": {"type": "string", "minLength": 1, "maxLength": 256},
                "description": {"type": "string", "maxLength": 350},
                "metadata": {"type": "object", "maxProperties": 50,
                    "additionalProperties": {"type": "string", "maxLength": 500}}
            }}"#,
        effect: EffectStrategy::ProviderKey,
        credentials: CREDENTIALS,
        resource_field: Some("customer"),
    },
    Action {
        provider: "stripe",
        name: "refund.create",
        description: "Refund a payment intent, wholly or `amount` (smallest currency unit); result {\"refund\", \"status\"}.",
        input_schema: r#"{"type": "object", "additionalProperties": false, "required": ["payment_intent"],
            "properties": {
                "payment_intent": {"type": "string", "pattern": "^pi_[A-Za-z0-9]+$"},
                "amount": {"type": "integer", "minimum": 1},
                "reason": {"enum": ["duplicate", "fraudulent", "requested_by_customer"]},
                "metadata": {"type": "object", "maxProperties": 50,
                    "additionalProperties": {"type": "string", "maxLength": 500}}
            }}"#,
        effect: EffectStrategy::ProviderKey,
        credentials: CREDENTIALS,
        resource_field: Some("payment_intent"),
    },
];

/// Executes Stripe's actions through the connections' long-lived clients.
pub struct StripeActions {
    clients: Arc<ClientPool>,
    clock: Arc<dyn Clock>,
}

impl StripeActions {
    /// The executor over the process's clients.
    pub fn new(clients: Arc<ClientPool>, clock: Arc<dyn Clock>) -> Self {
        Self { clients, clock }
    }
}

/// The customer fields a command may set, as Stripe's form pairs.
fn customer_form(input: &Value) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for field in ["email", "name", "description"] {
        if let Some(value) = input.get(field).and_then(Value::as_str) {
            pairs.push((field.to_owned(), value.to_owned()));
        }
    }
    pairs.extend(metadata_form(input));
    pairs
}

fn metadata_form(input: &Value) -> Vec<(String, String)> {
    let Some(metadata) = input.get("metadata").and_then(Value::as_object) else { return Vec::new() };
    metadata.iter().filter_map(|(k, v)| v.as_str().map(|v| (format!("metadata[{k}]"), v.to_owned()))).collect()
}

fn post(path: String, pairs: &[(String, String)], command: &CommandRecord) -> ApiRequest {
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    ApiRequest::post_form(path, &pairs).idempotency_key(format!("portage-{}", command.id))
}

fn object(value: &Value) -> Result<&Map<String, Value>, ActionError> {
    value.as_object().filter(|o| o.contains_key("id")).ok_or_else(|| ActionError::Ambiguous {
        code: "unreadable_response".to_owned(),
        message: "Stripe answered with something that is not the object".to_owned(),
    })
}

fn id_of(object: &Map<String, Value>) -> Value {
    object.get("id").cloned().unwrap_or(Value::Null)
}

/// The record of an object Stripe answered a write with. Versioned by the
/// second before the answer, as a listing is, so a webhook Stripe stamps
/// with the second of the change still wins; the answer's millisecond
/// orders it after anything stamped before (an older webhook, an earlier
/// command's answer).
pub fn answered_change(kind: Kind, object: &Map<String, Value>, clock: &dyn Clock) -> Result<StateChange, ActionError> {
    let mut change = records::change(kind, object, clock.now_secs() - 1, false)
        .map_err(|e| ActionError::Ambiguous { code: "unreadable_response".to_owned(), message: e.to_string() })?;
    change.version.secondary += clock.now_ms().saturating_mul(10);
    Ok(change)
}

#[async_trait]
impl ActionExecutor for StripeActions {
    async fn execute(&self, command: &CommandRecord) -> Result<Execution, ActionError> {
        let client =
            client_for(&self.clients, Arc::new(StripeApi), &command.connection, CredentialSource::Bearer("api_key"))
                .await?;
        let input = &command.input;
        let request = match command.action.as_str() {
            "customer.create" => post("/v1/customers".to_owned(), &customer_form(input), command),
            "customer.update" => {
                let id = input.get("customer").and_then(Value::as_str).unwrap_or_default();
                post(format!("/v1/customers/{id}"), &customer_form(input), command)
            }
            "refund.create" => {
                let mut pairs = Vec::new();
                for field in ["payment_intent", "reason"] {
                    if let Some(value) = input.get(field).and_then(Value::as_str) {
                        pairs.push((field.to_owned(), value.to_owned()));
                    }
                }
                if let Some(amount) = input.get("amount").and_then(Value::as_i64) {
                    pairs.push(("amount".to_owned(), amount.to_string()));
                }
                pairs.extend(metadata_form(input));
                post("/v1/refunds".to_owned(), &pairs, command)
            }
            other => return Err(refused("unknown_action", format!("Stripe has no action {other}"))),
        };
        let response = client.send(&request).await.map_err(|e| from_provider(&e))?;
        let body = response.json("stripe").map_err(|e| from_provider(&e))?;
        let object = object(&body)?;
        // Versioned by the second before the answer, as a listing is, so a
        // webhook Stripe stamps with the second of the change still wins;
        // the answer's millisecond orders it after anything stamped before
        // (an older webhook, an earlier command's answer).
        let at = self.clock.now_secs() - 1;
        let order = self.clock.now_ms().saturating_mul(10);
        if command.action == "refund.create" {
            let data = ["amount", "currency", "status", "payment_intent", "reason", "created", "metadata"]
                .iter()
                .map(|f| ((*f).to_owned(), object.get(*f).cloned().unwrap_or(Value::Null)))
                .collect::<Map<_, _>>();
            let change = StateChange {
                kind: "refund".to_owned(),
                id: id_of(object).as_str().unwrap_or_default().to_owned(),
                version: Version { primary: at, secondary: order },
                data: Value::Object(data),
                deleted: false,
            };
            let result =
                json!({ "refund": id_of(object), "status": object.get("status").cloned().unwrap_or(Value::Null) });
            return Ok(Execution { result, changes: vec![change] });
        }
        let change = answered_change(Kind::Customer, object, self.clock.as_ref())?;
        Ok(Execution { result: json!({ "customer": id_of(object) }), changes: vec![change] })
    }
}
