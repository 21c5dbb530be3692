//! SendGrid's `email.send` and Twilio's `sms.send` against stateful fakes
//! (authentication, required fields, error bodies, faults that drop the
//! answer after the effect) and, for every request the fakes accepted,
//! against the provider's own OpenAPI description served by Prism; a
//! request missing a required field is reported by Prism (it does not fail
//! open).

use std::sync::Arc;

use portage_core::actions::{ActionError, ActionExecutor};
use portage_core::ports::{Clock, SystemClock};
use portage_fakes::Faults;
use portage_fakes::recorded::Recorded;
use portage_providers::sendgrid::commands::SendGridActions;
use portage_providers::twilio::commands::TwilioActions;
use serde_json::json;

use crate::prism;
use crate::support::{command, pool};

const SENDGRID_KEY: &str = "SG.fake-key-0123456789";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-token-0123456789";

fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

#[tokio::test]
async fn sendgrid_mail_goes_once_and_an_ambiguous_failure_is_reported_as_such() {
    let fake = portage_fakes::sendgrid::SendGrid::new(SENDGRID_KEY);
    let running = portage_fakes::serve(fake.router()).await;
    let clients = pool(&[("sendgrid", "api_key", SENDGRID_KEY)], "api.sendgrid.com", &running.base);
    let actions = SendGridActions::new(clients, clock());

    let input = json!({"to": ["ada@example.com", "bob@example.com"], "from": {"email": "shop@example.com", "name": "Shop"},
        "subject": "Welcome", "text": "Hello", "html": "<p>Hello</p>", "categories": ["welcome"]});
    let done = actions.execute(&command("sendgrid", "cmd_sg1", "email.send", input)).await.unwrap();
    let sent = fake.sent();
    assert_eq!(done.result, json!({"message_id": sent[0].0}));
    let mail = &sent[0].1;
    assert_eq!(mail["personalizations"][0]["custom_args"], json!({"portage_command": "cmd_sg1"}));
    assert_eq!(mail["personalizations"][0]["to"], json!([{"email": "ada@example.com"}, {"email": "bob@example.com"}]));
    assert_eq!(mail["content"][0]["type"], "text/plain", "text/plain comes first");
    assert_eq!((done.changes[0].kind.as_str(), done.changes[0].id.as_str()), ("message", "cmd_sg1"));
    assert_eq!(done.changes[0].data["status"], "accepted");

    let template = json!({"to": "cy@example.com", "from": "shop@example.com",
        "template_id": "d-0123456789abcdef0123456789abcdef", "dynamic_template_data": {"name": "Cy"}});
    actions.execute(&command("sendgrid", "cmd_sg2", "email.send", template)).await.unwrap();

    fake.switches.set(Faults { drop_rate: 1.0, ..Faults::default() });
    let plain = json!({"to": "dee@example.com", "from": "shop@example.com", "subject": "Hi", "text": "Hi"});
    let ambiguous = actions.execute(&command("sendgrid", "cmd_sg3", "email.send", plain.clone())).await.unwrap_err();
    assert!(matches!(ambiguous, ActionError::Ambiguous { .. }), "{ambiguous:?}");
    assert_eq!(fake.sent().len(), 3, "the mail went once, and the client did not send it again");

    fake.switches.set(Faults { outage: true, ..Faults::default() });
    let refused = actions.execute(&command("sendgrid", "cmd_sg4", "email.send", plain)).await.unwrap_err();
    assert!(matches!(refused, ActionError::Transient { .. }), "a 503 is refused before processing: {refused:?}");
    assert_eq!(fake.sent().len(), 3);

    let prism = prism::sendgrid();
    let auth = format!("Bearer {SENDGRID_KEY}");
    for request in fake.recorder.all() {
        assert_eq!(prism::violations(prism, &request, &auth).await, Ok(vec![]), "{}", request.body);
    }
    let canary = Recorded {
        method: "POST".into(),
        path: "/v3/mail/send".into(),
        content_type: Some("application/json".into()),
        body: json!({"personalizations": [{"to": [{"email": "a@example.com"}]}], "subject": "x",
            "content": [{"type": "text/plain", "value": "x"}]})
        .to_string(),
    };
    let found = prism::violations(prism, &canary, &auth).await.unwrap();
    assert!(found.iter().any(|v| v.contains("from")), "Prism reports the missing from: {found:?}");
}

#[tokio::test]
async fn twilio_sms_is_retried_only_when_it_was_never_processed() {
    let fake = portage_fakes::twilio::Twilio::new(ACCOUNT, TOKEN);
    let running = portage_fakes::serve(fake.router()).await;
    let secrets = [("twilio", "account_sid", ACCOUNT), ("twilio", "auth_token", TOKEN)];
    let clients = pool(&secrets, "api.twilio.com", &running.base);
    let mut map = portage_embedded::MapSecrets::new();
    map.insert("twilio", "default", "account_sid", portage_core::Secret::new(ACCOUNT));
    let public = Some("https://hooks.example.com/".to_owned());
    let actions = TwilioActions::new(clients, Arc::new(map), clock(), public);

    let input = json!({"to": "+14155550100", "from": "+14155550199", "body": "Your code is 1234"});
    let done = actions.execute(&command("twilio", "cmd_tw1", "sms.send", input.clone())).await.unwrap();
    let sent = fake.sent();
    assert_eq!(done.result, json!({"sid": sent[0]["sid"], "status": "queued"}));
    assert_eq!(sent[0]["status_callback"], "https://hooks.example.com/webhooks/twilio/default");
    assert_eq!(done.changes[0].data["channel"], "sms");

    fake.refuse_concurrent(1);
    let refused = actions.execute(&command("twilio", "cmd_tw2", "sms.send", input.clone())).await.unwrap_err();
    assert!(matches!(refused, ActionError::Transient { .. }), "20429 was never processed: {refused:?}");
    assert_eq!(fake.sent().len(), 1);
    let service =
        json!({"to": "+14155550100", "messaging_service_sid": "MG0123456789abcdef0123456789abcdef", "body": "Hi"});
    actions.execute(&command("twilio", "cmd_tw2", "sms.send", service)).await.unwrap();

    fake.switches.set(Faults { drop_rate: 1.0, ..Faults::default() });
    let ambiguous = actions.execute(&command("twilio", "cmd_tw3", "sms.send", input)).await.unwrap_err();
    assert!(matches!(ambiguous, ActionError::Ambiguous { .. }), "{ambiguous:?}");
    assert_eq!(fake.sent().len(), 3, "queued once, never sent again");

    let prism = prism::twilio();
    let auth = format!("Basic {}", base64_basic(ACCOUNT, TOKEN));
    for request in fake.recorder.all() {
        assert_eq!(prism::violations(prism, &request, &auth).await, Ok(vec![]), "{}", request.body);
    }
    let canary = Recorded {
        method: "POST".into(),
        path: format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json"),
        content_type: Some("application/x-www-form-urlencoded".into()),
        body: "From=%2B14155550199&Body=hi".into(),
    };
    let found = prism::violations(prism, &canary, &auth).await.unwrap();
    assert!(found.iter().any(|v| v.contains("To")), "Prism reports the missing To: {found:?}");
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// A delivery as the event log hands it to sync: `raw` as received, normalised by `provider`'s own source.
fn delivered(provider: &str, raw: &[u8], headers: &[(&str, &str)]) -> portage_core::EventRecord {
    let registry = portage_providers::registry();
    let source = registry.get(provider).unwrap();
    let mut map = http::HeaderMap::new();
    for (name, value) in headers {
        map.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    let request = portage_core::provider::WebhookRequest {
        method: "POST".into(),
        url: "https://hooks.example.com/webhooks/x".into(),
        headers: map,
        body: bytes::Bytes::copy_from_slice(raw),
    };
    let mut record = crate::support::stripe_record("default", &json!({}));
    record.provider = provider.into();
    record.event = source.normalise(&request, 1_800_000_000).unwrap();
    record.received_at_ms = 1_800_000_000_000;
    record.raw = bytes::Bytes::copy_from_slice(raw);
    record
}

#[tokio::test]
async fn event_webhook_events_and_status_callbacks_update_message_records() {
    use portage_core::provider::SyncHandler;
    let batch = json!([
        {"email": "ada@example.com", "timestamp": 1_800_000_100, "event": "processed", "sg_event_id": "e1",
         "sg_message_id": "abc.filter1", "portage_command": "cmd_sg1"},
        {"email": "ada@example.com", "timestamp": 1_800_000_160, "event": "delivered", "sg_event_id": "e2",
         "sg_message_id": "abc.filter1", "portage_command": "cmd_sg1", "response": "250 OK"},
        {"email": "x@example.com", "timestamp": 1_800_000_170, "event": "open", "sg_event_id": "e3"}
    ]);
    let record = delivered("sendgrid", batch.to_string().as_bytes(), &[]);
    let changes = portage_providers::sendgrid::sync::SendGridSync.state_changes(&record).await.unwrap();
    assert_eq!(changes.len(), 2, "only events naming a command become its record");
    let last = changes.iter().max_by_key(|c| c.version).unwrap();
    assert_eq!((last.kind.as_str(), last.id.as_str()), ("message", "cmd_sg1"));
    assert_eq!((last.data["status"].clone(), last.data["message_id"].clone()), (json!("delivered"), json!("abc")));

    let form =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/twilio/message_status.form")).unwrap();
    let content_type = [("content-type", "application/x-www-form-urlencoded")];
    let record = delivered("twilio", &form, &content_type);
    let changes = portage_providers::twilio::sync::TwilioSync.state_changes(&record).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].id, "SM1f0e8ae6ade43cb3c0ce4525424e404f");
    assert_eq!(
        (changes[0].data["status"].clone(), changes[0].data["to"].clone()),
        (json!("delivered"), json!("+15558675310"))
    );
    let sent = portage_providers::twilio::records::message(
        "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "sent",
        1_800_000_000,
        Default::default(),
    );
    assert!(sent.version < changes[0].version, "a late 'sent' never undoes 'delivered'");
}
