//! Portage's provider modules. Each provider lives in one module with the same
//! shape (webhook verification, event normalisation, sync handlers) and is
//! listed once in [`registry`]: adding a provider touches nothing else here.

mod actions;
pub mod amazon;
pub mod billing;
pub mod capabilities;
pub mod connect;
pub mod ebay;
pub mod entitlements;
pub mod etsy;
mod fields;
pub mod github;
pub mod google;
pub mod hubspot;
pub mod listings;
pub mod magento;
pub mod notify;
pub mod paypal;
pub mod printify;
pub mod salesforce;
pub mod sendgrid;
pub mod shopify;
mod signing;
pub mod slack;
pub mod standardwebhooks;
pub mod stripe;
pub mod twilio;
pub mod wiring;
pub mod woocommerce;

use std::sync::Arc;

use portage_core::provider::Registry;

/// Every provider this build supports.
pub fn registry() -> Registry {
    Registry::new()
        .with(Arc::new(amazon::Amazon))
        .with(Arc::new(ebay::Ebay))
        .with(Arc::new(etsy::Etsy))
        .with(Arc::new(github::GitHub))
        .with(Arc::new(hubspot::HubSpot))
        .with(Arc::new(magento::Magento))
        .with(Arc::new(paypal::PayPal))
        .with(Arc::new(printify::Printify))
        .with(Arc::new(salesforce::Salesforce))
        .with(Arc::new(sendgrid::SendGrid))
        .with(Arc::new(shopify::Shopify))
        .with(Arc::new(slack::Slack))
        .with(Arc::new(standardwebhooks::StandardWebhooks))
        .with(Arc::new(stripe::Stripe))
        .with(Arc::new(twilio::Twilio))
        .with(Arc::new(woocommerce::WooCommerce))
}

/// Every provider's capabilities, by name.
pub fn capabilities() -> [capabilities::Capabilities; 18] {
    [
        amazon::CAPABILITIES,
        billing::CAPABILITIES,
        ebay::CAPABILITIES,
        etsy::CAPABILITIES,
        github::CAPABILITIES,
        google::CAPABILITIES,
        hubspot::CAPABILITIES,
        magento::CAPABILITIES,
        paypal::CAPABILITIES,
        printify::CAPABILITIES,
        salesforce::CAPABILITIES,
        sendgrid::CAPABILITIES,
        shopify::CAPABILITIES,
        slack::CAPABILITIES,
        standardwebhooks::CAPABILITIES,
        stripe::CAPABILITIES,
        twilio::CAPABILITIES,
        woocommerce::CAPABILITIES,
    ]
}

/// The sync handlers of every provider that has one, over the process's
/// API clients.
pub fn sync_handlers(
    clients: &Arc<portage_client::ClientPool>,
    clock: &Arc<dyn portage_core::ports::Clock>,
) -> portage_core::provider::SyncHandlers {
    capabilities().iter().fold(portage_core::provider::SyncHandlers::new(), |handlers, c| match c.sync {
        Some(piece) => handlers.with(c.provider, (piece.handler)(clients.clone(), clock.clone())),
        None => handlers,
    })
}

/// Every action every provider offers.
pub fn catalog() -> portage_core::actions::Catalog {
    let actions = capabilities().into_iter().filter_map(|c| c.commands).flat_map(|piece| piece.actions.iter().copied());
    portage_core::actions::Catalog::new(actions.collect())
}

/// The action executors of every provider that has actions.
pub fn action_executors(deps: &capabilities::ActionDeps) -> portage_core::actions::ActionExecutors {
    capabilities().iter().fold(portage_core::actions::ActionExecutors::new(), |executors, c| match c.commands {
        Some(piece) => executors.with(c.provider, (piece.executor)(deps)),
        None => executors,
    })
}
