//! The API function: API Gateway events in, `portage_api`'s router (the one
//! `portage serve` mounts), its answers out. Keys, commands, subscriptions
//! and deliveries live in the table; commands go on the FIFO commands queue.

use std::sync::Arc;

use crate::deployment::Deployment;

/// Serves the `/v1` routes until the runtime stops the process.
pub async fn run() -> Result<(), crate::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let deployment = Deployment::load().await?;
    let clients = deployment.clients()?;
    if let Some(billing) = &deployment.settings.billing {
        // Reported at start-up, not at the first checkout.
        match portage_providers::entitlements::unknown_prices(&clients, billing).await {
            Ok(Some(unknown)) if !unknown.is_empty() => {
                tracing::error!(prices = %unknown.join(","), "PORTAGE_BILLING names prices Stripe does not know");
            }
            Ok(Some(_)) => {}
            Ok(None) => tracing::warn!("PORTAGE_BILLING prices not checked: the stripe connection has no api_key"),
            Err(error) => tracing::warn!(%error, "PORTAGE_BILLING prices not checked"),
        }
    }
    let router = portage_api::router(Arc::new(deployment.api_context(&clients)?));
    lambda_http::run(router).await
}
