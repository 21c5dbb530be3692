//! The billing projection: a customer's billing record (provider `billing`,
//! kind `customer`) kept from the Stripe subscriptions and checkout
//! sessions that name them (`metadata.portage_customer`, set by Portage's
//! checkout), as those records land from webhooks, reconcile or commands.
//!
//! - A subscription's status, plan (its price, by the configured plans),
//!   seats (its quantity), trial and period ends become the record, versioned
//!   by the subscription's own record: an older event never overwrites a
//!   newer state. The first failed payment's time is kept while the status
//!   stays `past_due` or `unpaid` (the grace period counts from it).
//! - A paid add-on checkout (mode `payment`, `metadata.portage_addon`,
//!   `metadata.portage_units`) grants its credits once: counted under
//!   `granted:{addon}` with the session's id as the key, so a replayed event
//!   grants nothing more.

use std::sync::Arc;

use async_trait::async_trait;
use portage_core::billing::{self, BillingConfig, BillingState};
use portage_core::ports::StateStore;
use portage_core::projection::Projection;
use portage_core::usage::UsageStore;
use portage_core::{DEFAULT_CONNECTION, StateChange, StoreError};
use serde_json::Value;

/// Where credits granted to a customer are counted, per add-on.
pub fn granted_limit(addon: &str) -> String {
    format!("granted:{addon}")
}

/// Keeps customers' billing records from Stripe's records.
pub struct BillingProjection {
    config: Arc<BillingConfig>,
    usage: Arc<dyn UsageStore>,
}

impl BillingProjection {
    /// The projection over `config`'s plans, granting credits in `usage`.
    pub fn new(config: Arc<BillingConfig>, usage: Arc<dyn UsageStore>) -> Self {
        Self { config, usage }
    }

    async fn subscription(&self, change: &StateChange, state: &dyn StateStore) -> Result<(), StoreError> {
        let data = &change.data;
        let Some(customer) = data.pointer("/metadata/portage_customer").and_then(Value::as_str) else { return Ok(()) };
        // The subscription record's fields (see `stripe::records`): its first item's price and quantity.
        let price = data.get("price").and_then(Value::as_str);
        let seats = data.get("quantity").and_then(Value::as_i64);
        let period_end = data.get("current_period_end").and_then(Value::as_i64);
        let status = if change.deleted { Some("canceled") } else { data.get("status").and_then(Value::as_str) };
        let previous = state.get(billing::PROVIDER, DEFAULT_CONNECTION, billing::CUSTOMER_KIND, customer).await?;
        let previous: BillingState = previous.and_then(|r| serde_json::from_value(r.data).ok()).unwrap_or_default();
        let failing = matches!(status, Some("past_due" | "unpaid"));
        let first_failed_at_ms = match (failing, previous.first_failed_at_ms) {
            (true, Some(at)) => Some(at),
            (true, None) => Some(change.version.primary.saturating_mul(1000)),
            (false, _) => None,
        };
        let record = BillingState {
            provider: Some("stripe".to_owned()),
            plan: price.and_then(|p| self.config.plan_for_price(p)).map(str::to_owned),
            subscription_status: status.map(str::to_owned),
            seats,
            trial_end_ms: data.get("trial_end").and_then(Value::as_i64).map(|s| s * 1000),
            period_end_ms: period_end.map(|s| s * 1000),
            first_failed_at_ms,
            credits_granted: Default::default(),
        };
        let data = serde_json::to_value(&record).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let derived = StateChange {
            kind: billing::CUSTOMER_KIND.to_owned(),
            id: customer.to_owned(),
            version: change.version,
            data,
            deleted: false,
        };
        state.upsert(billing::PROVIDER, DEFAULT_CONNECTION, &derived, None, 0).await.map(|_| ())
    }

    async fn checkout(&self, change: &StateChange, now_ms: i64) -> Result<(), StoreError> {
        let data = &change.data;
        let text = |pointer: &str| data.pointer(pointer).and_then(Value::as_str);
        let paid = text("/mode") == Some("payment") && text("/payment_status") == Some("paid");
        let (Some(customer), Some(addon)) = (text("/metadata/portage_customer"), text("/metadata/portage_addon"))
        else {
            return Ok(());
        };
        let session = &change.id;
        let Some(grants) = self.config.addons.get(addon).map(|a| a.grants).filter(|_| paid) else { return Ok(()) };
        let units = text("/metadata/portage_units").and_then(|u| u.parse::<i64>().ok()).unwrap_or(1).max(0);
        let key = format!("checkout:{session}");
        let granted = units.saturating_mul(grants);
        self.usage.consume(customer, &granted_limit(addon), granted, None, &key, now_ms).await.map(|_| ())
    }
}

#[async_trait]
impl Projection for BillingProjection {
    async fn project(
        &self,
        provider: &str,
        _connection: &str,
        change: &StateChange,
        state: &dyn StateStore,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        match (provider, change.kind.as_str()) {
            ("stripe", "subscription") => self.subscription(change, state).await,
            ("stripe", "checkout_session") => self.checkout(change, now_ms).await,
            _ => Ok(()),
        }
    }
}
