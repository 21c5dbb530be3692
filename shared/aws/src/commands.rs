//! The command store on DynamoDB. A command is one item under
//! `COMMAND#{id}` (status, lease, input and result; in the status index as
//! `COMMANDS#{status}#{shard}`, sorted by creation), and its idempotency key
//! one item under `CMDKEY#{provider}#{connection}#{key}` naming it. Both are
//! written in one transaction conditional on the key being new, so a
//! repeated request finds the same command. Every transition is one update
//! conditional on the status it was read in; a multi-step command's journal
//! is the item's `steps` list, appended to while it runs.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use portage_core::StoreError;
use portage_core::commands::{
    BeginOutcome, CommandFilter, CommandOutcome, CommandRecord, CommandStatus, CommandStep, CommandStore, NewCommand,
    SubmitOutcome,
};

use crate::index::{IndexFilter, IndexRead, StatusMove, shard_of};
use crate::item::{Item, get_n, get_s, n, opt_n, opt_s, s};
use crate::{DynamoTable, backend, is_conditional_failure};

const ALL_STATUSES: [CommandStatus; 5] = [
    CommandStatus::Queued,
    CommandStatus::Running,
    CommandStatus::Succeeded,
    CommandStatus::Failed,
    CommandStatus::Unknown,
];

/// How often `begin` re-reads a command that changed under it.
const BEGIN_TRIES: usize = 5;

fn command_pk(id: &str) -> String {
    format!("COMMAND#{id}")
}

/// Provider and connection names hold no `#`; only the key (last) may.
fn key_pk(provider: &str, connection: &str, key: &str) -> String {
    format!("CMDKEY#{provider}#{connection}#{key}")
}

fn partition(status: CommandStatus) -> String {
    format!("COMMANDS#{status}")
}

fn status_pk(status: CommandStatus, id: &str) -> String {
    format!("{}#{}", partition(status), shard_of(&[id]))
}

/// The index's sort key: creation time, then the id (the listing's position).
fn sort_key(created_at_ms: i64, id: &str) -> String {
    format!("{created_at_ms:015}#{id}")
}

fn json<T: serde::Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_json::to_string(value).map(s).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> Result<Option<T>, StoreError> {
    opt_s(item, name)
        .map(|text| serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{name}: {e}"))))
        .transpose()
}

fn record_from_item(item: &Item) -> Result<CommandRecord, StoreError> {
    Ok(CommandRecord {
        id: get_s(item, "id")?,
        provider: get_s(item, "provider")?,
        connection: get_s(item, "connection")?,
        action: get_s(item, "action")?,
        idempotency_key: get_s(item, "idempotency_key")?,
        fingerprint: get_s(item, "fingerprint")?,
        resource: opt_s(item, "resource"),
        status: get_s(item, "status")?.parse().map_err(StoreError::Corrupt)?,
        attempts: u32::try_from(get_n(item, "attempts")?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        input: from_json(item, "input")?.unwrap_or(serde_json::Value::Null),
        result: from_json(item, "result")?,
        error: from_json(item, "error")?,
        created_at_ms: get_n(item, "created_at_ms")?,
        updated_at_ms: get_n(item, "updated_at_ms")?,
        lease_until_ms: opt_n(item, "lease_until_ms"),
        steps: match item.get("steps") {
            Some(AttributeValue::L(steps)) => steps
                .iter()
                .map(|step| match step {
                    AttributeValue::S(text) => {
                        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("step: {e}")))
                    }
                    _ => Err(StoreError::Corrupt("a step that is not text".into())),
                })
                .collect::<Result<_, _>>()?,
            _ => Vec::new(),
        },
    })
}

impl DynamoTable {
    async fn command_item(&self, id: &str) -> Result<Option<Item>, StoreError> {
        self.item(command_pk(id), "COMMAND").await
    }

    /// Moves a command to `to` when it is in `from` (and `condition` holds):
    /// the new item, or `None` when it was not.
    async fn move_command(
        &self,
        id: &str,
        from: CommandStatus,
        to: CommandStatus,
        set: &str,
        condition: &str,
        mut values: Vec<(&str, AttributeValue)>,
    ) -> Result<Option<Item>, StoreError> {
        values.push((":from", s(from.as_str())));
        let names = [("#result", "result"), ("#error", "error")].into_iter().filter(|(name, _)| set.contains(name));
        self.move_status(StatusMove {
            pk: command_pk(id),
            sk: "COMMAND",
            to: to.as_str(),
            to_pk: status_pk(to, id),
            set: &format!(", updated_at_ms = :now{set}"),
            condition: &format!("#status = :from{condition}"),
            names: names.collect(),
            values,
        })
        .await
    }

    async fn existing_command(&self, c: &NewCommand) -> Result<SubmitOutcome, StoreError> {
        let key = self.item(key_pk(&c.provider, &c.connection, &c.idempotency_key), "CMDKEY").await?;
        let key = key.ok_or_else(|| StoreError::Backend("the idempotency key vanished".into()))?;
        if get_s(&key, "fingerprint")? != c.fingerprint {
            return Ok(SubmitOutcome::Conflict);
        }
        let id = get_s(&key, "id")?;
        let item = self.command_item(&id).await?.ok_or_else(|| StoreError::Corrupt(format!("no command {id}")))?;
        Ok(SubmitOutcome::Existing(record_from_item(&item)?))
    }
}

#[async_trait]
impl CommandStore for DynamoTable {
    async fn submit(&self, c: &NewCommand) -> Result<SubmitOutcome, StoreError> {
        let mut command = Put::builder()
            .table_name(&self.table)
            .item("pk", s(command_pk(&c.id)))
            .item("sk", s("COMMAND"))
            .item("id", s(&c.id))
            .item("provider", s(&c.provider))
            .item("connection", s(&c.connection))
            .item("action", s(&c.action))
            .item("idempotency_key", s(&c.idempotency_key))
            .item("fingerprint", s(&c.fingerprint))
            .item("status", s(CommandStatus::Queued.as_str()))
            .item("attempts", n(0))
            .item("input", json(&c.input)?)
            .item("created_at_ms", n(c.created_at_ms))
            .item("updated_at_ms", n(c.created_at_ms))
            .item("gsi1pk", s(status_pk(CommandStatus::Queued, &c.id)))
            .item("gsi1sk", s(sort_key(c.created_at_ms, &c.id)))
            .item("expires_at", self.expires_at(c.created_at_ms))
            .condition_expression("attribute_not_exists(pk)");
        if let Some(resource) = &c.resource {
            command = command.item("resource", s(resource));
        }
        let key = Put::builder()
            .table_name(&self.table)
            .item("pk", s(key_pk(&c.provider, &c.connection, &c.idempotency_key)))
            .item("sk", s("CMDKEY"))
            .item("id", s(&c.id))
            .item("fingerprint", s(&c.fingerprint))
            .item("expires_at", self.expires_at(c.created_at_ms))
            .condition_expression("attribute_not_exists(pk)");
        let written = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(key.build().map_err(backend)?).build())
            .transact_items(TransactWriteItem::builder().put(command.build().map_err(backend)?).build())
            .send()
            .await;
        match written {
            Ok(_) => {
                let item = self.command_item(&c.id).await?;
                let item = item.ok_or_else(|| StoreError::Backend("the new command vanished".into()))?;
                Ok(SubmitOutcome::Created(record_from_item(&item)?))
            }
            Err(e) if is_conditional_failure(&e) => self.existing_command(c).await,
            Err(e) => Err(backend(e)),
        }
    }

    async fn get(&self, id: &str) -> Result<Option<CommandRecord>, StoreError> {
        self.command_item(id).await?.as_ref().map(record_from_item).transpose()
    }

    async fn list(&self, filter: &CommandFilter) -> Result<Vec<CommandRecord>, StoreError> {
        let statuses = filter.status.map_or_else(|| ALL_STATUSES.to_vec(), |status| vec![status]);
        let only = IndexFilter::default()
            .equals("provider", filter.provider.as_deref())
            .equals("connection", filter.connection.as_deref());
        let mut records = Vec::new();
        for status in statuses {
            let read = IndexRead {
                partition: &partition(status),
                before: filter.before.as_ref().map(|(created, id)| sort_key(*created, id)),
                newest_first: true,
                limit: Some(filter.limit),
            };
            for item in self.read_index(&read, &only).await? {
                records.push(record_from_item(&item)?);
            }
        }
        records.sort_by(|a, b| (b.created_at_ms, &b.id).cmp(&(a.created_at_ms, &a.id)));
        records.truncate(filter.limit);
        Ok(records)
    }

    async fn begin(&self, id: &str, now_ms: i64, until_ms: i64) -> Result<BeginOutcome, StoreError> {
        for _ in 0..BEGIN_TRIES {
            let Some(item) = self.command_item(id).await? else { return Ok(BeginOutcome::NotFound) };
            let command = record_from_item(&item)?;
            let (interrupted, condition, mut values) = match (command.status, command.lease_until_ms) {
                (CommandStatus::Queued, _) => (false, "", vec![]),
                (CommandStatus::Running, Some(lease)) if lease >= now_ms => return Ok(BeginOutcome::Busy(lease)),
                (CommandStatus::Running, Some(lease)) => {
                    (true, " AND lease_until_ms = :seen", vec![(":seen", n(lease))])
                }
                (CommandStatus::Running, None) => (true, " AND attribute_not_exists(lease_until_ms)", vec![]),
                _ => return Ok(BeginOutcome::Final(command)),
            };
            values.extend([(":one", n(1)), (":until", n(until_ms)), (":now", n(now_ms))]);
            let set = ", attempts = attempts + :one, lease_until_ms = :until";
            let from = command.status;
            if let Some(taken) = self.move_command(id, from, CommandStatus::Running, set, condition, values).await? {
                let taken = record_from_item(&taken)?;
                return Ok(if interrupted { BeginOutcome::Interrupted(taken) } else { BeginOutcome::Begun(taken) });
            }
        }
        Err(StoreError::Backend(format!("command {id} kept changing while it was being taken")))
    }

    async fn finish(&self, id: &str, outcome: &CommandOutcome, now_ms: i64) -> Result<(), StoreError> {
        let (to, result, error) = match outcome {
            CommandOutcome::Succeeded(result) => (CommandStatus::Succeeded, Some(json(result)?), None),
            CommandOutcome::Failed(error) => (CommandStatus::Failed, None, Some(json(error)?)),
            CommandOutcome::Unknown(error) => (CommandStatus::Unknown, None, Some(json(error)?)),
            CommandOutcome::Retry(error) => (CommandStatus::Queued, None, Some(json(error)?)),
        };
        let mut set = String::new();
        let mut remove = vec!["lease_until_ms"];
        let mut values = vec![(":now", n(now_ms))];
        for (name, attribute, value) in [(":result", "#result", result), (":error", "#error", error)] {
            match value {
                Some(value) => {
                    set.push_str(&format!(", {attribute} = {name}"));
                    values.push((name, value));
                }
                None => remove.push(attribute),
            }
        }
        let set = format!("{set} REMOVE {}", remove.join(", "));
        // Not running (over already, or never begun): nothing to end.
        self.move_command(id, CommandStatus::Running, to, &set, "", values).await.map(|_| ())
    }

    async fn stranded(&self, before_ms: i64, limit: usize) -> Result<Vec<CommandRecord>, StoreError> {
        let read = IndexRead {
            partition: &partition(CommandStatus::Queued),
            before: None,
            newest_first: false,
            limit: Some(limit),
        };
        let never_begun = IndexFilter::default().condition(
            "attempts = :zero AND updated_at_ms < :before",
            vec![(":zero", n(0)), (":before", n(before_ms))],
        );
        let mut found: Vec<CommandRecord> =
            self.read_index(&read, &never_begun).await?.iter().map(record_from_item).collect::<Result<_, _>>()?;
        found.sort_by_key(|c| c.updated_at_ms);
        found.truncate(limit);
        Ok(found)
    }

    async fn mark_enqueued(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        let queued = CommandStatus::Queued;
        self.move_command(id, queued, queued, "", "", vec![(":now", n(now_ms))]).await.map(|_| ())
    }

    async fn record_step(&self, id: &str, step: &CommandStep) -> Result<(), StoreError> {
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(command_pk(id)))
            .key("sk", s("COMMAND"))
            .update_expression("SET steps = list_append(if_not_exists(steps, :none), :step)")
            .condition_expression("#status = :running")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":step", AttributeValue::L(vec![json(step)?]))
            .expression_attribute_values(":running", s(CommandStatus::Running.as_str()))
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            // No longer running: its journal is closed.
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }

    async fn requeue_failed(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let (from, to) = (CommandStatus::Failed, CommandStatus::Queued);
        Ok(self.move_command(id, from, to, "", "", vec![(":now", n(now_ms))]).await?.is_some())
    }
}
