//! SendGrid's action: `email.send` through `POST /v3/mail/send`. SendGrid
//! takes no idempotency key, so the action is `unsafe`: after a timeout or a
//! dropped connection the mail may have gone, and the command ends `unknown`
//! rather than risk a second copy. The command id travels in
//! `custom_args.portage_command`, so the Event Webhook's events name it.

use std::sync::Arc;

use async_trait::async_trait;
use portage_client::{ApiRequest, ClientPool, CredentialSource, header};
use portage_core::actions::{Action, ActionError, ActionExecutor, EffectStrategy, Execution};
use portage_core::commands::CommandRecord;
use portage_core::ports::Clock;
use serde_json::{Map, Value, json};

use super::api::SendGridApi;
use crate::actions::{client_for, from_provider, refused};

/// The custom argument carrying the command id on every message.
pub const COMMAND_ARG: &str = "portage_command";

/// SendGrid's actions, as the catalogue lists them.
pub const ACTIONS: [Action; 1] = [Action {
    provider: "sendgrid",
    name: "email.send",
    description: "Send one email to one or more recipients: text and/or html, or a dynamic template with its data; result {\"message_id\"}.",
    input_schema: r#"{"type": "object", "additionalProperties": false, "required": ["to", "from"],
        "properties": {
            "to": {"oneOf": [{"type": "string", "format": "email"},
                {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"type": "string", "format": "email"}}]},
            "from": {"oneOf": [{"type": "string", "format": "email"},
                {"type": "object", "additionalProperties": false, "required": ["email"],
                 "properties": {"email": {"type": "string", "format": "email"}, "name": {"type": "string", "maxLength": 256}}}]},
            "subject": {"type": "string", "minLength": 1, "maxLength": 998},
            "text": {"type": "string", "minLength": 1},
            "html": {"type": "string", "minLength": 1},
            "template_id": {"type": "string", "pattern": "^d-[0-9a-f]{32}$"},
            "dynamic_template_data": {"type": "object"},
            "categories": {"type": "array", "maxItems": 10, "items": {"type": "string", "minLength": 1, "maxLength": 255}}
        },
        "anyOf": [
            {"required": ["template_id"]},
            {"required": ["subject", "text"]},
            {"required": ["subject", "html"]}
        ]}"#,
    effect: EffectStrategy::Unsafe,
    credentials: &["api_key"],
    resource_field: None,
}];

/// Executes SendGrid's action through the connections' long-lived clients.
pub struct SendGridActions {
    clients: Arc<ClientPool>,
    clock: Arc<dyn Clock>,
}

impl SendGridActions {
    /// The executor over the process's clients.
    pub fn new(clients: Arc<ClientPool>, clock: Arc<dyn Clock>) -> Self {
        Self { clients, clock }
    }
}

fn recipients(to: &Value) -> Vec<Value> {
    match to {
        Value::String(email) => vec![json!({ "email": email })],
        Value::Array(emails) => emails.iter().map(|e| json!({ "email": e })).collect(),
        _ => Vec::new(),
    }
}

/// The `v3/mail/send` body for a command's input.
pub fn mail_body(command_id: &str, input: &Value) -> Value {
    let mut personalization = Map::new();
    personalization.insert("to".into(), Value::Array(recipients(&input["to"])));
    personalization.insert("custom_args".into(), json!({ COMMAND_ARG: command_id }));
    if let Some(data) = input.get("dynamic_template_data") {
        personalization.insert("dynamic_template_data".into(), data.clone());
    }
    let from = match &input["from"] {
        Value::String(email) => json!({ "email": email }),
        other => other.clone(),
    };
    let mut body = json!({ "personalizations": [personalization], "from": from });
    if let Some(subject) = input.get("subject") {
        body["subject"] = subject.clone();
    }
    // text/plain first, as SendGrid requires.
    let content: Vec<Value> = [("text/plain", "text"), ("text/html", "html")]
        .iter()
        .filter_map(|(kind, field)| input.get(*field).map(|v| json!({ "type": kind, "value": v })))
        .collect();
    if !content.is_empty() {
        body["content"] = Value::Array(content);
    }
    for field in ["template_id", "categories"] {
        if let Some(value) = input.get(field) {
            body[field] = value.clone();
        }
    }
    body
}

#[async_trait]
impl ActionExecutor for SendGridActions {
    async fn execute(&self, command: &CommandRecord) -> Result<Execution, ActionError> {
        if command.action != "email.send" {
            return Err(refused("unknown_action", format!("SendGrid has no action {}", command.action)));
        }
        let client =
            client_for(&self.clients, Arc::new(SendGridApi), &command.connection, CredentialSource::Bearer("api_key"))
                .await?;
        let request = ApiRequest::post_json("/v3/mail/send", &mail_body(&command.id, &command.input));
        let response = client.send(&request).await.map_err(|e| from_provider(&e))?;
        let message_id = header(&response.headers, "x-message-id").map(str::to_owned);
        let fields = Map::from_iter([
            ("message_id".to_owned(), json!(message_id)),
            ("to".to_owned(), Value::Array(recipients(&command.input["to"]))),
        ]);
        let change = super::records::message(&command.id, "accepted", self.clock.now_secs(), fields);
        Ok(Execution { result: json!({ "message_id": message_id }), changes: vec![change] })
    }
}
