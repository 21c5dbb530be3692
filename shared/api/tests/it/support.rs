//! A `/v1` router over a fresh embedded store, and requests to it.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{Method, Request, StatusCode};
use portage_api::ApiContext;
use portage_api::actions::ActionCatalog;
use portage_core::Secret;
use portage_core::api_keys::{ApiKeys, Scope};
use portage_core::ports::SystemClock;
use portage_core::provider::SyncHandlers;
use portage_core::sync::{SyncConfig, Worker};
use portage_embedded::{Database, MapSecrets, SqliteQueue};
use serde_json::Value;
use tower::ServiceExt;

/// A router with its store, kept alive beside it.
pub(crate) struct Api {
    pub(crate) router: Router,
    pub(crate) db: Arc<Database>,
    pub(crate) queue: Arc<SqliteQueue>,
    pub(crate) secrets: Arc<MapSecrets>,
    pub(crate) origins: portage_client::Origins,
    _dir: tempfile::TempDir,
}

/// Where connect callbacks come back in these tests.
pub(crate) const PUBLIC_BASE: &str = "https://portage.test";
/// The one allowed return URL.
pub(crate) const RETURN_URL: &str = "https://app.example/connected";

impl Api {
    pub(crate) fn new() -> Self {
        Self::with_origins(portage_client::Origins::none())
    }

    /// A router whose connect flows reach provider hosts through `origins`.
    pub(crate) fn with_origins(origins: portage_client::Origins) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = portage_embedded::open(dir.path()).unwrap();
        let clock = Arc::new(SystemClock);
        let mut secrets = MapSecrets::new();
        secrets.insert("stripe", "default", "api_key", Secret::new("sk_test_api"));
        secrets.insert("stripe", "shop-b", "api_key", Secret::new("sk_test_b"));
        let secrets = Arc::new(secrets);
        let queue = Arc::new(SqliteQueue::new(db.clone(), clock.clone(), 4));
        let queue_handle = queue.clone();
        let worker = Worker::new(SyncHandlers::new(), db.clone(), db.clone(), clock.clone(), SyncConfig::default());
        let ctx = ApiContext {
            keys: db.clone(),
            events: db.clone(),
            state: db.clone(),
            queue,
            commands: db.clone(),
            actions: Arc::new(ActionCatalog::new(portage_providers::catalog()).unwrap()),
            secrets: secrets.clone(),
            notifications: db.clone(),
            wake: None,
            worker: Arc::new(worker),
            registry: portage_providers::registry(),
            clock: clock.clone(),
            connector: Arc::new(connector_over(&db, &queue_handle, &secrets, &origins)),
            billing: Some(Arc::new(billing_config())),
            usage: db.clone(),
        };
        let browser = portage_api::connect::browser_router(ctx.connector.clone());
        let router = portage_api::router(Arc::new(ctx)).merge(browser);
        Self { router, db, queue: queue_handle, secrets, origins, _dir: dir }
    }

    /// Another worker's connect flows over the same stores (its own
    /// process: its own lease holder).
    pub(crate) fn connector(&self) -> portage_providers::connect::Connector {
        connector_over(&self.db, &self.queue, &self.secrets, &self.origins)
    }

    /// Sends a request without a key and answers its status and `Location`.
    pub(crate) async fn browse(&self, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Option<String>) {
        let mut request = Request::builder().method(method).uri(uri);
        let body = match body {
            Some(value) => {
                request = request.header("content-type", "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        let response = self.router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
        let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
        (response.status(), location)
    }

    /// A new key with these scopes.
    pub(crate) async fn key(&self, name: &str, scopes: &[Scope]) -> String {
        let (key, record) = portage_api::keys::issue(name, scopes, 1);
        assert!(self.db.create(&record).await.unwrap());
        key.expose().to_owned()
    }

    /// Sends a request; answers the status and the JSON body (Null when empty).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let body = match body {
            Some(value) => {
                request = request.header("content-type", "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        let response = self.router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        (status, value)
    }

    pub(crate) async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(key), None).await
    }
}

/// Connect flows over a test's stores.
fn connector_over(
    db: &Arc<Database>,
    queue: &Arc<SqliteQueue>,
    secrets: &Arc<MapSecrets>,
    origins: &portage_client::Origins,
) -> portage_providers::connect::Connector {
    let settings = portage_providers::connect::ConnectSettings {
        public_base_url: Some(PUBLIC_BASE.to_owned()),
        return_urls: vec![RETURN_URL.to_owned()],
    };
    portage_providers::wiring::connector(
        db.clone(),
        queue.clone(),
        secrets.clone(),
        Arc::new(SystemClock),
        origins.clone(),
        settings,
    )
    .unwrap()
}

/// The plans the tests sell: the issue's example.
pub(crate) fn billing_config() -> portage_core::billing::BillingConfig {
    let text = r#"
        default_plan = "free"
        grace_days = 7
        [plans.free]
        limits = { personas = 5 }
        [plans.pro]
        stripe_price = "price_pro"
        per_seat = true
        trial_days = 14
        limits = { personas = 50 }
        [plans.enterprise]
        stripe_price = "price_enterprise"
        limits = {}
        [addons.image_credits]
        stripe_price = "price_credits"
        grants = 100
    "#;
    let config: portage_core::billing::BillingConfig = toml::from_str(text).unwrap();
    config.validate().unwrap();
    config
}
