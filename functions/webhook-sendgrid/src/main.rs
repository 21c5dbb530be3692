//! Lambda behind `POST /webhooks/sendgrid` (and `/webhooks/sendgrid/{connection}`).

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::webhook::run("sendgrid").await
}
