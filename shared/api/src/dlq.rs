//! `GET /v1/dlq` and `POST /v1/dlq/redrive`: what kept failing, and putting it back.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use portage_core::maintenance::{RedriveStores, redrive_dead_letters};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::{ApiContext, views};

/// `GET /v1/dlq`: every dead letter, oldest first.
pub(crate) async fn list(State(ctx): State<Arc<ApiContext>>) -> Result<Json<Value>, ApiError> {
    let letters = ctx.queue.dead_letters().await?;
    Ok(Json(json!({ "data": letters.iter().map(views::dead_letter).collect::<Vec<_>>() })))
}

/// The redrive's body: the dead letters to move (absent: all of them).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedriveBody {
    ids: Option<Vec<String>>,
}

/// `POST /v1/dlq/redrive`: dead letters back on the queue (`{"ids": […]}` or
/// all); answers `{"redriven": N}`.
pub(crate) async fn redrive(
    State(ctx): State<Arc<ApiContext>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: RedriveBody = if body.iter().all(u8::is_ascii_whitespace) {
        RedriveBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?
    };
    let stores = RedriveStores {
        events: ctx.events.as_ref(),
        commands: Some(ctx.commands.as_ref()),
        notifications: Some(ctx.notifications.as_ref()),
    };
    let moved = redrive_dead_letters(stores, ctx.queue.as_ref(), body.ids.as_deref(), ctx.clock.now_ms()).await?;
    Ok(Json(json!({ "redriven": moved })))
}
