//! The shared adapter conformance suite, run against the AWS adapters on
//! moto's server.

// Tests fail by panicking: unwrapping is how they say so.
#![allow(clippy::unwrap_used)]

mod moto;

use portage_aws::DynamoTable;
use portage_core::conformance;

#[tokio::test]
async fn state_store_conforms() {
    let config = moto::config().await;
    let table = moto::table(&config).await;
    let store = DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), table);
    conformance::state_store(&store, "conformance").await;
}

#[tokio::test]
async fn queue_conforms() {
    let config = moto::config().await;
    let (queue_url, dlq_url) = moto::queues(&config, 4).await;
    let queue = portage_aws::SqsQueue::new(aws_sdk_sqs::Client::new(&config), queue_url, dlq_url);
    conformance::queue(&queue, 4).await;
}

#[tokio::test]
async fn event_log_conforms() {
    let config = moto::config().await;
    let table = moto::table(&config).await;
    let log = DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), table);
    conformance::event_log(&log, "conformance").await;
}

#[tokio::test]
async fn separate_intake_conforms() {
    let config = moto::config().await;
    let table = moto::table(&config).await;
    let (queue_url, dlq_url) = moto::queues(&config, 4).await;
    let log = std::sync::Arc::new(DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), table));
    let queue = std::sync::Arc::new(portage_aws::SqsQueue::new(aws_sdk_sqs::Client::new(&config), queue_url, dlq_url));
    let intake = portage_core::intake::SeparateIntake::new(log.clone(), queue.clone());
    conformance::intake(&intake, log.as_ref(), queue.as_ref(), "conformance").await;
}

#[tokio::test]
async fn secrets_conform() {
    let config = moto::config().await;
    let prefix = format!("{}/", moto::unique("portage"));
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let secrets = portage_aws::SecretsManagerSecrets::new(client, prefix, std::time::Duration::from_secs(300));
    conformance::secrets(&secrets, "conformance").await;
}

#[tokio::test]
async fn secrets_are_cached_for_their_ttl() {
    use portage_core::ports::Secrets;
    let config = moto::config().await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let prefix = format!("{}/", moto::unique("portage"));
    let name = format!("{prefix}stripe/default");
    client.create_secret().name(&name).secret_string(r#"{"webhook_secret": "one"}"#).send().await.unwrap();
    let cached = portage_aws::SecretsManagerSecrets::new(client.clone(), &prefix, std::time::Duration::from_secs(300));
    let uncached = portage_aws::SecretsManagerSecrets::new(client.clone(), &prefix, std::time::Duration::ZERO);
    let read = |s: Vec<portage_core::Secret>| s.iter().map(|s| s.expose().to_owned()).collect::<Vec<_>>();
    assert_eq!(read(cached.signing_secrets("stripe", "default").await.unwrap()), ["one"]);
    client.put_secret_value().secret_id(&name).secret_string(r#"{"webhook_secret": "two"}"#).send().await.unwrap();
    assert_eq!(read(cached.signing_secrets("stripe", "default").await.unwrap()), ["one"], "served from the cache");
    assert!(
        cached.refreshed_signing_secrets("stripe", "default").await.unwrap().is_none(),
        "a fresh copy is not refetched"
    );
    assert_eq!(read(uncached.signing_secrets("stripe", "default").await.unwrap()), ["two"]);
    let fresh = uncached.refreshed_signing_secrets("stripe", "default").await.unwrap();
    assert!(fresh.is_none(), "just fetched: nothing newer to learn");
}

#[tokio::test]
async fn a_mismatch_refetches_a_copy_older_than_the_refetch_age() {
    use portage_core::ports::Secrets;
    let config = moto::config().await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let prefix = format!("{}/", moto::unique("portage"));
    let name = format!("{prefix}stripe/default");
    client.create_secret().name(&name).secret_string(r#"{"webhook_secret": "one"}"#).send().await.unwrap();
    let refetch_after = std::time::Duration::from_millis(300);
    let secrets = portage_aws::SecretsManagerSecrets::new(client.clone(), &prefix, std::time::Duration::from_secs(300))
        .with_refetch_after(refetch_after);
    let read = |s: Vec<portage_core::Secret>| s.iter().map(|s| s.expose().to_owned()).collect::<Vec<_>>();
    assert_eq!(read(secrets.signing_secrets("stripe", "default").await.unwrap()), ["one"]);
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string(r#"{"webhook_secret": "two", "webhook_secret_previous": "one"}"#)
        .send()
        .await
        .unwrap();
    assert!(secrets.refreshed_signing_secrets("stripe", "default").await.unwrap().is_none(), "copy still young");
    tokio::time::sleep(refetch_after + std::time::Duration::from_millis(100)).await;
    let fresh = secrets.refreshed_signing_secrets("stripe", "default").await.unwrap().expect("refetched");
    assert_eq!(read(fresh), ["two", "one"]);
    assert_eq!(
        read(secrets.signing_secrets("stripe", "default").await.unwrap()),
        ["two", "one"],
        "the refetched copy replaces the cached one"
    );
    assert!(secrets.refreshed_signing_secrets("stripe", "default").await.unwrap().is_none(), "just refetched");
}

#[tokio::test]
async fn leases_conform() {
    let config = moto::config().await;
    let table = moto::table(&config).await;
    let leases = DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), table);
    conformance::leases(&leases, "oauth:stripe/default").await;
}

#[tokio::test]
async fn connections_never_meet() {
    let config = moto::config().await;
    let table = moto::table(&config).await;
    let adapter = DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), table);
    conformance::tenancy(&adapter, &adapter, "conformance").await;
}

#[tokio::test]
async fn api_keys_conform() {
    let config = moto::config().await;
    let table = moto::table(&config).await;
    conformance::api_keys(&DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), table)).await;
}

#[tokio::test]
async fn pages_conform() {
    let config = moto::config().await;
    let table = moto::table(&config).await;
    let table = DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), table);
    conformance::state_pages(&table, "conformance").await;
    conformance::event_pages(&table, "conformance").await;
}

#[tokio::test]
async fn connect_store_conforms() {
    let config = moto::config().await;
    let table = moto::table(&config).await;
    conformance::connect_store(&DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), table), "run").await;
}

#[tokio::test]
async fn usage_store_conforms() {
    let config = moto::config().await;
    let table = moto::table(&config).await;
    conformance::usage_store(&DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), table), "run").await;
}

#[tokio::test]
async fn command_store_conforms() {
    let config = moto::config().await;
    let table = moto::table(&config).await;
    conformance::command_store(&DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), table)).await;
}

#[tokio::test]
async fn notification_store_conforms() {
    let config = moto::config().await;
    let table = moto::table(&config).await;
    conformance::notification_store(&DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), table)).await;
}

#[tokio::test]
async fn command_queue_keeps_resource_order() {
    let config = moto::config().await;
    let p = moto::provisioned(&config, 4).await;
    let queue = portage_aws::SqsQueue::new(aws_sdk_sqs::Client::new(&config), p.queue_url, p.dlq_url)
        .with_command_queue(p.command_queue_url, p.command_dlq_url);
    conformance::queue_groups(&queue).await;
}

#[tokio::test]
async fn command_dead_letters_are_read_and_redriven() {
    use portage_core::ports::Queue;
    let config = moto::config().await;
    let p = moto::provisioned(&config, 4).await;
    let queue = portage_aws::SqsQueue::new(aws_sdk_sqs::Client::new(&config), p.queue_url, p.dlq_url)
        .with_command_queue(p.command_queue_url, p.command_dlq_url);
    let task = |id: &str| portage_core::Task::Command {
        id: id.to_owned(),
        group: Some("stripe:default:customer:cus_1".into()),
    };
    let event =
        portage_core::Task::Event { provider: "stripe".into(), connection: "default".into(), event_id: "evt_1".into() };
    queue.send(&[task("cmd_1"), task("cmd_2"), event]).await.unwrap();
    let visibility = std::time::Duration::from_secs(30);
    let got = queue.receive(10, visibility).await.unwrap();
    assert_eq!(got.len(), 3, "{got:?}");
    for delivery in &got {
        queue.dead_letter(&delivery.receipt, "gave_up").await.unwrap();
    }
    let letters = queue.dead_letters().await.unwrap();
    assert_eq!(letters.len(), 3);
    assert!(letters.iter().all(|l| l.reason == "gave_up"));
    let commands: Vec<String> = letters
        .iter()
        .filter(|l| matches!(l.message, Some(portage_core::Task::Command { .. })))
        .map(|l| l.id.clone())
        .collect();
    assert_eq!(commands.len(), 2, "command letters are read from the commands' own dead-letter queue");
    assert_eq!(queue.redrive(Some(&commands)).await.unwrap(), 2);
    assert_eq!(queue.dead_letters().await.unwrap().len(), 1, "the event's letter stays");
    let again = queue.receive(10, visibility).await.unwrap();
    assert_eq!(again.len(), 2, "both commands are back, in their group: {again:?}");
    assert!(again.iter().all(|d| matches!(&d.task, portage_core::Task::Command { group: Some(_), .. })));
}

#[tokio::test]
async fn a_delay_past_sqs_limit_waits_in_hops() {
    use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
    use portage_core::ports::Queue;
    let config = moto::config().await;
    let (queue_url, dlq_url) = moto::queues(&config, 4).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = portage_aws::SqsQueue::new(sqs.clone(), &queue_url, dlq_url);
    let task = portage_core::Task::Notification { id: "msg_1".into() };
    let future = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() + 3_600_000;
    let until = MessageAttributeValue::builder().data_type("Number").string_value(future.to_string()).build().unwrap();
    // As a hop arrives: visible now, its delay's end an hour away.
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body(task.encode())
        .message_attributes(portage_aws::NOT_BEFORE_ATTRIBUTE, until)
        .send()
        .await
        .unwrap();
    let visibility = std::time::Duration::from_secs(30);
    assert!(queue.receive(10, visibility).await.unwrap().is_empty(), "received before its time: sent on");
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let count = |name: QueueAttributeName| attributes.get(&name).cloned().unwrap_or_default();
    assert_eq!(count(QueueAttributeName::ApproximateNumberOfMessagesDelayed), "1", "the next hop waits");
    assert_eq!(count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible), "0", "the early copy is gone");
}
