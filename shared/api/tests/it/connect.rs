//! Connect flows driven the way a browser drives them: the app opens a
//! session, the browser follows its URL to the provider's fake authorization
//! server, consents, comes back to the callback, and lands on the app's
//! return URL; plus the hostile variants, in which nothing is stored.

use std::sync::Arc;

use http::{Method, StatusCode};
use portage_core::Secret;
use portage_core::api_keys::Scope;
use portage_core::ports::Secrets;
use portage_fakes::authorization::{AuthorizationServer, ClientAuth, Quirks, Resource};
use serde_json::{Map, Value, json};

use crate::support::{Api, PUBLIC_BASE, RETURN_URL};

fn quirks(authorize_path: &'static str, token_path: &'static str, client_auth: ClientAuth) -> Quirks {
    Quirks::new(authorize_path, token_path, client_auth, ("client-1", "secret-1"))
}

/// An API whose `hosts` all reach `fake`, with an app registered for `provider`.
async fn api_with(provider: &str, fake: &Arc<AuthorizationServer>, hosts: &[&str]) -> (Api, String) {
    let running = portage_fakes::serve(fake.router()).await;
    let origins = hosts.iter().map(|h| format!("{h}={}", running.base)).collect::<Vec<_>>().join(",");
    let api = Api::with_origins(portage_client::Origins::parse(&origins).unwrap());
    let app =
        [("client_id".to_owned(), Secret::new("client-1")), ("client_secret".to_owned(), Secret::new("secret-1"))];
    api.secrets.put(portage_core::apps::APPS, provider, &app).await.unwrap();
    let key = api.key("ops", &[Scope::ConnectionsWrite, Scope::ConnectionsRead]).await;
    (api, key)
}

fn path_of(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    }
}

fn query_of(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

/// Opens a session and follows it to the provider; answers the session's
/// URL and where the provider sent the browser back.
async fn to_provider(api: &Api, key: &str, body: Value) -> (String, String) {
    let (status, created) = api.call(Method::POST, "/v1/connect/sessions", Some(key), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let url = created["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{PUBLIC_BASE}/connect/sessions/cs_")), "{url}");
    let (status, authorize) = api.browse(Method::GET, &path_of(&url), None).await;
    assert_eq!(status, StatusCode::FOUND);
    let authorize = authorize.unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let consented = http.get(&authorize).send().await.unwrap();
    assert_eq!(consented.status(), StatusCode::FOUND);
    let back = consented.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&format!("{PUBLIC_BASE}/connect/")), "{back}");
    (url, back)
}

fn session(provider: &str) -> Value {
    json!({ "provider": provider, "connection": "acme", "return_url": format!("{RETURN_URL}?tab=1") })
}

async fn secret(api: &Api, provider: &str, key: &str) -> Option<String> {
    api.secrets.get(provider, "acme", key).await.unwrap().map(|s| s.expose().to_owned())
}

#[tokio::test]
async fn etsy_connects_with_pkce_and_every_step_works_once() {
    let mut q = quirks("/oauth/connect", "/v3/public/oauth/token", ClientAuth::IdOnly);
    q.pkce_required = true;
    q.token_prefix = "84137712.";
    q.resources = vec![Resource {
        path: "/v3/application/users/84137712/shops",
        header: "authorization",
        require: Some(("x-api-key", "client-1:secret-1")),
        body: json!({"shop_id": 5539812, "shop_name": "AcmePrints", "currency_code": "EUR"}),
    }];
    let fake = AuthorizationServer::new(q);
    let (api, key) = api_with("etsy", &fake, &["www.etsy.com", "api.etsy.com", "openapi.etsy.com"]).await;
    let (url, back) = to_provider(&api, &key, session("etsy")).await;

    let asked = fake.authorize_requests.lock().unwrap()[0].clone();
    let param = |name: &str| asked.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(param("client_id").as_deref(), Some("client-1"));
    assert_eq!(param("redirect_uri"), Some(format!("{PUBLIC_BASE}/connect/etsy/callback")));
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert!(param("state").unwrap().len() >= 32, "at least 128 bits of state");

    let (status, done) = api.browse(Method::GET, &path_of(&back), None).await;
    assert_eq!(status, StatusCode::FOUND);
    let done = done.unwrap();
    assert!(done.starts_with(RETURN_URL), "{done}");
    let outcome = query_of(&done);
    for pair in [("tab", "1"), ("provider", "etsy"), ("connection", "acme"), ("status", "connected")] {
        assert!(outcome.contains(&(pair.0.to_owned(), pair.1.to_owned())), "{done}");
    }
    assert_eq!(secret(&api, "etsy", "access_token").await.as_deref(), Some("84137712.at-1"));
    pull_metadata(&api).await;
    let shops = portage_core::ports::StateStore::list(api.db.as_ref(), "etsy", "acme", "store").await.unwrap();
    assert_eq!(
        shops.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["5539812"],
        "read with x-api-key keystring:secret"
    );
    assert_eq!(secret(&api, "etsy", "refresh_token").await.as_deref(), Some("rt-1"));
    let refresh_end: i64 = secret(&api, "etsy", "refresh_token_expires_at").await.unwrap().parse().unwrap();
    assert!((refresh_end - portage_core::ports::SystemClock.now_secs() - 90 * 86_400).abs() < 60, "Etsy's 90 days");

    let (status, listed) = api.get("/v1/connections?provider=etsy", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed[0]["status"], "connected");
    assert_eq!(listed[0]["auth"], "oauth2");
    assert!(listed[0]["expires_at"].is_string());
    assert!(!listed.to_string().contains("at-1") && !listed.to_string().contains("rt-1"), "never a token");
    assert_eq!(fake.resource_calls.load(std::sync::atomic::Ordering::SeqCst), 1);

    let (status, _) = api.browse(Method::GET, &path_of(&back), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a state works once (and the code with it)");
    let (status, _) = api.browse(Method::GET, &path_of(&url), None).await;
    assert_eq!(status, StatusCode::GONE, "a session's URL works once");
    assert_eq!(fake.exchanges.load(std::sync::atomic::Ordering::SeqCst), 1);
}

use portage_core::ports::Clock as _;

#[tokio::test]
async fn shopify_checks_the_shop_and_the_callback_hmac() {
    let mut q = quirks("/admin/oauth/authorize", "/admin/oauth/access_token", ClientAuth::Body);
    q.json = true;
    q.shopify_shop = Some("acme.myshopify.com");
    q.resources = vec![
        Resource {
            path: "/admin/api/2025-10/shop.json",
            header: "x-shopify-access-token",
            require: None,
            body: json!({"shop": {"id": 548380009, "name": "Acme", "currency": "USD",
                "enabled_presentment_currencies": ["USD", "EUR"], "primary_locale": "en"}}),
        },
        Resource {
            path: "/admin/api/2025-10/graphql.json",
            header: "x-shopify-access-token",
            require: None,
            body: json!({"data": {"shopLocales": [{"locale": "en", "primary": true, "published": true},
                {"locale": "fr", "primary": false, "published": true}]}}),
        },
    ];
    let fake = AuthorizationServer::new(q);
    let (api, key) = api_with("shopify", &fake, &["acme.myshopify.com"]).await;
    for shop in ["evil.com", "x.myshopify.com.evil.com", "x.myshopify.com/", "https://acme.myshopify.com", ""] {
        let mut body = session("shopify");
        body["shop"] = json!(shop);
        let (status, answer) = api.call(Method::POST, "/v1/connect/sessions", Some(&key), Some(body)).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_shop")),
            "{shop}"
        );
    }
    let mut body = session("shopify");
    body["shop"] = json!("acme.myshopify.com");

    let (_, back) = to_provider(&api, &key, body.clone()).await;
    let forged = back.replace("code=code-", "code=codf-");
    let (status, _) = api.browse(Method::GET, &path_of(&forged), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a forged hmac is refused");
    assert!(secret(&api, "shopify", "access_token").await.is_none(), "nothing stored");

    let (status, done) = api.browse(Method::GET, &path_of(&back), None).await;
    assert_eq!(status, StatusCode::FOUND, "the genuine callback still works");
    assert!(done.unwrap().contains("status=connected"));
    assert_eq!(secret(&api, "shopify", "shop").await.as_deref(), Some("acme.myshopify.com"));
    assert_eq!(secret(&api, "shopify", "access_token").await.as_deref(), Some("at-1"));

    // The post-connect pull was queued; a worker runs it.
    pull_metadata(&api).await;
    let state = |kind: &'static str| {
        let db = api.db.clone();
        async move {
            let records = portage_core::ports::StateStore::list(db.as_ref(), "shopify", "acme", kind).await.unwrap();
            records.into_iter().map(|r| r.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(state("store").await, ["548380009"]);
    assert_eq!(state("currency").await, ["EUR", "USD"]);
    assert_eq!(state("language").await, ["en", "fr"]);
}

/// Runs the queued metadata tasks as a worker would.
async fn pull_metadata(api: &Api) {
    use portage_core::connect::MetadataHandler;
    use portage_core::ports::Queue;
    let puller = portage_providers::connect::metadata::MetadataPuller::new(
        api.secrets.clone(),
        api.db.clone(),
        reqwest::Client::new(),
        api.origins.clone(),
        std::sync::Arc::new(portage_core::ports::SystemClock),
    );
    let mut pulled = 0;
    for delivery in api.queue.receive(10, std::time::Duration::from_secs(30)).await.unwrap() {
        if let portage_core::Task::Metadata { provider, connection } = &delivery.task {
            assert_eq!(puller.pull(provider, connection).await, portage_core::sync::Settlement::Ack);
            pulled += 1;
        }
        api.queue.ack(&delivery.receipt).await.unwrap();
    }
    assert_eq!(pulled, 1, "one pull queued per connection");
}

#[tokio::test]
async fn amazon_exchanges_its_spapi_oauth_code_and_keeps_the_seller() {
    let mut q = quirks("/apps/authorize/consent", "/auth/o2/token", ClientAuth::Body);
    q.code_param = "spapi_oauth_code";
    q.callback_extra = vec![("selling_partner_id", "A1SELLER")];
    q.resources = vec![Resource {
        path: "/sellers/v1/marketplaceParticipations",
        header: "x-amz-access-token",
        require: None,
        body: json!({"payload": [
            {"marketplace": {"id": "A1PA6795UKMFR9", "name": "Amazon.de", "countryCode": "DE",
                "defaultCurrencyCode": "EUR", "defaultLanguageCode": "de_DE", "domainName": "www.amazon.de"},
             "participation": {"isParticipating": true, "hasSuspendedListings": false}},
            {"marketplace": {"id": "A13V1IB3VIYZZH", "name": "Amazon.fr", "countryCode": "FR",
                "defaultCurrencyCode": "EUR", "defaultLanguageCode": "fr_FR", "domainName": "www.amazon.fr"},
             "participation": {"isParticipating": true, "hasSuspendedListings": false}}]}),
    }];
    let fake = AuthorizationServer::new(q);
    let (api, key) = api_with(
        "amazon",
        &fake,
        &["sellercentral-europe.amazon.com", "api.amazon.com", "sellingpartnerapi-eu.amazon.com"],
    )
    .await;
    let mut body = session("amazon");
    body["region"] = json!("eu");
    let (_, back) = to_provider(&api, &key, body).await;
    let (status, done) = api.browse(Method::GET, &path_of(&back), None).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(done.unwrap().contains("status=connected"));
    assert_eq!(secret(&api, "amazon", "selling_partner_id").await.as_deref(), Some("A1SELLER"));
    assert_eq!(secret(&api, "amazon", "region").await.as_deref(), Some("eu"));
    pull_metadata(&api).await;
    let marketplaces =
        portage_core::ports::StateStore::list(api.db.as_ref(), "amazon", "acme", "marketplace").await.unwrap();
    let ids: Vec<&str> = marketplaces.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["A13V1IB3VIYZZH", "A1PA6795UKMFR9"], "the regional endpoint's participations");
    let languages = portage_core::ports::StateStore::list(api.db.as_ref(), "amazon", "acme", "language").await.unwrap();
    assert_eq!(languages.len(), 2);
    let asked = fake.authorize_requests.lock().unwrap()[0].clone();
    assert!(asked.contains(&("application_id".to_owned(), "client-1".to_owned())));
    let mut bad = session("amazon");
    bad["region"] = json!("us-east-1");
    let (status, _) = api.call(Method::POST, "/v1/connect/sessions", Some(&key), Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn hostile_callbacks_store_nothing() {
    let fake = AuthorizationServer::new(quirks("/oauth/authorize", "/oauth/v3/token", ClientAuth::Body));
    let (api, key) = api_with("hubspot", &fake, &["app.hubspot.com", "api.hubspot.com", "api.hubapi.com"]).await;

    let mut off = session("hubspot");
    off["return_url"] = json!("https://app.example.evil.com/connected");
    let (status, answer) = api.call(Method::POST, "/v1/connect/sessions", Some(&key), Some(off)).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("return_url_not_allowed")));

    let (_, back) = to_provider(&api, &key, session("hubspot")).await;
    let state = query_of(&back).into_iter().find(|(k, _)| k == "state").unwrap().1;
    for hostile in [
        "/connect/hubspot/callback?code=x".to_owned(),
        "/connect/hubspot/callback?code=x&state=unknown".to_owned(),
        format!("/connect/etsy/callback?code=x&state={state}"),
    ] {
        let (status, _) = api.browse(Method::GET, &hostile, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{hostile}");
    }
    let (status, done) = api.browse(Method::GET, &format!("/connect/hubspot/callback?state={state}"), None).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(done.unwrap().contains("status=error&error=missing_code"), "no code: back to the app with an error");
    let (status, _) = api.browse(Method::GET, &path_of(&back), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the state died with the failed attempt");
    assert!(secret(&api, "hubspot", "access_token").await.is_none());

    fake.decline();
    let (_, declined) = to_provider(&api, &key, session("hubspot")).await;
    let (_, done) = api.browse(Method::GET, &path_of(&declined), None).await;
    assert!(done.unwrap().contains("status=error&error=access_denied"));
    assert!(secret(&api, "hubspot", "access_token").await.is_none());
    let (status, listed) = api.get("/v1/connections", &key).await;
    assert_eq!((status, listed), (StatusCode::OK, json!([])), "no connection was recorded");
}

#[tokio::test]
async fn api_keys_are_checked_before_they_are_saved() {
    let stripe = axum::Router::new().route(
        "/v1/balance",
        axum::routing::get(|headers: http::HeaderMap| async move {
            let good = headers.get("authorization").is_some_and(|v| v == "Bearer sk_test_good");
            if good { StatusCode::OK } else { StatusCode::UNAUTHORIZED }
        }),
    );
    let running = portage_fakes::serve(stripe).await;
    let api = Api::with_origins(portage_client::Origins::parse(&format!("api.stripe.com={}", running.base)).unwrap());
    let key = api.key("ops", &[Scope::ConnectionsWrite, Scope::ConnectionsRead]).await;
    let put = |credentials: Value| json!({ "credentials": credentials });

    let (status, answer) = api
        .call(Method::PUT, "/v1/connections/stripe/acme", Some(&key), Some(put(json!({"api_key": "sk_test_bad"}))))
        .await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_credentials")));
    assert!(secret(&api, "stripe", "api_key").await.is_none(), "nothing saved");
    let (status, _) = api
        .call(Method::PUT, "/v1/connections/stripe/acme", Some(&key), Some(put(json!({"token": "sk_test_good"}))))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "fields are the provider's");

    let (status, answer) = api
        .call(Method::PUT, "/v1/connections/stripe/acme", Some(&key), Some(put(json!({"api_key": "sk_test_good"}))))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["auth"], "api_key");
    assert_eq!(secret(&api, "stripe", "api_key").await.as_deref(), Some("sk_test_good"));
    let (_, one) = api.get("/v1/connections/stripe/acme", &key).await;
    assert_eq!(one["status"], "connected");
    assert!(!one.to_string().contains("sk_test_good"));

    let (status, gone) = api.call(Method::DELETE, "/v1/connections/stripe/acme", Some(&key), None).await;
    assert_eq!((status, gone["status"].as_str()), (StatusCode::OK, Some("disconnected")));
    assert!(secret(&api, "stripe", "api_key").await.is_none(), "credentials deleted");

    let reader = api.key("reader", &[Scope::ConnectionsRead]).await;
    let (status, _) =
        api.call(Method::PUT, "/v1/connections/stripe/acme", Some(&reader), Some(put(json!({"api_key": "x"})))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut magento = put(json!({"access_token": "t"}));
    magento["base_url"] = json!("https://127.0.0.1");
    let (status, answer) = api.call(Method::PUT, "/v1/connections/magento/acme", Some(&key), Some(magento)).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_base_url")));
}

/// Makes a connection's access token due for a refresh.
async fn make_due(api: &Api, provider: &str) {
    let soon = portage_core::ports::SystemClock.now_secs() + 120;
    api.secrets
        .put(provider, "acme", &[("access_token_expires_at".into(), Secret::new(soon.to_string()))])
        .await
        .unwrap();
    let store = api.connector();
    let mut record = store.store().connection(provider, "acme").await.unwrap().unwrap();
    record.expires_at_ms = Some(soon * 1000);
    store.store().put_connection(&record).await.unwrap();
}

/// Connects Etsy, then makes its access token due for a refresh.
async fn connected_etsy_due() -> (Api, String, Arc<AuthorizationServer>) {
    let mut q = quirks("/oauth/connect", "/v3/public/oauth/token", ClientAuth::IdOnly);
    q.pkce_required = true;
    let fake = AuthorizationServer::new(q);
    let (api, key) = api_with("etsy", &fake, &["www.etsy.com", "api.etsy.com"]).await;
    let (_, back) = to_provider(&api, &key, session("etsy")).await;
    api.browse(Method::GET, &path_of(&back), None).await;
    make_due(&api, "etsy").await;
    (api, key, fake)
}

async fn subscribe(api: &Api) {
    use portage_core::notifications::NotificationStore;
    let subscription = portage_core::notifications::Subscription {
        id: "sub_connect".into(),
        url: "https://hooks.example/portage".into(),
        types: vec!["connection.*".into()],
        description: None,
        secret: Some(Secret::new("whsec_test")),
        allow_private: false,
        created_at_ms: 0,
    };
    api.db.add_subscription(&subscription).await.unwrap();
}

async fn told(api: &Api, kind: &str) -> usize {
    use portage_core::notifications::NotificationStore;
    api.db.notifications(None, 100).await.unwrap().iter().filter(|n| n.kind == kind).count()
}

#[tokio::test]
async fn twenty_workers_due_for_a_refresh_refresh_once_and_keep_the_rotated_token() {
    let (api, key, fake) = connected_etsy_due().await;
    let workers: Vec<_> = (0..20)
        .map(|_| {
            let connector = api.connector();
            tokio::spawn(async move { connector.refresh_due().await.unwrap() })
        })
        .collect();
    let mut refreshed = 0;
    for worker in workers {
        refreshed += worker.await.unwrap().refreshed.len();
    }
    assert_eq!(fake.refreshes.load(std::sync::atomic::Ordering::SeqCst), 1, "one refresh between twenty workers");
    assert!(refreshed >= 1);
    assert_eq!(secret(&api, "etsy", "refresh_token").await.as_deref(), Some("rt-r1"), "the rotated token is kept");
    assert_eq!(secret(&api, "etsy", "access_token").await.as_deref(), Some("at-r1"));
    let (_, one) = api.get("/v1/connections/etsy/acme", &key).await;
    assert_eq!(one["status"], "connected");
    assert!(one["last_refreshed_at"].is_string(), "{one}");
    let again = api.connector().refresh_due().await.unwrap();
    assert!(again.refreshed.is_empty(), "a fresh token is left alone");
}

#[tokio::test]
async fn a_refused_refresh_needs_reauth_and_tells_the_app_once() {
    let (api, key, fake) = connected_etsy_due().await;
    subscribe(&api).await;
    fake.refuse_refreshes();
    let workers: Vec<_> = (0..5)
        .map(|_| {
            let connector = api.connector();
            tokio::spawn(async move { connector.refresh_due().await.unwrap() })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let (_, one) = api.get("/v1/connections/etsy/acme", &key).await;
    assert_eq!((one["status"].as_str(), one["last_error"].as_str()), (Some("needs_reauth"), Some("invalid_grant")));
    assert_eq!(told(&api, "connection.needs_reauth").await, 1, "one notification");
    assert_eq!(told(&api, "connection.connected").await, 0, "subscribed after connecting");
    let later = api.connector().refresh_due().await.unwrap();
    assert!(later.needs_reauth.is_empty() && later.refreshed.is_empty(), "left for the user to connect again");
}

#[tokio::test]
async fn a_refresh_token_ending_soon_is_told_once() {
    let (api, _key, _fake) = connected_etsy_due().await;
    subscribe(&api).await;
    let connector = api.connector();
    let mut record = connector.store().connection("etsy", "acme").await.unwrap().unwrap();
    record.expires_at_ms = Some((portage_core::ports::SystemClock.now_secs() + 3600) * 1000);
    record.refresh_expires_at_ms = Some(portage_core::ports::SystemClock.now_ms() + 13 * 86_400_000);
    connector.store().put_connection(&record).await.unwrap();
    assert_eq!(connector.refresh_due().await.unwrap().expiring, ["etsy/acme"]);
    assert!(connector.refresh_due().await.unwrap().expiring.is_empty());
    assert_eq!(told(&api, "connection.expiring").await, 1);
}

#[tokio::test]
async fn woocommerce_keys_are_taken_only_for_a_live_session_and_once_they_work() {
    let store = portage_fakes::wc_auth::Store::new();
    let running = portage_fakes::serve(store.router()).await;
    let api = Api::with_origins(portage_client::Origins::parse(&format!("shop.example.com={}", running.base)).unwrap());
    let key = api.key("ops", &[Scope::ConnectionsWrite, Scope::ConnectionsRead]).await;
    let mut body = session("woocommerce");
    body["shop"] = json!("https://shop.example.com");
    let (status, created) = api.call(Method::POST, "/v1/connect/sessions", Some(&key), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, authorize) = api.browse(Method::GET, &path_of(created["url"].as_str().unwrap()), None).await;
    let authorize = authorize.unwrap();
    let asked = query_of(&authorize);
    assert!(asked.contains(&("user_id".to_owned(), id.clone())), "{authorize}");
    assert!(asked.contains(&("callback_url".to_owned(), format!("{PUBLIC_BASE}/connect/woocommerce/callback"))));
    let approved: Value = reqwest::get(&authorize).await.unwrap().json().await.unwrap();
    let keys = approved["keys"].clone();
    assert!(approved["deliver_to"].as_str().unwrap().starts_with(PUBLIC_BASE));

    let mut stranger = keys.clone();
    stranger["user_id"] = json!("cs_00000000000000000000000000000000");
    let (status, _) = api.browse(Method::POST, "/connect/woocommerce/callback", Some(stranger)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "keys for no live session");
    let mut forged = keys.clone();
    forged["consumer_secret"] = json!("cs_forged");
    let (status, _) = api.browse(Method::POST, "/connect/woocommerce/callback", Some(forged)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "keys the store refuses");
    assert!(secret(&api, "woocommerce", "consumer_key").await.is_none(), "nothing stored");

    let (status, _) = api.browse(Method::POST, "/connect/woocommerce/callback", Some(keys.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(secret(&api, "woocommerce", "consumer_key").await.as_deref(), keys["consumer_key"].as_str());
    assert_eq!(secret(&api, "woocommerce", "base_url").await.as_deref(), Some("https://shop.example.com"));
    let (status, _) = api.browse(Method::POST, "/connect/woocommerce/callback", Some(keys)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a session takes keys once");
    let (status, done) = api.browse(Method::GET, &path_of(approved["then"].as_str().unwrap()), None).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(done.unwrap().contains("provider=woocommerce&connection=acme&status=connected"));
    let (_, one) = api.get("/v1/connections/woocommerce/acme", &key).await;
    assert_eq!(one["auth"], "wc_keys");
}

#[tokio::test]
async fn ebay_sends_its_runame_and_salesforce_keeps_its_instance_url() {
    let mut q = quirks("/oauth2/authorize", "/identity/v1/oauth2/token", ClientAuth::Basic);
    q.runame = Some(("Portage-Portage-PRD-1a2b3c", "https://portage.test/connect/ebay/callback"));
    q.refresh_scope = true;
    let fake = AuthorizationServer::new(q);
    let (api, key) = api_with("ebay", &fake, &["auth.ebay.com", "api.ebay.com"]).await;
    let app = [
        ("client_id".to_owned(), Secret::new("client-1")),
        ("client_secret".to_owned(), Secret::new("secret-1")),
        ("redirect_uri".to_owned(), Secret::new("Portage-Portage-PRD-1a2b3c")),
    ];
    api.secrets.put(portage_core::apps::APPS, "ebay", &app).await.unwrap();
    let (_, back) = to_provider(&api, &key, session("ebay")).await;
    let (_, done) = api.browse(Method::GET, &path_of(&back), None).await;
    assert!(done.unwrap().contains("status=connected"), "the exchange named the RuName too, with HTTP Basic");
    let asked = fake.authorize_requests.lock().unwrap()[0].clone();
    assert!(asked.contains(&("redirect_uri".to_owned(), "Portage-Portage-PRD-1a2b3c".to_owned())));
    make_due(&api, "ebay").await;
    assert_eq!(api.connector().refresh_due().await.unwrap().refreshed, ["ebay/acme"], "the refresh named the scopes");

    let mut q = quirks("/services/oauth2/authorize", "/services/oauth2/token", ClientAuth::Body);
    q.pkce_required = true;
    q.answer_extra = Map::from_iter([
        ("instance_url".to_owned(), json!("https://acme.my.salesforce.com")),
        ("id".to_owned(), json!("https://acme.my.salesforce.com/id/00Dxx0000001gPL/005xx000001Sv6e")),
    ]);
    let fake = AuthorizationServer::new(q);
    let (api, key) = api_with("salesforce", &fake, &["acme.my.salesforce.com"]).await;
    let mut body = session("salesforce");
    body["shop"] = json!("acme.my.salesforce.com");
    let (_, back) = to_provider(&api, &key, body).await;
    let (_, done) = api.browse(Method::GET, &path_of(&back), None).await;
    assert!(done.unwrap().contains("status=connected"));
    assert_eq!(secret(&api, "salesforce", "instance_url").await.as_deref(), Some("https://acme.my.salesforce.com"));
    let mut evil = session("salesforce");
    evil["shop"] = json!("acme.my.salesforce.com.evil.com");
    let (status, _) = api.call(Method::POST, "/v1/connect/sessions", Some(&key), Some(evil)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_expired_session_or_state_is_refused() {
    let fake = AuthorizationServer::new(quirks("/o/oauth2/v2/auth", "/token", ClientAuth::Body));
    let (api, key) = api_with("google", &fake, &["accounts.google.com", "oauth2.googleapis.com"]).await;
    let (_, back) = to_provider(&api, &key, session("google")).await;
    let (status, created) = api.call(Method::POST, "/v1/connect/sessions", Some(&key), Some(session("google"))).await;
    assert_eq!(status, StatusCode::CREATED);
    // Eleven minutes pass.
    api.db
        .write(|conn| {
            conn.execute("UPDATE connect_sessions SET expires_at_ms = expires_at_ms - 660000", [])
                .map_err(|e| portage_core::StoreError::Backend(e.to_string()))
        })
        .await
        .unwrap();
    let (status, _) = api.browse(Method::GET, &path_of(&back), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an expired state");
    let (status, _) = api.browse(Method::GET, &path_of(created["url"].as_str().unwrap()), None).await;
    assert_eq!(status, StatusCode::GONE, "an expired session's URL");
    assert!(secret(&api, "google", "access_token").await.is_none());
    assert_eq!(fake.exchanges.load(std::sync::atomic::Ordering::SeqCst), 0);
}
