//! Checkout Sessions (a plan's subscription, a credits purchase), each
//! falling back to PayPal when Stripe is definitively down; the Customer
//! Portal; refunds.

use portage_core::actions::{ActionError, Execution};
use portage_core::commands::CommandStep;
use serde_json::{Value, json};

use portage_core::billing::Plan;

use portage_client::ApiClient;

use super::{Failure, Form, Object, account, call, client, id, pair, plan, post, stripe_customer};
use crate::actions::refused;
use crate::billing::commands::Context;
use crate::billing::paypal;

/// What every Checkout Session Portage makes says: the mapped customer
/// (created now if need be), the app's id as `client_reference_id` and
/// `metadata.portage_customer`, where to come back to, one line item.
async fn session_form(
    ctx: &Context<'_>,
    client: &ApiClient,
    mode: &str,
    price: &str,
    quantity: i64,
) -> Result<Form, Failure> {
    let customer = stripe_customer(ctx, client).await?;
    let (success, cancel) = ctx.return_urls()?;
    Ok(vec![
        pair("mode", mode),
        pair("customer", customer),
        pair("client_reference_id", ctx.customer()),
        pair("success_url", success),
        pair("cancel_url", cancel),
        pair("line_items[0][price]", price),
        pair("line_items[0][quantity]", quantity.to_string()),
        pair("metadata[portage_customer]", ctx.customer()),
    ])
}

fn session_result(session: &Object) -> Value {
    json!({ "provider": "stripe", "url": session.get("url"), "session": id(session) })
}

/// `checkout`'s Stripe half: the subscription Checkout Session, or the
/// failure that decides whether PayPal is tried.
pub(in crate::billing) async fn checkout_session(
    ctx: &Context<'_>,
    name: &str,
    price: &str,
    plan: &Plan,
) -> Result<Value, Failure> {
    if let Some(done) = ctx.done("stripe.checkout") {
        return Ok(done.clone());
    }
    let client = client(ctx).await.map_err(Failure::Other)?;
    let seats = if plan.per_seat { ctx.number("seats").unwrap_or(1) } else { 1 };
    let mut form = session_form(ctx, &client, "subscription", price, seats).await?;
    form.extend([
        pair("metadata[portage_plan]", name),
        pair("subscription_data[metadata][portage_customer]", ctx.customer()),
        pair("subscription_data[metadata][portage_plan]", name),
    ]);
    if let Some(days) = plan.trial_days.filter(|d| *d > 0) {
        form.push(pair("subscription_data[trial_period_days]", days.to_string()));
    }
    if let Some(allow) = ctx.command.input.get("allow_promotion_codes").and_then(Value::as_bool) {
        form.push(pair("allow_promotion_codes", allow.to_string()));
    }
    let session = call(&client, post("/v1/checkout/sessions".to_owned(), &form, ctx.key("checkout"))).await?;
    let result = session_result(&session);
    ctx.record(CommandStep::done("stripe.checkout", result.clone(), ctx.now_ms())).await.map_err(Failure::Other)?;
    Ok(result)
}

/// `checkout`: on Stripe; on PayPal when Stripe is definitively down.
pub(in crate::billing) async fn checkout(ctx: &Context<'_>) -> Result<Execution, ActionError> {
    let (name, plan) = plan(ctx)?;
    if let Some(done) = ctx.done("paypal.subscription") {
        return Ok(Execution { result: done.clone(), changes: Vec::new() });
    }
    let Some(price) = plan.stripe_price.as_deref() else {
        return paypal::subscribe(ctx, plan).await;
    };
    match checkout_session(ctx, name, price, plan).await {
        Ok(result) => Ok(Execution { result, changes: Vec::new() }),
        Err(down @ Failure::Down(_)) => {
            if plan.paypal_plan.is_none() || paypal::client(ctx).await?.is_none() {
                return Err(down.into());
            }
            ctx.record(CommandStep::failed("stripe.checkout", down.detail(), ctx.now_ms())).await?;
            paypal::subscribe(ctx, plan).await
        }
        Err(failure) => Err(failure.into()),
    }
}

/// `buy_credits`: a payment-mode Checkout Session for units of a credits
/// add-on; on PayPal (an order) when Stripe is definitively down.
pub(in crate::billing) async fn buy_credits(ctx: &Context<'_>) -> Result<Execution, ActionError> {
    let name = ctx.text("addon").unwrap_or_default();
    let addon = ctx.config.addons.get(name).ok_or_else(|| refused("unknown_addon", format!("no add-on '{name}'")))?;
    if addon.raises.is_some() {
        return Err(refused("addon_not_credits", format!("'{name}' is recurring: use add_addon")));
    }
    if let Some(done) = ctx.done("paypal.order").or_else(|| ctx.done("stripe.checkout")) {
        return Ok(Execution { result: done.clone(), changes: Vec::new() });
    }
    let quantity = ctx.number("quantity").unwrap_or(1);
    let Some(price) = addon.stripe_price.as_deref() else { return paypal::order(ctx, name, addon).await };
    let attempt = async {
        let client = client(ctx).await.map_err(Failure::Other)?;
        let mut form = session_form(ctx, &client, "payment", price, quantity).await?;
        form.extend([pair("metadata[portage_addon]", name), pair("metadata[portage_units]", quantity.to_string())]);
        call(&client, post("/v1/checkout/sessions".to_owned(), &form, ctx.key("checkout"))).await
    };
    match attempt.await {
        Ok(session) => {
            let result = session_result(&session);
            ctx.record(CommandStep::done("stripe.checkout", result.clone(), ctx.now_ms())).await?;
            Ok(Execution { result, changes: Vec::new() })
        }
        Err(down @ Failure::Down(_)) => {
            if addon.paypal_price.is_none() || paypal::client(ctx).await?.is_none() {
                return Err(down.into());
            }
            ctx.record(CommandStep::failed("stripe.checkout", down.detail(), ctx.now_ms())).await?;
            paypal::order(ctx, name, addon).await
        }
        Err(failure) => Err(failure.into()),
    }
}

/// `portal`: a Customer Portal session for the mapped Stripe customer.
pub(in crate::billing) async fn portal(ctx: &Context<'_>) -> Result<Execution, ActionError> {
    let client = client(ctx).await?;
    let (account, _) = account(ctx).await?;
    let customer =
        account.stripe_customer.ok_or_else(|| refused("no_stripe_customer", "the customer has no Stripe customer"))?;
    let form = vec![pair("customer", customer), pair("return_url", ctx.text("return_url").unwrap_or_default())];
    let session = call(&client, post("/v1/billing_portal/sessions".to_owned(), &form, ctx.key("portal"))).await?;
    Ok(Execution { result: json!({ "provider": "stripe", "url": session.get("url") }), changes: Vec::new() })
}

/// `refund`: a Stripe payment intent or charge; anything else is PayPal's capture.
pub(in crate::billing) async fn refund(ctx: &Context<'_>) -> Result<Execution, ActionError> {
    let payment = ctx.text("payment").unwrap_or_default();
    let field = match payment.split('_').next() {
        Some("pi") => "payment_intent",
        Some("ch" | "py") => "charge",
        _ => return paypal::refund(ctx, payment).await,
    };
    let client = client(ctx).await?;
    let mut form = vec![pair(field, payment), pair("metadata[portage_command]", ctx.command.id.as_str())];
    if let Some(amount) = ctx.number("amount") {
        form.push(pair("amount", amount.to_string()));
    }
    let refund = call(&client, post("/v1/refunds".to_owned(), &form, ctx.key("refund"))).await?;
    let result = json!({ "provider": "stripe", "refund": id(&refund), "status": refund.get("status") });
    Ok(Execution { result, changes: Vec::new() })
}
