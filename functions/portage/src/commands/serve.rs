//! `portage serve`: the webhook routes, the worker loop and the scheduler in one
//! process over the embedded store, with a graceful shutdown that drains
//! in-flight work.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Args;
use portage_core::ingest::{IngestOutcome, IngestResponse, Ingestor};
use portage_core::maintenance::StrandedRecovery;
use portage_core::ports::Queue;
use portage_core::provider::WebhookRequest;
use portage_core::reconcile::{Mode, Reconciler};
use portage_core::sync::Worker;
use portage_core::{DEFAULT_CONNECTION, RejectReason};
use serde_json::json;
use tokio::sync::{Notify, watch};
use tracing::{info, warn};

use crate::app::App;
use crate::cli::Global;
use crate::config;

/// `portage serve`: every flow in one process.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
}

struct ServerState {
    ingestor: Ingestor,
    app: Arc<App>,
    work: Arc<Notify>,
}

/// Runs the server until SIGINT or SIGTERM.
pub(crate) async fn run(global: &Global, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let registry = portage_providers::registry();
    let mut settings = config::load(global, &registry)?;
    for (provider, secret) in config::ensure_dev_secrets(&mut settings, &registry)? {
        // A generated development secret is printed on purpose, once: the
        // operator needs it to sign test deliveries. Configured secrets never
        // are, and a development key pair's private half is only saved.
        let shown =
            if secret.expose().contains('\n') { "(a key pair; its private key is not shown)" } else { secret.expose() };
        println!(
            "no signing secret configured for {provider}; generated a development secret (saved in {}): {shown}",
            global.data.join(config::DEV_SECRETS_FILE).display(),
        );
    }
    let app = Arc::new(App::with_settings(registry, settings)?);
    app.check_prices().await?;
    if let Some(key) = ensure_dev_api_key(&app, global).await? {
        // Printed on purpose, once, as the development signing secret is:
        // the operator needs it to call /v1. Only its hash is stored.
        println!(
            "no API key yet; created the admin key 'dev' (saved in {}): {}",
            global.data.join(DEV_API_KEY_FILE).display(),
            key.expose()
        );
    }
    let work = Arc::new(Notify::new());
    let state = Arc::new(ServerState { ingestor: app.webhook_ingestor()?, app: app.clone(), work: work.clone() });
    let (stop_tx, stop_rx) = watch::channel(false);

    let recovery = StrandedRecovery::new(app.db.clone(), app.queue.clone(), app.clock.clone(), app.reclaim_after())
        .with_commands(app.db.clone());
    let jobs = Jobs {
        recovery,
        reconciler: app.reconciler().await?,
        connector: app.connector(None)?,
        downgrades: app.downgrade_pass(),
        stranded_every: app.worker_settings.stranded_check,
    };
    let scheduler = tokio::spawn(scheduler(jobs, stop_rx.clone(), work.clone()));
    let worker = Arc::new(app.worker()?);
    let workers: Vec<_> = (0..app.worker_settings.concurrency)
        .map(|_| tokio::spawn(worker_loop(app.clone(), worker.clone(), work.clone(), stop_rx.clone())))
        .collect();

    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    let bound = listener.local_addr()?;
    // Connect callbacks come back here unless Portage is reached through another URL.
    let public_base_url = std::env::var("PORTAGE_PUBLIC_BASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| format!("http://{bound}"));
    let ctx = Arc::new(app.api_context(worker.clone(), Some(work.clone()), Some(public_base_url))?);
    let connect = portage_api::connect::browser_router(ctx.connector.clone());
    let api = portage_api::router(ctx);
    let router = Router::new()
        .route("/health", get(health))
        // GET too: eBay's endpoint challenge arrives as a GET.
        .route("/webhooks/{provider}", post(webhook_default).get(webhook_default))
        .route("/webhooks/{provider}/{connection}", post(webhook).get(webhook))
        .with_state(state)
        .merge(api)
        .merge(connect);
    println!("portage listening on http://{bound} (data: {})", global.data.display());
    info!(addr = %bound, "listening");

    axum::serve(listener, router).with_graceful_shutdown(shutdown_signal()).await?;
    info!("shutting down: draining in-flight work");
    let _ = stop_tx.send(true);
    work.notify_waiters();
    for task in workers {
        let _ = task.await;
    }
    let _ = scheduler.await;
    app.db.close();
    info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Where `serve` saves the admin key it makes when there is none.
const DEV_API_KEY_FILE: &str = "dev-api-key";

/// With no API key at all, makes an `admin` key named `dev`, saves it in the
/// data directory (owner-only) and returns it; otherwise does nothing.
async fn ensure_dev_api_key(app: &App, global: &Global) -> anyhow::Result<Option<portage_core::Secret>> {
    use portage_core::api_keys::{ApiKeys, Scope};
    if !app.db.list().await?.is_empty() {
        return Ok(None);
    }
    let key = super::apikey::create(app.db.as_ref(), "dev", &[Scope::Admin], app.clock.now_ms()).await?;
    config::write_private(&global.data.join(DEV_API_KEY_FILE), &format!("{}\n", key.expose()))?;
    Ok(Some(key))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}

async fn health(State(state): State<Arc<ServerState>>) -> Response {
    match state.app.db.ping().await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({ "status": "ok" }))).into_response(),
        Err(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({ "status": "store unavailable" }))).into_response()
        }
    }
}

async fn webhook_default(
    state: State<Arc<ServerState>>,
    Path(provider): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(state, provider, DEFAULT_CONNECTION.to_owned(), method, uri, headers, body).await
}

async fn webhook(
    state: State<Arc<ServerState>>,
    Path((provider, connection)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(state, provider, connection, method, uri, headers, body).await
}

fn rejection(provider: &str, connection: &str, reason: RejectReason) -> Response {
    warn!(provider, connection, reason = reason.code(), "webhook rejected");
    IngestResponse::rejected(reason).into_http().map(Body::from)
}

/// Marks a response sent before the request body was read whole: the
/// connection is closed after it (RFC 9112, section 9.6), so the client does
/// not reuse a connection that still carries the rest of its body.
fn closing(mut response: Response) -> Response {
    response.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
    response
}

/// The public URL the provider called: scheme from `X-Forwarded-Proto`, host
/// from `Host`, path and query as received.
fn public_url(headers: &HeaderMap, uri: &Uri) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = header("x-forwarded-proto").unwrap_or("http");
    let host = header("host").unwrap_or("localhost");
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    format!("{scheme}://{host}{path}")
}

async fn handle(
    State(state): State<Arc<ServerState>>,
    provider: String,
    connection: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limit = state.ingestor.max_body_bytes();
    let declared =
        headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return closing(rejection(&provider, &connection, RejectReason::PayloadTooLarge));
    }
    // The body is read before any answer, so a client still sending it never
    // finds the connection closed under it.
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => return closing(rejection(&provider, &connection, RejectReason::PayloadTooLarge)),
    };
    if state.app.registry.get(&provider).is_none() {
        return rejection(&provider, &connection, RejectReason::UnknownProvider);
    }
    let request = WebhookRequest { method: method.as_str().to_owned(), url: public_url(&headers, &uri), headers, body };
    let response = state.ingestor.handle(&provider, &connection, request).await;
    if matches!(response.outcome, IngestOutcome::Accepted { duplicate: false, .. }) {
        state.work.notify_one();
    }
    response.into_http().map(Body::from)
}

/// Receives batches from the embedded queue and processes them until told to
/// stop; a batch already received is always finished first.
async fn worker_loop(app: Arc<App>, worker: Arc<Worker>, work: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    let settings = app.worker_settings.clone();
    loop {
        if *stop.borrow() {
            return;
        }
        let batch = match app.queue.receive(settings.batch_size, settings.visibility).await {
            Ok(batch) => batch,
            Err(error) => {
                warn!(%error, "receive failed");
                Vec::new()
            }
        };
        if batch.is_empty() {
            tokio::select! {
                _ = work.notified() => {},
                _ = tokio::time::sleep(Duration::from_millis(250)) => {},
                _ = stop.changed() => {},
            }
            continue;
        }
        // The batch's messages are handled concurrently, so their writes share
        // the store's group commits instead of queueing one after another.
        let mut handling = tokio::task::JoinSet::new();
        for delivery in batch {
            let (worker, queue) = (worker.clone(), app.queue.clone());
            handling.spawn(async move { worker.handle_delivery(queue.as_ref(), &delivery).await });
        }
        while handling.join_next().await.is_some() {}
    }
}

/// The periodic jobs of the local mode, as template.yaml schedules them on AWS.
struct Jobs {
    recovery: StrandedRecovery,
    reconciler: Reconciler,
    connector: portage_providers::connect::Connector,
    downgrades: Option<portage_providers::entitlements::DowngradePass>,
    stranded_every: Duration,
}

/// How often OAuth tokens due within the refresh window are refreshed.
const REFRESH_EVERY: Duration = Duration::from_secs(60);

/// Incremental reconcile period (EventBridge: every 15 minutes).
const INCREMENTAL_EVERY: Duration = Duration::from_secs(15 * 60);
/// Full reconcile period (EventBridge: daily).
const FULL_EVERY: Duration = Duration::from_secs(24 * 3600);

/// Runs the periodic jobs: re-enqueueing stranded events, a full reconcile at
/// start-up and daily, an incremental one every 15 minutes in between.
async fn scheduler(jobs: Jobs, mut stop: watch::Receiver<bool>, work: Arc<Notify>) {
    let mut stranded = tokio::time::interval(jobs.stranded_every);
    let mut incremental = tokio::time::interval_at(tokio::time::Instant::now() + INCREMENTAL_EVERY, INCREMENTAL_EVERY);
    let mut full = tokio::time::interval(FULL_EVERY);
    let mut refresh = tokio::time::interval(REFRESH_EVERY);
    for ticks in [&mut stranded, &mut incremental, &mut full, &mut refresh] {
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        let mode = tokio::select! {
            _ = stranded.tick() => {
                match jobs.recovery.run().await {
                    Ok(0) => {}
                    Ok(_) => work.notify_one(),
                    Err(error) => warn!(%error, "stranded-event recovery failed"),
                }
                continue;
            }
            _ = refresh.tick() => {
                match jobs.connector.refresh_due().await {
                    Ok(report) if report == portage_providers::connect::RefreshReport::default() => {}
                    Ok(report) => info!(?report, "token refresh pass finished"),
                    Err(error) => warn!(%error, "token refresh pass failed"),
                }
                if let Some(downgrades) = &jobs.downgrades {
                    match downgrades.run().await {
                        Ok(told) if told.is_empty() => {}
                        Ok(told) => info!(customers = told.len(), "grace ended: customers downgraded"),
                        Err(error) => warn!(%error, "downgrade pass failed"),
                    }
                }
                continue;
            }
            _ = full.tick() => Mode::Full,
            _ = incremental.tick() => Mode::Incremental,
            _ = stop.changed() => return,
        };
        let report = jobs.reconciler.run(mode).await;
        let repaired: usize = report.kinds.iter().map(|k| k.repaired).sum();
        info!(?mode, repaired, not_listed = ?report.not_listed, "reconcile run finished");
    }
}
