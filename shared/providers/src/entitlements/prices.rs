//! The start-up check of the configured prices against Stripe.

use std::sync::Arc;

use portage_core::billing::BillingConfig;
use portage_core::{DEFAULT_CONNECTION, StoreError};

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
