//! Lambda behind `POST /webhooks/printify` (and `/webhooks/printify/{connection}`).

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run("printify").await
}
