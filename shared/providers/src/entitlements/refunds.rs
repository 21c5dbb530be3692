//! Credits bought and then refunded: a paid credits checkout is remembered
//! by its payment intent (billing kind `credit_purchase`: whose, which
//! add-on, how many credits, the amount paid), so that when Stripe says the
//! payment's charge was refunded (`charge.refunded`: the `charge` record's
//! `amount_refunded`), the same share of the credits is taken back — once
//! per refunded total, whatever order or how often the events come, and
//! never twice for one total (each level is keyed).

use portage_core::billing;
use portage_core::ports::{StateStore, UpsertOutcome};
use portage_core::{StateChange, StoreError, Version};
use serde_json::{Value, json};

use super::{BillingProjection, MAX_ATTEMPTS, granted_limit};

/// The record kind of a credits purchase (provider `billing`, id the payment intent).
pub const PURCHASE_KIND: &str = "credit_purchase";

impl BillingProjection {
    /// Remembers what a paid credits checkout granted, by its payment intent.
    pub(super) async fn remember_purchase(
        &self,
        connection: &str,
        change: &StateChange,
        granted: (&str, &str, i64),
        state: &dyn StateStore,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let Some(intent) = change.data.get("payment_intent").and_then(Value::as_str) else { return Ok(()) };
        let (customer, addon, credits) = granted;
        let purchase = StateChange {
            kind: PURCHASE_KIND.to_owned(),
            id: intent.to_owned(),
            version: Version { primary: 1, secondary: 0 },
            data: json!({ "customer": customer, "addon": addon, "credits": credits,
                "amount": change.data.get("amount_total"), "revoked": 0 }),
            deleted: false,
        };
        // Already remembered (a replayed event): the first one stands.
        state.upsert(billing::PROVIDER, connection, &purchase, None, now_ms).await.map(|_| ())
    }

    /// Takes back the refunded share of a credits purchase's credits.
    pub(super) async fn charge_refunded(
        &self,
        connection: &str,
        change: &StateChange,
        state: &dyn StateStore,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let data = &change.data;
        let refunded = data.get("amount_refunded").and_then(Value::as_i64).unwrap_or(0);
        let Some(intent) = data.get("payment_intent").and_then(Value::as_str).filter(|_| refunded > 0) else {
            return Ok(());
        };
        for _ in 0..MAX_ATTEMPTS {
            let Some(record) = state.get(billing::PROVIDER, connection, PURCHASE_KIND, intent).await? else {
                return Ok(());
            };
            let number = |field: &str| record.data.get(field).and_then(Value::as_i64);
            let text = |field: &str| record.data.get(field).and_then(Value::as_str).map(str::to_owned);
            let (Some(customer), Some(addon), Some(credits)) = (text("customer"), text("addon"), number("credits"))
            else {
                return Ok(());
            };
            let paid = number("amount").or_else(|| data.get("amount").and_then(Value::as_i64)).unwrap_or(0).max(1);
            let target = i64::try_from(i128::from(credits) * i128::from(refunded.min(paid)) / i128::from(paid))
                .unwrap_or(credits);
            let revoked = number("revoked").unwrap_or(0);
            if target <= revoked {
                return Ok(());
            }
            // Taken back first, keyed by the level reached: a crash before
            // the record below is written repeats a no-op.
            let key = format!("refund:{intent}:{target}");
            self.usage
                .consume(connection, &customer, &granted_limit(&addon), revoked - target, None, &key, now_ms)
                .await?;
            let mut next = record.data.clone();
            next["revoked"] = json!(target);
            let moved = StateChange {
                kind: PURCHASE_KIND.to_owned(),
                id: intent.to_owned(),
                version: Version { primary: record.version.primary + 1, secondary: 0 },
                data: next,
                deleted: false,
            };
            if state.upsert(billing::PROVIDER, connection, &moved, None, now_ms).await? == UpsertOutcome::Applied {
                return Ok(());
            }
        }
        Err(StoreError::Backend(format!("credit purchase {intent} kept changing: refund not applied")))
    }
}
