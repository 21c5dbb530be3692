//! A HubSpot CRM v3 fake: bearer tokens (an expired one answered with
//! `EXPIRED_AUTHENTICATION`), a rolling ten-second window reported in
//! `X-HubSpot-RateLimit-Max`, `-Remaining` and `-Interval-Milliseconds`, 429
//! with its `RATE_LIMITS` body, and contacts paged with `limit` (at most 100)
//! and `after`, the next cursor at `paging.next.after`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::faults::{Switches, answer};

const WINDOW: Duration = Duration::from_secs(10);

/// The fake's state.
pub struct HubSpot {
    /// The token it accepts.
    pub token: String,
    /// Fault switches and counts.
    pub switches: Switches,
    contacts: Vec<Value>,
    max: usize,
    calls: Mutex<VecDeque<Instant>>,
}

impl HubSpot {
    /// A portal with `contacts` and `max` calls per ten seconds.
    pub fn new(token: &str, contacts: usize, max: usize) -> Arc<Self> {
        let contacts = (1..=contacts)
            .map(|i| json!({"id": (51_000 + i).to_string(), "properties": {"email": format!("c{i}@example.com")}}))
            .collect();
        Arc::new(Self {
            token: token.to_owned(),
            switches: Switches::default(),
            contacts,
            max,
            calls: Mutex::new(VecDeque::new()),
        })
    }

    /// The router.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new().route("/crm/v3/objects/contacts", get(contacts)).with_state(self.clone())
    }
}

fn error(status: StatusCode, category: &str, message: &str) -> Response {
    let body = json!({"status": "error", "message": message, "correlationId": format!("{:032x}", rand::random::<u128>()), "category": category});
    (status, axum::Json(body)).into_response()
}

async fn contacts(
    State(fake): State<Arc<HubSpot>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let injected = answer(fake.switches.decide().await, |status| match status {
        StatusCode::TOO_MANY_REQUESTS => {
            error(status, "RATE_LIMITS", "You have reached your ten_secondly_rolling limit.")
        }
        _ => error(status, "INTERNAL_ERROR", "internal error"),
    });
    if let Some(response) = injected {
        return response;
    }
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(fake.token.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "EXPIRED_AUTHENTICATION",
            "The OAuth token used to make this call expired 2 hour(s) ago.",
        );
    }
    let remaining = {
        let mut calls = fake.calls.lock().expect("calls");
        let now = Instant::now();
        while calls.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            calls.pop_front();
        }
        if calls.len() >= fake.max {
            fake.switches.throttled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITS",
                "You have reached your ten_secondly_rolling limit.",
            );
        }
        calls.push_back(now);
        fake.max - calls.len()
    };
    let limit = query.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(10).clamp(1, 100);
    let start = query.get("after").and_then(|a| a.parse::<usize>().ok()).unwrap_or(0);
    let page: Vec<Value> = fake.contacts.iter().skip(start).take(limit).cloned().collect();
    let mut body = json!({"results": page});
    if start + limit < fake.contacts.len() {
        body["paging"] = json!({"next": {"after": (start + limit).to_string(), "link": "?after"}});
    }
    let mut response = axum::Json(body).into_response();
    let h = response.headers_mut();
    h.insert("x-hubspot-ratelimit-max", HeaderValue::from(fake.max));
    h.insert("x-hubspot-ratelimit-remaining", HeaderValue::from(remaining));
    h.insert("x-hubspot-ratelimit-interval-milliseconds", HeaderValue::from(10_000));
    response
}
