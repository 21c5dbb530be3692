//! `GET /v1/state/{provider}/{kind}` and `GET /v1/state/{provider}/{kind}/{id}`:
//! the records sync and reconcile keep, one connection at a time.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use portage_core::ports::StateQuery;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::query::{ApiQuery, connection, time_ms};
use crate::{ApiContext, paging, views};

/// The listing's parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    connection: Option<String>,
    updated_since: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /v1/state/{provider}/{kind}`: records by id, `next_cursor` while more remain.
pub(crate) async fn list(
    State(ctx): State<Arc<ApiContext>>,
    Path((provider, kind)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Value>, ApiError> {
    ctx.known_provider(&provider)?;
    let mut query = StateQuery::new(&provider, &connection(params.connection)?, &kind, paging::limit(params.limit)?);
    query.after_id = paging::decode(params.cursor.as_deref())?;
    query.updated_since_ms = params.updated_since.as_deref().map(|t| time_ms("updated_since", t)).transpose()?;
    let records = ctx.state.page(&query).await?;
    let next = (records.len() == query.limit).then(|| records.last().map(|r| paging::encode(&r.id))).flatten();
    Ok(Json(json!({ "data": records.iter().map(views::state_record).collect::<Vec<_>>(), "next_cursor": next })))
}

/// The one-record route's parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct GetParams {
    connection: Option<String>,
}

/// `GET /v1/state/{provider}/{kind}/{id}`: one record, or 404 `not_found`.
pub(crate) async fn get(
    State(ctx): State<Arc<ApiContext>>,
    Path((provider, kind, id)): Path<(String, String, String)>,
    ApiQuery(params): ApiQuery<GetParams>,
) -> Result<Json<Value>, ApiError> {
    ctx.known_provider(&provider)?;
    let connection = connection(params.connection)?;
    let record = ctx.state.get(&provider, &connection, &kind, &id).await?.ok_or(ApiError::NotFound("not_found"))?;
    Ok(Json(views::state_record(&record)))
}
