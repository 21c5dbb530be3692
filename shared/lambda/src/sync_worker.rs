//! The sync worker function: an SQS batch in (from the events queue or the
//! FIFO commands queue), each message through its task's flow (events
//! applied, commands executed, notifications delivered), a partial batch
//! response out (only failed messages are retried; permanent failures go to
//! the dead-letter queue at once). On the FIFO queue a message retried holds
//! back the rest of its group in the batch, so a resource's commands keep
//! their order.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{LambdaEvent, service_fn};
use portage_aws::{NOT_BEFORE_ATTRIBUTE, SqsQueue};
use portage_core::ports::{Clock, Queue, SystemClock};
use portage_core::sync::{Settlement, Worker};
use portage_core::{Delivery, Task};
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
    let worker = Arc::new(deployment.worker(&clients)?);
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
    let mut held_back: HashSet<String> = HashSet::new();
    for record in event.payload.records {
        let id = record.message_id.clone().unwrap_or_default();
        let group = record.attributes.get("MessageGroupId").cloned();
        let settled = match &group {
            // An earlier message of its group is being retried: this one waits its turn.
            Some(group) if held_back.contains(group) => false,
            _ => handle_message(worker, queue, record, deadline_ms).await,
        };
        if !settled {
            held_back.extend(group);
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// True when the message is settled (done, sent on, or dead-lettered).
async fn handle_message(worker: &Worker, queue: &SqsQueue, record: SqsMessage, deadline_ms: i64) -> bool {
    let body = record.body.clone().unwrap_or_default();
    let handle = record.receipt_handle.as_deref().unwrap_or_default();
    let receipt = queue.receipt_from(handle, &body, record.event_source_arn.as_deref().unwrap_or_default());
    let Ok(task) = Task::decode(&body) else {
        metrics::count("dead_lettered", &[("reason", "malformed_message")]);
        return queue.dead_letter(&receipt, "malformed_message").await.is_ok();
    };
    let not_before = record
        .message_attributes
        .get(NOT_BEFORE_ATTRIBUTE)
        .and_then(|attribute| attribute.string_value.as_deref()?.parse().ok());
    match queue.wait_on(&receipt, not_before).await {
        Ok(true) => return true,
        Ok(false) => {}
        Err(error) => {
            warn!(%error, "could not send an early message on; SQS's visibility timeout applies");
            return false;
        }
    }
    let attempt = record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1);
    let Some(key) = task.event_key() else {
        // Commands and notifications: the worker runs the task and settles the message itself.
        let delivery = Delivery { receipt, task, receive_count: attempt };
        let kind = delivery.task.kind();
        return match worker.handle_delivery(queue, &delivery).await {
            Settlement::Ack | Settlement::Later { .. } => {
                metrics::count("processed", &[("task", kind)]);
                true
            }
            Settlement::Retry { .. } => {
                metrics::count("retried", &[("task", kind)]);
                false
            }
            Settlement::DeadLetter { reason } => {
                metrics::count("dead_lettered", &[("task", kind), ("reason", &reason)]);
                true
            }
        };
    };
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
        // Events retry by visibility (`Later` is the notifications' way).
        Settlement::Retry { delay } | Settlement::Later { delay } => {
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
