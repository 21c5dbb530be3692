//! Connect sessions and the registry of connections on the DynamoDB table:
//! a session under `CONNECT#{id}` and, once started, its state's digest
//! under `CONNECTSTATE#{digest}` (written in one transaction with the move
//! to `started`), both expiring by TTL a day after the session; connection
//! records under `CONNECTIONS`, one sort key per `{provider}#{connection}`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use portage_core::connect::{ConnectSession, ConnectStore, ConnectionRecord, ConnectionStatus, SessionStatus};
use portage_core::{Secret, StoreError};

use crate::item::{Item, get_n, get_s, n, opt_s, s};
use crate::{DynamoTable, backend, made};

const SESSION_SK: &str = "SESSION";
const STATE_SK: &str = "STATE";
const CONNECTIONS_PK: &str = "CONNECTIONS";
/// Sessions and states are kept this long past their expiry (TTL), so a late
/// callback gets a clear answer.
const KEEP_EXPIRED_SECS: i64 = 24 * 60 * 60;

fn session_pk(id: &str) -> String {
    format!("CONNECT#{id}")
}

fn state_pk(digest: &str) -> String {
    format!("CONNECTSTATE#{digest}")
}

fn ttl(session_expires_at_ms: i64) -> aws_sdk_dynamodb::types::AttributeValue {
    n(session_expires_at_ms / 1000 + KEEP_EXPIRED_SECS)
}

fn session_from_item(item: &Item) -> Result<ConnectSession, StoreError> {
    let status = get_s(item, "status")?;
    Ok(ConnectSession {
        id: get_s(item, "id")?,
        provider: get_s(item, "provider")?,
        connection: get_s(item, "connection")?,
        return_url: get_s(item, "return_url")?,
        shop: opt_s(item, "shop"),
        region: opt_s(item, "region"),
        scopes: opt_s(item, "scopes")
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        status: SessionStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("session status {status}")))?,
        state_digest: opt_s(item, "state_digest"),
        verifier: opt_s(item, "verifier").map(Secret::new),
        created_at_ms: get_n(item, "created_at_ms")?,
        expires_at_ms: get_n(item, "expires_at_ms")?,
    })
}

fn record_from_item(item: &Item) -> Result<ConnectionRecord, StoreError> {
    serde_json::from_str(&get_s(item, "record")?).map_err(|e| StoreError::Corrupt(format!("connection record: {e}")))
}

impl DynamoTable {
    /// The write of a connection's record (its status beside it, for conditions).
    fn put_record(
        &self,
        record: &ConnectionRecord,
    ) -> Result<aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder, StoreError> {
        let text = serde_json::to_string(record).map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(CONNECTIONS_PK))
            .item("sk", s(format!("{}#{}", record.provider, record.connection)))
            .item("record", s(text))
            .item("status", s(record.status.to_string())))
    }
}

#[async_trait]
impl ConnectStore for DynamoTable {
    async fn create_session(&self, session: &ConnectSession) -> Result<(), StoreError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(session_pk(&session.id)))
            .item("sk", s(SESSION_SK))
            .item("id", s(&session.id))
            .item("provider", s(&session.provider))
            .item("connection", s(&session.connection))
            .item("return_url", s(&session.return_url))
            .item("scopes", s(session.scopes.join(" ")))
            .item("status", s(session.status.as_str()))
            .item("created_at_ms", n(session.created_at_ms))
            .item("expires_at_ms", n(session.expires_at_ms))
            .item("expires_at", ttl(session.expires_at_ms))
            .condition_expression("attribute_not_exists(pk)");
        for (name, value) in [("shop", &session.shop), ("region", &session.region)] {
            if let Some(value) = value {
                put = put.item(name, s(value));
            }
        }
        put.send().await.map_err(backend)?;
        Ok(())
    }

    async fn session(&self, id: &str) -> Result<Option<ConnectSession>, StoreError> {
        self.item(session_pk(id), SESSION_SK).await?.as_ref().map(session_from_item).transpose()
    }

    async fn start_session(
        &self,
        id: &str,
        state_digest: &str,
        verifier: Option<&Secret>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let Some(session) = self.session(id).await? else { return Ok(false) };
        let mut update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(session_pk(id)))
            .key("sk", s(SESSION_SK))
            .condition_expression("#status = :open AND expires_at_ms > :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":open", s(SessionStatus::Open.as_str()))
            .expression_attribute_values(":started", s(SessionStatus::Started.as_str()))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":digest", s(state_digest));
        update = match verifier {
            Some(verifier) => update
                .update_expression("SET #status = :started, state_digest = :digest, verifier = :verifier")
                .expression_attribute_values(":verifier", s(verifier.expose())),
            None => update.update_expression("SET #status = :started, state_digest = :digest"),
        };
        let state = Put::builder()
            .table_name(&self.table)
            .item("pk", s(state_pk(state_digest)))
            .item("sk", s(STATE_SK))
            .item("session", s(id))
            .item("expires_at", ttl(session.expires_at_ms))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(backend)?;
        let written = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update.build().map_err(backend)?).build())
            .transact_items(TransactWriteItem::builder().put(state).build())
            .send()
            .await;
        made(written)
    }

    async fn session_for_state(&self, state_digest: &str) -> Result<Option<ConnectSession>, StoreError> {
        let Some(state) = self.item(state_pk(state_digest), STATE_SK).await? else { return Ok(None) };
        let session = self.session(&get_s(&state, "session")?).await?;
        Ok(session.filter(|s| s.state_digest.as_deref() == Some(state_digest)))
    }

    async fn finish_session(&self, id: &str) -> Result<bool, StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(session_pk(id)))
            .key("sk", s(SESSION_SK))
            .update_expression("SET #status = :finished REMOVE verifier")
            .condition_expression("#status = :started")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":started", s(SessionStatus::Started.as_str()))
            .expression_attribute_values(":finished", s(SessionStatus::Finished.as_str()))
            .send()
            .await;
        made(updated)
    }

    async fn put_connection(&self, record: &ConnectionRecord) -> Result<(), StoreError> {
        self.put_record(record)?.send().await.map_err(backend)?;
        Ok(())
    }

    async fn move_connection(&self, record: &ConnectionRecord, from: ConnectionStatus) -> Result<bool, StoreError> {
        let written = self
            .put_record(record)?
            .condition_expression("#status = :from")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":from", s(from.to_string()))
            .send()
            .await;
        made(written)
    }

    async fn connection(&self, provider: &str, connection: &str) -> Result<Option<ConnectionRecord>, StoreError> {
        let item = self.item(CONNECTIONS_PK.to_owned(), &format!("{provider}#{connection}")).await?;
        item.as_ref().map(record_from_item).transpose()
    }

    async fn connections(&self, provider: Option<&str>) -> Result<Vec<ConnectionRecord>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(CONNECTIONS_PK))
            .consistent_read(true);
        query = match provider {
            Some(provider) => query
                .key_condition_expression("pk = :pk AND begins_with(sk, :provider)")
                .expression_attribute_values(":provider", s(format!("{provider}#"))),
            None => query.key_condition_expression("pk = :pk"),
        };
        let mut pages = query.into_paginator().items().send();
        let mut records = Vec::new();
        while let Some(item) = pages.next().await {
            records.push(record_from_item(&item.map_err(backend)?)?);
        }
        Ok(records)
    }
}
