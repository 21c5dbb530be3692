//! Lambda behind `POST /webhooks/magento` (and `/webhooks/magento/{connection}`).

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run("magento").await
}
