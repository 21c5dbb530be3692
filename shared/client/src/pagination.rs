//! Listing every page as an async stream, in each style the providers use:
//! Stripe's `starting_after`/`has_more`, Shopify's `Link` header with
//! `page_info`, offset and limit (Etsy, eBay), page numbers (Printify,
//! WooCommerce, Adobe Commerce, PayPal), a cursor the response names
//! (HubSpot's `paging.next.after`, Amazon's `NextToken`), and a next page's
//! path (Twilio, Salesforce).

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
    /// A page size and an offset until a short page, or `count` items.
    Offset {
        /// Items per page.
        limit: u32,
        /// The key of the items' array.
        items: &'static str,
        /// The page size's parameter (`limit`).
        size_param: &'static str,
        /// The offset's parameter (`offset`).
        offset_param: &'static str,
    },
    /// A page size and a page number (from 1) until a short page, or the
    /// page the response names at `last_page`.
    Page {
        /// Items per page.
        limit: u32,
        /// The key of the items' array.
        items: &'static str,
        /// The page size's parameter (`limit`, `per_page`, `page_size`).
        size_param: &'static str,
        /// The page number's parameter (`page`).
        page_param: &'static str,
        /// Where the response gives the last page's number (`/last_page`), if it does.
        last_page: Option<&'static str>,
    },
    /// The path of the next page, given by the response at `pointer`
    /// (Twilio's `next_page_uri`, Salesforce's `nextRecordsUrl`).
    NextUrl {
        /// The key of the items' array.
        items: &'static str,
        /// Where the response gives the next page's path.
        pointer: &'static str,
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
    let first = match style {
        Pagination::StripeCursor { limit }
        | Pagination::LinkHeader { limit, .. }
        | Pagination::NextCursor { limit, .. } => first.query("limit", limit.to_string()),
        Pagination::Offset { limit, size_param, offset_param, .. } => {
            first.query(size_param, limit.to_string()).query(offset_param, "0")
        }
        Pagination::Page { limit, size_param, page_param, .. } => {
            first.query(size_param, limit.to_string()).query(page_param, "1")
        }
        Pagination::NextUrl { .. } => first,
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
        // A key, a JSON pointer for items nested deeper (`/payload/Orders`),
        // or "" for a body that is the array itself (WooCommerce).
        let array = |key: &str| {
            let found = if key.is_empty() || key.starts_with('/') { body.pointer(key) } else { body.get(key) };
            found.and_then(Value::as_array).cloned().ok_or_else(|| self.malformed(key))
        };
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
            Pagination::Offset { limit, items, offset_param, .. } => {
                let page = array(items)?;
                self.offset += page.len() as u64;
                let total = body.get("count").or_else(|| body.get("total")).and_then(Value::as_u64);
                let done = page.len() < limit as usize || total.is_some_and(|t| self.offset >= t);
                let next = (!done).then(|| with_param(request, offset_param, &self.offset.to_string()));
                Ok((page, next))
            }
            Pagination::Page { limit, items, page_param, last_page, .. } => {
                let page = array(items)?;
                let current =
                    request.query.iter().find(|(k, _)| k == page_param).and_then(|(_, v)| v.parse::<u64>().ok());
                let current = current.unwrap_or(1);
                let last = last_page.and_then(|pointer| body.pointer(pointer)).and_then(Value::as_u64);
                let done = page.len() < limit as usize || last.is_some_and(|last| current >= last);
                let next = (!done).then(|| with_param(request, page_param, &(current + 1).to_string()));
                Ok((page, next))
            }
            Pagination::NextUrl { items, pointer } => {
                let next = body.pointer(pointer).and_then(Value::as_str).filter(|p| !p.is_empty()).map(ApiRequest::get);
                Ok((array(items)?, next))
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
