//! Connecting an account on AWS, through the Lambda Runtime API against moto
//! and a HubSpot-shaped authorization server: the app registered by
//! `portage apps set --aws`, the session opened by `api`, its URL, the
//! provider's callback and the state's single use served by `connect` (the
//! session and its state in the table, the tokens written to the
//! connection's Secrets Manager secret), the connection listed by `api`.

use portage_fakes::authorization::{AuthorizationServer, ClientAuth, Quirks};
use serde_json::{Map, Value, json};

use crate::lambda_common::{binary, portage, provision};
use crate::lambda_runtime_api::Function;

const PUBLIC: &str = "https://portage.example";

fn event(method: &str, route: &str, path_and_query: &str, key: Option<&str>, body: Option<&Value>) -> Value {
    let (raw_path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let mut headers =
        json!({"content-type": "application/json", "host": "portage.example", "x-forwarded-proto": "https"});
    if let Some(key) = key {
        headers["authorization"] = json!(format!("Bearer {key}"));
    }
    json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api1", "domainName": "portage.example",
            "domainPrefix": "portage", "requestId": "r1", "routeKey": route, "stage": "$default",
            "time": "03/Dec/2026:11:00:00 +0000", "timeEpoch": 1796295600000i64,
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "browser"}
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false
    })
}

fn location(answer: &Value) -> String {
    assert_eq!(answer["statusCode"], 302, "{answer}");
    let headers = &answer["headers"];
    headers["location"].as_str().or_else(|| headers["Location"].as_str()).unwrap().to_owned()
}

fn path_of(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    format!("{}?{}", parsed.path(), parsed.query().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_is_connected_through_the_api_and_connect_functions() {
    let fake = AuthorizationServer::new(Quirks {
        answer_extra: Map::from_iter([("hub_id".to_owned(), json!(62515))]),
        ..Quirks::new("/oauth/authorize", "/oauth/v3/token", ClientAuth::Body, ("hub-client", "hub-secret"))
    });
    let running = portage_fakes::serve(fake.router()).await;
    let mut env = provision("3");
    let prefix = env.iter().find(|(k, _)| k == "PORTAGE_SECRETS_PREFIX").unwrap().1.clone();
    let origins = format!("app.hubspot.com={0},api.hubapi.com={0}", running.base);
    env.push(("PORTAGE_PROVIDER_ORIGINS".into(), origins));
    env.push(("PORTAGE_PUBLIC_BASE_URL".into(), PUBLIC.into()));
    env.push(("PORTAGE_CONNECT_RETURN_URLS".into(), "https://app.example/".into()));
    portage(&[
        "apps",
        "set",
        "--aws",
        "--prefix",
        &prefix,
        "hubspot",
        "client_id=hub-client",
        "client_secret=hub-secret",
    ]);
    let out = std::process::Command::new(crate::common::bin())
        .args([
            "apikey",
            "create",
            "--aws",
            "--name",
            "app",
            "--scope",
            "connections:write",
            "--scope",
            "connections:read",
        ])
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let mut api = Function::start(&binary("api"), &env).await;
    let mut connect = Function::start(&binary("connect"), &env).await;
    let body = json!({"provider": "hubspot", "connection": "acme", "return_url": "https://app.example/done"});
    let created =
        api.invoke(event("POST", "ANY /v1/{proxy+}", "/v1/connect/sessions", Some(&key), Some(&body))).await.unwrap();
    assert_eq!(created["statusCode"], 201, "{created}");
    let created: Value = serde_json::from_str(created["body"].as_str().unwrap()).unwrap();
    let url = created["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{PUBLIC}/connect/sessions/cs_")), "{url}");

    let started = connect.invoke(event("GET", "ANY /connect/{proxy+}", &path_of(url), None, None)).await.unwrap();
    let authorize = location(&started);
    let again = connect.invoke(event("GET", "ANY /connect/{proxy+}", &path_of(url), None, None)).await.unwrap();
    assert_eq!(again["statusCode"], 410, "the session's URL works once");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let consented = http.get(&authorize).send().await.unwrap();
    let back = consented.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&format!("{PUBLIC}/connect/hubspot/callback?")), "{back}");

    let done = connect.invoke(event("GET", "ANY /connect/{proxy+}", &path_of(&back), None, None)).await.unwrap();
    let done = location(&done);
    assert!(done.starts_with("https://app.example/done?provider=hubspot&connection=acme&status=connected"), "{done}");
    let replayed = connect.invoke(event("GET", "ANY /connect/{proxy+}", &path_of(&back), None, None)).await.unwrap();
    assert_eq!(replayed["statusCode"], 400, "{replayed}");

    let sm = aws_sdk_secretsmanager::Client::new(&crate::moto::config().await);
    let stored = sm.get_secret_value().secret_id(format!("{prefix}hubspot/acme")).send().await.unwrap();
    let stored: Value = serde_json::from_str(stored.secret_string().unwrap()).unwrap();
    assert_eq!((stored["access_token"].as_str(), stored["hub_id"].as_str()), (Some("at-1"), Some("62515")));

    let listed = api.invoke(event("GET", "ANY /v1/{proxy+}", "/v1/connections", Some(&key), None)).await.unwrap();
    let listed: Value = serde_json::from_str(listed["body"].as_str().unwrap()).unwrap();
    assert_eq!((listed[0]["provider"].as_str(), listed[0]["status"].as_str()), (Some("hubspot"), Some("connected")));
    assert!(!listed.to_string().contains("at-1"));
}
