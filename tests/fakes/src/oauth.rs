//! An OAuth 2.0 authorisation server and one protected resource, for the
//! client's token refresh: refresh-token grants with HTTP Basic client
//! authentication (RFC 6749, sections 2.3.1 and 6), refresh tokens rotated on
//! every grant with the previous one still accepted until the new access
//! token is first used (the grace period Okta and Auth0 give rotating
//! tokens), `invalid_grant` for anything else, and `GET /v1/thing`, which
//! takes only the current access token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

#[derive(Default)]
struct Tokens {
    access: String,
    refresh: String,
    previous_refresh: Option<String>,
}

/// The fake's state.
pub struct OAuth {
    /// `Basic` credentials it accepts, `client_id:client_secret` base64-encoded.
    basic: String,
    tokens: Mutex<Tokens>,
    /// Refresh grants made.
    pub refreshes: AtomicU64,
}

impl OAuth {
    /// A server whose current tokens are `access` and `refresh`.
    pub fn new(client_basic: &str, access: &str, refresh: &str) -> Arc<Self> {
        let tokens = Tokens { access: access.to_owned(), refresh: refresh.to_owned(), previous_refresh: None };
        Arc::new(Self { basic: client_basic.to_owned(), tokens: Mutex::new(tokens), refreshes: AtomicU64::new(0) })
    }

    /// The router.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new().route("/oauth/token", post(token)).route("/v1/thing", get(thing)).with_state(self.clone())
    }

    /// Revokes the current access token (as an expiry the client did not
    /// know of).
    pub fn revoke_access(&self) {
        self.tokens.lock().expect("tokens").access = "revoked".into();
    }
}

fn oauth_error(code: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": code}))).into_response()
}

async fn token(
    State(fake): State<Arc<OAuth>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let basic = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "));
    if basic != Some(fake.basic.as_str()) {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client"}))).into_response();
    }
    if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
        return oauth_error("unsupported_grant_type");
    }
    let presented = form.get("refresh_token").cloned().unwrap_or_default();
    let mut tokens = fake.tokens.lock().expect("tokens");
    let valid = presented == tokens.refresh || tokens.previous_refresh.as_deref() == Some(presented.as_str());
    if !valid {
        return oauth_error("invalid_grant");
    }
    let n = fake.refreshes.fetch_add(1, Ordering::SeqCst) + 1;
    let previous = std::mem::replace(&mut tokens.refresh, format!("rt-{n}"));
    // The token presented stays valid in the grace period; the other is gone.
    tokens.previous_refresh = Some(if presented == previous { previous } else { presented });
    tokens.access = format!("at-{n}");
    axum::Json(json!({"access_token": tokens.access, "token_type": "bearer", "expires_in": 3600, "refresh_token": tokens.refresh}))
        .into_response()
}

async fn thing(State(fake): State<Arc<OAuth>>, headers: HeaderMap) -> Response {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let mut tokens = fake.tokens.lock().expect("tokens");
    if bearer != Some(tokens.access.as_str()) {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_token"}))).into_response();
    }
    // The new tokens are in use: the grace period ends.
    tokens.previous_refresh = None;
    axum::Json(json!({"ok": true})).into_response()
}
