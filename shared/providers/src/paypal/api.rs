//! PayPal's REST API as the shared client sees it: an access token from the
//! client-credentials grant as a bearer, `PayPal-Request-Id` as the
//! idempotency key, 429 when throttled, and `{name, message, debug_id,
//! details: [{field, issue, description}]}` bodies.

use http::{HeaderMap, HeaderName};
use portage_client::pagination::Pagination;
use portage_client::{ErrorDetail, FieldError, Limit, Policy, ProviderError, short_message};
use serde_json::Value;

/// Where merchant calls get their access token: the client-credentials
/// grant, the client id and secret as HTTP Basic.
pub fn token_endpoint() -> portage_client::TokenEndpoint {
    portage_client::TokenEndpoint::standard("https://api-m.paypal.com/v1/oauth2/token")
        .authenticated_by(portage_client::ClientAuth::Basic)
}

/// PayPal's policy (live; a connection names the sandbox's base URL).
#[derive(Debug, Clone, Copy, Default)]
pub struct PayPalApi;

impl Policy for PayPalApi {
    fn provider(&self) -> &'static str {
        "paypal"
    }

    fn base_url(&self) -> &str {
        "https://api-m.paypal.com"
    }

    fn limit(&self) -> Limit {
        Limit { per_second: 10.0, burst: 30.0 }
    }

    fn pagination(&self, items: &'static str) -> Pagination {
        Pagination::Page {
            limit: 20,
            items,
            size_param: "page_size",
            page_param: "page",
            last_page: Some("/total_pages"),
        }
    }

    fn error(&self, status: u16, _headers: &HeaderMap, body: &[u8]) -> ProviderError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let text = |v: Option<&Value>, key: &str| v.and_then(|v| v.get(key)).and_then(Value::as_str).map(str::to_owned);
        let details =
            parsed.as_ref().and_then(|b| b.get("details")).and_then(Value::as_array).cloned().unwrap_or_default();
        let detail = ErrorDetail {
            provider: "paypal",
            status: Some(status),
            code: details.first().and_then(|d| text(Some(d), "issue")).or_else(|| text(parsed.as_ref(), "name")),
            message: short_message(&text(parsed.as_ref(), "message").unwrap_or_default()),
            request_id: text(parsed.as_ref(), "debug_id"),
        };
        let fields: Vec<FieldError> = details
            .iter()
            .filter_map(|d| {
                Some(FieldError {
                    field: text(Some(d), "field")?,
                    message: short_message(&text(Some(d), "description").unwrap_or_default()),
                })
            })
            .collect();
        match text(parsed.as_ref(), "name").as_deref() {
            Some("INVALID_REQUEST" | "UNPROCESSABLE_ENTITY") => ProviderError::Validation { detail, fields },
            Some("RESOURCE_NOT_FOUND") => ProviderError::NotFound(detail),
            Some("DUPLICATE_REQUEST_ID") => ProviderError::Conflict(detail),
            Some("RATE_LIMIT_REACHED") => ProviderError::RateLimited { detail, retry_after: None },
            _ => ProviderError::from_status(detail, None),
        }
    }

    fn idempotency_header(&self) -> Option<HeaderName> {
        Some(HeaderName::from_static("paypal-request-id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_errors_map_to_their_kind() {
        let invalid = br#"{"name":"UNPROCESSABLE_ENTITY","details":[{"field":"/purchase_units/@reference_id=='default'/amount/value","value":"-1","issue":"CANNOT_BE_NEGATIVE","description":"Must be greater than or equal to 0."}],"message":"The requested action could not be performed, semantically incorrect, or failed business validation.","debug_id":"c9a75b43fc807"}"#;
        match PayPalApi.error(422, &HeaderMap::new(), invalid) {
            ProviderError::Validation { detail, fields } => {
                assert_eq!(
                    (detail.code.as_deref(), detail.request_id.as_deref()),
                    (Some("CANNOT_BE_NEGATIVE"), Some("c9a75b43fc807"))
                );
                assert!(fields[0].field.ends_with("/amount/value"));
            }
            other => panic!("{other:?}"),
        }
        let missing = br#"{"name":"RESOURCE_NOT_FOUND","details":[{"issue":"INVALID_RESOURCE_ID","description":"Specified resource ID does not exist."}],"message":"The specified resource does not exist.","debug_id":"8b8d1e1f7c6c2"}"#;
        assert!(matches!(PayPalApi.error(404, &HeaderMap::new(), missing), ProviderError::NotFound(_)));
        let auth = br#"{"error":"invalid_token","error_description":"Token signature verification failed"}"#;
        assert!(matches!(PayPalApi.error(401, &HeaderMap::new(), auth), ProviderError::Unauthorized(_)));
    }
}
