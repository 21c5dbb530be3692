//! Billing's actions on Stripe, through the connection's long-lived Stripe
//! client: what they share here — how a failed call is read (is Stripe
//! down, so a checkout may fall back?), the app's customer mapped to one
//! Stripe customer (created once, under a key derived from the app's id),
//! the customer's subscription — and the actions in `checkout.rs`
//! (Checkout Sessions, the Customer Portal, refunds) and `subscription.rs`
//! (plan, seats, add-ons, cancellation).

use std::sync::Arc;

use portage_client::{ApiClient, ApiRequest, CredentialSource, ProviderError};
use portage_core::actions::ActionError;
use portage_core::billing::{self, BillingAccount, BillingState, Plan};
use portage_core::commands::CommandStep;
use portage_core::ports::UpsertOutcome;
use portage_core::{StateChange, Version};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::commands::Context;

mod checkout;
mod subscription;

use crate::actions::{client_for, from_provider, refused};
use crate::stripe::api::StripeApi;
use crate::stripe::records::Kind;
pub(super) use checkout::{buy_credits, checkout, portal, refund};
pub(super) use subscription::{add_addon, cancel, change_plan, remove_addon, set_seats};

type Form = Vec<(String, String)>;
type Object = Map<String, Value>;

/// Why a Stripe call failed, as billing reads it.
pub(super) enum Failure {
    /// Stripe is definitively unavailable: the breaker is open, or 5xx and
    /// timeouts lasted past the client's retries. Nothing took effect that
    /// the customer could act on: a checkout may fall back to PayPal.
    Down(ProviderError),
    /// Anything else: a refusal, throttling, or an unknown outcome (an
    /// answer dropped part-way, or one that cannot be read).
    Other(ActionError),
}

impl From<Failure> for ActionError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Down(error) => ActionError::Transient {
                code: "stripe_unavailable".to_owned(),
                message: error.to_string(),
                request_id: error.detail().and_then(|d| d.request_id.clone()),
                retry_after: None,
            },
            Failure::Other(error) => error,
        }
    }
}

impl From<ActionError> for Failure {
    fn from(error: ActionError) -> Self {
        Self::Other(error)
    }
}

impl Failure {
    /// The failure as a journal step's detail.
    pub(super) fn detail(&self) -> Value {
        match self {
            Self::Down(error) => json!({ "code": "stripe_unavailable", "message": error.to_string() }),
            Self::Other(error) => json!({ "message": error.to_string() }),
        }
    }
}

fn classify(error: ProviderError) -> Failure {
    let down = matches!(error, ProviderError::CircuitOpen { .. } | ProviderError::Transient(_)) || error.is_timeout();
    if down { Failure::Down(error) } else { Failure::Other(from_provider(&error)) }
}

/// The command connection's Stripe client.
async fn client(ctx: &Context<'_>) -> Result<Arc<ApiClient>, ActionError> {
    let credential = CredentialSource::Bearer("api_key");
    client_for(ctx.clients, Arc::new(StripeApi), &ctx.command.connection, credential).await
}

/// Sends a request and reads the Stripe object it answers with.
async fn call(client: &ApiClient, request: ApiRequest) -> Result<Object, Failure> {
    let response = client.send(&request).await.map_err(classify)?;
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(Value::Object(object)) if object.contains_key("id") => Ok(object),
        _ => Err(Failure::Other(ActionError::Ambiguous {
            code: "unreadable_response".to_owned(),
            message: "Stripe answered with something that is not the object".to_owned(),
        })),
    }
}

fn post(path: String, form: &Form, key: String) -> ApiRequest {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    ApiRequest::post_form(path, &pairs).idempotency_key(key)
}

fn pair(key: impl Into<String>, value: impl Into<String>) -> (String, String) {
    (key.into(), value.into())
}

fn id(object: &Object) -> String {
    object.get("id").and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn text<'a>(object: &'a Object, pointer: &str) -> Option<&'a str> {
    object.get(pointer).and_then(Value::as_str)
}

/// A record of what Stripe answered (a subscription after a change).
fn answered(ctx: &Context<'_>, kind: Kind, object: &Object) -> Result<StateChange, ActionError> {
    crate::stripe::commands::answered_change(kind, object, ctx.clock)
}

/// The customer's billing record, as the projection keeps it.
async fn billing_state(ctx: &Context<'_>) -> Result<BillingState, ActionError> {
    let record = ctx
        .state
        .get(billing::PROVIDER, &ctx.command.connection, billing::CUSTOMER_KIND, ctx.customer())
        .await
        .map_err(store_error)?;
    Ok(record.and_then(|r| serde_json::from_value(r.data).ok()).unwrap_or_default())
}

fn store_error(error: portage_core::StoreError) -> ActionError {
    super::commands::unavailable("store_unavailable", &error)
}

/// The customer's accounts record and its version.
async fn account(ctx: &Context<'_>) -> Result<(BillingAccount, Option<Version>), ActionError> {
    let record = ctx
        .state
        .get(billing::PROVIDER, &ctx.command.connection, billing::ACCOUNT_KIND, ctx.customer())
        .await
        .map_err(store_error)?;
    let version = record.as_ref().map(|r| r.version);
    Ok((record.and_then(|r| serde_json::from_value(r.data).ok()).unwrap_or_default(), version))
}

/// The Stripe customer of the app's customer: the one mapped, or one
/// created now. The create's idempotency key is derived from the
/// connection and the app's id, so two commands racing to create it (or a
/// retry after the mapping was lost) get the same customer within Stripe's
/// key retention.
async fn stripe_customer(ctx: &Context<'_>, client: &ApiClient) -> Result<String, Failure> {
    let (mut mapped, version) = account(ctx).await?;
    if let Some(customer) = mapped.stripe_customer {
        return Ok(customer);
    }
    let digest = Sha256::digest(format!("{}\0{}", ctx.command.connection, ctx.customer()));
    let key = format!("portage-customer-{}", &hex::encode(digest)[..40]);
    let mut form = vec![pair("metadata[portage_customer]", ctx.customer())];
    if let Some(email) = ctx.text("email") {
        form.push(pair("email", email));
    }
    let created = call(client, post("/v1/customers".to_owned(), &form, key)).await?;
    mapped.stripe_customer = Some(id(&created));
    let change = StateChange {
        kind: billing::ACCOUNT_KIND.to_owned(),
        id: ctx.customer().to_owned(),
        version: Version { primary: version.map_or(1, |v| v.primary + 1), secondary: 0 },
        data: serde_json::to_value(&mapped).map_err(|e| refused("internal", e.to_string()))?,
        deleted: false,
    };
    let written = ctx.state.upsert(billing::PROVIDER, &ctx.command.connection, &change, None, ctx.now_ms()).await;
    if written.map_err(store_error)? == UpsertOutcome::Stale {
        // Another command mapped them meanwhile: theirs is the customer.
        if let Some(customer) = account(ctx).await?.0.stripe_customer {
            return Ok(customer);
        }
    }
    ctx.record(CommandStep::done("stripe.customer", json!({ "customer": id(&created) }), ctx.now_ms())).await?;
    Ok(id(&created))
}

/// The customer's current subscription at Stripe: the one their billing
/// record names, else their newest one not over.
async fn subscription(ctx: &Context<'_>, client: &ApiClient) -> Result<Object, ActionError> {
    let state = billing_state(ctx).await?;
    let named = state.subscription.filter(|_| state.provider.as_deref() == Some("stripe"));
    if let Some(subscription) = named {
        return Ok(call(client, ApiRequest::get(format!("/v1/subscriptions/{subscription}"))).await?);
    }
    let (account, _) = account(ctx).await?;
    let no_subscription = || refused("no_subscription", "the customer has no Stripe subscription");
    let customer = account.stripe_customer.ok_or_else(no_subscription)?;
    let request = ApiRequest::get("/v1/subscriptions").query("customer", customer).query("limit", "10");
    let response = client.send(&request).await.map_err(|e| ActionError::from(classify(e)))?;
    let listed: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let live = listed
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|s| !matches!(s.get("status").and_then(Value::as_str), Some("canceled" | "incomplete_expired")));
    live.and_then(Value::as_object).cloned().ok_or_else(no_subscription)
}

/// A subscription's items, as (item id, price id, quantity).
fn items(subscription: &Object) -> Vec<(String, String, i64)> {
    let listed = subscription.get("items").and_then(|i| i.get("data")).and_then(Value::as_array);
    listed
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let price = item.get("price")?;
            let price = price.get("id").and_then(Value::as_str).or_else(|| price.as_str())?;
            let quantity = item.get("quantity").and_then(Value::as_i64).unwrap_or(1);
            Some((item.get("id")?.as_str()?.to_owned(), price.to_owned(), quantity))
        })
        .collect()
}

/// The subscription's item at one of the plans' prices.
fn plan_item(ctx: &Context<'_>, subscription: &Object) -> Result<(String, String, i64), ActionError> {
    items(subscription)
        .into_iter()
        .find(|(_, price, _)| ctx.config.plan_for_price(price).is_some())
        .ok_or_else(|| refused("no_plan_item", "the subscription has no item at a configured plan's price"))
}

fn plan<'a>(ctx: &'a Context<'_>) -> Result<(&'a str, &'a Plan), ActionError> {
    let name = ctx.text("plan").unwrap_or_default();
    let plan = ctx.config.plans.get(name).ok_or_else(|| refused("unknown_plan", format!("no plan '{name}'")))?;
    Ok((name, plan))
}
