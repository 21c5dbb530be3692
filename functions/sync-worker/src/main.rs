//! Lambda fed by the events queue: applies events, reports partial batch failures.

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::sync_worker::run().await
}
