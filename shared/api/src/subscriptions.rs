//! `/v1/subscriptions` (admin): where the app is told, and what about.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use portage_core::notifications::{Subscription, is_valid_pattern};
use portage_providers::notify::refused_target;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::{ApiContext, views};

/// `POST /v1/subscriptions`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewSubscription {
    url: String,
    types: Vec<String>,
    description: Option<String>,
    #[serde(default)]
    allow_private: bool,
}

fn view(subscription: &Subscription) -> Value {
    json!({
        "id": subscription.id,
        "url": subscription.url,
        "types": subscription.types,
        "description": subscription.description,
        "allow_private": subscription.allow_private,
        "created_at": views::rfc3339_ms(subscription.created_at_ms),
    })
}

/// Checks and saves a subscription; answers it with its new secret (shown
/// this once). What `POST /v1/subscriptions` and `portage subscriptions add` share.
pub async fn add(
    ctx: &ApiContext,
    url: String,
    types: Vec<String>,
    description: Option<String>,
    allow_private: bool,
) -> Result<Value, ApiError> {
    if let Some(reason) = refused_target(&url, allow_private) {
        return Err(ApiError::Unacceptable { code: "invalid_url", message: reason });
    }
    let bad: Vec<&String> = types.iter().filter(|t| !is_valid_pattern(t)).collect();
    if types.is_empty() || !bad.is_empty() {
        let message = format!(
            "types are command.succeeded, command.failed, command.unknown, state.changed, event.failed, or a prefix with *; not {bad:?}"
        );
        return Err(ApiError::Unacceptable { code: "invalid_types", message });
    }
    let now = ctx.clock.now_ms();
    let secret = portage_providers::standardwebhooks::generate_secret();
    let subscription = Subscription {
        id: format!("sub_{now:012x}{:016x}", rand::random::<u64>()),
        url,
        types,
        description,
        secret: Some(secret.clone()),
        allow_private,
        created_at_ms: now,
    };
    ctx.notifications.add_subscription(&subscription).await?;
    let mut shown = view(&subscription);
    shown["secret"] = json!(secret.expose());
    Ok(shown)
}

/// `POST /v1/subscriptions` → 201 with the secret.
pub(crate) async fn create(State(ctx): State<Arc<ApiContext>>, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let new: NewSubscription = serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
    let shown = add(&ctx, new.url, new.types, new.description, new.allow_private).await?;
    Ok((StatusCode::CREATED, Json(shown)).into_response())
}

/// `GET /v1/subscriptions`: every subscription, without its secret.
pub(crate) async fn list(State(ctx): State<Arc<ApiContext>>) -> Result<Json<Value>, ApiError> {
    let all = ctx.notifications.subscriptions().await?;
    Ok(Json(Value::Array(all.iter().map(view).collect())))
}

/// `DELETE /v1/subscriptions/{id}` → 204, or 404 `subscription_not_found`.
pub(crate) async fn remove(State(ctx): State<Arc<ApiContext>>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    if ctx.notifications.remove_subscription(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("subscription_not_found"))
    }
}
