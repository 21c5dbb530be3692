//! eBay's OAuth app: the `redirect_uri` is the app's RuName (not a URL),
//! the code exchange uses HTTP Basic client authentication, no PKCE (eBay's
//! official client sends none), and the answer says how long the refresh
//! token lives (`refresh_token_expires_in`, about 18 months); refreshing
//! does not rotate it, and names the granted scopes again.

use portage_client::TokenEndpoint;

use crate::connect::metadata::{self, MetadataAuth, MetadataCall, MetadataRecord};
use crate::connect::{Endpoints, OAuthFlow, Place, fixed_url};

fn endpoints(_: &Place<'_>) -> Endpoints {
    Endpoints {
        authorize: fixed_url("https://auth.ebay.com/oauth2/authorize"),
        token: TokenEndpoint {
            refresh_scope: true,
            ..TokenEndpoint::standard("https://api.ebay.com/identity/v1/oauth2/token")
        },
    }
}

fn user_records(answer: &serde_json::Value) -> Vec<MetadataRecord> {
    let mut records: Vec<MetadataRecord> = metadata::record("account", answer, "userId").into_iter().collect();
    records.extend(
        metadata::id_of(&answer["registrationMarketplaceId"])
            .map(|id| ("marketplace", id.clone(), serde_json::json!({ "id": id }))),
    );
    records
}

const METADATA: &[MetadataCall] = &[MetadataCall {
    url: |_| Some("https://apiz.ebay.com/commerce/identity/v1/user/".to_owned()),
    auth: MetadataAuth::Bearer,
    body: None,
    records: user_records,
}];

/// eBay's flow.
pub const FLOW: OAuthFlow = OAuthFlow {
    pkce: false,
    default_scopes: &[
        "https://api.ebay.com/oauth/api_scope",
        "https://api.ebay.com/oauth/api_scope/sell.inventory",
        "https://api.ebay.com/oauth/api_scope/sell.fulfillment",
        "https://api.ebay.com/oauth/api_scope/sell.account",
    ],
    app_redirect: true,
    metadata: METADATA,
    ..OAuthFlow::standard(endpoints)
};
