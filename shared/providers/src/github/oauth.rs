//! GitHub's OAuth app: PKCE (S256 only), the answer asked for as JSON
//! (GitHub answers errors with a 200 and an `error` field); tokens refresh
//! and rotate where the app has expiring tokens; revoked at disconnect with
//! `DELETE /applications/{client_id}/token`.

use portage_client::{ClientAuth, TokenEndpoint};

use crate::connect::metadata::{self, MetadataAuth, MetadataCall};
use crate::connect::{Endpoints, OAuthFlow, Place, Revocation, fixed_place, fixed_url};

fn endpoints(_: &Place<'_>) -> Endpoints {
    let mut token = TokenEndpoint::standard("https://github.com/login/oauth/access_token");
    token.auth = ClientAuth::Body;
    Endpoints { authorize: fixed_url("https://github.com/login/oauth/authorize"), token }
}

const METADATA: &[MetadataCall] = &[MetadataCall {
    url: |_| Some("https://api.github.com/user".to_owned()),
    auth: MetadataAuth::Bearer,
    body: None,
    records: |answer| metadata::record("account", answer, "id").into_iter().collect(),
}];

/// GitHub's flow.
pub const FLOW: OAuthFlow = OAuthFlow {
    check_place: fixed_place,
    endpoints,
    client_id_param: Some("client_id"),
    authorize_params: None,
    redirect_param: "redirect_uri",
    response_type: false,
    pkce: true,
    scope_separator: Some(" "),
    default_scopes: &["read:user", "user:email"],
    authorize_extra: &[],
    code_param: "code",
    callback_keep: &[],
    check_callback: None,
    token_keep: &[],
    refresh_lifetime: None,
    revocation: Some(Revocation::GitHub),
    app_redirect: false,
    metadata: METADATA,
};
