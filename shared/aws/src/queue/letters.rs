//! Dead letters of the SQS queues: read for inspection (hidden a moment,
//! then released) and redriven to the queue they came from.

use aws_sdk_sqs::types::MessageSystemAttributeName;
use portage_core::{DeadLetter, StoreError, Task};

use super::{INSPECT_VISIBILITY_SECS, Lane, SQS_BATCH, SqsQueue, attribute_number, fresh_id, group_of};
use crate::backend;

impl SqsQueue {
    /// Reads every dead letter of a lane, hiding each for a short while so
    /// repeated receives return distinct messages.
    async fn read_dead_letters(&self, lane: &Lane) -> Result<Vec<aws_sdk_sqs::types::Message>, StoreError> {
        let mut all: Vec<aws_sdk_sqs::types::Message> = Vec::new();
        loop {
            let got = self
                .client
                .receive_message()
                .queue_url(&lane.dead_letter_url)
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
    async fn release(&self, lane: &Lane, handles: &[String]) -> Result<(), StoreError> {
        for handle in handles {
            self.client
                .change_message_visibility()
                .queue_url(&lane.dead_letter_url)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    pub(super) async fn lane_dead_letters(&self, lane: &Lane) -> Result<Vec<DeadLetter>, StoreError> {
        let messages = self.read_dead_letters(lane).await?;
        let handles: Vec<String> = messages.iter().filter_map(|m| m.receipt_handle.clone()).collect();
        let letters = messages
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
            .collect();
        self.release(lane, &handles).await?;
        Ok(letters)
    }

    pub(super) async fn redrive_lane(&self, lane: &Lane, ids: Option<&[String]>) -> Result<usize, StoreError> {
        let messages = self.read_dead_letters(lane).await?;
        let mut moved = 0;
        let mut keep = Vec::new();
        for m in messages {
            let id = m.message_id.clone().unwrap_or_default();
            let handle = m.receipt_handle.clone().unwrap_or_default();
            if ids.is_some_and(|ids| !ids.contains(&id)) {
                keep.push(handle);
                continue;
            }
            let body = m.body.unwrap_or_default();
            let mut send = self.client.send_message().queue_url(&lane.url).message_body(&body);
            if lane.fifo() {
                let group = Task::decode(&body).map(|task| group_of(&task)).unwrap_or_else(|_| id.clone());
                send = send.message_group_id(group).message_deduplication_id(fresh_id());
            }
            send.send().await.map_err(backend)?;
            self.client
                .delete_message()
                .queue_url(&lane.dead_letter_url)
                .receipt_handle(handle)
                .send()
                .await
                .map_err(backend)?;
            moved += 1;
        }
        self.release(lane, &keep).await?;
        Ok(moved)
    }
}
