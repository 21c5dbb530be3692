//! The Lambda binaries driven through the Lambda Runtime API against moto,
//! after `portage aws provision` and `portage secrets set --aws`: a signed
//! Stripe event through `webhook-stripe` lands in DynamoDB and SQS, a
//! duplicate enqueues nothing, `sync-worker` given the SQS batch applies it,
//! and a poison message ends in the dead-letter queue.

use crate::common;
use crate::lambda_common;
use crate::lambda_runtime_api;
use crate::moto;

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_common::{binary, http_api_event, portage, provision};
use lambda_runtime_api::Function;
use portage_core::ports::{EventLog, StateStore};
use portage_core::{EventKey, EventStatus};
use serde_json::{Value, json};

fn rest_api_event(headers: Value, body: &[u8]) -> Value {
    json!({
        "resource": "/webhooks/stripe/{connection}",
        "path": "/webhooks/stripe/default",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {},
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": {"connection": "default"},
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api2", "resourceId": "res", "stage": "prod", "requestId": "r2",
            "resourcePath": "/webhooks/stripe/{connection}", "httpMethod": "POST", "path": "/prod/webhooks/stripe/default",
            "identity": {"sourceIp": "192.0.2.1"}
        },
        "body": String::from_utf8(body.to_vec()).unwrap(),
        "isBase64Encoded": false
    })
}

fn signed_headers(body: &[u8]) -> Value {
    json!({
        "content-type": "application/json",
        "host": "api1.execute-api.us-east-1.amazonaws.com",
        "x-forwarded-proto": "https",
        "stripe-signature": common::stripe_signature(body, common::SECRET, common::now()),
    })
}

fn response_body(answer: &Value) -> Value {
    serde_json::from_str(answer["body"].as_str().unwrap()).unwrap()
}

fn sqs_event(messages: &[aws_sdk_sqs::types::Message], queue_arn: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795460000000"},
                "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn, "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_and_worker_through_the_runtime_api() {
    let config = moto::config().await;
    let env = provision("2");
    let var = |k: &str| env.iter().find(|(key, _)| key == k).unwrap().1.clone();
    let prefix = var("PORTAGE_SECRETS_PREFIX");
    portage(&["secrets", "set", "--aws", "--prefix", &prefix, "stripe", &format!("webhook_secret={}", common::SECRET)]);

    let mut webhook = Function::start(&binary("webhook-stripe"), &env).await;
    let body = common::stripe_event(
        "evt_lambda_1",
        "customer.created",
        1_750_000_000,
        json!({"id": "cus_l1", "object": "customer", "email": "a@example.com"}),
    );
    let answer = webhook.invoke(http_api_event("/webhooks/stripe", signed_headers(&body), &body)).await.unwrap();
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(response_body(&answer), json!({"received": true, "event_id": "evt_lambda_1", "duplicate": false}));

    let table = portage_aws::DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), var("PORTAGE_TABLE"));
    let key = EventKey::new("stripe", "default", "evt_lambda_1");
    let recorded = EventLog::get(&table, &key).await.unwrap().expect("recorded in DynamoDB");
    assert_eq!(recorded.status, EventStatus::Queued);
    assert_eq!(recorded.raw.as_ref(), body.as_slice(), "raw bytes kept exactly");

    let duplicate = webhook.invoke(rest_api_event(signed_headers(&body), &body)).await.unwrap();
    assert_eq!(response_body(&duplicate)["duplicate"], true, "{duplicate}");
    let forged = webhook
        .invoke(http_api_event("/webhooks/stripe", json!({"stripe-signature": "t=1,v1=00"}), &body))
        .await
        .unwrap();
    assert_eq!(forged["statusCode"], 401);
    assert_eq!(response_body(&forged), json!({"error": "signature_mismatch"}));

    // Within the body limit, but too large for a DynamoDB item even compressed: 413, nothing stored.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..600_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    let huge = common::stripe_event(
        "evt_lambda_huge",
        "customer.created",
        1_750_000_000,
        json!({"id": "cus_huge", "object": "customer", "description": STANDARD.encode(noise)}),
    );
    let answer = webhook.invoke(http_api_event("/webhooks/stripe", signed_headers(&huge), &huge)).await.unwrap();
    assert_eq!(answer["statusCode"], 413, "{answer}");
    assert_eq!(response_body(&answer), json!({"error": "payload_too_large"}));
    let huge_key = EventKey::new("stripe", "default", "evt_lambda_huge");
    assert!(EventLog::get(&table, &huge_key).await.unwrap().is_none(), "nothing stored");

    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue_url = var("PORTAGE_QUEUE_URL");
    let received = sqs.receive_message().queue_url(&queue_url).max_number_of_messages(10).send().await.unwrap();
    let messages = received.messages.unwrap_or_default();
    assert_eq!(messages.len(), 1, "one message for the event and its duplicate");

    let mut worker = Function::start(&binary("sync-worker"), &env).await;
    let answer = worker.invoke(sqs_event(&messages, "arn:aws:sqs:us-east-1:123456789012:events")).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    assert_eq!(EventLog::get(&table, &key).await.unwrap().unwrap().status, EventStatus::Processed);
    let customer =
        StateStore::get(&table, "stripe", "default", "customer", "cus_l1").await.unwrap().expect("state applied");
    assert_eq!(customer.data["email"], "a@example.com");

    // A poison message: parked in the dead-letter queue, not retried.
    let poison = sqs.send_message().queue_url(&queue_url).message_body("not a portage message").send().await.unwrap();
    let received = sqs.receive_message().queue_url(&queue_url).max_number_of_messages(10).send().await.unwrap();
    let messages = received.messages.unwrap_or_default();
    assert_eq!(messages.len(), 1);
    let answer = worker.invoke(sqs_event(&messages, "arn:aws:sqs:us-east-1:123456789012:events")).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]), "settled by dead-lettering: {answer}");

    // The operator's view of the deployed dead-letter queue: listed (though not a Portage message), and redriven.
    let with_env = |args: &[&str]| {
        let out = Command::new(common::bin()).args(args).envs(env.iter().cloned()).output().unwrap();
        assert!(out.status.success(), "portage {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let letters: Value = serde_json::from_str(&with_env(&["dlq", "list", "--aws", "--format", "json"])).unwrap();
    assert_eq!(letters.as_array().unwrap().len(), 1, "{letters}");
    assert_eq!(letters[0]["reason"], "malformed_message");
    assert_eq!(letters[0]["message"], Value::Null, "not a Portage message: {letters}");
    assert_eq!(with_env(&["dlq", "redrive", "--aws"]).trim(), "redriven 1");
    let back = sqs.receive_message().queue_url(&queue_url).send().await.unwrap().messages.unwrap_or_default();
    assert_eq!(back.len(), 1, "redriven to the events queue");
    let answer = worker.invoke(sqs_event(&back, "arn:aws:sqs:us-east-1:123456789012:events")).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]), "parked again: {answer}");

    let dead = sqs
        .receive_message()
        .queue_url(var("PORTAGE_DLQ_URL"))
        .message_attribute_names("All")
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body(), Some("not a portage message"));
    assert_eq!(dead[0].message_attributes().unwrap()["reason"].string_value(), Some("malformed_message"));
    assert!(poison.message_id.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_messages_end_in_the_dead_letter_queue_after_the_maximum_receives() {
    let config = moto::config().await;
    let mut env = provision("2");
    // An outage: the worker's table does not exist, so every attempt fails transiently.
    env.iter_mut().filter(|(k, _)| k == "PORTAGE_TABLE").for_each(|(_, v)| *v = "no-such-table".to_owned());
    let var = |k: &str| env.iter().find(|(key, _)| key == k).unwrap().1.clone();
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue_url = var("PORTAGE_QUEUE_URL");
    let message = portage_core::Task::Event {
        provider: "stripe".into(),
        connection: "default".into(),
        event_id: "evt_outage".into(),
    }
    .encode();
    sqs.send_message().queue_url(&queue_url).message_body(message).send().await.unwrap();

    let mut worker = Function::start(&binary("sync-worker"), &env).await;
    let mut attempts = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if let Some(m) = messages.first() {
            attempts += 1;
            let mut event = sqs_event(&messages, "arn:aws:sqs:us-east-1:123456789012:events");
            event["Records"][0]["attributes"]["ApproximateReceiveCount"] = json!(attempts.to_string());
            let answer = worker.invoke(event).await.unwrap();
            assert_eq!(answer["batchItemFailures"][0]["itemIdentifier"], json!(m.message_id()), "reported as failed");
        } else if attempts >= 2 {
            let dlq = sqs.get_queue_attributes().queue_url(var("PORTAGE_DLQ_URL"));
            let attributes = dlq
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap_or_default();
            if attributes.values().any(|n| n != "0") {
                break;
            }
        }
        assert!(std::time::Instant::now() < deadline, "the message never left the queue");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(attempts, 2, "received exactly the maximum number of times");
    let dead =
        sqs.receive_message().queue_url(var("PORTAGE_DLQ_URL")).send().await.unwrap().messages.unwrap_or_default();
    assert_eq!(dead.len(), 1, "moved to the dead-letter queue by the redrive policy");
    assert!(dead[0].body().unwrap().contains("evt_outage"));
}

#[tokio::test(flavor = "multi_thread")]
async fn reconcile_requeues_stranded_events_and_reports_its_cursors() {
    let config = moto::config().await;
    let env = provision("2");
    let var = |k: &str| env.iter().find(|(key, _)| key == k).unwrap().1.clone();
    let table = portage_aws::DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), var("PORTAGE_TABLE"));
    // An ingest that died after recording, before enqueueing: `received` for longer than the reclaim window.
    let stranded = portage_core::NewEvent {
        provider: "stripe".into(),
        connection: "default".into(),
        event: portage_core::NormalizedEvent {
            event_id: "evt_stranded".into(),
            event_type: "customer.created".into(),
            occurred_at: 1_750_000_000,
            account: None,
            object_kind: Some("customer".into()),
            object_id: Some("cus_s".into()),
            livemode: Some(false),
        },
        raw: bytes::Bytes::from_static(b"{}"),
        headers: Vec::new(),
        received_at_ms: common::now() * 1000 - 120_000,
    };
    EventLog::record(&table, stranded, 30_000).await.unwrap();

    let mut reconcile = Function::start(&binary("reconcile"), &env).await;
    let report = reconcile.invoke(json!({"mode": "incremental"})).await.unwrap();
    assert_eq!(report["mode"], "incremental");
    assert_eq!(report["stranded_requeued"], 1, "{report}");
    let not_listed: Vec<&str> = report["not_listed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(not_listed.contains(&"stripe/default"), "Stripe cannot list changes yet: {report}");
    assert!(not_listed.iter().all(|c| c.ends_with("/default")), "each provider's default connection: {report}");
    let key = EventKey::new("stripe", "default", "evt_stranded");
    assert_eq!(EventLog::get(&table, &key).await.unwrap().unwrap().status, EventStatus::Queued);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let received = sqs.receive_message().queue_url(var("PORTAGE_QUEUE_URL")).send().await.unwrap();
    assert!(received.messages.unwrap_or_default()[0].body().unwrap().contains("evt_stranded"));

    let again = reconcile.invoke(json!({"mode": "full"})).await.unwrap();
    assert_eq!(again["stranded_requeued"], 0, "nothing left to repair: {again}");
    let refused = reconcile.invoke(json!({"mode": "sometimes"})).await;
    assert!(refused.is_err(), "an unknown mode is an invocation error: {refused:?}");
}
