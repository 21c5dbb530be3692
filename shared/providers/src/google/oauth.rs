//! Google's OAuth 2.0 web-server flow: PKCE, `access_type=offline` (else no
//! refresh token comes) and `prompt=consent` (else a second connection gets
//! none); revoked at disconnect (`POST https://oauth2.googleapis.com/revoke`).

use portage_client::{ClientAuth, TokenEndpoint};

use crate::connect::metadata::{self, MetadataAuth, MetadataCall};
use crate::connect::{Endpoints, OAuthFlow, Place, Revocation, fixed_url};

fn endpoints(_: &Place<'_>) -> Endpoints {
    Endpoints {
        authorize: fixed_url("https://accounts.google.com/o/oauth2/v2/auth"),
        token: TokenEndpoint::standard("https://oauth2.googleapis.com/token").authenticated_by(ClientAuth::Body),
    }
}

const METADATA: &[MetadataCall] = &[MetadataCall {
    url: |_| Some("https://openidconnect.googleapis.com/v1/userinfo".to_owned()),
    auth: MetadataAuth::Bearer,
    body: None,
    records: |answer| metadata::record("account", answer, "sub").into_iter().collect(),
}];

/// Google's flow.
pub const FLOW: OAuthFlow = OAuthFlow {
    default_scopes: &["openid", "email", "profile"],
    authorize_extra: &[("access_type", "offline"), ("prompt", "consent"), ("include_granted_scopes", "true")],
    revocation: Some(Revocation::Form {
        url: |_| "https://oauth2.googleapis.com/revoke".to_owned(),
        with_client: false,
    }),
    metadata: METADATA,
    ..OAuthFlow::standard(endpoints)
};
