//! Lambda behind `POST /webhooks/github` (and `/webhooks/github/{connection}`).

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run("github").await
}
