//! Lambda behind `POST /webhooks/paypal` (and `/webhooks/paypal/{connection}`).
//! It links only its own provider's code, and fetches PayPal's signing
//! certificates from PayPal's hosts.

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run_fetching_keys(Arc::new(portage_providers::paypal::PayPal)).await
}
