//! Lambda on the SP-API notifications queue (or an EventBridge rule on the
//! SP-API partner bus): Amazon's notifications recorded, deduplicated and
//! enqueued like webhooks.

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::notifications::run(Arc::new(portage_providers::amazon::Amazon)).await
}
