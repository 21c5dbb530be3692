//! Billing's actions, as commands on provider `billing`: checkout, plan,
//! seat and add-on changes, credits, the customer portal, cancellation and
//! refunds, carried out on Stripe (`stripe.rs`), with PayPal as the fallback
//! of a checkout Stripe definitively failed (`paypal.rs`).
//!
//! Each sends Stripe an `Idempotency-Key` derived from the command id and
//! the step (`provider_key`). The checkouts are `unsafe` instead: a Stripe
//! outcome that is unknown must not be followed by PayPal, so such a
//! checkout is never repeated and ends `unknown`. Multi-step commands
//! journal their steps (`CommandStep`): a resumed one skips what is done,
//! and the app reads which provider was tried and why.

use std::sync::Arc;

use async_trait::async_trait;
use portage_client::ClientPool;
use portage_core::actions::{Action, ActionError, ActionExecutor, EffectStrategy, Execution};
use portage_core::billing::BillingConfig;
use portage_core::commands::{CommandRecord, CommandStep, CommandStore};
use portage_core::ports::{Clock, StateStore};
use serde_json::Value;

use crate::actions::refused;

/// The `customer` field every action but `refund` takes: the app's customer
/// id, as the entitlement routes accept it.
macro_rules! customer_field {
    () => {
        r#""customer": {"type": "string", "pattern": "^[A-Za-z0-9_.:@-]{1,128}$"},"#
    };
}

/// Billing's actions, as the catalogue lists them.
pub const ACTIONS: [Action; 9] = [
    Action {
        provider: "billing",
        name: "checkout",
        description: "A Checkout Session in subscription mode for a plan (its trial, `seats` when per seat); \
            PayPal's approval link when Stripe is definitively down; result {\"provider\", \"url\", \"session\"}.",
        input_schema: concat!(
            r#"{"type": "object", "additionalProperties": false,
            "required": ["customer", "plan", "success_url", "cancel_url"], "properties": {"#,
            customer_field!(),
            r#""email": {"type": "string", "format": "email", "maxLength": 512},
                "plan": {"type": "string", "minLength": 1, "maxLength": 64},
                "seats": {"type": "integer", "minimum": 1, "maximum": 100000},
                "success_url": {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": 2048},
                "cancel_url": {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": 2048},
                "allow_promotion_codes": {"type": "boolean"}}}"#
        ),
        effect: EffectStrategy::Unsafe,
        credentials: &[],
        resource_field: Some("customer"),
    },
    Action {
        provider: "billing",
        name: "change_plan",
        description: "Moves the subscription to another plan: `now` (prorated) or at `period_end` (a \
            subscription schedule); result {\"provider\", \"subscription\", \"plan\", \"when\"}.",
        input_schema: concat!(
            r#"{"type": "object", "additionalProperties": false, "required": ["customer", "plan", "when"],
            "properties": {"#,
            customer_field!(),
            r#""plan": {"type": "string", "minLength": 1, "maxLength": 64},
                "when": {"enum": ["now", "period_end"]}}}"#
        ),
        effect: EffectStrategy::ProviderKey,
        credentials: &[],
        resource_field: Some("customer"),
    },
    Action {
        provider: "billing",
        name: "set_seats",
        description: "Sets a per-seat subscription's seats, prorated as `proration` says; result \
            {\"provider\", \"subscription\", \"seats\"}.",
        input_schema: concat!(
            r#"{"type": "object", "additionalProperties": false, "required": ["customer", "seats", "proration"],
            "properties": {"#,
            customer_field!(),
            r#""seats": {"type": "integer", "minimum": 1, "maximum": 100000},
                "proration": {"enum": ["create_prorations", "always_invoice", "none"]}}}"#
        ),
        effect: EffectStrategy::ProviderKey,
        credentials: &[],
        resource_field: Some("customer"),
    },
    Action {
        provider: "billing",
        name: "add_addon",
        description: "Puts a recurring add-on on the subscription at `quantity` units (prorated); result \
            {\"provider\", \"subscription\", \"addon\", \"quantity\"}.",
        input_schema: concat!(
            r#"{"type": "object", "additionalProperties": false, "required": ["customer", "addon"],
            "properties": {"#,
            customer_field!(),
            r#""addon": {"type": "string", "minLength": 1, "maxLength": 64},
                "quantity": {"type": "integer", "minimum": 1, "maximum": 100000}}}"#
        ),
        effect: EffectStrategy::ProviderKey,
        credentials: &[],
        resource_field: Some("customer"),
    },
    Action {
        provider: "billing",
        name: "remove_addon",
        description: "Takes a recurring add-on off the subscription (prorated); result \
            {\"provider\", \"subscription\", \"addon\", \"removed\"}.",
        input_schema: concat!(
            r#"{"type": "object", "additionalProperties": false, "required": ["customer", "addon"],
            "properties": {"#,
            customer_field!(),
            r#""addon": {"type": "string", "minLength": 1, "maxLength": 64}}}"#
        ),
        effect: EffectStrategy::ProviderKey,
        credentials: &[],
        resource_field: Some("customer"),
    },
    Action {
        provider: "billing",
        name: "buy_credits",
        description: "A Checkout Session in payment mode for `quantity` units of a credits add-on (granted once \
            paid); PayPal's approval link when Stripe is definitively down; result {\"provider\", \"url\", \"session\"}.",
        input_schema: concat!(
            r#"{"type": "object", "additionalProperties": false, "required": ["customer", "addon", "quantity"],
            "properties": {"#,
            customer_field!(),
            r#""addon": {"type": "string", "minLength": 1, "maxLength": 64},
                "quantity": {"type": "integer", "minimum": 1, "maximum": 10000},
                "email": {"type": "string", "format": "email", "maxLength": 512},
                "success_url": {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": 2048},
                "cancel_url": {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": 2048}}}"#
        ),
        effect: EffectStrategy::Unsafe,
        credentials: &[],
        resource_field: Some("customer"),
    },
    Action {
        provider: "billing",
        name: "portal",
        description: "A Customer Portal session for the customer; result {\"provider\", \"url\"}.",
        input_schema: concat!(
            r#"{"type": "object", "additionalProperties": false, "required": ["customer", "return_url"],
            "properties": {"#,
            customer_field!(),
            r#""return_url": {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": 2048}}}"#
        ),
        effect: EffectStrategy::ProviderKey,
        credentials: &[],
        resource_field: Some("customer"),
    },
    Action {
        provider: "billing",
        name: "cancel",
        description: "Cancels the subscription `now` or at `period_end`; result \
            {\"provider\", \"subscription\", \"when\", \"status\"}.",
        input_schema: concat!(
            r#"{"type": "object", "additionalProperties": false, "required": ["customer", "when"],
            "properties": {"#,
            customer_field!(),
            r#""when": {"enum": ["now", "period_end"]}}}"#
        ),
        effect: EffectStrategy::ProviderKey,
        credentials: &[],
        resource_field: Some("customer"),
    },
    Action {
        provider: "billing",
        name: "refund",
        description: "Refunds a payment (a Stripe payment intent `pi_…` or charge `ch_…`, or a PayPal capture), \
            wholly or `amount` (smallest currency unit); result {\"provider\", \"refund\", \"status\"}.",
        input_schema: r#"{"type": "object", "additionalProperties": false, "required": ["payment"],
            "properties": {
                "payment": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                "amount": {"type": "integer", "minimum": 1}}}"#,
        effect: EffectStrategy::ProviderKey,
        credentials: &[],
        resource_field: Some("payment"),
    },
];

/// What every billing action works with: the command, the plans, the
/// customer's records and the journal.
pub(super) struct Context<'a> {
    /// The command being executed.
    pub(super) command: &'a CommandRecord,
    /// The plans and add-ons.
    pub(super) config: &'a BillingConfig,
    /// The process's API clients (Stripe's and PayPal's, on the command's connection).
    pub(super) clients: &'a ClientPool,
    /// Billing and provider records.
    pub(super) state: &'a dyn StateStore,
    /// Where steps are journalled.
    pub(super) journal: &'a dyn CommandStore,
    /// The time.
    pub(super) clock: &'a dyn Clock,
}

impl Context<'_> {
    /// A text input field (validated by the schema where required).
    pub(super) fn text(&self, field: &str) -> Option<&str> {
        self.command.input.get(field).and_then(Value::as_str)
    }

    /// An integer input field.
    pub(super) fn number(&self, field: &str) -> Option<i64> {
        self.command.input.get(field).and_then(Value::as_i64)
    }

    /// The app's customer id.
    pub(super) fn customer(&self) -> &str {
        self.text("customer").unwrap_or_default()
    }

    /// What an earlier attempt's step `name` made, when it was done.
    pub(super) fn done(&self, name: &str) -> Option<&Value> {
        self.command.steps.iter().rev().find(|s| s.name == name && s.status == "done").map(|s| &s.result)
    }

    /// Journals a step; a journal that cannot be written makes the attempt
    /// end here, to be tried again (its provider keys make that safe).
    pub(super) async fn record(&self, step: CommandStep) -> Result<(), ActionError> {
        self.journal.record_step(&self.command.id, &step).await.map_err(|e| unavailable("journal_unavailable", &e))
    }

    /// Where Checkout (or PayPal's approval) sends the customer back: the
    /// command's `success_url` and `cancel_url`, else `[billing] return_url`.
    pub(super) fn return_urls(&self) -> Result<(String, String), ActionError> {
        let fallback = self.config.return_url.as_deref();
        match (self.text("success_url").or(fallback), self.text("cancel_url").or(fallback)) {
            (Some(success), Some(cancel)) => Ok((success.to_owned(), cancel.to_owned())),
            _ => Err(refused("return_url_required", "give success_url and cancel_url, or set [billing] return_url")),
        }
    }

    /// The idempotency key of this command's step `step` at a provider.
    pub(super) fn key(&self, step: &str) -> String {
        format!("portage-{}-{step}", self.command.id)
    }

    /// Now, Unix milliseconds.
    pub(super) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// A store that could not be read or written, as a failure to try again.
pub(super) fn unavailable(code: &str, error: &portage_core::StoreError) -> ActionError {
    ActionError::Transient { code: code.to_owned(), message: error.to_string(), request_id: None, retry_after: None }
}

/// Executes billing's actions.
pub struct BillingActions {
    clients: Arc<ClientPool>,
    state: Arc<dyn StateStore>,
    journal: Arc<dyn CommandStore>,
    clock: Arc<dyn Clock>,
    config: Option<Arc<BillingConfig>>,
}

impl BillingActions {
    /// The executor over the process's clients, records and journal; `config`
    /// is `[billing]`, without which every action is refused.
    pub fn new(
        clients: Arc<ClientPool>,
        state: Arc<dyn StateStore>,
        journal: Arc<dyn CommandStore>,
        clock: Arc<dyn Clock>,
        config: Option<Arc<BillingConfig>>,
    ) -> Self {
        Self { clients, state, journal, clock, config }
    }
}

#[async_trait]
impl ActionExecutor for BillingActions {
    async fn execute(&self, command: &CommandRecord) -> Result<Execution, ActionError> {
        let Some(config) = self.config.as_deref() else {
            return Err(refused("billing_not_configured", "this deployment has no [billing] plans"));
        };
        let ctx = Context {
            command,
            config,
            clients: &self.clients,
            state: self.state.as_ref(),
            journal: self.journal.as_ref(),
            clock: self.clock.as_ref(),
        };
        match command.action.as_str() {
            "checkout" => super::stripe::checkout(&ctx).await,
            "change_plan" => super::stripe::change_plan(&ctx).await,
            "set_seats" => super::stripe::set_seats(&ctx).await,
            "add_addon" => super::stripe::add_addon(&ctx).await,
            "remove_addon" => super::stripe::remove_addon(&ctx).await,
            "buy_credits" => super::stripe::buy_credits(&ctx).await,
            "portal" => super::stripe::portal(&ctx).await,
            "cancel" => super::stripe::cancel(&ctx).await,
            "refund" => super::stripe::refund(&ctx).await,
            other => Err(refused("unknown_action", format!("billing has no action {other}"))),
        }
    }
}
