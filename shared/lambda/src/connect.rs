//! The connect function: API Gateway events in, the browser's `/connect`
//! routes of `portage_api::connect` (the ones `portage serve` mounts) out.
//! Sessions and states live in the table (with TTL), tokens in the
//! connection's Secrets Manager secret.

use std::sync::Arc;

use crate::deployment::Deployment;

/// Serves the `/connect` routes until the runtime stops the process.
pub async fn run() -> Result<(), crate::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let deployment = Deployment::load().await?;
    let router = portage_api::connect::browser_router(Arc::new(deployment.connector()?));
    lambda_http::run(router).await
}
