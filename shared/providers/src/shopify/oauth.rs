//! Shopify's OAuth app, per shop: `https://{shop}/admin/oauth/authorize`,
//! a JSON code exchange asking for an expiring offline token
//! (`expiring=1`: an access token of an hour, its refresh token replaced on
//! every use), and the callback's `hmac` checked as Shopify's own library
//! checks it (shopify-app-js `utils/hmac-validator.ts`): every parameter but
//! `hmac` and `signature`, sorted by name, form-encoded with `%20` for
//! spaces, HMAC-SHA256 with the app's client secret, lower-case hex,
//! compared in constant time; `timestamp` within 90 s of now; `shop` equal
//! to the session's.

use hmac::{Hmac, Mac};
use portage_client::{ClientAuth, TokenEncoding, TokenEndpoint};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::connect::metadata::{self, MetadataAuth, MetadataCall, MetadataRecord};
use crate::connect::{CallbackCheck, ConnectError, Endpoints, OAuthFlow, Place, fixed_url};

/// How far a callback's `timestamp` may be from now (the library's window).
const TIMESTAMP_TOLERANCE_SECS: i64 = 90;

/// A session's shop must be a plain `name.myshopify.com` domain.
fn check_place(place: &Place<'_>) -> Result<(), ConnectError> {
    if place.region.is_some() {
        return Err(ConnectError::InvalidRegion);
    }
    match place.shop {
        Some(shop) if portage_core::connect::is_shopify_shop(shop) => Ok(()),
        _ => Err(ConnectError::InvalidShop),
    }
}

fn endpoints(place: &Place<'_>) -> Endpoints {
    let shop = place.shop.unwrap_or_default();
    Endpoints {
        authorize: fixed_url(&format!("https://{shop}/admin/oauth/authorize")),
        token: TokenEndpoint {
            url: format!("https://{shop}/admin/oauth/access_token"),
            refresh_url: None,
            encoding: TokenEncoding::Json,
            auth: ClientAuth::Body,
            client_id_param: "client_id",
            code_extra: &[("expiring", "1")],
            refresh_scope: false,
        },
    }
}

/// The message a callback's `hmac` signs.
pub fn signed_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = query.iter().filter(|(k, _)| k != "hmac" && k != "signature").collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        serializer.append_pair(key, value);
    }
    serializer.finish().replace('+', "%20")
}

/// The `hmac` Shopify sends with `query`, for tests and the fake.
pub fn callback_hmac(query: &[(String, String)], client_secret: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(client_secret.as_bytes()).unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(signed_query(query).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn check_callback(check: &CallbackCheck<'_>) -> Result<(), ConnectError> {
    let value = |name: &str| check.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let given = value("hmac").ok_or(ConnectError::InvalidHmac)?;
    let expected = callback_hmac(check.query, check.client_secret);
    if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return Err(ConnectError::InvalidHmac);
    }
    let timestamp: i64 = value("timestamp").and_then(|t| t.parse().ok()).ok_or(ConnectError::InvalidHmac)?;
    if (check.now_secs - timestamp).abs() > TIMESTAMP_TOLERANCE_SECS {
        return Err(ConnectError::InvalidHmac);
    }
    if value("shop") != check.shop {
        return Err(ConnectError::ShopMismatch);
    }
    Ok(())
}

/// The Admin API version the metadata pull reads.
const ADMIN_API: &str = "2025-10";

fn shop_records(answer: &serde_json::Value) -> Vec<MetadataRecord> {
    let shop = &answer["shop"];
    let mut records: Vec<MetadataRecord> = metadata::record("store", shop, "id").into_iter().collect();
    let currencies =
        shop["enabled_presentment_currencies"].as_array().cloned().unwrap_or_else(|| vec![shop["currency"].clone()]);
    records.extend(currencies.iter().filter_map(|c| metadata::code("currency", c)));
    records
}

fn locale_records(answer: &serde_json::Value) -> Vec<MetadataRecord> {
    let locales = answer["data"]["shopLocales"].as_array().cloned().unwrap_or_default();
    locales.iter().filter_map(|l| metadata::record("language", l, "locale")).collect()
}

const METADATA: &[MetadataCall] = &[
    MetadataCall {
        url: |a| a.get("shop").map(|shop| format!("https://{shop}/admin/api/{ADMIN_API}/shop.json")),
        auth: MetadataAuth::Header("X-Shopify-Access-Token"),
        body: None,
        records: shop_records,
    },
    MetadataCall {
        url: |a| a.get("shop").map(|shop| format!("https://{shop}/admin/api/{ADMIN_API}/graphql.json")),
        auth: MetadataAuth::Header("X-Shopify-Access-Token"),
        body: Some(r#"{"query":"{ shopLocales { locale primary published } }"}"#),
        records: locale_records,
    },
];

/// Shopify's flow.
pub const FLOW: OAuthFlow = OAuthFlow {
    check_place,
    response_type: false,
    pkce: false,
    scope_separator: Some(","),
    default_scopes: &["read_products", "write_products", "read_orders", "read_inventory", "write_inventory"],
    check_callback: Some(check_callback),
    metadata: METADATA,
    ..OAuthFlow::standard(endpoints)
};

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_signed_message_is_sorted_and_form_encoded() {
        let query = pairs(&[
            ("state", "a b"),
            ("shop", "acme.myshopify.com"),
            ("hmac", "x"),
            ("code", "c&d"),
            ("timestamp", "1700000000"),
        ]);
        assert_eq!(signed_query(&query), "code=c%26d&shop=acme.myshopify.com&state=a%20b&timestamp=1700000000");
        let mut signed = query.clone();
        signed.retain(|(k, _)| k != "hmac");
        signed.push(("hmac".into(), callback_hmac(&query, "secret")));
        let check = |q: &[(String, String)], shop: &str, now: i64| {
            check_callback(&CallbackCheck { query: q, shop: Some(shop), client_secret: "secret", now_secs: now })
        };
        assert!(check(&signed, "acme.myshopify.com", 1_700_000_010).is_ok());
        assert!(matches!(check(&signed, "acme.myshopify.com", 1_700_000_100), Err(ConnectError::InvalidHmac)));
        assert!(matches!(check(&signed, "other.myshopify.com", 1_700_000_010), Err(ConnectError::ShopMismatch)));
        let mut forged = signed.clone();
        forged[0].1 = "changed".into();
        assert!(matches!(check(&forged, "acme.myshopify.com", 1_700_000_010), Err(ConnectError::InvalidHmac)));
    }
}
