//! Lambda behind `POST /webhooks/standardwebhooks` (and `/webhooks/standardwebhooks/{connection}`).

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run("standardwebhooks").await
}
