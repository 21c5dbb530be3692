//! The billing projection: a customer's billing record (provider `billing`,
//! kind `customer`, on the provider record's own connection: one tenant's
//! customer id never meets another's) kept from the Stripe subscriptions and
//! checkout sessions that name them (`metadata.portage_customer`, set by
//! Portage's checkout) and the PayPal subscriptions (`custom_id`) and
//! captures of Portage's orders, as those records land from webhooks,
//! reconcile or commands.
//!
//! - A subscription's status, plan (its price, by the configured plans),
//!   seats (its quantity), trial and period ends become the record, from the
//!   newest subscription change seen: an older event arriving late never
//!   overwrites them. Every change, older or newer, also feeds the failure
//!   run (the failing changes after the newest good one), so the first
//!   failed payment's time — where the grace period counts from — is the
//!   same whatever order the events came in.
//! - A paid add-on checkout (mode `payment`, `metadata.portage_addon`,
//!   `metadata.portage_units`) grants its credits once: counted under
//!   `granted:{addon}` with the session's id as the key, so a replayed event
//!   grants nothing more.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use portage_core::billing::{self, BillingConfig, BillingState};
use portage_core::ports::StateStore;
use portage_core::ports::UpsertOutcome;
use portage_core::projection::Projection;
use portage_core::usage::UsageStore;
use portage_core::{StateChange, StoreError, Version};
use serde_json::{Value, json};

/// How often a lost race on a billing record is retried.
const MAX_ATTEMPTS: usize = 16;

/// Whether a subscription status is a failing payment's.
fn is_failing(status: Option<&str>) -> bool {
    matches!(status, Some("past_due" | "unpaid"))
}

/// Where credits granted to a customer are counted, per add-on.
pub fn granted_limit(addon: &str) -> String {
    format!("granted:{addon}")
}

/// Keeps customers' billing records from Stripe's records.
pub struct BillingProjection {
    config: Arc<BillingConfig>,
    usage: Arc<dyn UsageStore>,
    notifier: Option<Arc<portage_core::notifications::Notifier>>,
}

impl BillingProjection {
    /// The projection over `config`'s plans, granting credits in `usage`.
    pub fn new(config: Arc<BillingConfig>, usage: Arc<dyn UsageStore>) -> Self {
        Self { config, usage, notifier: None }
    }

    /// Tells the app when a downgraded customer is restored (`billing.restored`).
    pub fn with_notifier(mut self, notifier: Arc<portage_core::notifications::Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    async fn subscription(
        &self,
        connection: &str,
        change: &StateChange,
        view: Subscribed,
        state: &dyn StateStore,
    ) -> Result<(), StoreError> {
        let customer = view.customer.as_str();
        let written =
            rewrite(state, connection, billing::CUSTOMER_KIND, customer, |previous: &BillingState, exists| {
                let next = fold(previous.clone(), change, &view);
                (next != *previous || !exists).then_some(next)
            })
            .await?;
        if let Some((previous, next)) = written
            && previous.downgraded_at_ms.is_some()
            && next.downgraded_at_ms.is_none()
            && let Some(notifier) = &self.notifier
        {
            let data = json!({ "connection": connection, "customer": customer, "plan": next.plan,
                "status": next.subscription_status });
            notifier.publish("billing.restored", data).await;
        }
        Ok(())
    }

    /// A completed PayPal capture of an order Portage created for credits
    /// (its `paypal_order` record says whose, which add-on, how many units)
    /// grants them once per order, whichever of the capture's answer and its
    /// event lands first.
    async fn paypal_capture(
        &self,
        connection: &str,
        change: &StateChange,
        state: &dyn StateStore,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let data = &change.data;
        let (Some("COMPLETED"), Some(order)) =
            (data.get("status").and_then(Value::as_str), data.get("order_id").and_then(Value::as_str))
        else {
            return Ok(());
        };
        let Some(record) = state.get(billing::PROVIDER, connection, crate::billing::ORDER_KIND, order).await? else {
            return Ok(());
        };
        let text = |field: &str| record.data.get(field).and_then(Value::as_str);
        let (Some(customer), Some(addon)) = (text("customer"), text("addon")) else { return Ok(()) };
        let units = record.data.get("units").and_then(Value::as_i64).unwrap_or(1);
        self.grant(connection, customer, addon, units, &format!("paypal-order:{order}"), now_ms).await.map(|_| ())
    }

    /// Grants `units` of a credits add-on once per `key`; answers the credits granted.
    async fn grant(
        &self,
        connection: &str,
        customer: &str,
        addon: &str,
        units: i64,
        key: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let Some(grants) = self.config.addons.get(addon).map(|a| a.grants) else { return Ok(0) };
        let granted = units.max(0).saturating_mul(grants);
        self.usage.consume(connection, customer, &granted_limit(addon), granted, None, key, now_ms).await?;
        Ok(granted)
    }

    async fn checkout(
        &self,
        connection: &str,
        change: &StateChange,
        state: &dyn StateStore,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let data = &change.data;
        let text = |pointer: &str| data.pointer(pointer).and_then(Value::as_str);
        let paid = text("/mode") == Some("payment") && text("/payment_status") == Some("paid");
        let (Some(customer), Some(addon)) = (text("/metadata/portage_customer"), text("/metadata/portage_addon"))
        else {
            return Ok(());
        };
        if !paid || !self.config.addons.contains_key(addon) {
            return Ok(());
        }
        let units = text("/metadata/portage_units").and_then(|u| u.parse::<i64>().ok()).unwrap_or(1);
        let key = format!("checkout:{}", change.id);
        let granted = self.grant(connection, customer, addon, units, &key, now_ms).await?;
        self.remember_purchase(connection, change, (customer, addon, granted), state, now_ms).await
    }
}

/// Writes the billing record `kind`/`id` on `connection` anew from the one
/// stored: `next` makes the new content from the stored one (and whether
/// there was one), `None` when there is nothing to write. Another worker may
/// write the same record meanwhile: the write is conditioned on the version
/// read (one more than it), and made again on the newer record when it lost.
/// Answers the content before and after the write made.
async fn rewrite<T>(
    state: &dyn StateStore,
    connection: &str,
    kind: &str,
    id: &str,
    mut next: impl FnMut(&T, bool) -> Option<T>,
) -> Result<Option<(T, T)>, StoreError>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Default,
{
    for _ in 0..MAX_ATTEMPTS {
        let stored = state.get(billing::PROVIDER, connection, kind, id).await?;
        let version = stored.as_ref().map(|r| r.version);
        let previous: T = stored.and_then(|r| serde_json::from_value(r.data).ok()).unwrap_or_default();
        let Some(after) = next(&previous, version.is_some()) else { return Ok(None) };
        let change = StateChange {
            kind: kind.to_owned(),
            id: id.to_owned(),
            version: Version { primary: version.map_or(1, |v| v.primary + 1), secondary: 0 },
            data: serde_json::to_value(&after).map_err(|e| StoreError::Invalid(e.to_string()))?,
            deleted: false,
        };
        if state.upsert(billing::PROVIDER, connection, &change, None, 0).await? == UpsertOutcome::Applied {
            return Ok(Some((previous, after)));
        }
    }
    Err(StoreError::Backend(format!("billing record {kind} {id} kept changing: not written")))
}

/// A subscription as billing reads it, whichever provider it is at.
struct Subscribed {
    provider: &'static str,
    /// The app's customer it is for.
    customer: String,
    /// Stripe's status names (PayPal's mapped to them).
    status: Option<String>,
    plan: Option<String>,
    seats: Option<i64>,
    addons: BTreeMap<String, i64>,
    trial_end_ms: Option<i64>,
    period_end_ms: Option<i64>,
}

impl BillingProjection {
    /// A Stripe subscription record (see `stripe::records`) that names its
    /// customer (`metadata.portage_customer`): the plan is the item at a
    /// plan's price, its quantity the seats; items at a recurring add-on's
    /// price are its add-ons.
    fn stripe_view(&self, change: &StateChange) -> Option<Subscribed> {
        let data = &change.data;
        let customer = data.pointer("/metadata/portage_customer").and_then(Value::as_str)?.to_owned();
        let items = match data.get("items").and_then(Value::as_array) {
            Some(items) if !items.is_empty() => items.clone(),
            _ => vec![json!({ "price": data.get("price"), "quantity": data.get("quantity") })],
        };
        let price_of = |item: &Value| item.get("price").and_then(Value::as_str).map(str::to_owned);
        let plan_item = items.iter().find(|i| price_of(i).is_some_and(|p| self.config.plan_for_price(&p).is_some()));
        let status = if change.deleted { Some("canceled") } else { data.get("status").and_then(Value::as_str) };
        Some(Subscribed {
            provider: "stripe",
            customer,
            status: status.map(str::to_owned),
            plan: plan_item.and_then(price_of).and_then(|p| self.config.plan_for_price(&p).map(str::to_owned)),
            seats: plan_item.and_then(|i| i.get("quantity")).and_then(Value::as_i64),
            addons: items
                .iter()
                .filter_map(|item| {
                    let addon = self.config.addon_for_price(&price_of(item)?)?;
                    Some((addon.to_owned(), item.get("quantity").and_then(Value::as_i64).unwrap_or(1)))
                })
                .collect(),
            trial_end_ms: data.get("trial_end").and_then(Value::as_i64).map(|s| s * 1000),
            period_end_ms: data.get("current_period_end").and_then(Value::as_i64).map(|s| s * 1000),
        })
    }

    /// A PayPal subscription record (see `paypal::records`) for a customer
    /// (`custom_id`), its plan by `paypal_plan`, its status in Stripe's
    /// names: pending approval is `incomplete`; `ACTIVE` with failed
    /// payments is `past_due`; `SUSPENDED` is `unpaid` after failed
    /// payments, else `paused`; `CANCELLED` and `EXPIRED` are `canceled`.
    fn paypal_view(&self, change: &StateChange) -> Option<Subscribed> {
        let data = &change.data;
        let customer = data.get("custom_id").and_then(Value::as_str)?.to_owned();
        let failed = data.get("failed_payments_count").and_then(Value::as_i64).unwrap_or(0) > 0;
        let status = match data.get("status").and_then(Value::as_str)? {
            "ACTIVE" if failed => "past_due",
            "ACTIVE" => "active",
            "SUSPENDED" if failed => "unpaid",
            "SUSPENDED" => "paused",
            "CANCELLED" | "EXPIRED" => "canceled",
            _ => "incomplete",
        };
        let plan = data.get("plan_id").and_then(Value::as_str).and_then(|p| self.config.plan_for_paypal(p));
        let seats = data.get("quantity").and_then(|q| q.as_str().and_then(|q| q.parse().ok()).or_else(|| q.as_i64()));
        let next = data.get("next_billing_time").and_then(Value::as_str).and_then(crate::fields::rfc3339_secs);
        Some(Subscribed {
            provider: "paypal",
            customer,
            status: Some(status.to_owned()),
            plan: plan.map(str::to_owned),
            seats: seats.or(Some(1)),
            addons: BTreeMap::new(),
            trial_end_ms: None,
            period_end_ms: next.map(|s| s * 1000),
        })
    }
}

/// The record after one subscription change, whatever order the changes
/// come in: the status fields from the newest change, the failure run (its
/// failing changes after the newest good one) from all of them.
fn fold(mut record: BillingState, change: &StateChange, view: &Subscribed) -> BillingState {
    let status = view.status.as_deref();
    let at_ms = change.version.primary.saturating_mul(1000);
    if record.source_version.is_none_or(|seen| change.version > seen) {
        record.provider = Some(view.provider.to_owned());
        record.subscription = Some(change.id.clone());
        record.plan = view.plan.clone();
        record.subscription_status = view.status.clone();
        record.seats = view.seats;
        record.addons = view.addons.clone();
        record.trial_end_ms = view.trial_end_ms;
        record.period_end_ms = view.period_end_ms;
        record.source_version = Some(change.version);
    }
    if is_failing(status) {
        if record.last_ok_ms.is_none_or(|ok| at_ms > ok) && !record.failures_ms.contains(&at_ms) {
            record.failures_ms.push(at_ms);
            record.failures_ms.sort_unstable();
        }
    } else {
        let ok = record.last_ok_ms.map_or(at_ms, |seen| seen.max(at_ms));
        record.last_ok_ms = Some(ok);
        record.failures_ms.retain(|failed| *failed > ok);
    }
    record.first_failed_at_ms =
        if is_failing(record.subscription_status.as_deref()) { record.failures_ms.first().copied() } else { None };
    if matches!(record.subscription_status.as_deref(), Some("active" | "trialing")) {
        // Paid again: restored (the app is told, once, by the writer).
        record.downgraded_at_ms = None;
    }
    record
}

#[async_trait]
impl Projection for BillingProjection {
    async fn project(
        &self,
        provider: &str,
        connection: &str,
        change: &StateChange,
        _outcome: UpsertOutcome,
        state: &dyn StateStore,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        match (provider, change.kind.as_str()) {
            ("stripe", "subscription") => match self.stripe_view(change) {
                Some(view) => self.subscription(connection, change, view, state).await,
                None => Ok(()),
            },
            ("paypal", "subscription") => match self.paypal_view(change) {
                Some(view) => {
                    self.subscription(connection, change, view, state).await?;
                    self.remember_payer(connection, change, state).await
                }
                None => Ok(()),
            },
            ("paypal", "capture") => self.paypal_capture(connection, change, state, now_ms).await,
            ("stripe", "checkout_session") => self.checkout(connection, change, state, now_ms).await,
            ("stripe", "charge") => self.charge_refunded(connection, change, state, now_ms).await,
            _ => Ok(()),
        }
    }
}

mod downgrades;
mod payers;
mod prices;
mod refunds;

pub use downgrades::{DowngradePass, tell_downgrades};
pub use prices::{PriceCheckError, unknown_prices};
pub use refunds::PURCHASE_KIND;
