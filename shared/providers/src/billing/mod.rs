//! Billing: the plans, seats, add-ons and credits an app sells, as actions
//! on provider `billing` carried out on Stripe with PayPal as the fallback,
//! over the customer's billing record (see `crate::entitlements` for how
//! that record is kept from Stripe's and PayPal's events, and
//! `portage_core::billing` for the plans and entitlements). It takes no
//! webhooks of its own. See `docs/integrations/billing.md`.

pub mod commands;
mod paypal;
mod stripe;

use std::sync::Arc;

use crate::capabilities::{Capabilities, CommandsPiece};

pub use paypal::ORDER_KIND;

/// What billing can do (see [`crate::capabilities`]): actions only, through
/// Stripe's and PayPal's clients.
pub const CAPABILITIES: Capabilities = Capabilities {
    provider: "billing",
    webhooks: false,
    sync: None,
    reconcile: None,
    commands: Some(CommandsPiece {
        actions: &commands::ACTIONS,
        executor: |deps| {
            Arc::new(commands::BillingActions::new(
                deps.clients.clone(),
                deps.state.clone(),
                deps.journal.clone(),
                deps.clock.clone(),
                deps.billing.clone(),
            ))
        },
        through: &["stripe", "paypal"],
    }),
    connect: None,
    api: false,
};
