//! A Shopify Admin REST fake: `X-Shopify-Access-Token`, the leaky bucket
//! (size and leak rate as the plan says; 40 and 2 a second by default)
//! reported in `X-Shopify-Shop-Api-Call-Limit`, a full bucket answered 429
//! with `Retry-After: 2.0` and Shopify's error body, and products listed
//! with `limit` (at most 250) and `Link` headers carrying `page_info`.

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

/// The API version in the fake's paths.
pub const VERSION: &str = "2025-07";

/// The fake's state.
pub struct Shopify {
    /// The access token it accepts.
    pub token: String,
    /// Fault switches and counts.
    pub switches: Switches,
    products: Vec<Value>,
    bucket: Mutex<(f64, Instant)>,
    size: f64,
    leak_per_second: f64,
}

impl Shopify {
    /// A shop with `products` products and a bucket of `size` leaking
    /// `leak_per_second`.
    pub fn new(token: &str, products: usize, size: f64, leak_per_second: f64) -> Arc<Self> {
        let products = (1..=products)
            .map(|i| json!({"id": 7_000_000_000u64 + i as u64, "title": format!("Product {i}")}))
            .collect();
        Arc::new(Self {
            token: token.to_owned(),
            switches: Switches::default(),
            products,
            bucket: Mutex::new((0.0, Instant::now())),
            size,
            leak_per_second,
        })
    }

    /// The router.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route(&format!("/admin/api/{VERSION}/products.json"), get(list))
            .route(&format!("/admin/api/{VERSION}/products/{{id}}"), get(product))
            .with_state(self.clone())
    }

    /// Adds one call to the bucket after leaking; `None` when it is full.
    fn fill(&self) -> Option<f64> {
        let mut bucket = self.bucket.lock().expect("bucket");
        let now = Instant::now();
        let leaked = now.duration_since(bucket.1).as_secs_f64() * self.leak_per_second;
        bucket.0 = (bucket.0 - leaked).max(0.0);
        bucket.1 = now;
        if bucket.0 + 1.0 > self.size {
            return None;
        }
        bucket.0 += 1.0;
        Some(bucket.0)
    }
}

/// Shopify's answer to a call over its limit.
const THROTTLED: &str =
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.";

fn errors(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"errors": message}))).into_response()
}

async fn gate(fake: &Shopify, headers: &HeaderMap) -> Result<HeaderValue, Response> {
    let injected = answer(fake.switches.decide().await, |status| match status {
        StatusCode::TOO_MANY_REQUESTS => errors(status, THROTTLED),
        _ => errors(status, "Internal Server Error"),
    });
    if let Some(response) = injected {
        return Err(response);
    }
    if headers.get("x-shopify-access-token").and_then(|v| v.to_str().ok()) != Some(fake.token.as_str()) {
        return Err(errors(
            StatusCode::UNAUTHORIZED,
            "[API] Invalid API key or access token (unrecognized login or wrong password)",
        ));
    }
    match fake.fill() {
        Some(used) => {
            Ok(HeaderValue::from_str(&format!("{}/{}", used.ceil() as u64, fake.size as u64)).expect("header"))
        }
        None => {
            fake.switches.throttled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut response = errors(StatusCode::TOO_MANY_REQUESTS, THROTTLED);
            response.headers_mut().insert("retry-after", HeaderValue::from_static("2.0"));
            Err(response)
        }
    }
}

async fn list(
    State(fake): State<Arc<Shopify>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let limit_header = match gate(&fake, &headers).await {
        Ok(value) => value,
        Err(refused) => return refused,
    };
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => 50,
        Some(Ok(l)) if (1..=250).contains(&l) => l,
        Some(_) => return errors(StatusCode::BAD_REQUEST, "limit: must be between 1 and 250"),
    };
    // page_info is opaque to clients; here it is the offset, in hex.
    let start = match query.get("page_info") {
        None => 0,
        Some(info) => match usize::from_str_radix(info, 16) {
            Ok(start) if query.keys().all(|k| k == "limit" || k == "page_info") => start,
            _ => {
                return errors(StatusCode::BAD_REQUEST, "page_info: invalid, or sent with other parameters than limit");
            }
        },
    };
    let page: Vec<Value> = fake.products.iter().skip(start).take(limit).cloned().collect();
    let host = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let url =
        |offset: usize| format!("<http://{host}/admin/api/{VERSION}/products.json?limit={limit}&page_info={offset:x}>");
    let mut links = Vec::new();
    if start > 0 {
        links.push(format!("{}; rel=\"previous\"", url(start.saturating_sub(limit))));
    }
    if start + limit < fake.products.len() {
        links.push(format!("{}; rel=\"next\"", url(start + limit)));
    }
    let mut response = axum::Json(json!({"products": page})).into_response();
    response.headers_mut().insert("x-shopify-shop-api-call-limit", limit_header);
    if !links.is_empty() {
        response.headers_mut().insert("link", HeaderValue::from_str(&links.join(", ")).expect("header"));
    }
    response
}

async fn product(State(fake): State<Arc<Shopify>>, headers: HeaderMap, Path(file): Path<String>) -> Response {
    let limit_header = match gate(&fake, &headers).await {
        Ok(value) => value,
        Err(refused) => return refused,
    };
    let id = file.strip_suffix(".json").and_then(|id| id.parse::<u64>().ok());
    let found = id.and_then(|id| fake.products.iter().find(|p| p["id"] == json!(id)).cloned());
    let mut response = match found {
        Some(product) => axum::Json(json!({"product": product})).into_response(),
        None => errors(StatusCode::NOT_FOUND, "Not Found"),
    };
    response.headers_mut().insert("x-shopify-shop-api-call-limit", limit_header);
    response
}
