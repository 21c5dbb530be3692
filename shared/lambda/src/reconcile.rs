//! The reconcile function, run by the EventBridge schedules with
//! `{"mode": "incremental"}` (every 15 minutes) or `{"mode": "full"}` (daily).
//!
//! Each run first re-enqueues events and commands recorded but never queued
//! (an ingest or an API call that died between its two writes), then walks every configured
//! connection's reconcile cursors ([`portage_core::reconcile`]) for the
//! providers that can list changes, refreshes OAuth tokens that expire
//! within [`portage_providers::connect::REFRESH_AHEAD`] (and tells the app of
//! connections that need authorising again or soon will), and returns a
//! report of all three.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use portage_core::maintenance::StrandedRecovery;
use portage_core::reconcile::{Mode, Reconciler};
use serde_json::{Value, json};
use tracing::info;

use crate::deployment::Deployment;
use crate::metrics;

/// Serves scheduled invocations until the runtime stops the process.
pub async fn run() -> Result<(), crate::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let deployment = Deployment::load().await?;
    let recovery = Arc::new(
        StrandedRecovery::new(
            deployment.table.clone(),
            deployment.queue.clone(),
            deployment.clock.clone(),
            deployment.settings.reclaim_after,
        )
        .with_commands(deployment.table.clone()),
    );
    let clients = deployment.clients()?;
    let reconciler = Arc::new(deployment.reconciler(&clients).await?);
    let connector = Arc::new(deployment.connector()?);
    let downgrades = Arc::new(portage_providers::wiring::downgrade_pass(
        &deployment.table,
        deployment.queue.clone(),
        deployment.clock.clone(),
        deployment.settings.billing.as_ref(),
        deployment.stripe_connections(),
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (recovery, reconciler, connector) = (recovery.clone(), reconciler.clone(), connector.clone());
        let downgrades = downgrades.clone();
        async move { handle(&recovery, &reconciler, &connector, downgrades.as_ref().as_ref(), &event.payload).await }
    }))
    .await
}

/// One scheduled run; its report is the invocation's result.
pub async fn handle(
    recovery: &StrandedRecovery,
    reconciler: &Reconciler,
    connector: &portage_providers::connect::Connector,
    downgrades: Option<&portage_providers::entitlements::DowngradePass>,
    payload: &Value,
) -> Result<Value, crate::Error> {
    let asked = payload.get("mode").and_then(Value::as_str).unwrap_or("incremental");
    let mode = Mode::parse(asked).ok_or_else(|| format!("unknown reconcile mode '{asked}' (incremental or full)"))?;
    let requeued = recovery.run().await?;
    let report = reconciler.run(mode).await;
    let refresh = connector.refresh_due().await?;
    let downgraded = match downgrades {
        Some(pass) => pass.run().await?,
        None => Vec::new(),
    };
    for kind in &report.kinds {
        let dimensions = [("provider", kind.provider.as_str()), ("kind", kind.kind.as_str())];
        metrics::add("repaired", &dimensions, kind.repaired);
    }
    let report = json!({
        "mode": mode,
        "stranded_requeued": requeued,
        "kinds": report.kinds,
        "not_listed": report.not_listed,
        "tokens": {
            "refreshed": refresh.refreshed,
            "needs_reauth": refresh.needs_reauth,
            "expiring": refresh.expiring,
            "failed": refresh.failed,
        },
        "downgraded": downgraded,
    });
    info!(%report, "reconcile run finished");
    Ok(report)
}
