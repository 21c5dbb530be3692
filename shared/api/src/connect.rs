//! Connections: `/v1/connect/sessions` and `/v1/connections…` (with an API
//! key), and the browser's `/connect/…` routes (no key: a session's URL,
//! the providers' callbacks, WooCommerce's key delivery).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use portage_core::connect::ConnectionRecord;
use portage_providers::connect::{ConnectError, Connector, SessionRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::{ApiContext, views};

/// A connection on the wire: what it is, never a credential.
pub fn view(record: &ConnectionRecord) -> Value {
    json!({
        "provider": record.provider,
        "connection": record.connection,
        "status": record.status,
        "auth": record.auth,
        "scopes": record.scopes,
        "connected_at": views::rfc3339_ms(record.connected_at_ms),
        "expires_at": record.expires_at_ms.map(views::rfc3339_ms),
        "refresh_expires_at": record.refresh_expires_at_ms.map(views::rfc3339_ms),
        "last_refreshed_at": record.last_refreshed_at_ms.map(views::rfc3339_ms),
        "last_error": record.last_error,
    })
}

/// `POST /v1/connect/sessions`.
pub(crate) async fn create_session(
    State(ctx): State<Arc<ApiContext>>,
    body: Result<Json<SessionRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body.map_err(|e| ApiError::invalid("body", e.body_text()))?;
    let created = ctx.connector.create_session(request).await?;
    let body = json!({ "id": created.id, "url": created.url, "expires_at": views::rfc3339_ms(created.expires_at_ms) });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    provider: Option<String>,
}

/// `GET /v1/connections[?provider=]`.
pub(crate) async fn list(
    State(ctx): State<Arc<ApiContext>>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    if let Some(provider) = &query.provider {
        ctx.known_provider(provider)?;
    }
    let records = ctx.connector.store().connections(query.provider.as_deref()).await?;
    Ok(Json(Value::Array(records.iter().map(view).collect())))
}

/// `GET /v1/connections/{provider}/{connection}`.
pub(crate) async fn get_one(
    State(ctx): State<Arc<ApiContext>>,
    Path((provider, connection)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let record = ctx.connector.store().connection(&provider, &connection).await?;
    record.map(|r| Json(view(&r))).ok_or(ApiError::Connect(ConnectError::ConnectionNotFound))
}

/// `PUT /v1/connections/{provider}/{connection}`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutKeys {
    credentials: BTreeMap<String, String>,
    base_url: Option<String>,
}

/// `PUT /v1/connections/{provider}/{connection}`.
pub(crate) async fn put_keys(
    State(ctx): State<Arc<ApiContext>>,
    Path((provider, connection)): Path<(String, String)>,
    body: Result<Json<PutKeys>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::invalid("body", e.body_text()))?;
    let record = ctx.connector.put_keys(&provider, &connection, body.credentials, body.base_url).await?;
    Ok(Json(view(&record)))
}

/// `DELETE /v1/connections/{provider}/{connection}`.
pub(crate) async fn disconnect(
    State(ctx): State<Arc<ApiContext>>,
    Path((provider, connection)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&ctx.connector.disconnect(&provider, &connection).await?)))
}

fn decoded(query: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect()
}

/// A `302 Found` to `url`.
fn found(url: &str) -> Response {
    (StatusCode::FOUND, [(http::header::LOCATION, url.to_owned())]).into_response()
}

/// `GET /connect/sessions/{id}`: on to the provider.
async fn start(State(connector): State<Arc<Connector>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(found(&connector.start(&id).await?))
}

/// `GET /connect/{provider}/callback`: back to the app.
async fn callback(
    State(connector): State<Arc<Connector>>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = decoded(query);
    let to = match provider.as_str() {
        "woocommerce" => connector.wc_return(&query).await?,
        _ => connector.callback(&provider, &query).await?,
    };
    Ok(found(&to))
}

/// `POST /connect/woocommerce/callback`: the store's key delivery. Its body
/// is JSON whatever its `Content-Type` says (WooCommerce before 3 sent
/// `application/xml`).
async fn wc_keys(
    State(connector): State<Arc<Connector>>,
    Path(provider): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    if provider != "woocommerce" {
        return Err(ApiError::NotFound("not_found"));
    }
    let keys: portage_providers::connect::DeliveredKeys =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
    connector.wc_keys(keys).await?;
    Ok(Json(json!({ "received": true })))
}

/// `GET /connect/done`: where `portage connect` sends the browser at the end.
async fn done(RawQuery(query): RawQuery) -> Response {
    let query = decoded(query);
    let value = |name: &str| {
        let raw = query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default();
        // Only what a provider, connection or code can be: nothing to escape.
        raw.chars().filter(|c| c.is_ascii_alphanumeric() || "_-.".contains(*c)).take(64).collect::<String>()
    };
    let outcome = match value("status").as_str() {
        "connected" => "is connected".to_owned(),
        _ => format!("was not connected ({})", value("error")),
    };
    let page = format!(
        "<!doctype html><meta charset=utf-8><title>Portage</title><p>{}/{} {outcome}. You can close this window.</p>",
        value("provider"),
        value("connection")
    );
    ([(http::header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// The browser's routes, without an API key: the state, the session id and
/// the provider's own signature are what authenticate them.
pub fn browser_router(connector: Arc<Connector>) -> Router {
    Router::new()
        .route("/connect/sessions/{id}", get(start))
        .route("/connect/done", get(done))
        .route("/connect/{provider}/callback", get(callback).post(wc_keys))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(connector)
}
