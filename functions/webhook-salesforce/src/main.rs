//! Lambda behind `POST /webhooks/salesforce` (and `/webhooks/salesforce/{connection}`).

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run("salesforce").await
}
