//! The AWS deployment: clients and adapters, built once per execution
//! environment (the Lambda init phase) and shared by every invocation.

use std::collections::HashMap;
use std::sync::Arc;

use portage_api::ApiContext;
use portage_aws::{DynamoTable, SecretsManagerSecrets, SqsQueue};
use portage_core::command_runner::RunnerConfig;
use portage_core::ingest::{IngestConfig, Ingestor};
use portage_core::intake::SeparateIntake;
use portage_core::ports::{Clock, SystemClock};
use portage_core::provider::{Provider, Registry};
use portage_core::reconcile::Reconciler;
use portage_core::sync::{SyncConfig, Worker};
use portage_providers::wiring::WorkerParts;

use crate::settings::Settings;

/// How long a worker holds a command it executes: the sync worker's timeout
/// in template.yaml.
const COMMAND_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// The adapters over the deployed table, queues and secrets.
pub struct Deployment {
    /// Configuration read at init.
    pub settings: Settings,
    /// Event log and state store.
    pub table: Arc<DynamoTable>,
    /// Events queue and dead-letter queue.
    pub queue: Arc<SqsQueue>,
    /// Signing secrets and tokens.
    pub secrets: Arc<SecretsManagerSecrets>,
    /// Wall clock.
    pub clock: Arc<dyn Clock>,
}

impl Deployment {
    /// Reads the environment and builds the clients (TLS set up here, not in
    /// the first invocation).
    pub async fn load() -> Result<Self, crate::Error> {
        let settings = Settings::from_env()?;
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let table = DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), &settings.table);
        let mut queue = SqsQueue::new(aws_sdk_sqs::Client::new(&config), &settings.queue_url, &settings.dlq_url);
        if let Some((url, dlq_url)) = &settings.command_queues {
            queue = queue.with_command_queue(url, dlq_url);
        }
        let secrets = SecretsManagerSecrets::new(
            aws_sdk_secretsmanager::Client::new(&config),
            &settings.secrets_prefix,
            settings.secrets_ttl,
        );
        Ok(Self {
            settings,
            table: Arc::new(table),
            queue: Arc::new(queue),
            secrets: Arc::new(secrets),
            clock: Arc::new(SystemClock),
        })
    }

    /// The ingest flow for one provider's function: a registry of that
    /// provider alone, so the function links no other provider's code.
    pub fn ingestor(&self, provider: Arc<dyn Provider>) -> Ingestor {
        let provider_name = provider.name();
        let tolerance: HashMap<String, _> =
            self.settings.tolerance.map(|t| (provider_name.to_owned(), t)).into_iter().collect();
        let config = IngestConfig {
            max_body_bytes: self.settings.max_body_bytes,
            tolerance,
            legacy_schemes: self.settings.legacy_signatures.then(|| provider_name.to_owned()).into_iter().collect(),
            reclaim_after: self.settings.reclaim_after,
        };
        let intake = Arc::new(SeparateIntake::new(self.table.clone(), self.queue.clone()));
        Ingestor::new(Registry::new().with(provider), intake, self.secrets.clone(), self.clock.clone(), config)
    }

    /// The ingest flow for a provider whose deliveries name their signing
    /// key (PayPal, eBay): keys fetched from the provider's hosts and cached
    /// for the life of the execution environment.
    pub fn ingestor_fetching_keys(&self, provider: Arc<dyn Provider>) -> Result<Ingestor, crate::Error> {
        let keys = portage_client::HttpSigningKeys::from_env(self.secrets.clone())?;
        Ok(self.ingestor(provider).with_signing_keys(Arc::new(keys)))
    }

    /// The API clients of this execution environment, one per (provider,
    /// connection), built on first use; provider hosts follow
    /// `PORTAGE_PROVIDER_ORIGINS`. Only the functions that call providers
    /// (the worker, reconcile) make one, once, at init.
    pub fn clients(&self) -> Result<Arc<portage_client::ClientPool>, crate::Error> {
        let origins = portage_client::Origins::from_env()?;
        Ok(Arc::new(portage_client::ClientPool::new(self.secrets.clone(), origins)?.with_leases(self.table.clone())))
    }

    /// The worker: events through the sync flow (its handlers fetching
    /// through `clients`), commands through their actions' executors, and
    /// notifications delivered; state changes and command results told to
    /// the subscriptions.
    pub fn worker(&self, clients: &Arc<portage_client::ClientPool>) -> Result<Worker, crate::Error> {
        Ok(portage_providers::wiring::worker(WorkerParts {
            store: self.table.clone(),
            queue: self.queue.clone(),
            secrets: self.secrets.clone(),
            clients: clients.clone(),
            clock: self.clock.clone(),
            sync: SyncConfig::default(),
            commands: RunnerConfig {
                // As long as the worker's invocation may last: a lease that
                // runs out means the execution died.
                lease: COMMAND_LEASE,
                max_attempts: self.settings.max_receives,
                ..RunnerConfig::default()
            },
            schedule: self.settings.notification_schedule.clone(),
            public_base_url: self.settings.public_base_url.clone(),
            billing: self.settings.billing.clone(),
        })?)
    }

    /// The application API over this deployment (the `/v1` routes).
    pub fn api_context(&self, clients: &Arc<portage_client::ClientPool>) -> Result<ApiContext, crate::Error> {
        let worker = Arc::new(self.worker(clients)?);
        let (queue, secrets, clock) = (self.queue.clone(), self.secrets.clone(), self.clock.clone());
        let connector = Arc::new(self.connector()?);
        let ctx = ApiContext::over(self.table.clone(), queue, secrets, worker, clock, None, connector)?;
        Ok(ctx.with_billing(self.settings.billing.clone()))
    }

    /// The connect flows over this deployment (the connect function's, and
    /// the API's registry of connections).
    pub fn connector(&self) -> Result<portage_providers::connect::Connector, crate::Error> {
        let origins = portage_client::Origins::from_env()?;
        let settings = portage_providers::connect::ConnectSettings {
            public_base_url: self.settings.public_base_url.clone(),
            return_urls: self.settings.return_urls.clone(),
        };
        Ok(portage_providers::wiring::connector(
            self.table.clone(),
            self.queue.clone(),
            self.secrets.clone(),
            self.clock.clone(),
            origins,
            settings,
        )?)
    }

    /// The Stripe connections this deployment walks (`PORTAGE_CONNECTIONS`'s,
    /// else `default`): whose customers' billing records the scheduler reads.
    pub fn stripe_connections(&self) -> Vec<String> {
        let configured = self.settings.connections.iter().flatten();
        let stripe: Vec<String> = configured.filter(|(p, _)| p == "stripe").map(|(_, c)| c.clone()).collect();
        if stripe.is_empty() { vec![portage_core::DEFAULT_CONNECTION.to_owned()] } else { stripe }
    }

    /// The reconcile flow over the configured connections (every provider's
    /// `default` connection unless `PORTAGE_CONNECTIONS` says otherwise),
    /// listing through API clients kept for the execution environment's
    /// life. Provider hosts follow `PORTAGE_PROVIDER_ORIGINS`.
    pub async fn reconciler(&self, clients: &portage_client::ClientPool) -> Result<Reconciler, crate::Error> {
        let registry = portage_providers::registry();
        let connections = self.settings.connections.clone().unwrap_or_else(|| {
            registry.names().into_iter().map(|p| (p.to_owned(), portage_core::DEFAULT_CONNECTION.to_owned())).collect()
        });
        let (sources, not_listed) =
            portage_providers::listings::change_sources(clients, self.clock.clone(), &connections).await;
        let state = portage_providers::wiring::projected_state(
            &self.table,
            self.queue.clone(),
            self.clock.clone(),
            self.settings.billing.as_ref(),
        );
        Ok(Reconciler::new(state, self.clock.clone(), sources, self.settings.reconcile_overlap)
            .with_not_listed(not_listed))
    }
}
