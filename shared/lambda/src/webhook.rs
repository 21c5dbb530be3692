//! The webhook function: API Gateway (HTTP API payload 2.0 or REST API 1.0)
//! in, the ingest flow, the same responses as `portage serve`.

use std::sync::Arc;

use bytes::Bytes;
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use portage_core::DEFAULT_CONNECTION;
use portage_core::ingest::{IngestOutcome, Ingestor};
use portage_core::provider::{Provider, WebhookRequest};

use crate::deployment::Deployment;
use crate::metrics;

/// Serves one provider's webhook route until the runtime stops the process.
pub async fn run(provider: Arc<dyn Provider>) -> Result<(), crate::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let deployment = Deployment::load().await?;
    let ingestor = deployment.ingestor(provider.clone());
    serve(deployment, provider.name(), ingestor).await
}

/// Serves the webhook route of a provider whose deliveries name their
/// signing key (PayPal, eBay): the same, with keys fetched and cached. Apart
/// from [`run`] so the other functions link no HTTP client of their own.
pub async fn run_fetching_keys(provider: Arc<dyn Provider>) -> Result<(), crate::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let deployment = Deployment::load().await?;
    let ingestor = deployment.ingestor_fetching_keys(provider.clone())?;
    serve(deployment, provider.name(), ingestor).await
}

async fn serve(deployment: Deployment, name: &'static str, ingestor: Ingestor) -> Result<(), crate::Error> {
    // The default connection's signing secrets are fetched while the runtime
    // waits for the first invocation, not after it arrives.
    let secrets = deployment.secrets.clone();
    tokio::spawn(async move {
        if let Err(error) = secrets.warm(name, DEFAULT_CONNECTION).await {
            tracing::warn!(%error, "could not prefetch signing secrets; the first delivery fetches them");
        }
    });
    let ingestor = Arc::new(ingestor);
    let base_url: Arc<Option<String>> = Arc::new(deployment.settings.public_base_url.clone());
    lambda_http::run(service_fn(move |request: Request| {
        let (ingestor, base_url) = (ingestor.clone(), base_url.clone());
        async move { handle(&ingestor, name, base_url.as_deref(), request).await }
    }))
    .await
}

/// The public URL the provider called, which Twilio and HubSpot sign:
/// `PORTAGE_PUBLIC_BASE_URL` (a custom domain, up to where `/webhooks/…`
/// begins) followed by the route's path, or else `X-Forwarded-Proto`, `Host`
/// and the path API Gateway was called on (its stage included, as
/// `lambda_http` rebuilds it); then the query string.
fn public_url(request: &Request, base: Option<&str>) -> String {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let prefix = match base {
        Some(base) => format!("{}{}", base.trim_end_matches('/'), request.raw_http_path()),
        None => {
            let scheme = header("x-forwarded-proto").unwrap_or("https");
            let host = header("host").unwrap_or("localhost");
            format!("{scheme}://{host}{}", request.uri().path())
        }
    };
    match request.uri().query() {
        Some(query) => format!("{prefix}?{query}"),
        None => prefix,
    }
}

async fn handle(
    ingestor: &Ingestor,
    provider: &str,
    base_url: Option<&str>,
    request: Request,
) -> Result<Response<Body>, crate::Error> {
    let connection = request
        .path_parameters()
        .first("connection")
        .map(str::to_owned)
        .unwrap_or_else(|| DEFAULT_CONNECTION.to_owned());
    let url = public_url(&request, base_url);
    let method = request.method().as_str().to_owned();
    let (parts, body) = request.into_parts();
    let webhook = WebhookRequest { method, url, headers: parts.headers, body: Bytes::copy_from_slice(body.as_ref()) };
    let response = ingestor.handle(provider, &connection, webhook).await;
    record_metrics(provider, &response.outcome);
    Ok(response.into_http().map(|body| Body::Text(String::from_utf8_lossy(&body).into_owned())))
}

/// Counts the outcome (never read back from the JSON body).
pub(crate) fn record_metrics(provider: &str, outcome: &IngestOutcome) {
    match outcome.metric() {
        (name, Some(reason)) => metrics::count(name, &[("provider", provider), ("reason", reason)]),
        (name, None) => metrics::count(name, &[("provider", provider)]),
    }
}
