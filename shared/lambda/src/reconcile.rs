//! The reconcile function, run by the EventBridge schedules.
//!
//! Today it repairs the ingest side: events recorded but never enqueued (an
//! invocation that died between the two writes) are enqueued again. Listing
//! changes from providers since a cursor comes with the shared API client;
//! the run reports which mode it ran and what it repaired.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use portage_core::maintenance::StrandedRecovery;
use serde_json::{Value, json};
use tracing::info;

use crate::deployment::Deployment;

/// Serves scheduled invocations until the runtime stops the process.
pub async fn run() -> Result<(), crate::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let deployment = Deployment::load().await?;
    let recovery = Arc::new(StrandedRecovery::new(
        deployment.table.clone(),
        deployment.queue.clone(),
        deployment.clock.clone(),
        deployment.settings.reclaim_after,
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let recovery = recovery.clone();
        async move {
            let mode = event.payload.get("mode").and_then(Value::as_str).unwrap_or("incremental").to_owned();
            let requeued = recovery.run().await?;
            let report = json!({ "mode": mode, "stranded_requeued": requeued });
            info!(%report, "reconcile run finished");
            Ok::<_, crate::Error>(report)
        }
    }))
    .await
}
