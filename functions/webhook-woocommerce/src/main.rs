//! Lambda behind `POST /webhooks/woocommerce` (and `/webhooks/woocommerce/{connection}`).
//! It links only its own provider's code.

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run(Arc::new(portage_providers::woocommerce::WooCommerce)).await
}
