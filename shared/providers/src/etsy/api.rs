//! Etsy's Open API v3 as the shared client sees it: `x-api-key` with an
//! OAuth bearer token (the user id prefixed), 10 calls a second and 10,000 a
//! day per app, reported in `x-limit-per-second`, `x-remaining-this-second`,
//! `x-limit-per-day` and `x-remaining-today`; offset pagination; and
//! `{"error": "…"}` bodies.

use std::time::Duration;

use http::HeaderMap;
use portage_client::pagination::Pagination;
use portage_client::{ErrorDetail, Limit, Observation, Policy, ProviderError, header, header_number, short_message};
use serde_json::Value;

/// Etsy's policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct EtsyApi;

impl Policy for EtsyApi {
    fn provider(&self) -> &'static str {
        "etsy"
    }

    fn base_url(&self) -> &str {
        "https://openapi.etsy.com"
    }

    fn limit(&self) -> Limit {
        Limit { per_second: 10.0, burst: 10.0 }
    }

    fn observe(&self, _status: u16, headers: &HeaderMap) -> Observation {
        let per_second = header_number(headers, "x-limit-per-second");
        let this_second = header_number(headers, "x-remaining-this-second");
        let today = header_number(headers, "x-remaining-today");
        // Etsy counts in fixed windows it does not say the start of: a
        // second spent waits out a whole second; a day spent, an hour at a
        // time (or Etsy's Retry-After, which the client reads on a 429).
        let wait = if today.is_some_and(|left| left <= 0.0) {
            Some(Duration::from_secs(3600))
        } else if this_second.is_some_and(|left| left <= 0.0) {
            Some(Duration::from_secs(1))
        } else {
            None
        };
        Observation { remaining: this_second, limit: per_second, wait, rate: None }
    }

    fn pagination(&self, items: &'static str) -> Pagination {
        Pagination::Offset { limit: 100, items, size_param: "limit", offset_param: "offset" }
    }

    fn error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let message = parsed.as_ref().and_then(|b| b.get("error")).and_then(Value::as_str).unwrap_or_default();
        let detail = ErrorDetail {
            provider: "etsy",
            status: Some(status),
            code: None,
            message: short_message(message),
            request_id: header(headers, "x-request-id").map(str::to_owned),
        };
        ProviderError::from_status(detail, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn its_limit_headers_and_errors_are_read() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-limit-per-second", "10"),
            ("x-remaining-this-second", "3"),
            ("x-limit-per-day", "10000"),
            ("x-remaining-today", "9000"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        assert_eq!(
            EtsyApi.observe(200, &headers),
            Observation { remaining: Some(3.0), limit: Some(10.0), ..Default::default() }
        );
        headers.insert("x-remaining-this-second", HeaderValue::from_static("0"));
        assert_eq!(EtsyApi.observe(200, &headers).wait, Some(Duration::from_secs(1)));
        headers.insert("x-remaining-today", HeaderValue::from_static("0"));
        assert_eq!(EtsyApi.observe(200, &headers).wait, Some(Duration::from_secs(3600)));
        let body = br#"{"error": "Invalid API key"}"#;
        assert!(
            matches!(EtsyApi.error(403, &HeaderMap::new(), body), ProviderError::Forbidden(d) if d.message == "Invalid API key")
        );
    }
}
