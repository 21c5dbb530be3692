//! The webhook function: API Gateway (HTTP API payload 2.0 or REST API 1.0)
//! in, the ingest flow, the same responses as `portage serve`.

use std::sync::Arc;

use bytes::Bytes;
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use portage_core::DEFAULT_CONNECTION;
use portage_core::ingest::{IngestResponse, Ingestor};
use portage_core::provider::WebhookRequest;

use crate::deployment::Deployment;
use crate::metrics;

/// Serves one provider's webhook route until the runtime stops the process.
pub async fn run(provider: &'static str) -> Result<(), crate::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let deployment = Deployment::load().await?;
    // The default connection's signing secrets are fetched while the runtime
    // waits for the first invocation, not after it arrives.
    let secrets = deployment.secrets.clone();
    tokio::spawn(async move {
        if let Err(error) = secrets.warm(provider, DEFAULT_CONNECTION).await {
            tracing::warn!(%error, "could not prefetch signing secrets; the first delivery fetches them");
        }
    });
    let ingestor = Arc::new(deployment.ingestor(provider));
    lambda_http::run(service_fn(move |request: Request| {
        let ingestor = ingestor.clone();
        async move { handle(&ingestor, provider, request).await }
    }))
    .await
}

/// The public URL the provider called, rebuilt from API Gateway's request:
/// `X-Forwarded-Proto` (https), `Host` (the API's or custom domain) and the
/// raw path with its query.
fn public_url(request: &Request) -> String {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let scheme = header("x-forwarded-proto").unwrap_or("https");
    let host = header("host").unwrap_or("localhost");
    let path = request.raw_http_path();
    match request.uri().query() {
        Some(query) => format!("{scheme}://{host}{path}?{query}"),
        None => format!("{scheme}://{host}{path}"),
    }
}

async fn handle(ingestor: &Ingestor, provider: &str, request: Request) -> Result<Response<Body>, crate::Error> {
    let connection = request
        .path_parameters()
        .first("connection")
        .map(str::to_owned)
        .unwrap_or_else(|| DEFAULT_CONNECTION.to_owned());
    let url = public_url(&request);
    let method = request.method().as_str().to_owned();
    let (parts, body) = request.into_parts();
    let webhook = WebhookRequest { method, url, headers: parts.headers, body: Bytes::copy_from_slice(body.as_ref()) };
    let response = ingestor.handle(provider, &connection, webhook).await;
    record_metrics(provider, &response);
    Ok(Response::builder()
        .status(response.status)
        .header("content-type", "application/json")
        .body(Body::Text(response.body.to_string()))?)
}

fn record_metrics(provider: &str, response: &IngestResponse) {
    match response.body.get("error").and_then(|e| e.as_str()) {
        Some(reason) => metrics::count("rejected", &[("provider", provider), ("reason", reason)]),
        None if response.body["duplicate"] == true => metrics::count("duplicate", &[("provider", provider)]),
        None => metrics::count("accepted", &[("provider", provider)]),
    }
}
