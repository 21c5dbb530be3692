//! WooCommerce's REST API (v3) as the shared client sees it: the consumer
//! key and secret over HTTP Basic (HTTPS only), no limit of its own (the
//! host's, if any, answers 429), `page`/`per_page` (at most 100) with
//! `X-WP-Total` and `X-WP-TotalPages`, and WordPress's error body
//! `{"code", "message", "data": {"status", "params"?}}`.

use http::HeaderMap;
use portage_client::pagination::Pagination;
use portage_client::{ErrorDetail, FieldError, Limit, Policy, ProviderError, short_message};
use serde_json::Value;

/// WooCommerce's policy, for one store (its base URL is the store's).
#[derive(Debug, Clone, Copy, Default)]
pub struct WooCommerceApi;

impl Policy for WooCommerceApi {
    fn provider(&self) -> &'static str {
        "woocommerce"
    }

    fn base_url(&self) -> &str {
        "https://store.example"
    }

    /// Nothing documented; a gentle default a shared host copes with.
    fn limit(&self) -> Limit {
        Limit { per_second: 5.0, burst: 10.0 }
    }

    fn pagination(&self, items: &'static str) -> Pagination {
        // WooCommerce answers a bare array: callers pass "" for `items`.
        Pagination::Page { limit: 100, items, size_param: "per_page", page_param: "page", last_page: None }
    }

    fn error(&self, status: u16, _headers: &HeaderMap, body: &[u8]) -> ProviderError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let text =
            |pointer: &str| parsed.as_ref().and_then(|b| b.pointer(pointer)).and_then(Value::as_str).map(str::to_owned);
        let detail = ErrorDetail {
            provider: "woocommerce",
            status: Some(status),
            code: text("/code"),
            message: short_message(&text("/message").unwrap_or_default()),
            request_id: None,
        };
        // `rest_invalid_param` names the fields under data.params.
        let fields: Vec<FieldError> = parsed
            .as_ref()
            .and_then(|b| b.pointer("/data/params"))
            .and_then(Value::as_object)
            .map(|params| {
                params
                    .iter()
                    .map(|(field, why)| FieldError {
                        field: field.clone(),
                        message: short_message(why.as_str().unwrap_or_default()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        match detail.code.as_deref() {
            Some("rest_invalid_param" | "rest_missing_callback_param" | "woocommerce_rest_invalid_id")
                if status == 400 =>
            {
                ProviderError::Validation { detail, fields }
            }
            Some("woocommerce_rest_product_invalid_id" | "woocommerce_rest_shop_order_invalid_id") => {
                ProviderError::NotFound(detail)
            }
            _ => ProviderError::from_status(detail, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wordpress_errors_map_to_their_kind() {
        let invalid = br#"{"code":"rest_invalid_param","message":"Invalid parameter(s): status","data":{"status":400,"params":{"status":"status is not one of pending, processing, on-hold, completed."}}}"#;
        assert!(
            matches!(WooCommerceApi.error(400, &HeaderMap::new(), invalid), ProviderError::Validation { fields, .. } if fields[0].field == "status")
        );
        let missing =
            br#"{"code":"woocommerce_rest_shop_order_invalid_id","message":"Invalid ID.","data":{"status":404}}"#;
        assert!(
            matches!(WooCommerceApi.error(404, &HeaderMap::new(), missing), ProviderError::NotFound(d) if d.code.as_deref() == Some("woocommerce_rest_shop_order_invalid_id"))
        );
        let auth = br#"{"code":"woocommerce_rest_cannot_view","message":"Sorry, you cannot list resources.","data":{"status":401}}"#;
        assert!(matches!(WooCommerceApi.error(401, &HeaderMap::new(), auth), ProviderError::Unauthorized(_)));
    }
}
