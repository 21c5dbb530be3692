//! Who is calling: every `/v1` request carries `Authorization: Bearer KEY`,
//! checked here once; each route then names the scope it needs.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use portage_core::api_keys::{ApiKeyRecord, LAST_USED_RESOLUTION_MS, Scope};
use tracing::warn;

use crate::ApiContext;
use crate::error::ApiError;
use crate::keys::hash_key;

/// The key a request was authenticated with, for the routes after it.
#[derive(Debug, Clone)]
pub struct Caller(pub ApiKeyRecord);

fn bearer(request: &Request) -> Option<&str> {
    let value = request.headers().get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Middleware over every `/v1` route (and the fallback): 401 without a
/// known key; otherwise the key travels on as a [`Caller`].
pub(crate) async fn authenticate(State(ctx): State<Arc<ApiContext>>, mut request: Request, next: Next) -> Response {
    let Some(token) = bearer(&request) else { return ApiError::Unauthorized.into_response() };
    let key = match ctx.keys.find(&hash_key(token)).await {
        Ok(Some(key)) => key,
        Ok(None) => return ApiError::Unauthorized.into_response(),
        Err(error) => return ApiError::Store(error).into_response(),
    };
    let now = ctx.clock.now_ms();
    if key.last_used_at_ms.is_none_or(|at| now - at >= LAST_USED_RESOLUTION_MS) {
        // Bookkeeping only: a failure here never fails the call.
        if let Err(error) = ctx.keys.touch(&key, now).await {
            warn!(%error, key = %key.name, "could not record the key's use");
        }
    }
    request.extensions_mut().insert(Caller(key));
    next.run(request).await
}

/// Middleware for one route: 403 unless the caller's key grants `scope`.
pub(crate) async fn require(scope: Scope, request: Request, next: Next) -> Response {
    match request.extensions().get::<Caller>() {
        Some(Caller(key)) if key.grants(scope) => next.run(request).await,
        Some(_) => ApiError::Forbidden(scope).into_response(),
        None => ApiError::Unauthorized.into_response(),
    }
}
