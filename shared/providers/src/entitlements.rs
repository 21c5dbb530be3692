//! The billing projection: a customer's billing record (provider `billing`,
//! kind `customer`, on the Stripe record's own connection: one tenant's
//! customer id never meets another's) kept from the Stripe subscriptions and
//! checkout sessions that name them (`metadata.portage_customer`, set by
//! Portage's checkout), as those records land from webhooks, reconcile or
//! commands.
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

use std::sync::Arc;

use async_trait::async_trait;
use portage_core::billing::{self, BillingConfig, BillingState};
use portage_core::ports::StateStore;
use portage_core::ports::UpsertOutcome;
use portage_core::projection::Projection;
use portage_core::usage::UsageStore;
use portage_core::{DEFAULT_CONNECTION, StateChange, StoreError, Version};
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
        state: &dyn StateStore,
    ) -> Result<(), StoreError> {
        let data = &change.data;
        let Some(customer) = data.pointer("/metadata/portage_customer").and_then(Value::as_str) else { return Ok(()) };
        // Another worker may write the same customer's record meanwhile: the
        // write is conditioned on the version read (one more than it), and
        // made again on the newer record when it lost.
        for _ in 0..MAX_ATTEMPTS {
            let stored = state.get(billing::PROVIDER, connection, billing::CUSTOMER_KIND, customer).await?;
            let version = stored.as_ref().map(|r| r.version);
            let previous: BillingState = stored.and_then(|r| serde_json::from_value(r.data).ok()).unwrap_or_default();
            let next = self.fold(previous.clone(), change);
            if next == previous && version.is_some() {
                return Ok(());
            }
            let derived = StateChange {
                kind: billing::CUSTOMER_KIND.to_owned(),
                id: customer.to_owned(),
                version: Version { primary: version.map_or(1, |v| v.primary + 1), secondary: 0 },
                data: serde_json::to_value(&next).map_err(|e| StoreError::Invalid(e.to_string()))?,
                deleted: false,
            };
            if state.upsert(billing::PROVIDER, connection, &derived, None, 0).await? == UpsertOutcome::Applied {
                if previous.downgraded_at_ms.is_some()
                    && next.downgraded_at_ms.is_none()
                    && let Some(notifier) = &self.notifier
                {
                    let data = json!({ "connection": connection, "customer": customer, "plan": next.plan,
                        "status": next.subscription_status });
                    notifier.publish("billing.restored", data).await;
                }
                return Ok(());
            }
        }
        Err(StoreError::Backend(format!("billing record of {customer} kept changing: not projected")))
    }

    /// The record after one subscription change, whatever order the changes
    /// come in: the status fields from the newest change, the failure run
    /// (its failing changes after the newest good one) from all of them.
    fn fold(&self, mut record: BillingState, change: &StateChange) -> BillingState {
        let data = &change.data;
        let status = if change.deleted { Some("canceled") } else { data.get("status").and_then(Value::as_str) };
        let at_ms = change.version.primary.saturating_mul(1000);
        if record.source_version.is_none_or(|seen| change.version > seen) {
            // The subscription record's fields (see `stripe::records`): the
            // plan is the item at a plan's price, its quantity the seats;
            // items at a recurring add-on's price are its add-ons.
            let items = match data.get("items").and_then(Value::as_array) {
                Some(items) if !items.is_empty() => items.clone(),
                _ => vec![json!({ "price": data.get("price"), "quantity": data.get("quantity") })],
            };
            let price_of = |item: &Value| item.get("price").and_then(Value::as_str).map(str::to_owned);
            let plan_item =
                items.iter().find(|i| price_of(i).is_some_and(|p| self.config.plan_for_price(&p).is_some()));
            record.provider = Some("stripe".to_owned());
            record.subscription = Some(change.id.clone());
            record.plan = plan_item.and_then(price_of).and_then(|p| self.config.plan_for_price(&p).map(str::to_owned));
            record.subscription_status = status.map(str::to_owned);
            record.seats = plan_item.and_then(|i| i.get("quantity")).and_then(Value::as_i64);
            record.addons = items
                .iter()
                .filter_map(|item| {
                    let addon = self.config.addon_for_price(&price_of(item)?)?;
                    Some((addon.to_owned(), item.get("quantity").and_then(Value::as_i64).unwrap_or(1)))
                })
                .collect();
            record.trial_end_ms = data.get("trial_end").and_then(Value::as_i64).map(|s| s * 1000);
            record.period_end_ms = data.get("current_period_end").and_then(Value::as_i64).map(|s| s * 1000);
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

    async fn checkout(&self, connection: &str, change: &StateChange, now_ms: i64) -> Result<(), StoreError> {
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
        self.usage.consume(connection, customer, &granted_limit(addon), granted, None, &key, now_ms).await.map(|_| ())
    }
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
            ("stripe", "subscription") => self.subscription(connection, change, state).await,
            ("stripe", "checkout_session") => self.checkout(connection, change, now_ms).await,
            _ => Ok(()),
        }
    }
}

/// The scheduler's pass over one connection: customers whose grace has run
/// out (`past_due` or `unpaid` for `grace_days` since the first failed
/// payment) are told once, `billing.downgraded`, as the default plan now
/// applies to them. Answers who was told.
pub async fn tell_downgrades(
    config: &BillingConfig,
    state: &dyn StateStore,
    notifier: &portage_core::notifications::Notifier,
    connection: &str,
    now_ms: i64,
) -> Result<Vec<String>, StoreError> {
    let mut told = Vec::new();
    for record in state.list(billing::PROVIDER, connection, billing::CUSTOMER_KIND).await? {
        let Ok(mut customer) = serde_json::from_value::<BillingState>(record.data.clone()) else { continue };
        let entitlement = billing::entitlement(config, &customer, now_ms);
        if entitlement.status != "past_due" || customer.downgraded_at_ms.is_some() {
            continue;
        }
        customer.downgraded_at_ms = Some(now_ms);
        let change = StateChange {
            kind: billing::CUSTOMER_KIND.to_owned(),
            id: record.id.clone(),
            version: Version { primary: record.version.primary + 1, secondary: 0 },
            data: serde_json::to_value(&customer).map_err(|e| StoreError::Invalid(e.to_string()))?,
            deleted: false,
        };
        // A lost race (another pass, or a new event) is picked up next pass.
        if state.upsert(billing::PROVIDER, connection, &change, None, now_ms).await? == UpsertOutcome::Applied {
            let data = json!({ "connection": connection, "customer": record.id, "plan": entitlement.plan, "grace_until": entitlement.grace_until_ms.map(portage_core::rfc3339_ms) });
            notifier.publish("billing.downgraded", data).await;
            told.push(record.id);
        }
    }
    Ok(told)
}

/// The scheduler's downgrade pass over a deployment's Stripe connections, built once.
pub struct DowngradePass {
    config: BillingConfig,
    state: Arc<dyn StateStore>,
    notifier: portage_core::notifications::Notifier,
    clock: Arc<dyn portage_core::ports::Clock>,
    connections: Vec<String>,
}

impl DowngradePass {
    /// The pass over `state`'s billing records of `connections` (the
    /// Stripe connections), telling the app through `notifier`.
    pub fn new(
        config: BillingConfig,
        state: Arc<dyn StateStore>,
        notifier: portage_core::notifications::Notifier,
        clock: Arc<dyn portage_core::ports::Clock>,
        connections: Vec<String>,
    ) -> Self {
        Self { config, state, notifier, clock, connections }
    }

    /// Runs it now over every connection (see [`tell_downgrades`]); answers
    /// who was told, as `connection/customer`.
    pub async fn run(&self) -> Result<Vec<String>, StoreError> {
        let mut told = Vec::new();
        for connection in &self.connections {
            let now = self.clock.now_ms();
            let customers = tell_downgrades(&self.config, self.state.as_ref(), &self.notifier, connection, now).await?;
            told.extend(customers.into_iter().map(|customer| format!("{connection}/{customer}")));
        }
        Ok(told)
    }
}

/// Why the configured prices could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum PriceCheckError {
    /// Stripe answered otherwise than with the price or its absence.
    #[error("Stripe could not be asked about the prices: {0}")]
    Provider(#[from] portage_client::ProviderError),
    /// The connection's secrets could not be read.
    #[error("the stripe connection's secrets could not be read: {0}")]
    Store(#[from] StoreError),
}

/// The prices the plans and add-ons name that Stripe does not know
/// (`resource_missing`), asked of the `default` connection's account;
/// `None` when it has no `api_key`, so nothing can be checked.
pub async fn unknown_prices(
    clients: &portage_client::ClientPool,
    config: &BillingConfig,
) -> Result<Option<Vec<String>>, PriceCheckError> {
    let credential = portage_client::CredentialSource::Bearer("api_key");
    let api = Arc::new(crate::stripe::api::StripeApi);
    let Some(client) = clients.client(api, DEFAULT_CONNECTION, credential).await? else { return Ok(None) };
    let mut unknown = Vec::new();
    for price in config.prices() {
        match client.send(&portage_client::ApiRequest::get(format!("/v1/prices/{price}"))).await {
            Ok(_) => {}
            Err(portage_client::ProviderError::NotFound(_)) => unknown.push(price.to_owned()),
            Err(error) => return Err(error.into()),
        }
    }
    Ok(Some(unknown))
}
