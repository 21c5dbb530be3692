//! The queue port on SQS, as template.yaml declares it: a standard queue for
//! events and notifications and, beside it, a FIFO queue for commands whose
//! message group is the command's resource (so commands on one resource run
//! in submission order, and other resources are not held up). Each has a
//! dead-letter queue its redrive policy moves a message to after the maximum
//! receive count.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;

use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry};
use portage_core::ports::Queue;
use portage_core::{DeadLetter, Delivery, StoreError, Task};
use serde::{Deserialize, Serialize};

use crate::backend;

mod letters;

/// SQS's largest batch for send, receive and delete.
const SQS_BATCH: usize = 10;
/// How long dead letters stay hidden while an operator command reads them.
const INSPECT_VISIBILITY_SECS: i32 = 30;

/// One queue and its dead-letter queue. A FIFO queue's URL ends in `.fifo`.
#[derive(Clone)]
struct Lane {
    url: String,
    dead_letter_url: String,
}

impl Lane {
    fn fifo(&self) -> bool {
        self.url.ends_with(".fifo")
    }
}

/// The queues: events (and notifications), and commands when deployed apart.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    events: Lane,
    commands: Option<Lane>,
}

/// A receipt carries the body too, so that dead-lettering (a copy to the
/// dead-letter queue, then a delete) needs nothing but the receipt, and
/// which queue it came from.
#[derive(Serialize, Deserialize)]
struct Receipt {
    handle: String,
    body: String,
    #[serde(default)]
    commands: bool,
}

/// SQS's longest message delay.
const MAX_DELAY: Duration = Duration::from_secs(900);
/// The message attribute that holds a longer delay's end (Unix ms): a
/// message received before it is sent on again, in hops of at most
/// [`MAX_DELAY`], so a ten-hour retry waits ten hours.
pub const NOT_BEFORE_ATTRIBUTE: &str = "not_before_ms";

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// A FIFO deduplication id (or group) no other send has: every send is a
/// new message, and duplicates are the stores' to settle.
fn fresh_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn not_before(until_ms: i64) -> Result<MessageAttributeValue, StoreError> {
    MessageAttributeValue::builder().data_type("Number").string_value(until_ms.to_string()).build().map_err(backend)
}

/// A new message's entry; on a FIFO queue in `group` (delays are the
/// queue's there, not the message's).
fn entry(
    i: usize,
    body: String,
    fifo: bool,
    group: &str,
    delay: Duration,
) -> Result<SendMessageBatchRequestEntry, StoreError> {
    let entry = SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(body);
    let entry = if fifo {
        entry.message_group_id(group).message_deduplication_id(fresh_id())
    } else if delay > MAX_DELAY {
        let until = now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
        let attribute = MessageAttributeValue::builder()
            .data_type("Number")
            .string_value(until.to_string())
            .build()
            .map_err(backend)?;
        entry.delay_seconds(secs(MAX_DELAY)).message_attributes(NOT_BEFORE_ATTRIBUTE, attribute)
    } else {
        entry.delay_seconds(secs(delay))
    };
    entry.build().map_err(backend)
}

/// A FIFO message group for a task: its resource, else its own (a command
/// on nothing in particular waits for no other).
fn group_of(task: &Task) -> String {
    match task {
        Task::Command { id, group } => group.clone().unwrap_or_else(|| id.clone()),
        other => other.encode(),
    }
}

impl SqsQueue {
    /// The adapter over the events queue and its dead-letter queue, with a
    /// client built once at start-up.
    pub fn new(client: Client, queue_url: impl Into<String>, dead_letter_url: impl Into<String>) -> Self {
        let events = Lane { url: queue_url.into(), dead_letter_url: dead_letter_url.into() };
        Self { client, events, commands: None }
    }

    /// Sends command tasks to their own (FIFO) queue and dead-letter queue.
    pub fn with_command_queue(mut self, queue_url: impl Into<String>, dead_letter_url: impl Into<String>) -> Self {
        self.commands = Some(Lane { url: queue_url.into(), dead_letter_url: dead_letter_url.into() });
        self
    }

    /// The receipt for a message received here or handed over by Lambda's
    /// SQS event source (receipt handle and body), from the events queue.
    pub fn receipt(handle: &str, body: &str) -> String {
        Self::receipt_of(handle, body, false)
    }

    /// As [`SqsQueue::receipt`], for a message of the queue whose ARN is
    /// `source_arn` (the Lambda record's `eventSourceARN`).
    pub fn receipt_from(&self, handle: &str, body: &str, source_arn: &str) -> String {
        let commands = self.commands.as_ref().is_some_and(|lane| {
            lane.url.rsplit('/').next().is_some_and(|name| source_arn.rsplit(':').next() == Some(name))
        });
        Self::receipt_of(handle, body, commands)
    }

    fn receipt_of(handle: &str, body: &str, commands: bool) -> String {
        let receipt = Receipt { handle: handle.to_owned(), body: body.to_owned(), commands };
        serde_json::to_string(&receipt).unwrap_or_default()
    }

    fn lanes(&self) -> impl Iterator<Item = (&Lane, bool)> {
        std::iter::once((&self.events, false)).chain(self.commands.iter().map(|lane| (lane, true)))
    }

    fn lane_for(&self, task: &Task) -> (&Lane, bool) {
        match (task, &self.commands) {
            (Task::Command { .. }, Some(lane)) => (lane, true),
            _ => (&self.events, false),
        }
    }

    fn lane_of(&self, receipt: &Receipt) -> &Lane {
        match (&self.commands, receipt.commands) {
            (Some(lane), true) => lane,
            _ => &self.events,
        }
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

    /// SQS delays a message by 15 minutes at most; a longer delay is made
    /// of hops (see [`NOT_BEFORE_ATTRIBUTE`]). The FIFO commands queue delays
    /// by its own setting only.
    async fn send_delayed(&self, tasks: &[Task], delay: Duration) -> Result<(), StoreError> {
        for (lane, commands) in self.lanes() {
            let tasks: Vec<&Task> = tasks.iter().filter(|task| self.lane_for(task).1 == commands).collect();
            for chunk in tasks.chunks(SQS_BATCH) {
                let mut batch = self.client.send_message_batch().queue_url(&lane.url);
                for (i, task) in chunk.iter().enumerate() {
                    batch = batch.entries(entry(i, task.encode(), lane.fifo(), &group_of(task), delay)?);
                }
                let sent = batch.send().await.map_err(backend)?;
                if let Some(failed) = sent.failed.first() {
                    return Err(StoreError::Backend(format!("SQS refused a message: {}", failed.code)));
                }
            }
        }
        Ok(())
    }

    /// Reads the events queue, then the commands queue for what room is left.
    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, StoreError> {
        let mut deliveries = Vec::new();
        for (lane, commands) in self.lanes() {
            let room = max.clamp(1, SQS_BATCH).saturating_sub(deliveries.len());
            if room > 0 {
                self.receive_lane(lane, commands, room, visibility, &mut deliveries).await?;
            }
        }
        Ok(deliveries)
    }

    async fn ack(&self, receipt: &str) -> Result<(), StoreError> {
        let receipt = parse_receipt(receipt)?;
        self.client
            .delete_message()
            .queue_url(&self.lane_of(&receipt).url)
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
            .queue_url(&self.lane_of(&receipt).url)
            .receipt_handle(receipt.handle)
            .visibility_timeout(secs(delay))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn dead_letter(&self, receipt: &str, reason: &str) -> Result<(), StoreError> {
        let parsed = parse_receipt(receipt)?;
        let lane = self.lane_of(&parsed);
        let reason_attribute =
            MessageAttributeValue::builder().data_type("String").string_value(reason).build().map_err(backend)?;
        let mut send = self
            .client
            .send_message()
            .queue_url(&lane.dead_letter_url)
            .message_body(&parsed.body)
            .message_attributes("reason", reason_attribute);
        if lane.fifo() {
            // Each letter its own group, so an inspection reads them all at once.
            let unique = fresh_id();
            send = send.message_group_id(&unique).message_deduplication_id(&unique);
        }
        send.send().await.map_err(backend)?;
        self.ack(receipt).await
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let mut letters = Vec::new();
        for (lane, _) in self.lanes() {
            letters.extend(self.lane_dead_letters(lane).await?);
        }
        letters.sort_by_key(|d| d.dead_at_ms);
        Ok(letters)
    }

    async fn redrive(&self, ids: Option<&[String]>) -> Result<usize, StoreError> {
        let mut moved = 0;
        for (lane, _) in self.lanes() {
            moved += self.redrive_lane(lane, ids).await?;
        }
        Ok(moved)
    }
}

impl SqsQueue {
    async fn receive_lane(
        &self,
        lane: &Lane,
        commands: bool,
        max: usize,
        visibility: Duration,
        deliveries: &mut Vec<Delivery>,
    ) -> Result<(), StoreError> {
        let got = self
            .client
            .receive_message()
            .queue_url(&lane.url)
            .max_number_of_messages(max.clamp(1, SQS_BATCH) as i32)
            .visibility_timeout(secs(visibility))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names(NOT_BEFORE_ATTRIBUTE)
            .send()
            .await
            .map_err(backend)?;
        for m in got.messages.unwrap_or_default() {
            let body = m.body.clone().unwrap_or_default();
            let count = attribute_number(&m, MessageSystemAttributeName::ApproximateReceiveCount).unwrap_or(1);
            let receipt = Self::receipt_of(m.receipt_handle.as_deref().unwrap_or_default(), &body, commands);
            let not_before = m
                .message_attributes
                .as_ref()
                .and_then(|a| a.get(NOT_BEFORE_ATTRIBUTE))
                .and_then(|v| v.string_value.as_deref()?.parse().ok());
            if self.wait_on(&receipt, not_before).await? {
                continue;
            }
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
        Ok(())
    }

    /// Sends a message received before its delay's end on for the next
    /// hop, then deletes it; true when it did (the caller skips it).
    pub async fn wait_on(&self, receipt: &str, not_before_ms: Option<i64>) -> Result<bool, StoreError> {
        let remaining = not_before_ms.map_or(0, |until| until.saturating_sub(now_ms()));
        if remaining <= 0 {
            return Ok(false);
        }
        let parsed = parse_receipt(receipt)?;
        let hop = Duration::from_millis(u64::try_from(remaining).unwrap_or(0));
        let mut send = self.client.send_message().queue_url(&self.lane_of(&parsed).url).message_body(&parsed.body);
        send = if hop > MAX_DELAY {
            let until = not_before(not_before_ms.unwrap_or_default())?;
            send.delay_seconds(secs(MAX_DELAY)).message_attributes(NOT_BEFORE_ATTRIBUTE, until)
        } else {
            send.delay_seconds(secs(hop))
        };
        send.send().await.map_err(backend)?;
        self.ack(receipt).await?;
        Ok(true)
    }
}
