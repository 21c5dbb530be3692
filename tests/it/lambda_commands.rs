//! The application half on AWS, through the Lambda Runtime API against moto
//! and the Stripe fake: `api` records a command (a key made by `portage
//! apikey create --aws`) and queues it on the FIFO commands queue in its
//! resource's group; `sync-worker`, given that queue's batch, runs it once;
//! its result is served by `api`, and the `command.succeeded` notification
//! it queued is delivered, signed, by the worker.

use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use portage_fakes::stripe::Stripe;
use serde_json::{Value, json};

use crate::lambda_common::{aws_env, binary, provision};
use crate::lambda_runtime_api::Function;
use crate::notifications::{Receiver, receive, verified_by_the_official_library};
use crate::{common, moto};

const KEY: &str = "sk_test_lambda_commands_4242";

fn api_event(method: &str, path: &str, key: &str, body: Option<&Value>) -> Value {
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    json!({
        "version": "2.0",
        "routeKey": "ANY /v1/{proxy+}",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": {"authorization": format!("Bearer {key}"), "content-type": "application/json",
            "host": "api1.execute-api.us-east-1.amazonaws.com", "x-forwarded-proto": "https"},
        "pathParameters": {"proxy": raw_path.trim_start_matches("/v1/")},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api1", "domainName": "api1.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "api1", "requestId": "r1", "routeKey": "ANY /v1/{proxy+}", "stage": "$default",
            "time": "02/Dec/2026:19:00:00 +0000", "timeEpoch": 1796238000000i64,
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "app"}
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false
    })
}

fn answer_body(answer: &Value) -> Value {
    serde_json::from_str(answer["body"].as_str().unwrap_or("null")).unwrap()
}

/// An SQS event as Lambda's event source hands over a queue's messages.
fn sqs_event(messages: &[aws_sdk_sqs::types::Message], queue_url: &str) -> Value {
    let arn = format!("arn:aws:sqs:us-east-1:123456789012:{}", queue_url.rsplit('/').next().unwrap());
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let system = m.attributes().cloned().unwrap_or_default();
            let mut attributes = json!({"ApproximateReceiveCount": "1", "SentTimestamp": "1796238000000"});
            if let Some(group) = system.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId) {
                attributes["MessageGroupId"] = json!(group);
            }
            json!({
                "messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                "attributes": attributes, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": arn, "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

async fn receive_all(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    sqs.receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

fn portage_with(env: &[(String, String)], args: &[&str]) -> String {
    let out = std::process::Command::new(common::bin()).args(args).envs(env.iter().cloned()).output().unwrap();
    assert!(out.status.success(), "portage {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_runs_once_through_the_api_and_worker_functions() {
    let config = moto::config().await;
    let mut env = provision("3");
    let var = |env: &[(String, String)], k: &str| env.iter().find(|(key, _)| key == k).unwrap().1.clone();
    let fake = Stripe::new(KEY, 0, 100);
    let stripe = portage_fakes::serve(fake.router()).await;
    env.push(("PORTAGE_PROVIDER_ORIGINS".into(), format!("api.stripe.com={}", stripe.base)));
    let prefix = var(&env, "PORTAGE_SECRETS_PREFIX");
    portage_with(&aws_env(), &["secrets", "set", "--aws", "--prefix", &prefix, "stripe", &format!("api_key={KEY}")]);
    let key = portage_with(&env, &["apikey", "create", "--aws", "--name", "app", "--scope", "admin"]).trim().to_owned();
    let listed: Value =
        serde_json::from_str(&portage_with(&env, &["apikey", "list", "--aws", "--format", "json"])).unwrap();
    assert_eq!(listed[0]["name"], "app", "{listed}");

    let receiver = Arc::new(Receiver::default());
    let hooks = portage_fakes::serve(Router::new().route("/hook", post(receive)).with_state(receiver.clone())).await;

    let mut api = Function::start(&binary("api"), &env).await;
    let unauthorized = api.invoke(api_event("GET", "/v1/commands", "ptg_wrong", None)).await.unwrap();
    assert_eq!(unauthorized["statusCode"], 401, "{unauthorized}");
    let subscription = json!({"url": format!("{}/hook", hooks.base), "types": ["command.*"]});
    let subscribed = api.invoke(api_event("POST", "/v1/subscriptions", &key, Some(&subscription))).await.unwrap();
    assert_eq!(subscribed["statusCode"], 201, "{subscribed}");
    let secret = answer_body(&subscribed)["secret"].as_str().unwrap().to_owned();

    let command = json!({"provider": "stripe", "action": "customer.create", "idempotency_key": "signup-lambda-1",
        "input": {"email": "ada@example.com", "name": "Ada"}});
    let queued = api.invoke(api_event("POST", "/v1/commands", &key, Some(&command))).await.unwrap();
    assert_eq!(queued["statusCode"], 202, "{queued}");
    let queued = answer_body(&queued);
    assert_eq!((queued["status"].clone(), queued["duplicate"].clone()), (json!("queued"), json!(false)));
    let id = queued["id"].as_str().unwrap().to_owned();
    let again = api.invoke(api_event("POST", "/v1/commands", &key, Some(&command))).await.unwrap();
    assert_eq!(answer_body(&again)["id"], json!(id), "the same request is the same command");
    assert_eq!(answer_body(&again)["duplicate"], true);

    let sqs = aws_sdk_sqs::Client::new(&config);
    let command_queue = var(&env, "PORTAGE_COMMAND_QUEUE_URL");
    let messages = receive_all(&sqs, &command_queue).await;
    // A duplicate still queued is queued again (its first message may have
    // been lost): two messages, in the resource's group, for one command.
    assert_eq!(messages.len(), 2, "both on the commands queue");
    let group = |m: &aws_sdk_sqs::types::Message| {
        m.attributes().unwrap().get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId).cloned()
    };
    assert!(group(&messages[0]).is_some() && group(&messages[0]) == group(&messages[1]));
    assert!(messages.iter().all(|m| m.body().unwrap().contains(&id)));

    let mut worker = Function::start(&binary("sync-worker"), &env).await;
    let answer = worker.invoke(sqs_event(&messages, &command_queue)).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    assert_eq!(fake.customers().len(), 1, "one customer at Stripe: the second message found the command over");
    let shown = api.invoke(api_event("GET", &format!("/v1/commands/{id}"), &key, None)).await.unwrap();
    let shown = answer_body(&shown);
    assert_eq!((shown["status"].clone(), shown["attempts"].clone()), (json!("succeeded"), json!(1)), "{shown}");
    let customer = shown["result"]["customer"].as_str().unwrap().to_owned();
    let state =
        api.invoke(api_event("GET", &format!("/v1/state/stripe/customer/{customer}"), &key, None)).await.unwrap();
    assert_eq!(answer_body(&state)["data"]["email"], "ada@example.com", "{state}");
    // The message is settled: nothing of it comes back.
    assert!(receive_all(&sqs, &command_queue).await.is_empty());

    let events_queue = var(&env, "PORTAGE_QUEUE_URL");
    let notifications = receive_all(&sqs, &events_queue).await;
    assert_eq!(notifications.len(), 1, "one notification for the one subscription");
    let answer = worker.invoke(sqs_event(&notifications, &events_queue)).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    let attempts = receiver.attempts.lock().unwrap().clone();
    assert_eq!(attempts.len(), 1);
    verified_by_the_official_library(&secret, &attempts);
    let body: Value = serde_json::from_str(&attempts[0].3).unwrap();
    assert_eq!((body["type"].clone(), body["data"]["id"].clone()), (json!("command.succeeded"), json!(id)));

    // Two updates of that customer while Stripe is down: the first is
    // retried, and the second, behind it in the customer's group, waits
    // unprocessed rather than overtaking it.
    fake.switches.set(portage_fakes::Faults { outage: true, ..portage_fakes::Faults::default() });
    let mut updates = Vec::new();
    for n in 0..2 {
        let update = json!({"provider": "stripe", "action": "customer.update", "idempotency_key": format!("rename-{n}"),
            "input": {"customer": customer, "name": format!("Ada {n}")}});
        let queued = api.invoke(api_event("POST", "/v1/commands", &key, Some(&update))).await.unwrap();
        updates.push(answer_body(&queued)["id"].as_str().unwrap().to_owned());
    }
    let messages = receive_all(&sqs, &command_queue).await;
    assert_eq!(messages.len(), 2, "one group, both in one receive");
    let answer = worker.invoke(sqs_event(&messages, &command_queue)).await.unwrap();
    assert_eq!(answer["batchItemFailures"].as_array().unwrap().len(), 2, "both go back: {answer}");
    let first =
        answer_body(&api.invoke(api_event("GET", &format!("/v1/commands/{}", updates[0]), &key, None)).await.unwrap());
    assert_eq!((first["status"].clone(), first["attempts"].clone()), (json!("queued"), json!(1)), "{first}");
    let second =
        answer_body(&api.invoke(api_event("GET", &format!("/v1/commands/{}", updates[1]), &key, None)).await.unwrap());
    assert_eq!((second["status"].clone(), second["attempts"].clone()), (json!("queued"), json!(0)), "{second}");
}
