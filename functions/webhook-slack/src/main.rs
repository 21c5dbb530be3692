//! Lambda behind `POST /webhooks/slack` (and `/webhooks/slack/{connection}`).

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run("slack").await
}
