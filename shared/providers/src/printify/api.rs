//! Printify's API as the shared client sees it: a personal access token (or
//! an app's OAuth token) as a bearer, 600 calls a minute per account
//! (publishing limited further, to 200 per 30 minutes), 429 when exceeded,
//! `page`/`limit` pagination with `last_page`, and its error bodies
//! (`{"status": "error", "code": …, "message": …, "errors": {"reason": …}}`).

use http::HeaderMap;
use portage_client::pagination::Pagination;
use portage_client::{ErrorDetail, Limit, Observation, Policy, ProviderError, header_number, short_message};
use serde_json::Value;

/// Printify's policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrintifyApi;

impl Policy for PrintifyApi {
    fn provider(&self) -> &'static str {
        "printify"
    }

    fn base_url(&self) -> &str {
        "https://api.printify.com"
    }

    /// 600 a minute; a burst of a tenth of it.
    fn limit(&self) -> Limit {
        Limit { per_second: 10.0, burst: 60.0 }
    }

    fn observe(&self, _status: u16, headers: &HeaderMap) -> Observation {
        Observation { remaining: header_number(headers, "x-ratelimit-remaining"), ..Default::default() }
    }

    fn pagination(&self, items: &'static str) -> Pagination {
        Pagination::Page { limit: 50, items, size_param: "limit", page_param: "page", last_page: Some("/last_page") }
    }

    fn error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let text = |v: Option<&Value>| {
            v.and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_i64().map(|n| n.to_string())))
        };
        let reason = parsed.as_ref().and_then(|b| text(b.pointer("/errors/reason")));
        let message = parsed.as_ref().and_then(|b| text(b.get("message"))).or(reason).unwrap_or_default();
        let detail = ErrorDetail {
            provider: "printify",
            status: Some(status),
            code: parsed.as_ref().and_then(|b| text(b.get("code")).or_else(|| text(b.pointer("/errors/code")))),
            message: short_message(&message),
            request_id: portage_client::header(headers, "x-request-id").map(str::to_owned),
        };
        ProviderError::from_status(detail, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_errors_map_to_their_kind() {
        let invalid = br#"{"status":"error","code":10100,"message":"Validation failed.","errors":{"reason":"Product title is required","code":10100}}"#;
        match PrintifyApi.error(400, &HeaderMap::new(), invalid) {
            ProviderError::Validation { detail, .. } => {
                assert_eq!((detail.code.as_deref(), detail.message.as_str()), (Some("10100"), "Validation failed."));
            }
            other => panic!("{other:?}"),
        }
        let limited = br#"{"status":"error","code":429,"message":"Too Many Attempts."}"#;
        assert!(matches!(PrintifyApi.error(429, &HeaderMap::new(), limited), ProviderError::RateLimited { .. }));
        assert!(matches!(
            PrintifyApi.error(401, &HeaderMap::new(), b"Unauthenticated."),
            ProviderError::Unauthorized(_)
        ));
    }
}
