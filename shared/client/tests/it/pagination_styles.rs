//! The paging styles no provider fake covers: page numbers over bare arrays
//! until a short page (WooCommerce), and next-page paths (Twilio,
//! Salesforce), against a small server that pages 25 numbers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::Query;
use axum::routing::get;
use futures::TryStreamExt;
use http::HeaderMap;
use portage_client::pagination::{Pagination, pages};
use portage_client::{ApiClient, ApiRequest, Credentials, ErrorDetail, Limit, Metrics, Policy, ProviderError};
use portage_core::Secret;
use serde_json::{Value, json};

struct Numbers;

impl Policy for Numbers {
    fn provider(&self) -> &'static str {
        "numbers"
    }
    fn base_url(&self) -> &str {
        "https://numbers.example"
    }
    fn limit(&self) -> Limit {
        Limit { per_second: 1000.0, burst: 1000.0 }
    }
    fn pagination(&self, items: &'static str) -> Pagination {
        Pagination::NextUrl { items, pointer: "/next" }
    }
    fn error(&self, status: u16, _: &HeaderMap, _: &[u8]) -> ProviderError {
        ProviderError::from_status(
            ErrorDetail { provider: "numbers", status: Some(status), ..Default::default() },
            None,
        )
    }
}

fn number(q: &HashMap<String, String>, key: &str, default: usize) -> usize {
    q.get(key).and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn client() -> ApiClient {
    let app = axum::Router::new()
        .route(
            "/bare",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                let (size, page) = (number(&q, "per_page", 10), number(&q, "page", 1));
                Json(Value::from((0..25).skip((page - 1) * size).take(size).collect::<Vec<u32>>()))
            }),
        )
        .route(
            "/linked",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                let start = number(&q, "from", 0);
                let next = (start + 10 < 25).then(|| format!("/linked?from={}", start + 10));
                Json(json!({"records": (start..(start + 10).min(25)).collect::<Vec<usize>>(), "next": next}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    ApiClient::new(
        reqwest::Client::new(),
        Arc::new(Numbers),
        "default",
        Credentials::Bearer(Secret::new("t")),
        Some(base),
        Arc::new(Metrics::new()),
    )
}

fn flat(pages: Vec<Vec<Value>>) -> Vec<u64> {
    pages.into_iter().flatten().map(|v| v.as_u64().unwrap()).collect()
}

#[tokio::test]
async fn page_numbers_over_bare_arrays_stop_at_a_short_page() {
    let client = client().await;
    let style = Pagination::Page { limit: 10, items: "", size_param: "per_page", page_param: "page", last_page: None };
    let listed: Vec<Vec<Value>> = pages(&client, ApiRequest::get("/bare"), style).try_collect().await.unwrap();
    assert_eq!(listed.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    assert_eq!(flat(listed), (0..25).collect::<Vec<u64>>());
}

#[tokio::test]
async fn next_page_paths_are_followed_to_the_end() {
    let client = client().await;
    let listed: Vec<Vec<Value>> =
        pages(&client, ApiRequest::get("/linked"), Numbers.pagination("records")).try_collect().await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(flat(listed), (0..25).collect::<Vec<u64>>());
}
