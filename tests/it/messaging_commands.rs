//! `unsafe` actions through `portage serve`: SendGrid reads the request,
//! sends the mail, then the connection drops; the command ends `unknown`,
//! says what to check, and the mail is never sent again.

use std::time::Duration;

use portage_fakes::Faults;
use portage_fakes::sendgrid::SendGrid;
use serde_json::{Value, json};

use crate::common::Server;

const KEY: &str = "SG.serve-test-key-0123456789";

#[tokio::test(flavor = "multi_thread")]
async fn an_ambiguous_send_ends_unknown_and_is_never_repeated() {
    let fake = SendGrid::new(KEY);
    fake.switches.set(Faults { drop_rate: 1.0, ..Faults::default() });
    let running = portage_fakes::serve(fake.router()).await;
    let dir = tempfile::tempdir().unwrap();
    let host = running.base.trim_start_matches("http://");
    let config = format!(
        "[origins]\n\"api.sendgrid.com\" = \"http://{host}\"\n[connections.sendgrid.default]\napi_key = \"{KEY}\"\n\
         [worker]\nretry_base_ms = 50\n"
    );
    let server = Server::start(dir.path(), Some(&config));
    let key = std::fs::read_to_string(dir.path().join("dev-api-key")).unwrap().trim().to_owned();
    let body = json!({"provider": "sendgrid", "action": "email.send", "idempotency_key": "welcome-ada",
        "input": {"to": "ada@example.com", "from": "shop@example.com", "subject": "Welcome", "text": "Hello"}});
    let client = reqwest::Client::new();
    let response = client
        .post(server.url("/v1/commands"))
        .bearer_auth(&key)
        .header("prefer", "wait=20")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let command: Value = response.json().await.unwrap();
    assert_eq!(command["status"], "unknown", "{command}");
    assert_eq!((command["error"]["kind"].clone(), command["attempts"].clone()), (json!("ambiguous"), json!(1)));
    assert!(command["error"]["message"].as_str().is_some_and(|m| m.contains("check at sendgrid")), "{command}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.sent().len(), 1, "exactly one send received");

    let again = client.post(server.url("/v1/commands")).bearer_auth(&key).json(&body).send().await.unwrap();
    let again: Value = again.json().await.unwrap();
    assert_eq!((again["status"].clone(), again["duplicate"].clone()), (json!("unknown"), json!(true)));
    assert_eq!(fake.sent().len(), 1, "resubmitting the same request does not send it again");
}
