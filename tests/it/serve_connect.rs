//! `portage connect` against a running `portage serve`, the way an operator
//! links an account on a laptop: the CLI opens the session and waits, the
//! browser (here, a client that follows no redirect on its own) goes to the
//! provider's authorization server and back to serve's callback, the CLI
//! sees the connection; the tokens outlive a restart of serve (saved to
//! DATA/secrets.toml), `connections list|show|disconnect` read and end it,
//! and no token, code or client secret reaches a log line.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use portage_fakes::authorization::{AuthorizationServer, ClientAuth, Quirks};
use serde_json::{Map, Value, json};

use crate::common::{self, Server};

const CLIENT_SECRET: &str = "hub-secret-Zq81xV";

fn hubspot() -> std::sync::Arc<AuthorizationServer> {
    AuthorizationServer::new(Quirks {
        answer_extra: Map::from_iter([("hub_id".to_owned(), json!(62515))]),
        ..Quirks::new("/oauth/authorize", "/oauth/v3/token", ClientAuth::Body, ("hub-client", CLIENT_SECRET))
    })
}

async fn follow(http: &reqwest::Client, url: &str) -> String {
    let answer = http.get(url).send().await.unwrap();
    assert_eq!(answer.status(), 302, "{url}: {}", answer.status());
    answer.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn portage_connect_links_an_account_through_serve() {
    let fake = hubspot();
    let running = portage_fakes::serve(fake.router()).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let origins = format!("app.hubspot.com={0},api.hubapi.com={0}", running.base);
    let config = format!("[origins]\n\"app.hubspot.com\" = \"{0}\"\n\"api.hubapi.com\" = \"{0}\"\n", running.base);
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("portage.toml"), &config).unwrap();
    let set = common::cli(
        &data,
        &["apps", "set", "hubspot", "client_id=hub-client", &format!("client_secret={CLIENT_SECRET}")],
    );
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    let mut server = Server::start_with_env(&data, Some(&config), &[("PORTAGE_PROVIDER_ORIGINS", &origins)]);

    let mut cli = Command::new(common::bin())
        .args([
            "--data",
            data.to_str().unwrap(),
            "connect",
            "hubspot",
            "--connection",
            "acme",
            "--base-url",
            &server.base,
        ])
        .env("PORTAGE_PROVIDER_ORIGINS", &origins)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(cli.stdout.take().unwrap()).lines();
    let url = out.next().unwrap().unwrap();
    assert!(url.starts_with(&format!("{}/connect/sessions/cs_", server.base)), "{url}");

    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let authorize = follow(&http, &url).await;
    let back = follow(&http, &authorize).await;
    assert!(back.starts_with(&format!("{}/connect/hubspot/callback?", server.base)), "{back}");
    let done = follow(&http, &back).await;
    assert!(done.starts_with(&format!("{}/connect/done?", server.base)), "{done}");
    let page = http.get(&done).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("hubspot/acme is connected"), "{page}");
    assert_eq!(out.next().unwrap().unwrap(), "connected hubspot/acme");
    let status = cli.wait().unwrap();
    let mut cli_err = String::new();
    std::io::Read::read_to_string(&mut cli.stderr.take().unwrap(), &mut cli_err).unwrap();
    assert!(status.success(), "{cli_err}");

    let listed = common::cli(&data, &["connections", "list", "--format", "json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!((listed[0]["provider"].as_str(), listed[0]["status"].as_str()), (Some("hubspot"), Some("connected")));
    let shown = common::stdout(&common::cli(&data, &["connections", "show", "hubspot", "acme"]));
    assert!(shown.contains("oauth2") && !shown.contains("at-1"), "{shown}");

    server.terminate();
    let first_logs = server.logs();
    let first_base = server.base.clone();
    let saved = std::fs::read_to_string(data.join("secrets.toml")).unwrap();
    assert!(saved.contains("[connections.hubspot.acme]") && saved.contains("\"at-1\""), "tokens outlive the process");
    let mut server = Server::start_with_env(&data, Some(&config), &[("PORTAGE_PROVIDER_ORIGINS", &origins)]);
    let replayed = http.get(back.replace(&first_base, &server.base)).send().await.unwrap();
    assert_eq!(replayed.status(), 400, "the callback's state is spent, across restarts");

    let gone = common::cli(&data, &["connections", "disconnect", "hubspot", "acme"]);
    assert!(gone.status.success(), "{}", String::from_utf8_lossy(&gone.stderr));
    let saved = std::fs::read_to_string(data.join("secrets.toml")).unwrap();
    assert!(!saved.contains("\"at-1\""), "the credentials are deleted");
    let shown: Value = serde_json::from_slice(
        &common::cli(&data, &["connections", "show", "hubspot", "acme", "--format", "json"]).stdout,
    )
    .unwrap();
    assert_eq!(shown["status"], "disconnected");

    server.terminate();
    let logs = format!("{first_logs}{}{cli_err}", server.logs());
    assert!(logs.contains("connected"), "the logs were read");
    let code = url::Url::parse(&back).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    for secret in ["at-1", "rt-1", CLIENT_SECRET, code.as_str()] {
        assert!(!logs.contains(secret), "a log line shows {secret}");
    }
}
