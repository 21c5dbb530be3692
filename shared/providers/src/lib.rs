//! Portage's provider modules. Each provider lives in one module with the same
//! shape (webhook verification, event normalisation, sync handlers) and is
//! listed once in [`registry`]: adding a provider touches nothing else here.

pub mod amazon;
pub mod ebay;
pub mod etsy;
mod fields;
pub mod github;
pub mod hubspot;
pub mod listings;
pub mod magento;
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
