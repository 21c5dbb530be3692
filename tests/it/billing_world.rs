//! A deployment with billing, in one process, on a clock the test moves:
//! the embedded store, the `/v1` API, the worker (sync, commands, the
//! billing projection), webhook intake, the downgrade pass, and the Stripe
//! and PayPal fakes reached through the clients' host overrides. Time moves
//! for Portage and for Stripe's fake together.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::body::Body;
use http::{Method, Request};
use portage_api::ApiContext;
use portage_core::Secret;
use portage_core::api_keys::{ApiKeys as _, Scope};
use portage_core::ingest::{IngestConfig, Ingestor};
use portage_core::ports::{Clock, Queue as _};
use portage_core::provider::{Provider as _, WebhookRequest};
use portage_core::sync::{SyncConfig, Worker};
use portage_embedded::{MapSecrets, SqliteQueue};
use portage_fakes::paypal::PayPal;
use portage_fakes::stripe::Stripe;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Prices and plans as `fixtures/billing/portage.toml` sells them.
pub(crate) const PRICES: [(&str, &str, i64); 4] = [
    ("price_pro_monthly", "recurring", 1_500),
    ("price_enterprise_monthly", "recurring", 90_000),
    ("price_image_credits", "one_time", 900),
    ("price_extra_personas", "recurring", 500),
];
pub(crate) const PAYPAL_PLAN: &str = "P-5ML4271244454362WXNWU5NQ";
pub(crate) const DAY: i64 = 86_400;

/// A clock the test sets.
pub(crate) struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The deployment and its fakes.
pub(crate) struct World {
    pub(crate) stripe: Arc<Stripe>,
    pub(crate) paypal: Arc<PayPal>,
    pub(crate) clock: Arc<TestClock>,
    queue: Arc<SqliteQueue>,
    router: axum::Router,
    worker: Worker,
    ingestor: Ingestor,
    downgrades: portage_providers::entitlements::DowngradePass,
    key: String,
    paypal_secret: Secret,
    delivered: std::sync::Mutex<(usize, usize)>,
    _dir: tempfile::TempDir,
}

pub(crate) fn config() -> portage_core::billing::BillingConfig {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/billing/portage.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let document: toml::Table = toml::from_str(&text).unwrap();
    let billing = document.get("billing").cloned().unwrap();
    let config: portage_core::billing::BillingConfig = billing.try_into().unwrap();
    config.validate().unwrap();
    config
}

impl World {
    pub(crate) async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = portage_embedded::open(dir.path()).unwrap();
        let start = 1_800_000_000;
        let clock = Arc::new(TestClock(AtomicI64::new(start * 1000)));
        let stripe = Stripe::new("sk_test_world", 0, 1_000);
        stripe.advance(start);
        for (id, kind, amount) in PRICES {
            stripe.put_price(
                json!({"id": id, "object": "price", "type": kind, "unit_amount": amount, "currency": "usd"}),
            );
        }
        let paypal = PayPal::new("AYpaypal-client", "EKpaypal-secret");
        paypal.put_plan(PAYPAL_PLAN);
        let (stripe_at, paypal_at) =
            (portage_fakes::serve(stripe.router()).await, portage_fakes::serve(paypal.router()).await);
        let origins = portage_client::Origins::parse(&format!(
            "api.stripe.com={},api-m.paypal.com={}",
            stripe_at.base, paypal_at.base
        ))
        .unwrap();
        let paypal_secret = portage_providers::paypal::PayPal.generate_secret();
        let mut secrets = MapSecrets::new();
        secrets.insert("stripe", "default", "api_key", Secret::new("sk_test_world"));
        secrets.insert("stripe", "default", "webhook_secret", Secret::new(crate::common::SECRET));
        secrets.insert("paypal", "default", "client_id", Secret::new("AYpaypal-client"));
        secrets.insert("paypal", "default", "client_secret", Secret::new("EKpaypal-secret"));
        secrets.insert("paypal", "default", "webhook_secret", paypal_secret.clone());
        let secrets = Arc::new(secrets);
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let queue = Arc::new(SqliteQueue::new(db.clone(), dyn_clock.clone(), 8));
        let clients = portage_client::ClientPool::new(secrets.clone(), origins.clone()).unwrap();
        let clients = Arc::new(clients.with_call_timeout(Duration::from_secs(2)).unwrap());
        let billing = config();
        let worker = portage_providers::wiring::worker(portage_providers::wiring::WorkerParts {
            store: db.clone(),
            queue: queue.clone(),
            secrets: secrets.clone(),
            clients,
            clock: dyn_clock.clone(),
            sync: SyncConfig::default(),
            commands: portage_core::command_runner::RunnerConfig::default(),
            schedule: vec![Duration::from_secs(1)],
            public_base_url: None,
            billing: Some(billing.clone()),
        })
        .unwrap();
        let ingestor = Ingestor::new(
            portage_providers::registry(),
            queue.clone(),
            secrets.clone(),
            dyn_clock.clone(),
            IngestConfig::default(),
        );
        let api_worker = Worker::new(
            portage_core::provider::SyncHandlers::new(),
            db.clone(),
            db.clone(),
            dyn_clock.clone(),
            SyncConfig::default(),
        );
        let connector = portage_providers::wiring::connector(
            db.clone(),
            queue.clone(),
            secrets.clone(),
            dyn_clock.clone(),
            origins,
            portage_providers::connect::ConnectSettings { public_base_url: None, return_urls: Vec::new() },
        )
        .unwrap();
        let ctx = ApiContext::over(
            db.clone(),
            queue.clone(),
            secrets.clone(),
            Arc::new(api_worker),
            dyn_clock.clone(),
            None,
            Arc::new(connector),
        )
        .unwrap()
        .with_billing(Some(billing.clone()));
        let router = portage_api::router(Arc::new(ctx));
        let (key, record) =
            portage_api::keys::issue("app", &[Scope::CommandsWrite, Scope::CommandsRead, Scope::StateRead], 1);
        assert!(db.create(&record).await.unwrap());
        let notifier = portage_core::notifications::Notifier::new(db.clone(), queue.clone(), dyn_clock.clone());
        let downgrades = portage_providers::entitlements::DowngradePass::new(
            billing,
            db.clone(),
            notifier,
            dyn_clock,
            vec!["default".to_owned()],
        );
        Self {
            stripe,
            paypal,
            clock,
            queue,
            router,
            worker,
            ingestor,
            downgrades,
            key: key.expose().to_owned(),
            paypal_secret,
            delivered: std::sync::Mutex::new((0, 0)),
            _dir: dir,
        }
    }

    /// Now, Unix seconds (Portage's clock and Stripe's agree).
    pub(crate) fn now(&self) -> i64 {
        self.clock.now_secs()
    }

    /// Moves both clocks to `to` (Unix seconds): what falls due at Stripe
    /// happens and is delivered; the downgrade pass runs.
    pub(crate) async fn advance_to(&self, to: i64) -> Vec<String> {
        self.stripe.advance(to);
        self.clock.0.store(to * 1000, Ordering::SeqCst);
        self.deliver().await;
        let told = self.downgrades.run().await.unwrap();
        self.drain().await;
        told
    }

    /// Sends a request to the API; its status and JSON body.
    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request =
            Request::builder().method(method).uri(path).header("authorization", format!("Bearer {}", self.key));
        let body = match body {
            Some(value) => {
                request = request.header("content-type", "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        let response = self.router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() })
    }

    /// Submits a billing command, runs the queue, and answers the command as it ended.
    pub(crate) async fn command(&self, action: &str, key: &str, input: Value) -> Value {
        let body = json!({"provider": "billing", "action": action, "idempotency_key": key, "input": input});
        let (status, submitted) = self.call(Method::POST, "/v1/commands", Some(body)).await;
        assert!(status == 202 || status == 200, "{status} {submitted}");
        self.drain().await;
        let id = submitted["id"].as_str().unwrap().to_owned();
        self.call(Method::GET, &format!("/v1/commands/{id}"), None).await.1
    }

    /// A customer's entitlement.
    pub(crate) async fn entitlement(&self, customer: &str) -> Value {
        let (status, shown) = self.call(Method::GET, &format!("/v1/billing/customers/{customer}"), None).await;
        assert_eq!(status, 200, "{shown}");
        shown
    }

    /// A billing record's data (`account`, `customer`, …) as the state API shows it.
    pub(crate) async fn state(&self, kind: &str, id: &str) -> Value {
        let (status, shown) = self.call(Method::GET, &format!("/v1/state/billing/{kind}/{id}"), None).await;
        assert_eq!(status, 200, "{shown}");
        shown["data"].clone()
    }

    /// Delivers every new Stripe and PayPal event as a signed webhook, then runs the queue.
    pub(crate) async fn deliver(&self) {
        let (stripe_new, paypal_new) = {
            let seen = self.delivered.lock().unwrap();
            (self.stripe.events_since(seen.0), self.paypal.events_since(seen.1))
        };
        {
            let mut seen = self.delivered.lock().unwrap();
            seen.0 += stripe_new.len();
            seen.1 += paypal_new.len();
        }
        for event in stripe_new {
            self.webhook("stripe", &event, &Secret::new(crate::common::SECRET)).await;
        }
        for event in paypal_new {
            self.webhook("paypal", &event, &self.paypal_secret.clone()).await;
        }
        self.drain().await;
    }

    /// Delivers one event as the provider signs it.
    pub(crate) async fn webhook(&self, provider: &str, event: &Value, secret: &Secret) {
        let body = serde_json::to_vec(event).unwrap();
        let source = portage_providers::registry();
        let signer = source.get(provider).unwrap();
        let headers = signer.sign("https://portage.test/webhooks", &body, secret, self.now());
        let mut map = http::HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let url = format!("https://portage.test/webhooks/{provider}");
        let request = WebhookRequest { method: "POST".into(), url, headers: map, body: body.into() };
        let answer = self.ingestor.handle(provider, "default", request).await;
        assert_eq!(answer.status, 200, "{provider}: {:?} for {event}", answer.body);
    }

    /// Runs the queue until nothing is visible.
    pub(crate) async fn drain(&self) {
        loop {
            let batch = self.queue.receive(10, Duration::from_secs(60)).await.unwrap();
            if batch.is_empty() {
                return;
            }
            for delivery in &batch {
                self.worker.handle_delivery(self.queue.as_ref(), delivery).await;
            }
        }
    }
}
