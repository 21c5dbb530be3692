//! The webhook sources' Lambda functions driven through the Lambda Runtime
//! API against moto: every `webhook-<provider>` binary records its
//! provider's signed event, the URL a provider signed is rebuilt with the REST
//! API's stage or `PORTAGE_PUBLIC_BASE_URL`, and Amazon SP-API notifications
//! from SQS and EventBridge are recorded once.

use crate::common;
use crate::lambda_common;
use crate::lambda_runtime_api;
use crate::moto;

use lambda_common::{binary, http_api_event, portage, provision};
use lambda_runtime_api::Function;
use portage_core::ports::EventLog;
use portage_core::{EventKey, EventStatus};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn every_webhook_function_records_its_providers_signed_event() {
    let config = moto::config().await;
    let env = provision("2");
    let var = |k: &str| env.iter().find(|(key, _)| key == k).unwrap().1.clone();
    let table = portage_aws::DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), var("PORTAGE_TABLE"));
    let registry = portage_providers::registry();
    let fixtures = common::repo_root().join("fixtures");
    for provider in registry.iter().filter(|p| p.transport() == portage_core::provider::Transport::Http) {
        let name = provider.name();
        let binary = binary(&format!("webhook-{name}"));
        assert!(binary.exists(), "no function binary for {name}: functions/webhook-{name}");
        let samples = common::samples();
        let fixture = &samples.iter().find(|(p, _)| p == name).expect("a sample in fixtures/samples.tsv").1;
        let body = std::fs::read(fixtures.join(fixture)).unwrap();
        let secret = provider.generate_secret();
        portage(&[
            "secrets",
            "set",
            "--aws",
            "--prefix",
            &var("PORTAGE_SECRETS_PREFIX"),
            name,
            &format!("webhook_secret={}", secret.expose()),
        ]);

        let path = format!("/webhooks/{name}");
        let url = format!("https://api1.execute-api.us-east-1.amazonaws.com{path}");
        let mut headers = json!({"content-type": "application/json", "host": "api1.execute-api.us-east-1.amazonaws.com", "x-forwarded-proto": "https"});
        for (header, value) in provider.sign(&url, &body, &secret, common::now()) {
            headers[header.to_lowercase()] = json!(value);
        }
        let mut function = Function::start(&binary, &env).await;
        let answer = function.invoke(http_api_event(&path, headers, &body)).await.unwrap();
        assert_eq!(answer["statusCode"], 200, "{name} ({fixture}): {answer}");
        let listed = EventLog::list(
            &table,
            &portage_core::EventFilter { provider: Some(name.to_owned()), ..Default::default() },
        )
        .await
        .unwrap();
        assert_eq!(listed.len(), 1, "{name}: one event recorded");
        assert_eq!(listed[0].status, EventStatus::Queued, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn amazon_notifications_from_sqs_and_eventbridge_are_recorded_once() {
    let config = moto::config().await;
    let env = provision("2");
    let var = |k: &str| env.iter().find(|(key, _)| key == k).unwrap().1.clone();
    let table = portage_aws::DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), var("PORTAGE_TABLE"));
    let notification = std::fs::read_to_string(common::repo_root().join("fixtures/amazon/order_change.json")).unwrap();
    let record = |id: &str, body: &str| {
        json!({"messageId": id, "receiptHandle": format!("rh-{id}"), "body": body, "attributes": {"ApproximateReceiveCount": "1"},
               "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
               "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:sp-api", "awsRegion": "us-east-1"})
    };
    let batch = json!({"Records": [record("m1", &notification), record("m2", &notification), record("m3", "{\"not\": \"a notification\"}")]});
    let mut function = Function::start(&binary("notifications-amazon"), &env).await;
    let answer = function.invoke(batch).await.unwrap();
    assert_eq!(
        answer["batchItemFailures"],
        json!([{"itemIdentifier": "m3"}]),
        "only the malformed message is retried: {answer}"
    );
    let key = EventKey::new("amazon", "default", "0e999936-da2c-4f9c-9fc2-02b67bae5f4a");
    let recorded = EventLog::get(&table, &key).await.unwrap().expect("recorded");
    assert_eq!((recorded.status, recorded.event.event_type.as_str()), (EventStatus::Queued, "ORDER_CHANGE"));
    assert_eq!(recorded.raw.as_ref(), notification.as_bytes());

    let bridge: Value = serde_json::from_str(
        &std::fs::read_to_string(
            common::repo_root().join("fixtures/amazon/listings_item_status_change.eventbridge.json"),
        )
        .unwrap(),
    )
    .unwrap();
    function.invoke(bridge).await.unwrap();
    let key = EventKey::new("amazon", "default", "6a1d5c2e-0b3f-4e7a-9c8d-2f4b6a8c0e1d");
    assert!(EventLog::get(&table, &key).await.unwrap().is_some(), "an EventBridge event is recorded too");
    assert!(function.invoke(json!({"detail-type": "X", "detail": {}})).await.is_err(), "a malformed event is an error");

    let sqs = aws_sdk_sqs::Client::new(&config);
    let queued =
        sqs.receive_message().queue_url(var("PORTAGE_QUEUE_URL")).max_number_of_messages(10).send().await.unwrap();
    assert_eq!(
        queued.messages.unwrap_or_default().len(),
        2,
        "each notification enqueued once, the duplicate not at all"
    );
}

/// A REST API (payload 1.0) event on stage `prod`, as API Gateway sends it.
fn rest_stage_event(path: &str, headers: Value, body: &[u8]) -> Value {
    json!({
        "resource": path, "path": path, "httpMethod": "POST", "headers": headers, "multiValueHeaders": {},
        "queryStringParameters": null, "multiValueQueryStringParameters": null, "pathParameters": null,
        "stageVariables": null,
        "requestContext": {"accountId": "123456789012", "apiId": "api2", "resourceId": "res", "stage": "prod",
            "requestId": "r3", "resourcePath": path, "httpMethod": "POST", "path": format!("/prod{path}"),
            "identity": {"sourceIp": "192.0.2.1"}},
        "body": String::from_utf8(body.to_vec()).unwrap(), "isBase64Encoded": false
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_signed_url_is_rebuilt_with_the_stage_or_the_public_base_url() {
    use portage_core::provider::Provider;
    let mut env = provision("2");
    let var = |env: &[(String, String)], k: &str| env.iter().find(|(key, _)| key == k).unwrap().1.clone();
    let hubspot = portage_providers::hubspot::HubSpot;
    let secret = hubspot.generate_secret();
    portage(&[
        "secrets",
        "set",
        "--aws",
        "--prefix",
        &var(&env, "PORTAGE_SECRETS_PREFIX"),
        "hubspot",
        &format!("webhook_secret={}", secret.expose()),
    ]);
    let body = std::fs::read(common::repo_root().join("fixtures/hubspot/contact.creation.json")).unwrap();
    let headers = |url: &str| {
        let mut headers = json!({"content-type": "application/json", "host": "api2.execute-api.us-east-1.amazonaws.com", "x-forwarded-proto": "https"});
        for (name, value) in hubspot.sign(url, &body, &secret, common::now()) {
            headers[name.to_lowercase()] = json!(value);
        }
        headers
    };

    let mut function = Function::start(&binary("webhook-hubspot"), &env).await;
    let stage_url = "https://api2.execute-api.us-east-1.amazonaws.com/prod/webhooks/hubspot";
    let answer = function.invoke(rest_stage_event("/webhooks/hubspot", headers(stage_url), &body)).await.unwrap();
    assert_eq!(answer["statusCode"], 200, "signed over the stage URL: {answer}");
    let unstaged = "https://api2.execute-api.us-east-1.amazonaws.com/webhooks/hubspot";
    let answer = function.invoke(rest_stage_event("/webhooks/hubspot", headers(unstaged), &body)).await.unwrap();
    assert_eq!(answer["statusCode"], 401, "a URL HubSpot did not call does not verify: {answer}");

    env.push(("PORTAGE_PUBLIC_BASE_URL".to_owned(), "https://hooks.example.com/".to_owned()));
    let mut function = Function::start(&binary("webhook-hubspot"), &env).await;
    let answer = function
        .invoke(rest_stage_event("/webhooks/hubspot", headers("https://hooks.example.com/webhooks/hubspot"), &body))
        .await
        .unwrap();
    assert_eq!(answer["statusCode"], 200, "signed over the custom domain's URL: {answer}");
}
