//! The queue port on SQS: an events queue whose redrive policy moves a message
//! to the dead-letter queue after the maximum receive count, as template.yaml
//! declares.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry};
use portage_core::ports::Queue;
use portage_core::{DeadLetter, Delivery, StoreError, Task};
use serde::{Deserialize, Serialize};

use crate::backend;

/// SQS's largest batch for send, receive and delete.
const SQS_BATCH: usize = 10;
/// How long dead letters stay hidden while an operator command reads them.
const INSPECT_VISIBILITY_SECS: i32 = 30;

/// The events queue and its dead-letter queue.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
    dead_letter_url: String,
}

/// A receipt carries the body too, so that dead-lettering (a copy to the
/// dead-letter queue, then a delete) needs nothing but the receipt.
#[derive(Serialize, Deserialize)]
struct Receipt {
    handle: String,
    body: String,
}

impl SqsQueue {
    /// The adapter over the two queues, with a client built once at start-up.
    pub fn new(client: Client, queue_url: impl Into<String>, dead_letter_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into(), dead_letter_url: dead_letter_url.into() }
    }

    /// The receipt for a message received here or handed over by Lambda's
    /// SQS event source (receipt handle and body).
    pub fn receipt(handle: &str, body: &str) -> String {
        serde_json::to_string(&Receipt { handle: handle.to_owned(), body: body.to_owned() }).unwrap_or_default()
    }

    /// Reads every dead letter, hiding each for a short while so repeated
    /// receives return distinct messages. Returns (message, receipt handle).
    async fn read_dead_letters(&self) -> Result<Vec<aws_sdk_sqs::types::Message>, StoreError> {
        let mut all: Vec<aws_sdk_sqs::types::Message> = Vec::new();
        loop {
            let got = self
                .client
                .receive_message()
                .queue_url(&self.dead_letter_url)
                .max_number_of_messages(SQS_BATCH as i32)
                .visibility_timeout(INSPECT_VISIBILITY_SECS)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .map_err(backend)?;
            let messages = got.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(all);
            }
            all.extend(messages);
        }
    }

    /// Makes dead letters an operator command looked at visible again.
    async fn release(&self, handles: &[String]) -> Result<(), StoreError> {
        for handle in handles {
            self.client
                .change_message_visibility()
                .queue_url(&self.dead_letter_url)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await
                .map_err(backend)?;
        }
        Ok(())
    }
}

fn parse_receipt(receipt: &str) -> Result<Receipt, StoreError> {
    serde_json::from_str(receipt).map_err(|_| StoreError::Invalid("malformed receipt".into()))
}

fn attribute_number(message: &aws_sdk_sqs::types::Message, name: MessageSystemAttributeName) -> Option<i64> {
    message.attributes.as_ref()?.get(&name)?.parse().ok()
}

fn secs(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX).min(43_200)
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, tasks: &[Task]) -> Result<(), StoreError> {
        self.send_delayed(tasks, Duration::ZERO).await
    }

    /// SQS delays a message by 15 minutes at most; a longer delay is cut to that.
    async fn send_delayed(&self, tasks: &[Task], delay: Duration) -> Result<(), StoreError> {
        let delay = i32::try_from(delay.as_secs().min(900)).unwrap_or(900);
        for chunk in tasks.chunks(SQS_BATCH) {
            let mut batch = self.client.send_message_batch().queue_url(&self.queue_url);
            for (i, task) in chunk.iter().enumerate() {
                let body = task.encode();
                let entry = SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .delay_seconds(delay)
                    .build()
                    .map_err(backend)?;
                batch = batch.entries(entry);
            }
            let sent = batch.send().await.map_err(backend)?;
            if let Some(failed) = sent.failed.first() {
                return Err(StoreError::Backend(format!("SQS refused a message: {}", failed.code)));
            }
        }
        Ok(())
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, StoreError> {
        let got = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.clamp(1, SQS_BATCH) as i32)
            .visibility_timeout(secs(visibility))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(backend)?;
        let mut deliveries = Vec::new();
        for m in got.messages.unwrap_or_default() {
            let body = m.body.clone().unwrap_or_default();
            let count = attribute_number(&m, MessageSystemAttributeName::ApproximateReceiveCount).unwrap_or(1);
            let receipt = Self::receipt(m.receipt_handle.as_deref().unwrap_or_default(), &body);
            match Task::decode(&body) {
                Ok(task) => {
                    deliveries.push(Delivery { receipt, task, receive_count: u32::try_from(count).unwrap_or(u32::MAX) })
                }
                // Not a task this build reads: parked where an operator sees
                // it, rather than failing every receive.
                Err(error) => {
                    tracing::warn!(%error, "queue message dead-lettered");
                    self.dead_letter(&receipt, "malformed_message").await?;
                }
            }
        }
        Ok(deliveries)
    }

    async fn ack(&self, receipt: &str) -> Result<(), StoreError> {
        let receipt = parse_receipt(receipt)?;
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt.handle)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn retry_later(&self, receipt: &str, delay: Duration) -> Result<(), StoreError> {
        let receipt = parse_receipt(receipt)?;
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt.handle)
            .visibility_timeout(secs(delay))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn dead_letter(&self, receipt: &str, reason: &str) -> Result<(), StoreError> {
        let receipt = parse_receipt(receipt)?;
        let reason_attribute =
            MessageAttributeValue::builder().data_type("String").string_value(reason).build().map_err(backend)?;
        self.client
            .send_message()
            .queue_url(&self.dead_letter_url)
            .message_body(&receipt.body)
            .message_attributes("reason", reason_attribute)
            .send()
            .await
            .map_err(backend)?;
        self.ack(&Self::receipt(&receipt.handle, &receipt.body)).await
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let messages = self.read_dead_letters().await?;
        let handles: Vec<String> = messages.iter().filter_map(|m| m.receipt_handle.clone()).collect();
        let mut letters = messages
            .iter()
            .map(|m| {
                let reason = m
                    .message_attributes
                    .as_ref()
                    .and_then(|a| a.get("reason"))
                    .and_then(|v| v.string_value.clone())
                    .unwrap_or_else(|| "max_receives_exceeded".to_owned());
                let receives = attribute_number(m, MessageSystemAttributeName::ApproximateReceiveCount).unwrap_or(0);
                DeadLetter {
                    id: m.message_id.clone().unwrap_or_default(),
                    message: Task::decode(m.body.as_deref().unwrap_or_default()).ok(),
                    // Our own reads of the dead-letter queue count as receives: leave them out.
                    receive_count: u32::try_from(receives.saturating_sub(1)).unwrap_or(0),
                    reason,
                    dead_at_ms: attribute_number(m, MessageSystemAttributeName::SentTimestamp).unwrap_or(0),
                }
            })
            .collect::<Vec<_>>();
        self.release(&handles).await?;
        letters.sort_by_key(|d| d.dead_at_ms);
        Ok(letters)
    }

    async fn redrive(&self, ids: Option<&[String]>) -> Result<usize, StoreError> {
        let messages = self.read_dead_letters().await?;
        let mut moved = 0;
        let mut keep = Vec::new();
        for m in messages {
            let id = m.message_id.clone().unwrap_or_default();
            let handle = m.receipt_handle.clone().unwrap_or_default();
            if ids.is_some_and(|ids| !ids.contains(&id)) {
                keep.push(handle);
                continue;
            }
            self.client
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(m.body.unwrap_or_default())
                .send()
                .await
                .map_err(backend)?;
            self.client
                .delete_message()
                .queue_url(&self.dead_letter_url)
                .receipt_handle(handle)
                .send()
                .await
                .map_err(backend)?;
            moved += 1;
        }
        self.release(&keep).await?;
        Ok(moved)
    }
}
