//! The PayPal payer of an app's customer, kept beside their Stripe customer
//! in their accounts record (billing kind `account`), from the PayPal
//! subscription that names them once its buyer approved it.

use portage_core::billing::{self, BillingAccount};
use portage_core::ports::{StateStore, UpsertOutcome};
use portage_core::{StateChange, StoreError, Version};
use serde_json::Value;

use super::{BillingProjection, MAX_ATTEMPTS};

impl BillingProjection {
    /// Records the payer a PayPal subscription record names for its customer.
    pub(super) async fn remember_payer(
        &self,
        connection: &str,
        change: &StateChange,
        state: &dyn StateStore,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let text = |field: &str| change.data.get(field).and_then(Value::as_str);
        let (Some(customer), Some(payer)) = (text("custom_id"), text("payer_id")) else { return Ok(()) };
        for _ in 0..MAX_ATTEMPTS {
            let stored = state.get(billing::PROVIDER, connection, billing::ACCOUNT_KIND, customer).await?;
            let version = stored.as_ref().map(|r| r.version);
            let mut account: BillingAccount =
                stored.and_then(|r| serde_json::from_value(r.data).ok()).unwrap_or_default();
            if account.paypal_payer.as_deref() == Some(payer) {
                return Ok(());
            }
            account.paypal_payer = Some(payer.to_owned());
            let moved = StateChange {
                kind: billing::ACCOUNT_KIND.to_owned(),
                id: customer.to_owned(),
                version: Version { primary: version.map_or(1, |v| v.primary + 1), secondary: 0 },
                data: serde_json::to_value(&account).map_err(|e| StoreError::Invalid(e.to_string()))?,
                deleted: false,
            };
            if state.upsert(billing::PROVIDER, connection, &moved, None, now_ms).await? == UpsertOutcome::Applied {
                return Ok(());
            }
        }
        Err(StoreError::Backend(format!("accounts of {customer} kept changing: payer not kept")))
    }
}
