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
