//! Amazon Selling Partner API's website authorization: the seller consent
//! URL on the region's Seller Central (`na`, `eu`, `fe`), naming the app by
//! its `application_id` (`version=beta` while it is a draft); the callback
//! carries `spapi_oauth_code` (not `code`) and `selling_partner_id` (kept);
//! the code is exchanged with Login with Amazon. No PKCE. Sellers authorise
//! again every 365 days.

use std::time::Duration;

use portage_client::{ClientAuth, TokenEndpoint};
use portage_core::apps::ProviderApp;

use crate::connect::metadata::{self, MetadataAuth, MetadataCall, MetadataRecord};
use crate::connect::{ConnectError, Endpoints, OAuthFlow, Place, fixed_url};

fn seller_central(region: Option<&str>) -> Option<&'static str> {
    match region.unwrap_or("na") {
        "na" => Some("sellercentral.amazon.com"),
        "eu" => Some("sellercentral-europe.amazon.com"),
        "fe" => Some("sellercentral.amazon.co.jp"),
        _ => None,
    }
}

fn check_place(place: &Place<'_>) -> Result<(), ConnectError> {
    if place.shop.is_some() {
        return Err(ConnectError::InvalidShop);
    }
    seller_central(place.region).map(|_| ()).ok_or(ConnectError::InvalidRegion)
}

fn endpoints(place: &Place<'_>) -> Endpoints {
    let host = seller_central(place.region).unwrap_or("sellercentral.amazon.com");
    Endpoints {
        authorize: fixed_url(&format!("https://{host}/apps/authorize/consent")),
        token: TokenEndpoint::standard("https://api.amazon.com/auth/o2/token").authenticated_by(ClientAuth::Body),
    }
}

fn authorize_params(app: &ProviderApp, _callback: &str) -> Vec<(&'static str, String)> {
    let mut params = vec![("application_id", app.application_id.clone().unwrap_or_else(|| app.client_id.clone()))];
    if app.draft {
        params.push(("version", "beta".to_owned()));
    }
    params
}

fn participation_records(answer: &serde_json::Value) -> Vec<MetadataRecord> {
    let mut records = Vec::new();
    for entry in answer["payload"].as_array().into_iter().flatten() {
        let marketplace = &entry["marketplace"];
        if let Some(id) = metadata::id_of(&marketplace["id"]) {
            records.push(("marketplace", id, entry.clone()));
        }
        records.extend(metadata::code("currency", &marketplace["defaultCurrencyCode"]));
        records.extend(metadata::code("language", &marketplace["defaultLanguageCode"]));
    }
    records
}

const METADATA: &[MetadataCall] = &[MetadataCall {
    url: |a| {
        let region = a.get("region").unwrap_or("na");
        Some(format!("https://sellingpartnerapi-{region}.amazon.com/sellers/v1/marketplaceParticipations"))
    },
    auth: MetadataAuth::Header("x-amz-access-token"),
    body: None,
    records: participation_records,
}];

/// Amazon's flow.
pub const FLOW: OAuthFlow = OAuthFlow {
    check_place,
    client_id_param: None,
    authorize_params: Some(authorize_params),
    response_type: false,
    pkce: false,
    scope_separator: None,
    code_param: "spapi_oauth_code",
    callback_keep: &["selling_partner_id"],
    refresh_lifetime: Some(Duration::from_secs(365 * 86_400)),
    metadata: METADATA,
    ..OAuthFlow::standard(endpoints)
};
