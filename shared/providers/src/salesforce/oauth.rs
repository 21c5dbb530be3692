//! Salesforce's OAuth web-server flow with PKCE, on the login host
//! (`login.salesforce.com`), the sandbox host (`region` `test`), or the
//! org's My Domain (`shop`: a `*.my.salesforce.com` host); the answer's
//! `instance_url` becomes the API host and is kept; revocation at disconnect.

use portage_client::{ClientAuth, TokenEndpoint};

use crate::connect::metadata::{self, MetadataAuth, MetadataCall, MetadataRecord};
use crate::connect::{ConnectError, Endpoints, OAuthFlow, Place, Revocation, fixed_url};

/// Whether `host` is a My Domain login host.
fn is_my_domain(host: &str) -> bool {
    host.strip_suffix(".my.salesforce.com").is_some_and(|name| {
        !name.is_empty()
            && !name.starts_with(['-', '.'])
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && !name.contains("..")
    })
}

fn check_place(place: &Place<'_>) -> Result<(), ConnectError> {
    match (place.shop, place.region) {
        (Some(host), None) if is_my_domain(host) => Ok(()),
        (Some(_), _) => Err(ConnectError::InvalidShop),
        (None, None | Some("login" | "test")) => Ok(()),
        (None, Some(_)) => Err(ConnectError::InvalidRegion),
    }
}

fn login_host(place: &Place<'_>) -> String {
    match (place.shop, place.region) {
        (Some(host), _) => host.to_owned(),
        (None, Some("test")) => "test.salesforce.com".to_owned(),
        _ => "login.salesforce.com".to_owned(),
    }
}

fn endpoints(place: &Place<'_>) -> Endpoints {
    let host = login_host(place);
    Endpoints {
        authorize: fixed_url(&format!("https://{host}/services/oauth2/authorize")),
        token: TokenEndpoint::standard(format!("https://{host}/services/oauth2/token"))
            .authenticated_by(ClientAuth::Body),
    }
}

fn identity_records(answer: &serde_json::Value) -> Vec<MetadataRecord> {
    let mut records: Vec<MetadataRecord> = metadata::record("account", answer, "organization_id").into_iter().collect();
    records.extend(metadata::code("language", &answer["language"]));
    records
}

/// The token answer's `id` is the identity URL of the user and org.
const METADATA: &[MetadataCall] = &[MetadataCall {
    url: |a| a.get("id").filter(|id| id.starts_with("https://")).map(str::to_owned),
    auth: MetadataAuth::Bearer,
    body: None,
    records: identity_records,
}];

/// Salesforce's flow.
pub const FLOW: OAuthFlow = OAuthFlow {
    check_place,
    default_scopes: &["api", "refresh_token"],
    token_keep: &["instance_url", "id"],
    revocation: Some(Revocation::Form {
        url: |place| format!("https://{}/services/oauth2/revoke", login_host(place)),
        with_client: false,
    }),
    metadata: METADATA,
    ..OAuthFlow::standard(endpoints)
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_salesforce_hosts_are_login_hosts() {
        let place = |shop, region| Place { shop, region };
        assert!(check_place(&place(Some("acme.my.salesforce.com"), None)).is_ok());
        assert!(check_place(&place(None, Some("test"))).is_ok());
        assert!(check_place(&place(None, None)).is_ok());
        for bad in ["evil.com", "acme.my.salesforce.com.evil.com", ".my.salesforce.com", "a/b.my.salesforce.com"] {
            assert!(check_place(&place(Some(bad), None)).is_err(), "{bad}");
        }
        assert!(check_place(&place(None, Some("eu"))).is_err());
        assert_eq!(login_host(&place(None, Some("test"))), "test.salesforce.com");
    }
}
