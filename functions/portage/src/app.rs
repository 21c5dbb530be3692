//! Wires the core flows to the embedded adapters: what every local command
//! opens before it does its work.

use std::sync::{Arc, OnceLock};

use portage_client::{ClientPool, HttpSigningKeys};
use portage_core::ingest::Ingestor;
use portage_core::ports::{Clock, SystemClock};
use portage_core::provider::Registry;
use portage_core::reconcile::Reconciler;
use portage_core::sync::Worker;
use portage_embedded::{Database, MapSecrets, SqliteQueue};
use portage_providers::wiring::WorkerParts;
use tokio::sync::Notify;

use crate::cli::Global;
use crate::config::{self, Settings, WorkerSettings};

/// The embedded deployment: one database holding events, state and queue.
pub(crate) struct App {
    pub registry: Registry,
    pub db: Arc<Database>,
    pub queue: Arc<SqliteQueue>,
    pub clock: Arc<dyn Clock>,
    pub secrets: Arc<MapSecrets>,
    pub worker_settings: WorkerSettings,
    /// The API clients, one per (provider, connection), for the process's
    /// life; made on first use, so commands that call no provider build no
    /// TLS client.
    clients: OnceLock<Arc<ClientPool>>,
    settings: Settings,
}

impl App {
    /// Loads the configuration and opens the data directory.
    pub(crate) fn open(global: &Global) -> anyhow::Result<Self> {
        let registry = portage_providers::registry();
        let settings = config::load(global, &registry)?;
        Self::with_settings(registry, settings)
    }

    /// Opens the data directory with settings already loaded.
    pub(crate) fn with_settings(registry: Registry, settings: Settings) -> anyhow::Result<Self> {
        let db = portage_embedded::open(&settings.data_dir)?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let queue = Arc::new(SqliteQueue::new(db.clone(), clock.clone(), settings.worker.max_receives));
        let secrets = Arc::new(settings.secrets.clone());
        Ok(Self {
            clients: OnceLock::new(),
            registry,
            db,
            queue,
            clock,
            secrets,
            worker_settings: settings.worker.clone(),
            settings,
        })
    }

    /// The ingest flow over this deployment's ports.
    pub(crate) fn ingestor(&self) -> Ingestor {
        Ingestor::new(
            self.registry.clone(),
            self.queue.clone(),
            self.secrets.clone(),
            self.clock.clone(),
            self.settings.ingest.clone(),
        )
    }

    /// The ingest flow for webhook routes: also fetches the signing keys
    /// PayPal and eBay deliveries name (see [`HttpSigningKeys::from_env`]).
    pub(crate) fn webhook_ingestor(&self) -> anyhow::Result<Ingestor> {
        let keys = HttpSigningKeys::from_env(self.secrets.clone())?;
        Ok(self.ingestor().with_signing_keys(Arc::new(keys)))
    }

    /// The process's API clients (made on first use).
    pub(crate) fn clients(&self) -> anyhow::Result<Arc<ClientPool>> {
        if let Some(clients) = self.clients.get() {
            return Ok(clients.clone());
        }
        let pool = ClientPool::new(self.secrets.clone(), self.settings.origins.clone())?.with_leases(self.db.clone());
        let made = Arc::new(pool.with_call_timeout(self.settings.call_timeout)?);
        Ok(self.clients.get_or_init(|| made).clone())
    }

    /// The worker over this deployment's ports: events through sync,
    /// commands through their providers' actions, notifications delivered.
    pub(crate) fn worker(&self) -> anyhow::Result<Worker> {
        Ok(portage_providers::wiring::worker(WorkerParts {
            store: self.db.clone(),
            queue: self.queue.clone(),
            secrets: self.secrets.clone(),
            clients: self.clients()?,
            clock: self.clock.clone(),
            sync: self.settings.sync.clone(),
            commands: self.worker_settings.commands.clone(),
            schedule: self.settings.notification_schedule.clone(),
            public_base_url: std::env::var("PORTAGE_PUBLIC_BASE_URL").ok().filter(|v| !v.is_empty()),
            billing: self.settings.billing.clone(),
        })?)
    }

    /// The application API's view of this deployment (the `/v1` routes),
    /// replaying through `worker`; `wake` is nudged when a command is queued.
    pub(crate) fn api_context(
        &self,
        worker: Arc<Worker>,
        wake: Option<Arc<Notify>>,
        public_base_url: Option<String>,
    ) -> anyhow::Result<portage_api::ApiContext> {
        let (secrets, clock) = (self.secrets.clone(), self.clock.clone());
        let connector = Arc::new(self.connector(public_base_url)?);
        let ctx = portage_api::ApiContext::over(
            self.db.clone(),
            self.queue.clone(),
            secrets,
            worker,
            clock,
            wake,
            connector,
        )?;
        Ok(ctx.with_billing(self.settings.billing.clone()))
    }

    /// The connect flows over this deployment, with callbacks under
    /// `public_base_url`.
    pub(crate) fn connector(
        &self,
        public_base_url: Option<String>,
    ) -> anyhow::Result<portage_providers::connect::Connector> {
        self.connector_with(public_base_url, None)
    }

    /// As [`connector`](Self::connector), also allowing `extra_return` as a
    /// return URL (`portage connect`'s own page).
    pub(crate) fn connector_with(
        &self,
        public_base_url: Option<String>,
        extra_return: Option<String>,
    ) -> anyhow::Result<portage_providers::connect::Connector> {
        let mut return_urls = self.settings.return_urls.clone();
        return_urls.extend(extra_return);
        let settings = portage_providers::connect::ConnectSettings { public_base_url, return_urls };
        Ok(portage_providers::wiring::connector(
            self.db.clone(),
            self.queue.clone(),
            self.secrets.clone(),
            self.clock.clone(),
            self.settings.origins.clone(),
            settings,
        )?)
    }

    /// Reports, before anything is served, configured prices Stripe does not
    /// know (an error), or that they cannot be checked (a warning).
    pub(crate) async fn check_prices(&self) -> anyhow::Result<()> {
        let Some(billing) = &self.settings.billing else { return Ok(()) };
        if billing.prices().is_empty() {
            return Ok(());
        }
        match portage_providers::entitlements::unknown_prices(self.clients()?.as_ref(), billing).await {
            Ok(Some(unknown)) if unknown.is_empty() => Ok(()),
            Ok(Some(unknown)) => anyhow::bail!("[billing] names prices Stripe does not know: {}", unknown.join(", ")),
            Ok(None) => {
                tracing::warn!("[billing] prices not checked: the stripe connection has no api_key");
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, "[billing] prices not checked");
                Ok(())
            }
        }
    }

    /// The scheduler's billing pass over the Stripe connections that have
    /// secrets (and `default`), when billing is configured.
    pub(crate) fn downgrade_pass(&self) -> Option<portage_providers::entitlements::DowngradePass> {
        let (queue, clock) = (self.queue.clone(), self.clock.clone());
        let mut connections: Vec<String> =
            self.secrets.connections().into_iter().filter(|(p, _)| p == "stripe").map(|(_, c)| c).collect();
        if !connections.iter().any(|c| c == portage_core::DEFAULT_CONNECTION) {
            connections.push(portage_core::DEFAULT_CONNECTION.to_owned());
        }
        portage_providers::wiring::downgrade_pass(&self.db, queue, clock, self.settings.billing.as_ref(), connections)
    }

    /// How long ingest waits before re-enqueueing a `received` event.
    pub(crate) fn reclaim_after(&self) -> std::time::Duration {
        self.settings.ingest.reclaim_after
    }

    /// The reconcile flow over every connection that has secrets configured,
    /// listing through the pool's clients.
    pub(crate) async fn reconciler(&self) -> anyhow::Result<Reconciler> {
        let clients = self.clients()?;
        let (sources, not_listed) =
            portage_providers::listings::change_sources(&clients, self.clock.clone(), &self.secrets.connections())
                .await;
        let state = portage_providers::wiring::projected_state(
            &self.db,
            self.queue.clone(),
            self.clock.clone(),
            self.settings.billing.as_ref(),
        );
        Ok(Reconciler::new(state, self.clock.clone(), sources, RECONCILE_OVERLAP).with_not_listed(not_listed))
    }
}

/// How far before the last run an incremental reconcile listing starts.
const RECONCILE_OVERLAP: std::time::Duration = std::time::Duration::from_secs(600);
