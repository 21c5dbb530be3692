//! Lambda behind `POST /webhooks/printify` (and `/webhooks/printify/{connection}`).
//! It links only its own provider's code.

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run(Arc::new(portage_providers::printify::Printify)).await
}
