//! The scheduler's downgrade pass: customers whose grace ran out are told,
//! once, that the default plan now applies to them (`billing.downgraded`).

use std::sync::Arc;

use portage_core::billing::{self, BillingConfig, BillingState};
use portage_core::ports::{StateStore, UpsertOutcome};
use portage_core::{StateChange, StoreError, Version};
use serde_json::json;

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
