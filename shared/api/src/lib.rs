//! Portage's application API: what an app calls, under `/v1`, with an API
//! key. One axum router, hosted by `portage serve` and, on AWS, by the api
//! Lambda through `lambda_http`.
//!
//! Every `/v1` request is authenticated first ([`auth`]), then each route
//! checks the one scope it needs; every failure is an [`ApiError`], turned
//! into HTTP in one place.
//!
//! | route | scope |
//! |---|---|
//! | `POST /v1/commands` | `commands:write` |
//! | `GET /v1/commands`, `GET /v1/commands/{id}`, `GET /v1/actions` | `commands:read` |
//! | `POST /v1/subscriptions`, `GET /v1/subscriptions`, `DELETE /v1/subscriptions/{id}` | `admin` |
//! | `GET /v1/state/{provider}/{kind}`, `GET /v1/state/{provider}/{kind}/{id}` | `state:read` |
//! | `GET /v1/events`, `GET /v1/events/{provider}/{event_id}`, `GET /v1/dlq` | `events:read` |
//! | `POST /v1/events/{provider}/{event_id}/replay`, `POST /v1/dlq/redrive` | `events:write` |
//! | `GET /v1/billing/customers/{customer}` | `state:read` |
//! | `POST /v1/billing/customers/{customer}/usage` | `commands:write` |
//! | `GET /v1/connections`, `GET /v1/connections/{provider}/{connection}` | `connections:read` |
//! | `POST /v1/connect/sessions`, `PUT`/`DELETE /v1/connections/{provider}/{connection}` | `connections:write` |
//!
//! The browser's `/connect/…` routes ([`connect::browser_router`]) take no key.

pub mod actions;
pub mod auth;
mod billing;
pub mod commands;
pub mod connect;
mod dlq;
pub mod error;
mod events;
pub mod keys;
mod paging;
mod query;
mod state;
pub mod subscriptions;
pub mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::routing::{MethodRouter, get, post};
use portage_core::api_keys::{ApiKeys, Scope};
use portage_core::commands::CommandStore;
use portage_core::ports::{Clock, EventLog, Queue, Secrets, StateStore};
use portage_core::provider::Registry;
use portage_core::sync::Worker;

pub use error::ApiError;

/// The largest request body the API reads.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What the routes work with: the deployment's ports, built once.
pub struct ApiContext {
    /// The API keys requests are checked against.
    pub keys: Arc<dyn ApiKeys>,
    /// The event log.
    pub events: Arc<dyn EventLog>,
    /// The state store.
    pub state: Arc<dyn StateStore>,
    /// The queue of tasks: commands go on it; dead letters, redrive.
    pub queue: Arc<dyn Queue>,
    /// The command store.
    pub commands: Arc<dyn CommandStore>,
    /// The actions commands may name.
    pub actions: Arc<actions::ActionCatalog>,
    /// Connections' secrets: whether one has what an action needs.
    pub secrets: Arc<dyn Secrets>,
    /// Subscriptions and their notifications.
    pub notifications: Arc<dyn portage_core::notifications::NotificationStore>,
    /// Nudged when a task is queued, so a local worker takes it at once.
    pub wake: Option<Arc<tokio::sync::Notify>>,
    /// The sync flow, for replays.
    pub worker: Arc<Worker>,
    /// The providers this deployment knows.
    pub registry: Registry,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The connect flows and the registry of connections.
    pub connector: Arc<portage_providers::connect::Connector>,
    /// The plans and add-ons, when billing is configured.
    pub billing: Option<Arc<portage_core::billing::BillingConfig>>,
    /// Customers' metered usage.
    pub usage: Arc<dyn portage_core::usage::UsageStore>,
}

impl ApiContext {
    /// The routes' view of a deployment whose stores are all `store`; the
    /// actions are every provider's. `worker` serves replays.
    pub fn over<S: portage_core::ports::DeploymentStore>(
        store: Arc<S>,
        queue: Arc<dyn Queue>,
        secrets: Arc<dyn Secrets>,
        worker: Arc<Worker>,
        clock: Arc<dyn Clock>,
        wake: Option<Arc<tokio::sync::Notify>>,
        connector: Arc<portage_providers::connect::Connector>,
    ) -> Result<Self, actions::SchemaError> {
        Ok(Self {
            keys: store.clone(),
            events: store.clone(),
            state: store.clone(),
            queue,
            commands: store.clone(),
            actions: Arc::new(actions::ActionCatalog::new(portage_providers::catalog())?),
            secrets,
            notifications: store.clone(),
            wake,
            worker,
            registry: portage_providers::registry(),
            clock,
            connector,
            billing: None,
            usage: store,
        })
    }

    /// Serves billing with these plans and add-ons.
    pub fn with_billing(mut self, config: Option<portage_core::billing::BillingConfig>) -> Self {
        self.billing = config.map(Arc::new);
        self
    }

    /// 404 `unknown_provider` unless this build has `provider`: a webhook
    /// source, or one that only acts or keeps records (billing, Google).
    fn known_provider(&self, provider: &str) -> Result<(), ApiError> {
        let known = self.registry.get(provider).is_some()
            || portage_providers::capabilities().iter().any(|c| c.provider == provider);
        if known { Ok(()) } else { Err(ApiError::NotFound("unknown_provider")) }
    }
}

/// `method` for callers whose key grants `scope`.
fn scoped(scope: Scope, method: MethodRouter<Arc<ApiContext>>) -> MethodRouter<Arc<ApiContext>> {
    method.route_layer(middleware::from_fn(move |request: Request, next: Next| auth::require(scope, request, next)))
}

async fn not_found() -> ApiError {
    ApiError::NotFound("not_found")
}

/// The `/v1` routes over `ctx`, every one (and every unknown path under
/// `/v1`) behind an API key.
pub fn router(ctx: Arc<ApiContext>) -> Router {
    let v1 = Router::new()
        .route(
            "/commands",
            scoped(Scope::CommandsWrite, post(commands::submit))
                .merge(scoped(Scope::CommandsRead, get(commands::list))),
        )
        .route("/commands/{id}", scoped(Scope::CommandsRead, get(commands::get)))
        .route("/actions", scoped(Scope::CommandsRead, get(commands::actions)))
        .route("/subscriptions", scoped(Scope::Admin, post(subscriptions::create).get(subscriptions::list)))
        .route("/subscriptions/{id}", scoped(Scope::Admin, axum::routing::delete(subscriptions::remove)))
        .route("/state/{provider}/{kind}", scoped(Scope::StateRead, get(state::list)))
        .route("/state/{provider}/{kind}/{id}", scoped(Scope::StateRead, get(state::get)))
        .route("/events", scoped(Scope::EventsRead, get(events::list)))
        .route("/events/{provider}/{event_id}", scoped(Scope::EventsRead, get(events::get)))
        .route("/events/{provider}/{event_id}/replay", scoped(Scope::EventsWrite, post(events::replay)))
        .route("/dlq", scoped(Scope::EventsRead, get(dlq::list)))
        .route("/dlq/redrive", scoped(Scope::EventsWrite, post(dlq::redrive)))
        .route("/billing/customers/{customer}", scoped(Scope::StateRead, get(billing::get_customer)))
        .route("/billing/customers/{customer}/usage", scoped(Scope::CommandsWrite, post(billing::consume)))
        .route("/connect/sessions", scoped(Scope::ConnectionsWrite, post(connect::create_session)))
        .route("/connections", scoped(Scope::ConnectionsRead, get(connect::list)))
        .route(
            "/connections/{provider}/{connection}",
            scoped(Scope::ConnectionsRead, get(connect::get_one)).merge(scoped(
                Scope::ConnectionsWrite,
                axum::routing::put(connect::put_keys).delete(connect::disconnect),
            )),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(ctx.clone(), auth::authenticate))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(ctx);
    Router::new().nest("/v1", v1)
}
