//! Lambda run by the EventBridge schedules: repairs what webhooks missed.

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::reconcile::run().await
}
