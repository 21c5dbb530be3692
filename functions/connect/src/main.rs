//! Lambda behind `/connect/{proxy+}` of the HTTP API: a connect session's
//! URL, the providers' callbacks and WooCommerce's key delivery, the same
//! routes as `portage serve`.

#[tokio::main]
async fn main() -> Result<(), portage_lambda::Error> {
    portage_lambda::connect::run().await
}
