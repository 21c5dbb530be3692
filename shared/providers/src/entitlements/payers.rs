//! The PayPal payer of an app's customer, kept beside their Stripe customer
//! in their accounts record (billing kind `account`), from the PayPal
//! subscription that names them once its buyer approved it.

use portage_core::billing::{self, BillingAccount};
use portage_core::ports::StateStore;
use portage_core::{StateChange, StoreError};
use serde_json::Value;

use super::BillingProjection;

impl BillingProjection {
    /// Records the payer a PayPal subscription record names for its customer.
    pub(super) async fn remember_payer(
        &self,
        connection: &str,
        change: &StateChange,
        state: &dyn StateStore,
    ) -> Result<(), StoreError> {
        let text = |field: &str| change.data.get(field).and_then(Value::as_str);
        let (Some(customer), Some(payer)) = (text("custom_id"), text("payer_id")) else { return Ok(()) };
        let kept = |account: &BillingAccount, _: bool| {
            let known = account.paypal_payer.as_deref() == Some(payer);
            (!known).then(|| BillingAccount { paypal_payer: Some(payer.to_owned()), ..account.clone() })
        };
        super::rewrite(state, connection, billing::ACCOUNT_KIND, customer, kept).await.map(|_| ())
    }
}
