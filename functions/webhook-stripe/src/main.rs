//! Lambda behind `POST /webhooks/stripe` and `/webhooks/stripe/{connection}`.

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run("stripe").await
}
