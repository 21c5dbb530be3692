//! Etsy's OAuth app (Open API v3): PKCE is required, the client is public
//! (the code and refresh exchanges carry only `client_id`, the keystring),
//! refresh tokens last 90 days. Every API call also sends `x-api-key:
//! keystring:shared_secret` (see [`portage_core::apps::ProviderApp::etsy_api_key`]).

use std::time::Duration;

use portage_client::{ClientAuth, TokenEndpoint};

use crate::connect::metadata::{self, MetadataAuth, MetadataCall, MetadataRecord};
use crate::connect::{Endpoints, OAuthFlow, Place, fixed_url};

fn endpoints(_: &Place<'_>) -> Endpoints {
    Endpoints {
        authorize: fixed_url("https://www.etsy.com/oauth/connect"),
        token: TokenEndpoint::standard("https://api.etsy.com/v3/public/oauth/token")
            .authenticated_by(ClientAuth::IdOnly),
    }
}

fn shop_records(answer: &serde_json::Value) -> Vec<MetadataRecord> {
    let shops = answer["results"].as_array().cloned().unwrap_or_else(|| vec![answer.clone()]);
    let mut records = Vec::new();
    for shop in &shops {
        records.extend(metadata::record("store", shop, "shop_id"));
        records.extend(metadata::code("currency", &shop["currency_code"]));
    }
    records
}

/// An Etsy access token is `{user_id}.{…}`: the owner's shop is read by that id.
const METADATA: &[MetadataCall] = &[MetadataCall {
    url: |a| {
        let user = a.get("access_token")?.split_once('.')?.0.to_owned();
        Some(format!("https://openapi.etsy.com/v3/application/users/{user}/shops"))
    },
    auth: MetadataAuth::EtsyBearer,
    body: None,
    records: shop_records,
}];

/// Etsy's flow.
pub const FLOW: OAuthFlow = OAuthFlow {
    default_scopes: &["listings_r", "listings_w", "shops_r", "shops_w", "transactions_r", "transactions_w"],
    refresh_lifetime: Some(Duration::from_secs(90 * 86_400)),
    metadata: METADATA,
    ..OAuthFlow::standard(endpoints)
};
