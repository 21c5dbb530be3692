//! Lambda behind `/webhooks/ebay` (and `/webhooks/ebay/{connection}`): the
//! endpoint challenge (GET) and notifications (POST). It links only its own
//! provider's code, and fetches eBay's public keys through its Notification API.

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run_fetching_keys(Arc::new(portage_providers::ebay::Ebay)).await
}
