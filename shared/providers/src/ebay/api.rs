//! eBay's REST APIs (Sell, Commerce) as the shared client sees it: a user
//! access token (two hours; refreshed by the client's OAuth sessions) as a
//! bearer, daily call limits per API (429 when spent), `limit`/`offset` with
//! a `next` link, and `{"errors": [{errorId, domain, category, message,
//! parameters}]}` bodies.

use std::time::Duration;

use http::HeaderMap;
use portage_client::pagination::Pagination;
use portage_client::{ErrorDetail, FieldError, Limit, Observation, Policy, ProviderError, header, short_message};
use serde_json::Value;

/// eBay's policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct EbayApi;

impl Policy for EbayApi {
    fn provider(&self) -> &'static str {
        "ebay"
    }

    fn base_url(&self) -> &str {
        "https://api.ebay.com"
    }

    /// Limits are per day; a steady pace keeps one sync from spending it.
    fn limit(&self) -> Limit {
        Limit { per_second: 5.0, burst: 20.0 }
    }

    fn observe(&self, status: u16, _headers: &HeaderMap) -> Observation {
        // A 429 from eBay means the day's calls are spent.
        let wait = (status == 429).then_some(Duration::from_secs(3600));
        Observation { wait, ..Default::default() }
    }

    fn pagination(&self, items: &'static str) -> Pagination {
        Pagination::Offset { limit: 200, items, size_param: "limit", offset_param: "offset" }
    }

    fn error(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> ProviderError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let errors =
            parsed.as_ref().and_then(|b| b.get("errors")).and_then(Value::as_array).cloned().unwrap_or_default();
        let first = errors.first();
        let detail = ErrorDetail {
            provider: "ebay",
            status: Some(status),
            code: first.and_then(|e| e.get("errorId")).map(|id| id.to_string()),
            message: short_message(first.and_then(|e| e.get("message")).and_then(Value::as_str).unwrap_or_default()),
            request_id: header(headers, "x-ebay-c-request-id").or_else(|| header(headers, "rlogid")).map(str::to_owned),
        };
        let fields: Vec<FieldError> = errors
            .iter()
            .flat_map(|e| e.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default())
            .filter_map(|p| {
                let value = p.get("value").and_then(Value::as_str)?;
                Some(FieldError {
                    field: value.to_owned(),
                    message: p.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
                })
            })
            .collect();
        match status {
            400 => ProviderError::Validation { detail, fields },
            _ => ProviderError::from_status(detail, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_errors_map_to_their_kind() {
        let invalid = br#"{"errors":[{"errorId":25002,"domain":"API_INVENTORY","subdomain":"Selling","category":"REQUEST","message":"A user error has occurred. The SKU is invalid.","parameters":[{"name":"text1","value":"sku"}]}]}"#;
        match EbayApi.error(400, &HeaderMap::new(), invalid) {
            ProviderError::Validation { detail, fields } => {
                assert_eq!(detail.code.as_deref(), Some("25002"));
                assert_eq!(fields[0].field, "sku");
            }
            other => panic!("{other:?}"),
        }
        let expired = br#"{"errors":[{"errorId":1001,"domain":"OAuth","category":"REQUEST","message":"Invalid access token","longMessage":"Invalid access token. Check the value of the Authorization HTTP request header."}]}"#;
        assert!(
            matches!(EbayApi.error(401, &HeaderMap::new(), expired), ProviderError::Unauthorized(d) if d.code.as_deref() == Some("1001"))
        );
        assert_eq!(EbayApi.observe(429, &HeaderMap::new()).wait, Some(Duration::from_secs(3600)));
    }
}
