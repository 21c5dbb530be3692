//! Lambda behind `POST /webhooks/shopify` (and `/webhooks/shopify/{connection}`).

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run("shopify").await
}
