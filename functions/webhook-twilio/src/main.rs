//! Lambda behind `POST /webhooks/twilio` (and `/webhooks/twilio/{connection}`).

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run("twilio").await
}
