//! Listing every page as an async stream, in each style the providers use:
//! Stripe's `starting_after`/`has_more`, Shopify's `Link` header with
//! `page_info`, offset and limit (Etsy, Magento), page numbers to a last page
//! (Printify, WooCommerce), and a cursor the response names (HubSpot's
//! `paging.next.after`, Amazon's `nextToken`).

use futures::Stream;
use serde_json::Value;

use crate::client::{ApiClient, ApiRequest, ApiResponse};
use crate::error::{ErrorDetail, ProviderError};

/// How a provider pages a listing.
#[derive(Debug, Clone, Copy)]
pub enum Pagination {
    /// `limit` and `starting_after` (the last item's `id`) until `has_more`
    /// is false; items in `data`.
    StripeCursor {
        /// Items per page (Stripe allows 100).
        limit: u32,
    },
    /// `limit`, then the URL in `Link: <…>; rel="next"`; items under `items`.
    LinkHeader {
        /// Items per page (Shopify allows 250).
        limit: u32,
        /// The key of the items' array.
        items: &'static str,
    },
    /// `limit` and `offset` until a short page, or `count` items.
    Offset {
        /// Items per page.
        limit: u32,
        /// The key of the items' array.
        items: &'static str,
    },
    /// `limit` and `page` (from 1) until the page named at `last_page`.
    Page {
        /// Items per page.
        limit: u32,
        /// The key of the items' array.
        items: &'static str,
        /// Where the response gives the last page's number (`/last_page`).
        last_page: &'static str,
    },
    /// `limit` and a cursor parameter whose next value the response gives at
    /// a JSON pointer, until it gives none.
    NextCursor {
        /// Items per page.
        limit: u32,
        /// The key of the items' array.
        items: &'static str,
        /// The query parameter that takes the cursor (`after`, `nextToken`).
        param: &'static str,
        /// Where the response gives the next cursor (`/paging/next/after`).
        pointer: &'static str,
    },
}

struct State<'a> {
    client: &'a ApiClient,
    next: Option<ApiRequest>,
    style: Pagination,
    offset: u64,
}

/// Every page of `first`'s listing, in order; a failed page ends the stream
/// with its error (retries already spent).
pub fn pages<'a>(
    client: &'a ApiClient,
    first: ApiRequest,
    style: Pagination,
) -> impl Stream<Item = Result<Vec<Value>, ProviderError>> + 'a {
    let limit = match style {
        Pagination::StripeCursor { limit }
        | Pagination::LinkHeader { limit, .. }
        | Pagination::Offset { limit, .. }
        | Pagination::Page { limit, .. }
        | Pagination::NextCursor { limit, .. } => limit,
    };
    let first = first.query("limit", limit.to_string());
    let first = match style {
        Pagination::Offset { .. } => first.query("offset", "0"),
        Pagination::Page { .. } => first.query("page", "1"),
        _ => first,
    };
    let state = State { client, next: Some(first), style, offset: 0 };
    futures::stream::try_unfold(state, |mut state| async move {
        let Some(request) = state.next.take() else { return Ok(None) };
        let response = state.client.send(&request).await?;
        let (items, next) = state.page(&request, &response)?;
        state.next = next;
        Ok(Some((items, state)))
    })
}

impl State<'_> {
    fn malformed(&self, what: &str) -> ProviderError {
        let provider = self.client.provider();
        ProviderError::Permanent(ErrorDetail {
            provider,
            message: format!("unexpected listing: {what}"),
            ..Default::default()
        })
    }

    fn page(
        &mut self,
        request: &ApiRequest,
        response: &ApiResponse,
    ) -> Result<(Vec<Value>, Option<ApiRequest>), ProviderError> {
        let body = response.json(self.client.provider())?;
        let array = |key: &str| body.get(key).and_then(Value::as_array).cloned().ok_or_else(|| self.malformed(key));
        match self.style {
            Pagination::StripeCursor { .. } => {
                let items = array("data")?;
                let more = body.get("has_more").and_then(Value::as_bool).unwrap_or(false);
                let last = items.last().and_then(|i| i.get("id")).and_then(Value::as_str);
                let next = match (more, last) {
                    (true, Some(id)) => Some(with_param(request, "starting_after", id)),
                    _ => None,
                };
                Ok((items, next))
            }
            Pagination::LinkHeader { items, .. } => {
                let next = next_link(&response.headers).map(ApiRequest::get);
                Ok((array(items)?, next))
            }
            Pagination::Offset { limit, items } => {
                let page = array(items)?;
                self.offset += page.len() as u64;
                let total = body.get("count").and_then(Value::as_u64);
                let done = page.len() < limit as usize || total.is_some_and(|t| self.offset >= t);
                let next = (!done).then(|| with_param(request, "offset", &self.offset.to_string()));
                Ok((page, next))
            }
            Pagination::Page { items, last_page, .. } => {
                let page = array(items)?;
                let current = request
                    .query
                    .iter()
                    .find(|(k, _)| k == "page")
                    .and_then(|(_, v)| v.parse::<u64>().ok())
                    .unwrap_or(1);
                let last = body.pointer(last_page).and_then(Value::as_u64).ok_or_else(|| self.malformed(last_page))?;
                let next = (current < last).then(|| with_param(request, "page", &(current + 1).to_string()));
                Ok((page, next))
            }
            Pagination::NextCursor { items, param, pointer, .. } => {
                let cursor = body
                    .pointer(pointer)
                    .and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_u64().map(|n| n.to_string())));
                let next = cursor.filter(|c| !c.is_empty()).map(|c| with_param(request, param, &c));
                Ok((array(items)?, next))
            }
        }
    }
}

/// `request` with `name` set to `value` (replacing an earlier value).
fn with_param(request: &ApiRequest, name: &str, value: &str) -> ApiRequest {
    let mut next = request.clone();
    next.query.retain(|(k, _)| k != name);
    next.query.push((name.to_owned(), value.to_owned()));
    next
}

/// The `rel="next"` URL of a `Link` header (RFC 8288).
pub fn next_link(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get(http::header::LINK)?.to_str().ok()?;
    value.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        is_next.then(|| target.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::next_link;

    #[test]
    fn link_headers_give_their_next_page() {
        let mut headers = http::HeaderMap::new();
        let link = r#"<https://s.myshopify.com/admin/api/2025-07/products.json?limit=2&page_info=abc>; rel="previous", <https://s.myshopify.com/admin/api/2025-07/products.json?limit=2&page_info=def>; rel="next""#;
        headers.insert(http::header::LINK, link.parse().unwrap());
        assert_eq!(
            next_link(&headers).unwrap(),
            "https://s.myshopify.com/admin/api/2025-07/products.json?limit=2&page_info=def"
        );
        headers.insert(http::header::LINK, r#"<https://x/?page_info=a>; rel="previous""#.parse().unwrap());
        assert_eq!(next_link(&headers), None);
    }
}
