//! The shared adapter conformance suite, run against the AWS adapters on
//! moto's server.

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
