//! Lambda behind `/v1/{proxy+}` of the HTTP API: the application API, the
//! same router as `portage serve`.

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::api::run().await
}
