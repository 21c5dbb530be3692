//! An Etsy Open API v3 fake: `x-api-key` and `Authorization: Bearer
//! <user id>.<token>`, a per-second window and a daily quota reported in
//! `x-limit-per-second`, `x-remaining-this-second`, `x-limit-per-day` and
//! `x-remaining-today`, 429 when a window is spent, `{"error": …}` bodies,
//! and active listings paged with `limit` (at most 100) and `offset`,
//! `count` giving the total.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::faults::{Switches, answer};

/// The fake's state.
pub struct Etsy {
    /// The app's keystring.
    pub api_key: String,
    /// The user's access token (`<user id>.<token>`).
    pub token: String,
    /// Fault switches and counts.
    pub switches: Switches,
    listings: Vec<Value>,
    per_second: u32,
    per_day: u32,
    windows: Mutex<(Instant, u32, u32)>,
}

impl Etsy {
    /// A shop with `listings` active listings and the given limits.
    pub fn new(api_key: &str, token: &str, listings: usize, per_second: u32, per_day: u32) -> Arc<Self> {
        let listings = (1..=listings).map(|i| json!({"listing_id": 1_500_000_000u64 + i as u64, "title": format!("Listing {i}"), "state": "active"})).collect();
        Arc::new(Self {
            api_key: api_key.to_owned(),
            token: token.to_owned(),
            switches: Switches::default(),
            listings,
            per_second,
            per_day,
            windows: Mutex::new((Instant::now(), 0, 0)),
        })
    }

    /// The router.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new().route("/v3/application/shops/{shop}/listings/active", get(listings)).with_state(self.clone())
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}

fn limit_headers(response: &mut Response, per_second: u32, this_second: u32, per_day: u32, today: u32) {
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-limit-per-second", per_second),
        ("x-remaining-this-second", this_second),
        ("x-limit-per-day", per_day),
        ("x-remaining-today", today),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
}

async fn listings(
    State(fake): State<Arc<Etsy>>,
    headers: HeaderMap,
    Path(_shop): Path<u64>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let quota = "You have exceeded your quota of: 10 requests per second.";
    let injected = answer(fake.switches.decide().await, |status| {
        error(status, if status == StatusCode::TOO_MANY_REQUESTS { quota } else { "Internal Server Error" })
    });
    if let Some(response) = injected {
        return response;
    }
    let key_ok = headers.get("x-api-key").and_then(|v| v.to_str().ok()) == Some(fake.api_key.as_str());
    if !key_ok {
        return error(StatusCode::FORBIDDEN, "Invalid API key");
    }
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(fake.token.as_str()) {
        return error(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    let (this_second, today) = {
        let mut w = fake.windows.lock().expect("windows");
        if w.0.elapsed().as_secs_f64() >= 1.0 {
            *w = (Instant::now(), 0, w.2);
        }
        if w.1 >= fake.per_second || w.2 >= fake.per_day {
            fake.switches.throttled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let wait = (1.0 - w.0.elapsed().as_secs_f64()).max(0.0).ceil() as u32;
            let mut response =
                error(StatusCode::TOO_MANY_REQUESTS, "You have exceeded your quota of: 10 requests per second.");
            response.headers_mut().insert("retry-after", HeaderValue::from(wait.max(1)));
            limit_headers(
                &mut response,
                fake.per_second,
                fake.per_second.saturating_sub(w.1),
                fake.per_day,
                fake.per_day.saturating_sub(w.2),
            );
            return response;
        }
        w.1 += 1;
        w.2 += 1;
        (fake.per_second - w.1, fake.per_day - w.2)
    };
    let number = |name: &str, default: usize| query.get(name).map_or(Ok(default), |v| v.parse::<usize>());
    let (Ok(limit), Ok(offset)) = (number("limit", 25), number("offset", 0)) else {
        return error(StatusCode::BAD_REQUEST, "Expected int for limit and offset");
    };
    if !(1..=100).contains(&limit) {
        return error(StatusCode::BAD_REQUEST, "limit must be between 1 and 100");
    }
    let page: Vec<Value> = fake.listings.iter().skip(offset).take(limit).cloned().collect();
    let mut response = axum::Json(json!({"count": fake.listings.len(), "results": page})).into_response();
    limit_headers(&mut response, fake.per_second, this_second, fake.per_day, today);
    response
}
