//! The full authorization-code flow against a real authorization server
//! someone else wrote: oidc-provider (npm, pinned in infra/oidc), on
//! Google's paths, with PKCE required and refresh tokens rotated on every
//! use. The browser is scripted over HTTP: it follows the session's URL,
//! signs in on the development login page, consents, and comes back to
//! Portage's callback; then Portage's scheduler refreshes twice, and a
//! replay of a spent refresh token (which makes the server revoke the whole
//! grant) leaves the connection `needs_reauth`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use http::{Method, StatusCode};
use portage_core::Secret;
use portage_core::api_keys::Scope;
use portage_core::ports::{Clock as _, Secrets};
use serde_json::json;

use crate::support::{Api, PUBLIC_BASE, RETURN_URL};

const CLIENT_ID: &str = "portage-oidc-client";
const CLIENT_SECRET: &str = "oidc-client-secret-9c2f";

/// oidc-provider on a free loopback port, stopped when dropped.
struct AuthorizationServer {
    child: Child,
    base: String,
}

impl Drop for AuthorizationServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_oidc_provider() -> AuthorizationServer {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/oidc");
    assert!(dir.join("node_modules/oidc-provider").exists(), "run `npm ci --prefix infra/oidc` (infra/test.sh does)");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new("node")
        .arg(dir.join("server.mjs"))
        .env("PORT", port.to_string())
        .env("REDIRECT_URI", format!("{PUBLIC_BASE}/connect/google/callback"))
        .env("CLIENT_ID", CLIENT_ID)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node runs");
    let ready = BufReader::new(child.stdout.take().unwrap()).lines().next();
    assert_eq!(ready.map(Result::unwrap).as_deref(), Some("ready"), "oidc-provider started");
    AuthorizationServer { child, base: format!("http://127.0.0.1:{port}") }
}

/// A browser: keeps cookies, follows no redirect by itself.
struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, cookies: BTreeMap::new() }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let response = request.header("cookie", cookie).send().await.unwrap();
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        response
    }

    /// From the authorization URL to where the server sends the browser
    /// back to Portage: signing in and consenting on the way.
    async fn authorize(&mut self, server: &str, start: &str) -> String {
        let mut next = start.to_owned();
        for _ in 0..12 {
            let response = self.send(self.http.get(&next)).await;
            if let Some(location) = response.headers().get("location") {
                let location = location.to_str().unwrap().to_owned();
                if location.starts_with(PUBLIC_BASE) {
                    return location;
                }
                next = if location.starts_with('/') { format!("{server}{location}") } else { location };
                continue;
            }
            let page = response.text().await.unwrap();
            let action = page.split("action=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("a form");
            let prompt = page.split("name=\"prompt\" value=\"").nth(1).and_then(|rest| rest.split('"').next());
            let mut form: Vec<(&str, &str)> = prompt.map(|p| vec![("prompt", p)]).unwrap_or_default();
            if page.contains("name=\"login\"") {
                form.extend([("login", "ada"), ("password", "any")]);
            }
            let action = if action.starts_with('/') { format!("{server}{action}") } else { action.to_owned() };
            let answer = self.send(self.http.post(&action).form(&form)).await;
            let Some(location) = answer.headers().get("location").map(|l| l.to_str().unwrap().to_owned()) else {
                panic!("POST {action} {:?}: {}\n{page}", form, answer.text().await.unwrap());
            };
            next = if location.starts_with('/') { format!("{server}{location}") } else { location };
        }
        panic!("the authorization never came back to Portage");
    }
}

fn path_of(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    format!("{}?{}", parsed.path(), parsed.query().unwrap_or_default())
}

async fn make_due(api: &Api) {
    let soon = portage_core::ports::SystemClock.now_secs() + 60;
    api.secrets
        .put("google", "acme", &[("access_token_expires_at".into(), Secret::new(soon.to_string()))])
        .await
        .unwrap();
    let connector = api.connector();
    let mut record = connector.store().connection("google", "acme").await.unwrap().unwrap();
    record.expires_at_ms = Some(soon * 1000);
    connector.store().put_connection(&record).await.unwrap();
}

async fn stored(api: &Api, key: &str) -> String {
    api.secrets.get("google", "acme", key).await.unwrap().unwrap().expose().to_owned()
}

#[tokio::test]
async fn the_authorization_code_flow_with_pkce_and_rotation_works_against_oidc_provider() {
    let server = start_oidc_provider();
    let origins = format!("accounts.google.com={0},oauth2.googleapis.com={0}", server.base);
    let api = Api::with_origins(portage_client::Origins::parse(&origins).unwrap());
    let app =
        [("client_id".to_owned(), Secret::new(CLIENT_ID)), ("client_secret".to_owned(), Secret::new(CLIENT_SECRET))];
    api.secrets.put(portage_core::apps::APPS, "google", &app).await.unwrap();
    let key = api.key("ops", &[Scope::ConnectionsWrite, Scope::ConnectionsRead]).await;

    let body = json!({"provider": "google", "connection": "acme", "return_url": RETURN_URL,
        "scopes": ["openid", "offline_access"]});
    let (status, created) = api.call(Method::POST, "/v1/connect/sessions", Some(&key), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, authorize) = api.browse(Method::GET, &path_of(created["url"].as_str().unwrap()), None).await;
    assert_eq!(status, StatusCode::FOUND);
    let authorize = authorize.unwrap();
    assert!(authorize.contains("code_challenge_method=S256") && authorize.contains("access_type=offline"));

    let mut browser = Browser::new();
    let back = browser.authorize(&server.base, &authorize).await;
    let (status, done) = api.browse(Method::GET, &path_of(&back), None).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(done.as_deref().unwrap().contains("status=connected"), "{done:?}");
    let first_refresh = stored(&api, "refresh_token").await;
    let first_access = stored(&api, "access_token").await;

    make_due(&api).await;
    assert_eq!(api.connector().refresh_due().await.unwrap().refreshed, ["google/acme"]);
    let second_refresh = stored(&api, "refresh_token").await;
    assert_ne!(second_refresh, first_refresh, "the server rotated the refresh token, and Portage kept the new one");
    assert_ne!(stored(&api, "access_token").await, first_access);
    make_due(&api).await;
    assert_eq!(api.connector().refresh_due().await.unwrap().refreshed, ["google/acme"], "the rotated token works");

    // Someone replays the first, spent refresh token: the server refuses it
    // and revokes the grant, so Portage's next refresh is refused too.
    let replay = reqwest::Client::new()
        .post(format!("{}/token", server.base))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &first_refresh),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400);
    make_due(&api).await;
    assert_eq!(api.connector().refresh_due().await.unwrap().needs_reauth, ["google/acme"]);
    let (_, one) = api.get("/v1/connections/google/acme", &key).await;
    assert_eq!(one["status"], "needs_reauth");
}
