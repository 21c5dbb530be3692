//! `/v1/events`: the event log, paged newest first, one event whole, and an
//! operator's replay of one through sync.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use portage_core::{EventFilter, EventKey, EventPosition, EventStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::query::{ApiQuery, ListParams, connection};
use crate::{ApiContext, paging, views};

/// `GET /v1/events`: newest first, `next_cursor` while more remain.
pub(crate) async fn list(
    State(ctx): State<Arc<ApiContext>>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let status = params
        .status
        .as_deref()
        .map(str::parse::<EventStatus>)
        .transpose()
        .map_err(|e| ApiError::invalid("status", e))?;
    let limit = paging::limit(params.limit)?;
    let filter = EventFilter {
        provider: params.provider,
        connection: params.connection.map(|c| connection(Some(c))).transpose()?,
        status,
        event_id: None,
        before: paging::decode::<EventPosition>(params.cursor.as_deref())?,
        limit: Some(limit),
    };
    let records = ctx.events.list(&filter).await?;
    let next = (records.len() == limit).then(|| records.last().map(|r| paging::encode(&r.position()))).flatten();
    Ok(Json(json!({ "data": records.iter().map(views::event_summary).collect::<Vec<_>>(), "next_cursor": next })))
}

/// The one-event routes' parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct OneParams {
    connection: Option<String>,
}

/// `GET /v1/events/{provider}/{event_id}`: the event with headers and body.
pub(crate) async fn get(
    State(ctx): State<Arc<ApiContext>>,
    Path((provider, event_id)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<OneParams>,
) -> Result<Json<Value>, ApiError> {
    let key = EventKey::new(provider, connection(params.connection)?, event_id);
    let record = ctx.events.get(&key).await?.ok_or(ApiError::NotFound("event_not_found"))?;
    Ok(Json(views::event_detail(&record)))
}

/// `POST /v1/events/{provider}/{event_id}/replay`: the stored event through
/// sync again (idempotent: versioned writes), answered with what it did.
pub(crate) async fn replay(
    State(ctx): State<Arc<ApiContext>>,
    Path((provider, event_id)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<OneParams>,
) -> Result<Json<Value>, ApiError> {
    let key = EventKey::new(provider, connection(params.connection)?, event_id);
    if ctx.events.get(&key).await?.is_none() {
        return Err(ApiError::NotFound("event_not_found"));
    }
    let report = ctx.worker.process(&key, 1, true).await;
    Ok(Json(serde_json::to_value(&report).unwrap_or(Value::Null)))
}
