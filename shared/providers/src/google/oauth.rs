//! Google's OAuth 2.0 web-server flow: PKCE, `access_type=offline` (else no
//! refresh token comes) and `prompt=consent` (else a second connection gets
//! none); revoked at disconnect (`POST https://oauth2.googleapis.com/revoke`).

use portage_client::{ClientAuth, TokenEndpoint};

use crate::connect::metadata::{self, MetadataAuth, MetadataCall};
use crate::connect::{Endpoints, OAuthFlow, Place, Revocation, fixed_place, fixed_url};

fn endpoints(_: &Place<'_>) -> Endpoints {
    let mut token = TokenEndpoint::standard("https://oauth2.googleapis.com/token");
    token.auth = ClientAuth::Body;
    Endpoints { authorize: fixed_url("https://accounts.google.com/o/oauth2/v2/auth"), token }
}

const METADATA: &[MetadataCall] = &[MetadataCall {
    url: |_| Some("https://openidconnect.googleapis.com/v1/userinfo".to_owned()),
    auth: MetadataAuth::Bearer,
    body: None,
    records: |answer| metadata::record("account", answer, "sub").into_iter().collect(),
}];

/// Google's flow.
pub const FLOW: OAuthFlow = OAuthFlow {
    check_place: fixed_place,
    endpoints,
    client_id_param: Some("client_id"),
    authorize_params: None,
    redirect_param: "redirect_uri",
    response_type: true,
    pkce: true,
    scope_separator: Some(" "),
    default_scopes: &["openid", "email", "profile"],
    authorize_extra: &[("access_type", "offline"), ("prompt", "consent"), ("include_granted_scopes", "true")],
    code_param: "code",
    callback_keep: &[],
    check_callback: None,
    token_keep: &[],
    refresh_lifetime: None,
    revocation: Some(Revocation::Form {
        url: |_| "https://oauth2.googleapis.com/revoke".to_owned(),
        with_client: false,
    }),
    app_redirect: false,
    metadata: METADATA,
};
