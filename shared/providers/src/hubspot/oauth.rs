//! HubSpot's OAuth app: the v3 token endpoint (every parameter in the form
//! body), PKCE accepted, access tokens of 30 minutes; the answer's `hub_id`
//! (the portal) is kept; v3 revocation at disconnect.

use portage_client::{ClientAuth, TokenEndpoint};

use crate::connect::metadata::{self, MetadataAuth, MetadataCall, MetadataRecord};
use crate::connect::{Endpoints, OAuthFlow, Place, Revocation, fixed_url};

fn endpoints(_: &Place<'_>) -> Endpoints {
    Endpoints {
        authorize: fixed_url("https://app.hubspot.com/oauth/authorize"),
        token: TokenEndpoint::standard("https://api.hubapi.com/oauth/v3/token").authenticated_by(ClientAuth::Body),
    }
}

fn account_records(answer: &serde_json::Value) -> Vec<MetadataRecord> {
    let mut records: Vec<MetadataRecord> = metadata::record("account", answer, "portalId").into_iter().collect();
    records.extend(metadata::code("currency", &answer["companyCurrency"]));
    for currency in answer["additionalCurrencies"].as_array().into_iter().flatten() {
        records.extend(metadata::code("currency", currency));
    }
    records
}

const METADATA: &[MetadataCall] = &[MetadataCall {
    url: |_| Some("https://api.hubapi.com/account-info/v3/details".to_owned()),
    auth: MetadataAuth::Bearer,
    body: None,
    records: account_records,
}];

/// HubSpot's flow.
pub const FLOW: OAuthFlow = OAuthFlow {
    default_scopes: &[
        "oauth",
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.objects.companies.read",
        "crm.objects.companies.write",
        "crm.schemas.contacts.write",
    ],
    token_keep: &["hub_id"],
    revocation: Some(Revocation::Form {
        url: |_| "https://api.hubapi.com/oauth/v3/token/revoke".to_owned(),
        with_client: true,
    }),
    metadata: METADATA,
    ..OAuthFlow::standard(endpoints)
};
