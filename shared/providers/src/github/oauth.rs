//! GitHub's OAuth app: PKCE (S256 only), the answer asked for as JSON
//! (GitHub answers errors with a 200 and an `error` field); tokens refresh
//! and rotate where the app has expiring tokens; revoked at disconnect with
//! `DELETE /applications/{client_id}/token`.

use portage_client::{ClientAuth, TokenEndpoint};

use crate::connect::metadata::{self, MetadataAuth, MetadataCall};
use crate::connect::{Endpoints, OAuthFlow, Place, Revocation, fixed_url};

fn endpoints(_: &Place<'_>) -> Endpoints {
    Endpoints {
        authorize: fixed_url("https://github.com/login/oauth/authorize"),
        token: TokenEndpoint::standard("https://github.com/login/oauth/access_token")
            .authenticated_by(ClientAuth::Body),
    }
}

const METADATA: &[MetadataCall] = &[MetadataCall {
    url: |_| Some("https://api.github.com/user".to_owned()),
    auth: MetadataAuth::Bearer,
    body: None,
    records: |answer| metadata::record("account", answer, "id").into_iter().collect(),
}];

/// GitHub's flow.
pub const FLOW: OAuthFlow = OAuthFlow {
    response_type: false,
    default_scopes: &["read:user", "user:email"],
    revocation: Some(Revocation::GitHub),
    metadata: METADATA,
    ..OAuthFlow::standard(endpoints)
};
