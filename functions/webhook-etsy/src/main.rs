//! Lambda behind `POST /webhooks/etsy` (and `/webhooks/etsy/{connection}`).

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run("etsy").await
}
