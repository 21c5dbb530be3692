//! Billing's PayPal half, through the connection's long-lived PayPal client
//! (a client-credentials token): the fallback of a checkout Stripe
//! definitively failed (a subscription to the plan's `paypal_plan`, or an
//! order for credits at the add-on's `paypal_price`), and refunds of PayPal
//! captures. Each request carries `PayPal-Request-Id` from the command id.
//!
//! What the app's customer bought travels with it: a subscription's
//! `custom_id` is the customer; an order's purchase unit has the customer
//! as `custom_id`, `{addon}:{units}` as `reference_id` and
//! `portage-{command}` as `invoice_id` (what PayPal's sync recognises to
//! capture it once approved), and the order is also recorded (billing kind
//! `paypal_order`), which is what lets the capture — whose event names only
//! the order — grant the credits.

use std::sync::Arc;

use portage_client::{ApiClient, ApiRequest, CredentialSource};
use portage_core::actions::{ActionError, Execution};
use portage_core::billing::{self, Addon, Plan};
use portage_core::commands::CommandStep;
use portage_core::{StateChange, Version};
use serde_json::{Value, json};

use super::commands::{Context, unavailable};
use crate::actions::{client_for, from_provider, refused};
use crate::paypal::api::{PayPalApi, token_endpoint};

/// The record kind of an order Portage created at PayPal (provider `billing`, id the order's).
pub const ORDER_KIND: &str = "paypal_order";

/// The connection's PayPal client, when the connection has PayPal credentials.
pub(super) async fn client(ctx: &Context<'_>) -> Result<Option<Arc<ApiClient>>, ActionError> {
    match client_for(ctx.clients, Arc::new(PayPalApi), &ctx.command.connection, credential()).await {
        Ok(client) => Ok(Some(client)),
        Err(ActionError::Refused { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

fn credential() -> CredentialSource {
    CredentialSource::ClientCredentials(token_endpoint)
}

async fn required(ctx: &Context<'_>) -> Result<Arc<ApiClient>, ActionError> {
    client_for(ctx.clients, Arc::new(PayPalApi), &ctx.command.connection, credential()).await
}

/// The link PayPal sends the buyer to (`approve`, or `payer-action` for an
/// order with a payment source).
fn approval_link(answer: &Value) -> Option<String> {
    let links = answer.get("links").and_then(Value::as_array)?;
    links
        .iter()
        .find(|l| matches!(l.get("rel").and_then(Value::as_str), Some("approve" | "payer-action")))
        .and_then(|l| l.get("href").and_then(Value::as_str))
        .map(str::to_owned)
}

async fn send(client: &ApiClient, request: ApiRequest) -> Result<Value, ActionError> {
    let response = client.send(&request).await.map_err(|e| from_provider(&e))?;
    response
        .json("paypal")
        .map_err(|e| ActionError::Ambiguous { code: "unreadable_response".into(), message: e.to_string() })
}

/// The customer id as PayPal's `custom_id` holds it (at most 127 characters).
fn custom_id<'a>(ctx: &'a Context<'_>) -> Result<&'a str, ActionError> {
    let customer = ctx.customer();
    if customer.len() > 127 {
        return Err(refused("customer_too_long", "PayPal keeps at most 127 characters of the customer id"));
    }
    Ok(customer)
}

/// `checkout` on PayPal: a subscription to the plan's PayPal plan, pending
/// the buyer's approval at the returned link.
pub(super) async fn subscribe(ctx: &Context<'_>, plan: &Plan) -> Result<Execution, ActionError> {
    let plan_id = plan
        .paypal_plan
        .as_deref()
        .ok_or_else(|| refused("plan_not_sold", "the plan has no Stripe or PayPal price"))?;
    let client = required(ctx).await?;
    let (success, cancel) = ctx.return_urls()?;
    let mut body = json!({
        "plan_id": plan_id,
        "custom_id": custom_id(ctx)?,
        "application_context": {
            "return_url": success, "cancel_url": cancel,
            "user_action": "SUBSCRIBE_NOW", "shipping_preference": "NO_SHIPPING"
        }
    });
    if plan.per_seat {
        body["quantity"] = json!(ctx.number("seats").unwrap_or(1).to_string());
    }
    if let Some(email) = ctx.text("email") {
        body["subscriber"] = json!({ "email_address": email });
    }
    let request = ApiRequest::post_json("/v1/billing/subscriptions", &body).idempotency_key(ctx.key("paypal"));
    let answer = send(&client, request).await?;
    let url = approval_link(&answer).ok_or_else(|| ActionError::Ambiguous {
        code: "no_approval_link".into(),
        message: "PayPal's subscription has no approval link".into(),
    })?;
    let result = json!({ "provider": "paypal", "url": url, "subscription": answer.get("id") });
    ctx.record(CommandStep::done("paypal.subscription", result.clone(), ctx.now_ms())).await?;
    Ok(Execution { result, changes: Vec::new() })
}

/// `buy_credits` on PayPal: an order for the units, recorded so its capture
/// grants them.
pub(super) async fn order(ctx: &Context<'_>, name: &str, addon: &Addon) -> Result<Execution, ActionError> {
    let units = ctx.number("quantity").unwrap_or(1);
    let price = addon.paypal_price.as_ref().ok_or_else(|| refused("addon_not_sold", "the add-on has no price"))?;
    let total =
        price.times(units).ok_or_else(|| refused("invalid_price", "the add-on's PayPal price is not a decimal"))?;
    let client = required(ctx).await?;
    let (success, cancel) = ctx.return_urls()?;
    let body = json!({
        "intent": "CAPTURE",
        "purchase_units": [{
            "reference_id": format!("{name}:{units}"),
            "custom_id": custom_id(ctx)?,
            "invoice_id": format!("portage-{}", ctx.command.id),
            "description": format!("{units} × {name}"),
            "amount": { "currency_code": total.currency_code, "value": total.value }
        }],
        "payment_source": { "paypal": { "experience_context": {
            "return_url": success, "cancel_url": cancel,
            "user_action": "PAY_NOW", "shipping_preference": "NO_SHIPPING"
        } } }
    });
    let request = ApiRequest::post_json("/v2/checkout/orders", &body).idempotency_key(ctx.key("paypal"));
    let answer = send(&client, request).await?;
    let order = answer.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
    let url = approval_link(&answer).ok_or_else(|| ActionError::Ambiguous {
        code: "no_approval_link".into(),
        message: "PayPal's order has no approval link".into(),
    })?;
    let change = StateChange {
        kind: ORDER_KIND.to_owned(),
        id: order.clone(),
        version: Version { primary: 1, secondary: 0 },
        data: json!({ "customer": ctx.customer(), "addon": name, "units": units }),
        deleted: false,
    };
    ctx.state
        .upsert(billing::PROVIDER, &ctx.command.connection, &change, None, ctx.now_ms())
        .await
        .map_err(|e| unavailable("store_unavailable", &e))?;
    let result = json!({ "provider": "paypal", "url": url, "order": order });
    ctx.record(CommandStep::done("paypal.order", result.clone(), ctx.now_ms())).await?;
    Ok(Execution { result, changes: Vec::new() })
}

/// Currencies PayPal writes without decimals.
const ZERO_DECIMAL: [&str; 3] = ["HUF", "JPY", "TWD"];

/// An amount in the currency's smallest unit, as PayPal's decimal string.
fn decimal(amount: i64, currency: &str) -> String {
    match ZERO_DECIMAL.contains(&currency) {
        true => amount.to_string(),
        false => format!("{}.{:02}", amount / 100, amount % 100),
    }
}

/// `refund` of a PayPal capture: whole, or `amount` in the smallest unit of
/// the capture's currency.
pub(super) async fn refund(ctx: &Context<'_>, capture: &str) -> Result<Execution, ActionError> {
    let client = required(ctx).await?;
    let mut body = json!({ "invoice_id": format!("portage-{}", ctx.command.id) });
    if let Some(amount) = ctx.number("amount") {
        let captured = send(&client, ApiRequest::get(format!("/v2/payments/captures/{capture}"))).await?;
        let currency = captured.pointer("/amount/currency_code").and_then(Value::as_str).unwrap_or("USD");
        body["amount"] = json!({ "value": decimal(amount, currency), "currency_code": currency });
    }
    let request = ApiRequest::post_json(format!("/v2/payments/captures/{capture}/refund"), &body)
        .idempotency_key(ctx.key("refund"));
    let answer = send(&client, request).await?;
    let result = json!({ "provider": "paypal", "refund": answer.get("id"), "status": answer.get("status") });
    Ok(Execution { result, changes: Vec::new() })
}
