//! A fake of the provider hosts that serve signing keys, enforcing what the
//! real ones document: PayPal's certificate URLs (`GET
//! /v1/notifications/certs/{id}`, 404 with PayPal's error body for an
//! unknown id), eBay's OAuth token endpoint (client credentials with HTTP
//! Basic client authentication, `invalid_client` otherwise) and its
//! Notification API's getPublicKey (a bearer application token, eBay's
//! `errors` body on 401 and 404). It counts what it serves.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

/// The eBay application keyset the fake accepts.
pub(crate) const CLIENT_ID: &str = "Portage-keytest-PRD-5a1b2c3d4-e5f60718";
pub(crate) const CLIENT_SECRET: &str = "PRD-a1b2c3d4e5f6-do-not-leak-7081-92a3";

#[derive(Default)]
pub(crate) struct Counters {
    pub certificates: AtomicUsize,
    pub tokens: AtomicUsize,
    pub public_keys: AtomicUsize,
}

#[derive(Default)]
struct Fake {
    certificates: HashMap<String, String>,
    public_keys: HashMap<String, serde_json::Value>,
    issued: Mutex<HashSet<String>>,
    counters: Arc<Counters>,
}

/// A running fake; its address stands in for `api.paypal.com`,
/// `api.sandbox.paypal.com` and `api.ebay.com`.
pub(crate) struct KeyServer {
    pub base: String,
    pub counters: Arc<Counters>,
    fake: Arc<Fake>,
}

impl KeyServer {
    /// Serves `certificates` (id → PEM) and `public_keys` (kid → getPublicKey's answer).
    pub(crate) async fn start(certificates: &[(&str, String)], public_keys: &[(&str, serde_json::Value)]) -> KeyServer {
        let counters = Arc::new(Counters::default());
        let fake = Arc::new(Fake {
            certificates: certificates.iter().map(|(id, pem)| ((*id).to_owned(), pem.clone())).collect(),
            public_keys: public_keys.iter().map(|(kid, key)| ((*kid).to_owned(), key.clone())).collect(),
            issued: Mutex::new(HashSet::new()),
            counters: counters.clone(),
        });
        let app = Router::new()
            .route("/v1/notifications/certs/{id}", get(certificate))
            .route("/identity/v1/oauth2/token", post(token))
            .route("/commerce/notification/v1/public_key/{kid}", get(public_key))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        KeyServer { base, counters, fake }
    }

    /// `PORTAGE_PROVIDER_ORIGINS` pointing the providers' hosts here.
    pub(crate) fn origins(&self) -> String {
        ["api.paypal.com", "api.sandbox.paypal.com", "api.ebay.com"].map(|h| format!("{h}={}", self.base)).join(",")
    }

    /// Expires every token issued so far, as eBay does after two hours.
    pub(crate) fn expire_tokens(&self) {
        self.fake.issued.lock().unwrap().clear();
    }
}

fn paypal_not_found() -> Response {
    let body = json!({"name": "RESOURCE_NOT_FOUND", "message": "The specified resource does not exist.", "debug_id": "f0e1d2c3b4a59"});
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

async fn certificate(State(fake): State<Arc<Fake>>, Path(id): Path<String>) -> Response {
    fake.counters.certificates.fetch_add(1, Ordering::SeqCst);
    match fake.certificates.get(&id) {
        Some(pem) => ([("content-type", "application/x-pem-file")], pem.clone()).into_response(),
        None => paypal_not_found(),
    }
}

async fn token(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let expected = format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")));
    let authorised = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str());
    if !authorised {
        let body = json!({"error": "invalid_client", "error_description": "client authentication failed"});
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    let grant_ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
        && form.get("scope").map(String::as_str) == Some("https://api.ebay.com/oauth/api_scope");
    if !grant_ok {
        let body = json!({"error": "invalid_scope", "error_description": "The requested scope is invalid, unknown, malformed, or exceeds the scope granted to the client"});
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    let n = fake.counters.tokens.fetch_add(1, Ordering::SeqCst);
    let token = format!("v^1.1#i^1#r^0#p^1#I^3#f^0#t^application-token-{n}-do-not-leak");
    fake.issued.lock().unwrap().insert(token.clone());
    axum::Json(json!({"access_token": token, "expires_in": 7200, "token_type": "Application Access Token"}))
        .into_response()
}

fn ebay_error(status: StatusCode, id: u32, domain: &str, message: &str) -> Response {
    let body = json!({"errors": [{"errorId": id, "domain": domain, "category": "REQUEST", "message": message}]});
    (status, axum::Json(body)).into_response()
}

async fn public_key(State(fake): State<Arc<Fake>>, headers: HeaderMap, Path(kid): Path<String>) -> Response {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let valid = bearer.is_some_and(|t| fake.issued.lock().unwrap().contains(t));
    if !valid {
        return ebay_error(StatusCode::UNAUTHORIZED, 1001, "OAuth", "Invalid access token");
    }
    fake.counters.public_keys.fetch_add(1, Ordering::SeqCst);
    match fake.public_keys.get(&kid) {
        Some(key) => axum::Json(key.clone()).into_response(),
        None => ebay_error(StatusCode::NOT_FOUND, 195000, "API_NOTIFICATION", "Resource not found"),
    }
}
