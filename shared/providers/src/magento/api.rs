//! Adobe Commerce (Magento 2) REST as the shared client sees it: an
//! integration's access token as a bearer, no limit of its own (the host's,
//! if any), `searchCriteria[pageSize]`/`[currentPage]` with `total_count`,
//! and `{"message", "parameters"}` bodies whose `%1`-style placeholders are
//! filled from the parameters.

use http::HeaderMap;
use portage_client::pagination::Pagination;
use portage_client::{ErrorDetail, Limit, Policy, ProviderError, short_message};
use serde_json::Value;

/// Adobe Commerce's policy, for one store.
#[derive(Debug, Clone, Copy, Default)]
pub struct MagentoApi;

/// `message` with `%1`, `%2` … (or `%name`) replaced from `parameters`.
fn filled(message: &str, parameters: Option<&Value>) -> String {
    let mut text = message.to_owned();
    match parameters {
        Some(Value::Array(list)) => {
            for (i, value) in list.iter().enumerate().rev() {
                text = text.replace(&format!("%{}", i + 1), value.as_str().unwrap_or(&value.to_string()));
            }
        }
        Some(Value::Object(named)) => {
            for (name, value) in named {
                text = text.replace(&format!("%{name}"), value.as_str().unwrap_or(&value.to_string()));
            }
        }
        _ => {}
    }
    text
}

impl Policy for MagentoApi {
    fn provider(&self) -> &'static str {
        "magento"
    }

    fn base_url(&self) -> &str {
        "https://store.example"
    }

    fn limit(&self) -> Limit {
        Limit { per_second: 5.0, burst: 10.0 }
    }

    fn pagination(&self, items: &'static str) -> Pagination {
        Pagination::Page {
            limit: 100,
            items,
            size_param: "searchCriteria[pageSize]",
            page_param: "searchCriteria[currentPage]",
            last_page: None,
        }
    }

    fn error(&self, status: u16, _headers: &HeaderMap, body: &[u8]) -> ProviderError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let message = parsed.as_ref().and_then(|b| b.get("message")).and_then(Value::as_str).unwrap_or_default();
        let detail = ErrorDetail {
            provider: "magento",
            status: Some(status),
            code: None,
            message: short_message(&filled(message, parsed.as_ref().and_then(|b| b.get("parameters")))),
            request_id: None,
        };
        ProviderError::from_status(detail, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_filled_from_their_parameters() {
        let missing = br#"{"message":"The product that was requested doesn't exist. Verify the product and try again.","parameters":[]}"#;
        assert!(matches!(MagentoApi.error(404, &HeaderMap::new(), missing), ProviderError::NotFound(_)));
        let invalid =
            br#"{"message":"\"%fieldName\" is required. Enter and try again.","parameters":{"fieldName":"sku"}}"#;
        match MagentoApi.error(400, &HeaderMap::new(), invalid) {
            ProviderError::Validation { detail, .. } => {
                assert_eq!(detail.message, "\"sku\" is required. Enter and try again.")
            }
            other => panic!("{other:?}"),
        }
        let auth = br#"{"message":"The consumer isn't authorized to access %resources.","parameters":{"resources":"Magento_Catalog::products"}}"#;
        assert!(
            matches!(MagentoApi.error(401, &HeaderMap::new(), auth), ProviderError::Unauthorized(d) if d.message.ends_with("Magento_Catalog::products."))
        );
    }
}
