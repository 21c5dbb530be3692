//! The function that takes a provider's notifications from a queue or event
//! bus only the provider can write to (Amazon SP-API): an SQS batch (partial
//! batch response) or one EventBridge event in, each through the same
//! record, dedupe and enqueue as a webhook.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use bytes::Bytes;
use lambda_runtime::{LambdaEvent, service_fn};
use portage_core::ingest::{IngestOutcome, IngestResponse, Ingestor};
use portage_core::provider::{Provider, WebhookRequest};
use serde_json::Value;
use tracing::warn;

use crate::deployment::Deployment;

/// Serves notifications for `provider` until the runtime stops the process.
/// The connection is `PORTAGE_CONNECTION` (`default`).
pub async fn run(provider: Arc<dyn Provider>) -> Result<(), crate::Error> {
    let name = provider.name();
    lambda_runtime::tracing::init_default_subscriber();
    let deployment = Deployment::load().await?;
    let connection: Arc<str> = deployment.settings.connection.clone().into();
    let ingestor = Arc::new(deployment.ingestor(provider));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (ingestor, connection) = (ingestor.clone(), connection.clone());
        async move { handle(&ingestor, name, &connection, event.payload).await }
    }))
    .await
}

/// An SQS batch gives a partial batch response (only failed messages are
/// retried, and after the queue's maximum receives they reach its
/// dead-letter queue); an EventBridge event is one notification, and an
/// error makes EventBridge retry it.
pub async fn handle(
    ingestor: &Ingestor,
    provider: &str,
    connection: &str,
    payload: Value,
) -> Result<Value, crate::Error> {
    if payload.get("Records").is_some() {
        let batch: SqsEvent = serde_json::from_value(payload)?;
        let mut response = SqsBatchResponse::default();
        for record in batch.records {
            let body = Bytes::from(record.body.unwrap_or_default());
            if !take(ingestor, provider, connection, body).await {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = record.message_id.unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
        return Ok(serde_json::to_value(response)?);
    }
    let body = Bytes::from(serde_json::to_vec(&payload)?);
    if take(ingestor, provider, connection, body).await {
        Ok(Value::Null)
    } else {
        Err(format!("{provider} notification not recorded").into())
    }
}

/// True when the notification is recorded (or was already).
async fn take(ingestor: &Ingestor, provider: &str, connection: &str, body: Bytes) -> bool {
    let request = WebhookRequest { method: "POST".into(), url: String::new(), headers: http::HeaderMap::new(), body };
    let response: IngestResponse = ingestor.handle_trusted(provider, connection, request).await;
    crate::webhook::record_metrics(provider, &response.outcome);
    match response.outcome {
        IngestOutcome::Accepted { .. } | IngestOutcome::Handshake => true,
        IngestOutcome::Rejected(_) | IngestOutcome::StorageUnavailable => {
            warn!(provider, reason = ?response.outcome.metric().1, "notification not recorded");
            false
        }
    }
}
