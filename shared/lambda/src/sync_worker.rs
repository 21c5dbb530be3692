//! The sync worker function: an SQS batch in, each message through the sync
//! flow, a partial batch response out (only failed messages are retried;
//! permanent failures go to the dead-letter queue at once).

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{LambdaEvent, service_fn};
use portage_aws::SqsQueue;
use portage_core::Task;
use portage_core::ports::{Clock, Queue, SystemClock};
use portage_core::sync::{Settlement, Worker};
use tracing::warn;

use crate::deployment::Deployment;
use crate::metrics;

/// Time kept back from the invocation's deadline when sizing the lease.
const LEASE_MARGIN: Duration = Duration::from_secs(2);

/// Serves SQS batches until the runtime stops the process.
pub async fn run() -> Result<(), crate::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let deployment = Deployment::load().await?;
    let clients = deployment.clients()?;
    let worker = Arc::new(deployment.worker(&clients));
    let queue = deployment.queue.clone();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let (worker, queue) = (worker.clone(), queue.clone());
        async move { Ok::<_, crate::Error>(handle_batch(&worker, &queue, event).await) }
    }))
    .await
}

/// Processes a batch; returns the ids of the messages SQS should deliver again.
pub async fn handle_batch(worker: &Worker, queue: &SqsQueue, event: LambdaEvent<SqsEvent>) -> SqsBatchResponse {
    let deadline_ms = i64::try_from(event.context.deadline).unwrap_or(i64::MAX);
    let mut response = SqsBatchResponse::default();
    for record in event.payload.records {
        let id = record.message_id.clone().unwrap_or_default();
        if !handle_message(worker, queue, record, deadline_ms).await {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// True when the message is settled (done or dead-lettered).
async fn handle_message(worker: &Worker, queue: &SqsQueue, record: SqsMessage, deadline_ms: i64) -> bool {
    let body = record.body.unwrap_or_default();
    let receipt = SqsQueue::receipt(record.receipt_handle.as_deref().unwrap_or_default(), &body);
    let Ok(task) = Task::decode(&body) else {
        metrics::count("dead_lettered", &[("reason", "malformed_message")]);
        return queue.dead_letter(&receipt, "malformed_message").await.is_ok();
    };
    let Some(key) = task.event_key() else {
        // Commands and notifications have no handler in this function yet.
        metrics::count("dead_lettered", &[("reason", "unhandled_task")]);
        return queue.dead_letter(&receipt, "unhandled_task").await.is_ok();
    };
    let attempt = record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1);
    let now_ms = SystemClock.now_ms();
    let remaining = u64::try_from(deadline_ms.saturating_sub(now_ms)).unwrap_or(0);
    let lease = Duration::from_millis(remaining).saturating_sub(LEASE_MARGIN).max(Duration::from_secs(1));
    let report = worker.process_within(&key, attempt, false, lease).await;
    let provider = key.provider.as_str();
    match report.settlement {
        Settlement::Ack => {
            metrics::count("processed", &[("provider", provider)]);
            true
        }
        Settlement::Retry { delay } => {
            metrics::count("retried", &[("provider", provider)]);
            if let Err(error) = queue.retry_later(&receipt, delay).await {
                warn!(%error, "could not delay the retry; SQS's visibility timeout applies");
            }
            false
        }
        // Only notifications retry as fresh messages, and this function has no
        // notification handler yet: treated as a visibility retry.
        Settlement::Later { delay } => {
            metrics::count("retried", &[("provider", provider)]);
            if let Err(error) = queue.retry_later(&receipt, delay).await {
                warn!(%error, "could not delay the retry; SQS's visibility timeout applies");
            }
            false
        }
        Settlement::DeadLetter { reason } => {
            metrics::count("failed", &[("provider", provider), ("reason", &reason)]);
            metrics::count("dead_lettered", &[("provider", provider)]);
            queue.dead_letter(&receipt, &reason).await.is_ok()
        }
    }
}
