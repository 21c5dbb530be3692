//! Printify's app authorisation, from secondary sources (Printify documents
//! it only to approved apps): `https://printify.com/app/authorize` with
//! `app_id`, `accept_url` (Portage's callback, which receives `code`) and
//! `decline_url`; the code is exchanged with JSON `{app_id, code}` (no
//! client secret) and refreshed at `…/tokens/refresh`; the answer's expiry
//! is an absolute `expire_at`. Tokens last about 6 hours.

use portage_client::{ClientAuth, TokenEncoding, TokenEndpoint};
use portage_core::apps::ProviderApp;

use crate::connect::metadata::{self, MetadataAuth, MetadataCall};
use crate::connect::{Endpoints, OAuthFlow, Place, fixed_url};

fn endpoints(_: &Place<'_>) -> Endpoints {
    Endpoints {
        authorize: fixed_url("https://printify.com/app/authorize"),
        token: TokenEndpoint {
            url: "https://api.printify.com/v1/app/oauth/tokens".into(),
            refresh_url: Some("https://api.printify.com/v1/app/oauth/tokens/refresh".into()),
            encoding: TokenEncoding::Json,
            auth: ClientAuth::IdOnly,
            client_id_param: "app_id",
            code_extra: &[],
            refresh_scope: false,
        },
    }
}

fn authorize_params(_: &ProviderApp, callback: &str) -> Vec<(&'static str, String)> {
    vec![("decline_url", format!("{callback}?error=access_denied"))]
}

const METADATA: &[MetadataCall] = &[MetadataCall {
    url: |_| Some("https://api.printify.com/v1/shops.json".to_owned()),
    auth: MetadataAuth::Bearer,
    body: None,
    records: |answer| {
        answer.as_array().into_iter().flatten().filter_map(|s| metadata::record("store", s, "id")).collect()
    },
}];

/// Printify's flow.
pub const FLOW: OAuthFlow = OAuthFlow {
    client_id_param: Some("app_id"),
    authorize_params: Some(authorize_params),
    redirect_param: "accept_url",
    response_type: false,
    pkce: false,
    scope_separator: None,
    metadata: METADATA,
    ..OAuthFlow::standard(endpoints)
};
