//! A provider's authorization server as a browser and Portage meet it: an
//! authorize page that "logs the user in and consents" at once and sends the
//! browser back with a single-use code (or `error=access_denied` when told
//! to decline), and a token endpoint that enforces the provider's quirks —
//! how the client authenticates, a form or JSON body, the code parameter's
//! name, PKCE S256 (required, or checked when a challenge was sent), the
//! `redirect_uri` equal to the authorize request's, codes used once — and
//! answers with the provider's fields. Shopify's callback is signed with the
//! client secret as Shopify signs it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Map, Value, json};

/// How the token endpoint wants the client to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic.
    Basic,
    /// `client_id` and `client_secret` in the body.
    Body,
    /// Only `client_id` in the body (a public client with PKCE).
    IdOnly,
}

/// One provider's quirks.
#[derive(Debug, Clone)]
pub struct Quirks {
    /// The authorize page's path.
    pub authorize_path: &'static str,
    /// The token endpoint's path.
    pub token_path: &'static str,
    /// How the client authenticates.
    pub client_auth: ClientAuth,
    /// Whether the token request is JSON (else a form).
    pub json: bool,
    /// PKCE required (else checked only when a challenge came).
    pub pkce_required: bool,
    /// The callback's code parameter (`code`; Amazon `spapi_oauth_code`).
    pub code_param: &'static str,
    /// Extra callback parameters (Amazon's `selling_partner_id`).
    pub callback_extra: Vec<(&'static str, &'static str)>,
    /// Sign the callback as Shopify does, for this shop.
    pub shopify_shop: Option<&'static str>,
    /// Extra fields of the token answer (`instance_url`, `hub_id`).
    pub answer_extra: Map<String, Value>,
    /// The client's id, and its secret.
    pub client: (&'static str, &'static str),
    /// API resources served (GET or POST) to a live access token.
    pub resources: Vec<Resource>,
    /// eBay: the RuName the authorize request names, and the accept URL it
    /// stands for (where the browser really goes).
    pub runame: Option<(&'static str, &'static str)>,
    /// What every access token starts with (Etsy's are `{user_id}.…`).
    pub token_prefix: &'static str,
    /// A refresh must name the granted scopes (eBay), else `invalid_scope`.
    pub refresh_scope: bool,
}

impl Quirks {
    /// A server with these paths and client authentication, and nothing
    /// else particular: a form body, PKCE checked when sent, `code`.
    pub fn new(
        authorize_path: &'static str,
        token_path: &'static str,
        client_auth: ClientAuth,
        client: (&'static str, &'static str),
    ) -> Self {
        Self {
            authorize_path,
            token_path,
            client_auth,
            json: false,
            pkce_required: false,
            code_param: "code",
            callback_extra: Vec::new(),
            shopify_shop: None,
            answer_extra: Map::new(),
            client,
            resources: Vec::new(),
            runame: None,
            token_prefix: "",
            refresh_scope: false,
        }
    }
}

/// One API resource of the provider: what a live access token reads there.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Its path.
    pub path: &'static str,
    /// The header carrying the token: `authorization` (as `Bearer …`) or the provider's own.
    pub header: &'static str,
    /// The answer.
    pub body: Value,
    /// Another header the call must carry, with its value (Etsy's `x-api-key`).
    pub require: Option<(&'static str, &'static str)>,
}

struct Grant {
    challenge: Option<String>,
    redirect_uri: String,
}

/// The fake's state.
pub struct AuthorizationServer {
    quirks: Quirks,
    codes: Mutex<HashMap<String, Grant>>,
    decline: AtomicBool,
    refuse_refresh: AtomicBool,
    /// Refresh tokens that work (each is replaced on use: rotation).
    refresh_tokens: Mutex<Vec<String>>,
    /// Access tokens that work.
    access_tokens: Mutex<Vec<String>>,
    /// Resource requests answered.
    pub resource_calls: AtomicU64,
    /// Codes exchanged for tokens.
    pub exchanges: AtomicU64,
    /// Refresh grants answered with tokens.
    pub refreshes: AtomicU64,
    /// Every authorize request's query, decoded.
    pub authorize_requests: Mutex<Vec<Vec<(String, String)>>>,
}

impl AuthorizationServer {
    /// A server with these quirks.
    pub fn new(quirks: Quirks) -> Arc<Self> {
        Arc::new(Self {
            quirks,
            codes: Mutex::new(HashMap::new()),
            decline: AtomicBool::new(false),
            refuse_refresh: AtomicBool::new(false),
            refresh_tokens: Mutex::new(Vec::new()),
            access_tokens: Mutex::new(Vec::new()),
            resource_calls: AtomicU64::new(0),
            exchanges: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            authorize_requests: Mutex::new(Vec::new()),
        })
    }

    /// The routes.
    pub fn router(self: &Arc<Self>) -> Router {
        let mut router = Router::new()
            .route(self.quirks.authorize_path, get(authorize))
            .route(self.quirks.token_path, post(token))
            .with_state(self.clone());
        for (index, resource) in self.quirks.resources.iter().enumerate() {
            let fake = self.clone();
            let serve = move |headers: HeaderMap| {
                let fake = fake.clone();
                async move { fake.resource(index, &headers) }
            };
            router = router.route(resource.path, get(serve.clone()).post(serve));
        }
        router
    }

    fn resource(&self, index: usize, headers: &HeaderMap) -> Response {
        let resource = &self.quirks.resources[index];
        let given = headers.get(resource.header).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let token =
            if resource.header == "authorization" { given.strip_prefix("Bearer ").unwrap_or_default() } else { given };
        let required = resource.require.is_none_or(|(name, value)| headers.get(name).is_some_and(|v| v == value));
        if !required || !self.access_tokens.lock().expect("access tokens").iter().any(|t| t == token) {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({ "errors": "[API] Invalid API key or access token" })),
            )
                .into_response();
        }
        self.resource_calls.fetch_add(1, Ordering::SeqCst);
        axum::Json(resource.body.clone()).into_response()
    }

    /// Every refresh token is refused (`invalid_grant`) from now on: the
    /// user revoked the app.
    pub fn refuse_refreshes(&self) {
        self.refuse_refresh.store(true, Ordering::SeqCst);
    }

    /// The user declines from now on.
    pub fn decline(&self) {
        self.decline.store(true, Ordering::SeqCst);
    }
}

fn decode(query: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect()
}

fn value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn refuse(code: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": code }))).into_response()
}

async fn authorize(State(fake): State<Arc<AuthorizationServer>>, RawQuery(query): RawQuery) -> Response {
    let query = decode(query);
    fake.authorize_requests.lock().expect("requests").push(query.clone());
    let redirect = value(&query, "redirect_uri").or_else(|| value(&query, "accept_url")).unwrap_or_default().to_owned();
    let browser_to = match fake.quirks.runame {
        Some((runame, accept)) if redirect == runame => accept.to_owned(),
        Some(_) => return refuse("invalid_request"),
        None => redirect.clone(),
    };
    let state = value(&query, "state").unwrap_or_default().to_owned();
    let mut back: Vec<(String, String)> = Vec::new();
    if fake.decline.load(Ordering::SeqCst) {
        back.push(("error".into(), "access_denied".into()));
    } else {
        let code = format!("code-{:016x}", rand::random::<u64>());
        let challenge = value(&query, "code_challenge").map(str::to_owned);
        if challenge.is_some() && value(&query, "code_challenge_method") != Some("S256") {
            return refuse("invalid_request");
        }
        fake.codes.lock().expect("codes").insert(code.clone(), Grant { challenge, redirect_uri: redirect.clone() });
        back.push((fake.quirks.code_param.into(), code));
        for (k, v) in &fake.quirks.callback_extra {
            back.push(((*k).into(), (*v).into()));
        }
    }
    back.push(("state".into(), state));
    if let Some(shop) = fake.quirks.shopify_shop {
        back.push(("shop".into(), shop.into()));
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        back.push(("timestamp".into(), now.to_string()));
        let hmac = shopify_hmac(&back, fake.quirks.client.1);
        back.push(("hmac".into(), hmac));
    }
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &back {
        serializer.append_pair(k, v);
    }
    let location = format!("{browser_to}{}{}", if browser_to.contains('?') { '&' } else { '?' }, serializer.finish());
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// Shopify's callback signature: sorted parameters, form-encoded with
/// `%20`, HMAC-SHA256 with the client secret, lower-case hex.
pub fn shopify_hmac(query: &[(String, String)], secret: &str) -> String {
    let mut pairs: Vec<&(String, String)> = query.iter().filter(|(k, _)| k != "hmac" && k != "signature").collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        serializer.append_pair(k, v);
    }
    let message = serializer.finish().replace('+', "%20");
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn s256(verifier: &str) -> String {
    {
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
    }
}

async fn token(State(fake): State<Arc<AuthorizationServer>>, headers: HeaderMap, body: Bytes) -> Response {
    let q = &fake.quirks;
    let fields: Vec<(String, String)> = if q.json {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) else { return refuse("invalid_request") };
        map.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned())).collect()
    } else {
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return refuse("invalid_request");
        }
        form_urlencoded::parse(&body).into_owned().collect()
    };
    let basic =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", q.client.0, q.client.1)));
    let authenticated = match q.client_auth {
        ClientAuth::Basic => headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(basic.as_str()),
        ClientAuth::Body => {
            value(&fields, "client_id") == Some(q.client.0) && value(&fields, "client_secret") == Some(q.client.1)
        }
        ClientAuth::IdOnly => {
            value(&fields, "client_id") == Some(q.client.0) && value(&fields, "client_secret").is_none()
        }
    };
    if !authenticated {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": "invalid_client" }))).into_response();
    }
    match value(&fields, "grant_type") {
        Some("authorization_code") => {}
        Some("refresh_token") => return refresh(&fake, &fields),
        _ => return refuse("unsupported_grant_type"),
    }
    let Some(grant) = value(&fields, "code").and_then(|c| fake.codes.lock().expect("codes").remove(c)) else {
        return refuse("invalid_grant");
    };
    if value(&fields, "redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return refuse("invalid_grant");
    }
    match (&grant.challenge, value(&fields, "code_verifier")) {
        (Some(challenge), Some(verifier)) if &s256(verifier) == challenge => {}
        (Some(_), _) => return refuse("invalid_grant"),
        (None, _) if q.pkce_required => return refuse("invalid_request"),
        (None, _) => {}
    }
    let n = fake.exchanges.fetch_add(1, Ordering::SeqCst) + 1;
    tokens(&fake, format!("{}at-{n}", q.token_prefix), format!("rt-{n}"))
}

/// A refresh grant: the token must be a live one; it is replaced.
fn refresh(fake: &AuthorizationServer, fields: &[(String, String)]) -> Response {
    let given = value(fields, "refresh_token").unwrap_or_default().to_owned();
    if fake.quirks.refresh_scope && value(fields, "scope").is_none_or(str::is_empty) {
        return refuse("invalid_scope");
    }
    {
        let mut live = fake.refresh_tokens.lock().expect("refresh tokens");
        if fake.refuse_refresh.load(Ordering::SeqCst) || !live.contains(&given) {
            return refuse("invalid_grant");
        }
        live.retain(|t| t != &given);
    }
    let n = fake.refreshes.fetch_add(1, Ordering::SeqCst) + 1;
    tokens(fake, format!("{}at-r{n}", fake.quirks.token_prefix), format!("rt-r{n}"))
}

fn tokens(fake: &AuthorizationServer, access: String, refresh: String) -> Response {
    let q = &fake.quirks;
    fake.refresh_tokens.lock().expect("refresh tokens").push(refresh.clone());
    fake.access_tokens.lock().expect("access tokens").push(access.clone());
    let mut answer = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": refresh,
    });
    if let Value::Object(map) = &mut answer {
        map.extend(q.answer_extra.clone());
    }
    axum::Json(answer).into_response()
}
