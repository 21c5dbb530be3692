//! Requests a fake accepted, kept whole, so a contract test can send the
//! very same requests to a validating mock of the provider's OpenAPI
//! description (Prism).

use std::sync::Mutex;

use axum::http::HeaderMap;

/// One request as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The `Content-Type` it was sent with.
    pub content_type: Option<String>,
    /// The body.
    pub body: String,
}

/// The requests a fake kept.
#[derive(Debug, Default)]
pub struct Recorder {
    requests: Mutex<Vec<Recorded>>,
}

impl Recorder {
    /// Keeps one request.
    pub fn keep(&self, method: &str, path: &str, headers: &HeaderMap, body: &str) {
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let request =
            Recorded { method: method.to_owned(), path: path.to_owned(), content_type, body: body.to_owned() };
        self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(request);
    }

    /// Every request kept, oldest first.
    pub fn all(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}
