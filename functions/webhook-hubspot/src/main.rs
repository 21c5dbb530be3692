//! Lambda behind `POST /webhooks/hubspot` (and `/webhooks/hubspot/{connection}`).

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run("hubspot").await
}
