//! A WooCommerce store's key delivery (`/wc-auth/v1/authorize`) and one
//! REST endpoint that takes the delivered keys. The store cannot reach a
//! test's in-process router, so its authorize page answers with what it
//! would do once the user approves: the JSON it would POST to
//! `callback_url`, and where it would then send the browser (`return_url`
//! with `success=1&user_id=…`); the test carries both out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use serde_json::json;

/// The fake store.
#[derive(Default)]
pub struct Store {
    /// Delivered keys that work: consumer key → secret.
    keys: Mutex<HashMap<String, String>>,
}

impl Store {
    /// A store with no keys yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The routes.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/wc-auth/v1/authorize", get(authorize))
            .route("/wp-json/wc/v3/system_status", get(system_status))
            .with_state(self.clone())
    }
}

async fn authorize(State(store): State<Arc<Store>>, Query(query): Query<HashMap<String, String>>) -> Response {
    let field = |name: &str| query.get(name).cloned().unwrap_or_default();
    let (user_id, callback, back) = (field("user_id"), field("callback_url"), field("return_url"));
    let scope_ok = matches!(field("scope").as_str(), "read" | "write" | "read_write");
    if !scope_ok || field("app_name").is_empty() || user_id.is_empty() || !callback.starts_with("https://") {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": "invalid request" }))).into_response();
    }
    let consumer_key = format!("ck_{:032x}", rand::random::<u128>());
    let consumer_secret = format!("cs_{:032x}", rand::random::<u128>());
    store.keys.lock().expect("keys").insert(consumer_key.clone(), consumer_secret.clone());
    let separator = if back.contains('?') { '&' } else { '?' };
    axum::Json(json!({
        "deliver_to": callback,
        "keys": { "key_id": 1, "user_id": user_id, "consumer_key": consumer_key,
            "consumer_secret": consumer_secret, "key_permissions": field("scope") },
        "then": format!("{back}{separator}success=1&user_id={user_id}"),
    }))
    .into_response()
}

async fn system_status(State(store): State<Arc<Store>>, headers: HeaderMap) -> Response {
    let basic = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "));
    let decoded = basic.and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
    let pair = decoded.and_then(|d| String::from_utf8(d).ok());
    let valid = pair
        .and_then(|p| p.split_once(':').map(|(k, s)| (k.to_owned(), s.to_owned())))
        .is_some_and(|(k, s)| store.keys.lock().expect("keys").get(&k) == Some(&s));
    if !valid {
        let body = json!({"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.", "data": {"status": 401}});
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    axum::Json(json!({ "environment": { "version": "9.4.0" } })).into_response()
}
