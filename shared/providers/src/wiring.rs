//! The worker wired the same way wherever it runs (`portage serve`, the
//! Lambda sync worker): events through the providers' sync handlers,
//! commands through their actions' executors, notifications delivered, and
//! state changes and command results told to the subscriptions.

use std::sync::Arc;
use std::time::Duration;

use portage_client::ClientPool;
use portage_core::command_runner::{CommandRunner, RunnerConfig};
use portage_core::notifications::Notifier;
use portage_core::ports::{Clock, DeploymentStore, Queue, Secrets};
use portage_core::sync::{SyncConfig, Worker};

use crate::capabilities::ActionDeps;
use crate::notify::Deliverer;

/// What a worker is built from.
pub struct WorkerParts<S> {
    /// The deployment's stores.
    pub store: Arc<S>,
    /// Its queue (notifications are queued on it).
    pub queue: Arc<dyn Queue>,
    /// Connections' credentials.
    pub secrets: Arc<dyn Secrets>,
    /// The long-lived API clients.
    pub clients: Arc<ClientPool>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// How events are processed.
    pub sync: SyncConfig,
    /// How commands are executed.
    pub commands: RunnerConfig,
    /// Delays before each notification delivery attempt.
    pub schedule: Vec<Duration>,
    /// Portage's public URL prefix, for callbacks providers are told of.
    pub public_base_url: Option<String>,
    /// The plans and add-ons, when billing is configured: customers'
    /// billing records are kept from the providers' records.
    pub billing: Option<portage_core::billing::BillingConfig>,
}

/// The deployment's state store, with the projections its configuration
/// asks for (the billing records, when billing is configured) run after
/// every applied write: what sync, reconcile and commands write through.
pub fn projected_state<S: DeploymentStore>(
    store: &Arc<S>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
    billing: Option<&portage_core::billing::BillingConfig>,
) -> Arc<dyn portage_core::ports::StateStore> {
    match billing {
        Some(config) => {
            let notifier = Arc::new(Notifier::new(store.clone(), queue, clock));
            let projection = crate::entitlements::BillingProjection::new(Arc::new(config.clone()), store.clone())
                .with_notifier(notifier);
            Arc::new(portage_core::projection::Projecting::new(store.clone(), vec![Arc::new(projection)]))
        }
        None => store.clone(),
    }
}

/// The worker over `parts`.
pub fn worker<S: DeploymentStore>(parts: WorkerParts<S>) -> Result<Worker, reqwest::Error> {
    let WorkerParts { store, queue, secrets, clients, clock, sync, commands, schedule, public_base_url, billing } =
        parts;
    let state = projected_state(&store, queue.clone(), clock.clone(), billing.as_ref());
    let notifier = Arc::new(Notifier::new(store.clone(), queue, clock.clone()));
    let secrets_for_pulls = secrets.clone();
    let executors = crate::action_executors(&ActionDeps {
        clients: clients.clone(),
        secrets,
        clock: clock.clone(),
        public_base_url,
        state: state.clone(),
        journal: store.clone(),
        billing: billing.map(Arc::new),
    });
    let runner = CommandRunner::new(crate::catalog(), executors, store.clone(), state.clone(), clock.clone(), commands)
        .with_notifier(notifier.clone());
    let deliverer = Deliverer::new(store.clone(), clock.clone(), schedule)?;
    let puller = crate::connect::metadata::MetadataPuller::new(
        secrets_for_pulls,
        store.clone(),
        clients.http().clone(),
        clients.origins().clone(),
        clock.clone(),
    );
    Ok(Worker::new(crate::sync_handlers(&clients, &clock), store.clone(), state, clock, sync)
        .with_commands(Arc::new(runner))
        .with_notifier(notifier)
        .with_notifications(Arc::new(deliverer))
        .with_metadata(Arc::new(puller)))
}

/// The connect flows over a deployment's stores, calling providers through
/// `origins` (a sandbox, a test fake) with a client that follows no redirect.
pub fn connector<S: DeploymentStore>(
    store: Arc<S>,
    queue: Arc<dyn Queue>,
    secrets: Arc<dyn Secrets>,
    clock: Arc<dyn Clock>,
    origins: portage_client::Origins,
    settings: crate::connect::ConnectSettings,
) -> Result<crate::connect::Connector, reqwest::Error> {
    let queue_for_pulls = queue.clone();
    let notifier = Arc::new(Notifier::new(store.clone(), queue, clock.clone()));
    let http = portage_client::token_http_client()?;
    let holder = format!("connect-{:016x}", rand::random::<u64>());
    Ok(crate::connect::Connector::new(store.clone(), secrets, http, origins, settings, notifier, clock)
        .with_leases(store, holder)
        .with_queue(queue_for_pulls))
}

/// The scheduler's billing pass over `connections` (customers whose grace
/// ran out are told `billing.downgraded`), when billing is configured.
pub fn downgrade_pass<S: DeploymentStore>(
    store: &Arc<S>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
    billing: Option<&portage_core::billing::BillingConfig>,
    connections: Vec<String>,
) -> Option<crate::entitlements::DowngradePass> {
    let config = billing?.clone();
    let notifier = Notifier::new(store.clone(), queue, clock.clone());
    Some(crate::entitlements::DowngradePass::new(config, store.clone(), notifier, clock, connections))
}
