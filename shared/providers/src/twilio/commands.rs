//! Twilio's action: `sms.send` through `POST
//! /2010-04-01/Accounts/{AccountSid}/Messages.json`. Twilio takes no
//! idempotency key for messages, so the action is `unsafe`: after a timeout
//! or a dropped connection the message may have gone, and the command ends
//! `unknown`. A refusal before sending (20429, too many concurrent requests,
//! "never processed and always safe to retry") is retried. `StatusCallback`
//! points at Portage's own Twilio route for the connection, when
//! `PORTAGE_PUBLIC_BASE_URL` says where that is.

use std::sync::Arc;

use async_trait::async_trait;
use portage_client::{ApiRequest, ClientPool, CredentialSource};
use portage_core::actions::{Action, ActionError, ActionExecutor, EffectStrategy, Execution};
use portage_core::commands::CommandRecord;
use portage_core::ports::{Clock, Secrets};
use serde_json::{Value, json};

use super::api::TwilioApi;
use crate::actions::{client_for, from_provider, refused};

/// Twilio's actions, as the catalogue lists them.
pub const ACTIONS: [Action; 1] = [Action {
    provider: "twilio",
    name: "sms.send",
    description: "Send one SMS from a number or a Messaging Service; result {\"sid\", \"status\"}.",
    input_schema: r#"{"type": "object", "additionalProperties": false, "required": ["to", "body"],
        "properties": {
            "to": {"type": "string", "pattern": "^\\+[1-9][0-9]{6,14}$"},
            "from": {"type": "string", "pattern": "^\\+[1-9][0-9]{6,14}$"},
            "messaging_service_sid": {"type": "string", "pattern": "^MG[0-9a-fA-F]{32}$"},
            "body": {"type": "string", "minLength": 1, "maxLength": 1600}
        },
        "oneOf": [{"required": ["from"]}, {"required": ["messaging_service_sid"]}]}"#,
    effect: EffectStrategy::Unsafe,
    credentials: &["account_sid", "auth_token"],
    resource_field: None,
}];

const CREDENTIAL: CredentialSource = CredentialSource::Basic { user: "account_sid", password: "auth_token" };

/// Executes Twilio's action through the connections' long-lived clients.
pub struct TwilioActions {
    clients: Arc<ClientPool>,
    secrets: Arc<dyn Secrets>,
    clock: Arc<dyn Clock>,
    public_base_url: Option<String>,
}

impl TwilioActions {
    /// The executor over the process's clients; status callbacks go to
    /// `{public_base_url}/webhooks/twilio/{connection}` when it is given.
    pub fn new(
        clients: Arc<ClientPool>,
        secrets: Arc<dyn Secrets>,
        clock: Arc<dyn Clock>,
        public_base_url: Option<String>,
    ) -> Self {
        Self { clients, secrets, clock, public_base_url }
    }
}

#[async_trait]
impl ActionExecutor for TwilioActions {
    async fn execute(&self, command: &CommandRecord) -> Result<Execution, ActionError> {
        if command.action != "sms.send" {
            return Err(refused("unknown_action", format!("Twilio has no action {}", command.action)));
        }
        let client = client_for(&self.clients, Arc::new(TwilioApi), &command.connection, CREDENTIAL).await?;
        let account = match self.secrets.get("twilio", &command.connection, "account_sid").await {
            Ok(Some(sid)) => sid.expose().to_owned(),
            _ => return Err(refused("connection_not_ready", "the connection has no account_sid")),
        };
        if !account.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(refused("invalid_account_sid", "the connection's account_sid is not an account SID"));
        }
        let input = &command.input;
        let text = |field: &str| input.get(field).and_then(Value::as_str).map(str::to_owned);
        let mut form: Vec<(&str, String)> = Vec::new();
        form.extend(text("to").map(|v| ("To", v)));
        form.extend(text("from").map(|v| ("From", v)));
        form.extend(text("messaging_service_sid").map(|v| ("MessagingServiceSid", v)));
        form.extend(text("body").map(|v| ("Body", v)));
        if let Some(base) = &self.public_base_url {
            form.push((
                "StatusCallback",
                format!("{}/webhooks/twilio/{}", base.trim_end_matches('/'), command.connection),
            ));
        }
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let request = ApiRequest::post_form(format!("/2010-04-01/Accounts/{account}/Messages.json"), &pairs);
        let response = client.send(&request).await.map_err(|e| from_provider(&e))?;
        let message = response.json("twilio").map_err(|e| from_provider(&e))?;
        let (sid, status) = (message["sid"].clone(), message["status"].clone());
        let Some(sid_text) = sid.as_str() else {
            return Err(ActionError::Ambiguous {
                code: "unreadable_response".to_owned(),
                message: "Twilio answered without a message sid".to_owned(),
            });
        };
        let fields = serde_json::Map::from_iter([("to".to_owned(), input["to"].clone())]);
        let change =
            super::records::message(sid_text, status.as_str().unwrap_or("queued"), self.clock.now_secs(), fields);
        Ok(Execution { result: json!({ "sid": sid, "status": status }), changes: vec![change] })
    }
}
