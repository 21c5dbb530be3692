//! One request to an OAuth 2.0 token endpoint, the way each provider takes
//! it: a form or JSON body (Shopify, Printify), client credentials as HTTP
//! Basic or in the body, or only the client id (public clients with PKCE:
//! Etsy). The answer is read leniently (Shopify sends no `token_type`,
//! Printify `expire_at` instead of `expires_in`, HubSpot `scopes` as an
//! array, GitHub its errors with a 200), so every provider's becomes one
//! [`TokenAnswer`].

use portage_core::Secret;
use serde_json::{Map, Value};

/// How the request's body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEncoding {
    /// `application/x-www-form-urlencoded` (RFC 6749).
    Form,
    /// `application/json` (Shopify, Printify).
    Json,
}

/// How the client proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret (RFC 6749, section 2.3.1).
    Basic,
    /// The client id and secret as body parameters.
    Body,
    /// Only the client id, in the body (a public client proving itself with PKCE).
    IdOnly,
}

/// A provider's token endpoint, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEndpoint {
    /// Where codes are exchanged.
    pub url: String,
    /// Where refresh tokens are exchanged, when not at `url` (Printify).
    pub refresh_url: Option<String>,
    /// The body's encoding.
    pub encoding: TokenEncoding,
    /// How the client authenticates.
    pub auth: ClientAuth,
    /// The client id's parameter name (`client_id`; Printify `app_id`).
    pub client_id_param: &'static str,
    /// Extra fields of a code exchange (Shopify's `expiring=1`).
    pub code_extra: &'static [(&'static str, &'static str)],
    /// Whether a refresh names the granted scopes again (eBay's does).
    pub refresh_scope: bool,
}

impl TokenEndpoint {
    /// A standard endpoint: a form body, client credentials as HTTP Basic.
    pub fn standard(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            refresh_url: None,
            encoding: TokenEncoding::Form,
            auth: ClientAuth::Basic,
            client_id_param: "client_id",
            code_extra: &[],
            refresh_scope: false,
        }
    }

    /// The same endpoint reached through `origins` (a sandbox, a test fake).
    pub fn through(mut self, origins: &crate::Origins) -> Self {
        let resolve = |url: &str| url::Url::parse(url).map(|u| origins.resolve(&u).to_string()).ok();
        self.url = resolve(&self.url).unwrap_or(self.url);
        self.refresh_url = self.refresh_url.map(|url| resolve(&url).unwrap_or(url));
        self
    }

    /// The same endpoint with the client authenticating another way.
    pub fn authenticated_by(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
        self
    }
}

/// What is asked for.
#[derive(Debug, Clone)]
pub enum Grant<'a> {
    /// An authorization code from a callback.
    Code {
        /// The code.
        code: &'a str,
        /// The `redirect_uri` the authorization request named (eBay: the RuName).
        redirect_uri: &'a str,
        /// The PKCE code verifier, where the request had a challenge.
        verifier: Option<&'a Secret>,
    },
    /// A refresh token, with the scopes to name where the endpoint wants them.
    Refresh {
        /// The refresh token.
        token: &'a Secret,
        /// The scopes, space-separated.
        scope: Option<&'a str>,
    },
    /// The client's own credentials (PayPal's merchant calls): no user, no
    /// refresh token; a new token is asked for whenever one expires.
    ClientCredentials,
}

/// The client's credentials.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// The client id.
    pub id: String,
    /// The client secret.
    pub secret: Secret,
}

/// A token endpoint's answer.
#[derive(Debug, Clone)]
pub struct TokenAnswer {
    /// The access token.
    pub access_token: Secret,
    /// A refresh token, when one came (rotated, or the first).
    pub refresh_token: Option<Secret>,
    /// When the access token expires, Unix seconds.
    pub expires_at: Option<u64>,
    /// When the refresh token expires, where the provider says (eBay, Shopify).
    pub refresh_expires_at: Option<u64>,
    /// The scopes granted, where the provider says.
    pub scopes: Option<Vec<String>>,
    /// Every other field of the answer (Salesforce `instance_url`, HubSpot `hub_id`).
    pub extra: Map<String, Value>,
}

/// Why a token request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The provider refused it, with this OAuth error code (`invalid_grant`…).
    #[error("token request refused: {0}")]
    Refused(String),
    /// No answer (network, timeout, a 5xx).
    #[error("token endpoint unreachable")]
    Unreachable,
    /// An answer that is not a token.
    #[error("token endpoint answered without an access token")]
    Malformed,
}

impl TokenError {
    /// Whether the refresh token (or code) is dead: the user must authorise again.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, Self::Refused(code) if code == "invalid_grant" || code == "bad_refresh_token")
    }
}

/// Makes one token request. `http` must not follow redirects.
pub async fn request_token(
    http: &reqwest::Client,
    endpoint: &TokenEndpoint,
    client: &ClientCredentials,
    grant: &Grant<'_>,
    now_secs: u64,
) -> Result<TokenAnswer, TokenError> {
    let mut fields: Vec<(&str, String)> = Vec::new();
    let url = match grant {
        Grant::Code { code, redirect_uri, verifier } => {
            fields.push(("grant_type", "authorization_code".into()));
            fields.push(("code", (*code).to_owned()));
            fields.push(("redirect_uri", (*redirect_uri).to_owned()));
            if let Some(verifier) = verifier {
                fields.push(("code_verifier", verifier.expose().to_owned()));
            }
            fields.extend(endpoint.code_extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
            &endpoint.url
        }
        Grant::Refresh { token, scope } => {
            fields.push(("grant_type", "refresh_token".into()));
            fields.push(("refresh_token", token.expose().to_owned()));
            if let Some(scope) = scope {
                fields.push(("scope", (*scope).to_owned()));
            }
            endpoint.refresh_url.as_ref().unwrap_or(&endpoint.url)
        }
        Grant::ClientCredentials => {
            fields.push(("grant_type", "client_credentials".into()));
            &endpoint.url
        }
    };
    match endpoint.auth {
        ClientAuth::Basic => {}
        ClientAuth::Body => {
            fields.push((endpoint.client_id_param, client.id.clone()));
            fields.push(("client_secret", client.secret.expose().to_owned()));
        }
        ClientAuth::IdOnly => fields.push((endpoint.client_id_param, client.id.clone())),
    }
    let mut request = http.post(url).header(http::header::ACCEPT, "application/json");
    if endpoint.auth == ClientAuth::Basic {
        request = request.basic_auth(&client.id, Some(client.secret.expose()));
    }
    request = match endpoint.encoding {
        TokenEncoding::Form => request.form(&fields),
        TokenEncoding::Json => {
            let body: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), Value::String(v))).collect();
            request.json(&body)
        }
    };
    let response = request.send().await.map_err(|_| TokenError::Unreachable)?;
    let status = response.status();
    if status.is_server_error() {
        return Err(TokenError::Unreachable);
    }
    let body: Value = response.json().await.map_err(|_| {
        if status.is_success() { TokenError::Malformed } else { TokenError::Refused(status.as_str().to_owned()) }
    })?;
    read_answer(status.is_success(), body, now_secs)
}

/// The answer's fields, or the refusal it carries.
fn read_answer(success: bool, body: Value, now_secs: u64) -> Result<TokenAnswer, TokenError> {
    let Value::Object(mut fields) = body else { return Err(TokenError::Malformed) };
    let text = |fields: &mut Map<String, Value>, name: &str| match fields.remove(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    };
    if let Some(code) = text(&mut fields, "error") {
        return Err(TokenError::Refused(code));
    }
    if !success {
        // HubSpot's `{"status": "BAD_REFRESH_TOKEN", …}`, or no code at all.
        let code = text(&mut fields, "status").map(|s| s.to_ascii_lowercase());
        return Err(TokenError::Refused(code.unwrap_or_else(|| "refused".into())));
    }
    let access_token = text(&mut fields, "access_token").ok_or(TokenError::Malformed)?;
    let seconds = |fields: &mut Map<String, Value>, name: &str| fields.remove(name).and_then(|v| number(&v));
    let expires_at = match seconds(&mut fields, "expires_in") {
        Some(secs) => Some(now_secs + secs),
        // Printify: an absolute time.
        None => text(&mut fields, "expire_at").and_then(|at| unix_secs(&at)),
    };
    let refresh_expires_at = seconds(&mut fields, "refresh_token_expires_in").map(|secs| now_secs + secs);
    let scopes = match fields.remove("scope").or_else(|| fields.remove("scopes")) {
        Some(Value::String(s)) => Some(s.split([' ', ',']).filter(|s| !s.is_empty()).map(str::to_owned).collect()),
        Some(Value::Array(items)) => Some(items.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
        _ => None,
    };
    Ok(TokenAnswer {
        access_token: Secret::new(access_token),
        refresh_token: text(&mut fields, "refresh_token").map(Secret::new),
        expires_at,
        refresh_expires_at,
        scopes,
        extra: fields,
    })
}

/// A count of seconds sent as a number or a numeric string.
fn number(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

/// An RFC 3339 timestamp in Unix seconds.
fn unix_secs(text: &str) -> Option<u64> {
    let at = humantime::parse_rfc3339_weak(text.trim_end_matches('Z').trim_end_matches("+00:00")).ok()?;
    at.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_providers_answer_reads_alike() {
        let shopify = json!({"access_token": "shpat", "scope": "read_orders,write_products", "expires_in": 3600,
            "refresh_token": "shprt", "refresh_token_expires_in": 2_592_000});
        let a = read_answer(true, shopify, 1000).unwrap();
        assert_eq!(a.expires_at, Some(4600));
        assert_eq!(a.refresh_expires_at, Some(2_593_000));
        assert_eq!(a.scopes.unwrap(), ["read_orders", "write_products"]);
        let hubspot = json!({"token_type": "bearer", "access_token": "x", "refresh_token": "r", "hub_id": 62515,
            "scopes": ["oauth", "crm.objects.contacts.read"], "expires_in": "1800"});
        let a = read_answer(true, hubspot, 0).unwrap();
        assert_eq!(a.extra["hub_id"], 62515);
        assert_eq!(a.expires_at, Some(1800));
        assert_eq!(a.scopes.unwrap().len(), 2);
        let printify = json!({"access_token": "p", "refresh_token": "q", "expire_at": "2026-12-03T16:00:00Z"});
        assert!(read_answer(true, printify, 0).unwrap().expires_at.is_some());
    }

    #[test]
    fn refusals_carry_their_code() {
        let github = json!({"error": "bad_verification_code", "error_description": "The code is incorrect"});
        assert_eq!(read_answer(true, github, 0).unwrap_err(), TokenError::Refused("bad_verification_code".into()));
        let hubspot = json!({"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"});
        assert!(read_answer(false, hubspot, 0).unwrap_err().is_invalid_grant());
        assert!(read_answer(false, json!({"error": "invalid_grant"}), 0).unwrap_err().is_invalid_grant());
        assert_eq!(read_answer(true, json!({"token_type": "bearer"}), 0).unwrap_err(), TokenError::Malformed);
    }
}
