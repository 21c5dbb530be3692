//! A Printify fake: a bearer personal access token (`Unauthenticated.`
//! otherwise), a per-minute request limit answered 429 with Printify's body,
//! and products paged with `page` and `limit` (at most 50), `last_page` in
//! the body.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::faults::{Switches, answer};

/// The fake's state.
pub struct Printify {
    /// The token it accepts.
    pub token: String,
    /// Fault switches and counts.
    pub switches: Switches,
    products: Vec<Value>,
    per_minute: u32,
    window: Mutex<(Instant, u32)>,
}

impl Printify {
    /// A shop with `products` and `per_minute` calls allowed.
    pub fn new(token: &str, products: usize, per_minute: u32) -> Arc<Self> {
        let products =
            (1..=products).map(|i| json!({"id": format!("{i:024x}"), "title": format!("Tee {i}")})).collect();
        Arc::new(Self {
            token: token.to_owned(),
            switches: Switches::default(),
            products,
            per_minute,
            window: Mutex::new((Instant::now(), 0)),
        })
    }

    /// The router.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new().route("/v1/shops/{shop}/products.json", get(products)).with_state(self.clone())
    }
}

fn error(status: StatusCode, code: u32, message: &str) -> Response {
    (status, axum::Json(json!({"status": "error", "code": code, "message": message}))).into_response()
}

async fn products(
    State(fake): State<Arc<Printify>>,
    headers: HeaderMap,
    Path(_shop): Path<u64>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let injected = answer(fake.switches.decide().await, |status| match status {
        StatusCode::TOO_MANY_REQUESTS => error(status, 429, "Too Many Attempts."),
        _ => error(status, 500, "Server Error"),
    });
    if let Some(response) = injected {
        return response;
    }
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(fake.token.as_str()) {
        return (StatusCode::UNAUTHORIZED, "Unauthenticated.").into_response();
    }
    {
        let mut window = fake.window.lock().expect("window");
        if window.0.elapsed().as_secs() >= 60 {
            *window = (Instant::now(), 0);
        }
        if window.1 >= fake.per_minute {
            fake.switches.throttled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return error(StatusCode::TOO_MANY_REQUESTS, 429, "Too Many Attempts.");
        }
        window.1 += 1;
    }
    let limit = query.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return error(StatusCode::BAD_REQUEST, 10100, "Validation failed.");
    }
    let page = query.get("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
    let last_page = fake.products.len().div_ceil(limit).max(1);
    let data: Vec<Value> = fake.products.iter().skip((page - 1) * limit).take(limit).cloned().collect();
    axum::Json(json!({"current_page": page, "data": data, "last_page": last_page, "per_page": limit, "total": fake.products.len()})).into_response()
}
