//! Lambda behind `POST /webhooks/woocommerce` (and `/webhooks/woocommerce/{connection}`).

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run("woocommerce").await
}
