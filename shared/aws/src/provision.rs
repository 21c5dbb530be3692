//! Creates, idempotently, the resources template.yaml declares: the table
//! (with its index and TTL), the events queue, the FIFO commands queue and
//! their dead-letter queues. Used
//! by `portage aws provision` against an account or an emulator, and by the
//! tests against moto.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use portage_core::StoreError;

use crate::backend;

/// What was provisioned.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// Table name.
    pub table: String,
    /// Events queue URL.
    pub queue_url: String,
    /// Dead-letter queue URL.
    pub dlq_url: String,
    /// Commands queue URL (FIFO).
    pub command_queue_url: String,
    /// Commands dead-letter queue URL (FIFO).
    pub command_dlq_url: String,
}

/// Creates `{name}` (table), `{name}-events`, `{name}-events-dlq`,
/// `{name}-commands.fifo` and `{name}-commands-dlq.fifo` unless they exist;
/// the queues dead-letter after `max_receives` receives.
pub async fn provision(config: &SdkConfig, name: &str, max_receives: u32) -> Result<Provisioned, StoreError> {
    create_table(&aws_sdk_dynamodb::Client::new(config), name).await?;
    let sqs = aws_sdk_sqs::Client::new(config);
    let (queue_url, dlq_url) = create_queues(&sqs, &format!("{name}-events"), "", max_receives).await?;
    let (command_queue_url, command_dlq_url) =
        create_queues(&sqs, &format!("{name}-commands"), ".fifo", max_receives).await?;
    Ok(Provisioned { table: name.to_owned(), queue_url, dlq_url, command_queue_url, command_dlq_url })
}

/// A queue `{base}{suffix}` and its dead-letter queue `{base}-dlq{suffix}`
/// (FIFO both when the suffix is `.fifo`); returns their URLs.
async fn create_queues(
    sqs: &aws_sdk_sqs::Client,
    base: &str,
    suffix: &str,
    max_receives: u32,
) -> Result<(String, String), StoreError> {
    let fifo = suffix == ".fifo";
    let create = |name: String| {
        let request = sqs.create_queue().queue_name(name);
        if fifo { request.attributes(QueueAttributeName::FifoQueue, "true") } else { request }
    };
    // CreateQueue is idempotent for the same name and attributes.
    let dlq_url = create(format!("{base}-dlq{suffix}"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(backend)?
        .queue_url
        .unwrap_or_default();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(backend)?
        .attributes
        .unwrap_or_default();
    let dlq_arn = attributes.get(&QueueAttributeName::QueueArn).cloned().unwrap_or_default();
    let redrive = serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives }).to_string();
    let queue_url = create(format!("{base}{suffix}"))
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .attributes(QueueAttributeName::VisibilityTimeout, "180")
        .send()
        .await
        .map_err(backend)?
        .queue_url
        .unwrap_or_default();
    Ok((queue_url, dlq_url))
}

async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), StoreError> {
    let attr =
        |n: &str| AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build();
    let key = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build();
    let index = GlobalSecondaryIndex::builder()
        .index_name("gsi1")
        .key_schema(key("gsi1pk", KeyType::Hash).map_err(backend)?)
        .key_schema(key("gsi1sk", KeyType::Range).map_err(backend)?)
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .map_err(backend)?;
    let created = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk").map_err(backend)?)
        .attribute_definitions(attr("sk").map_err(backend)?)
        .attribute_definitions(attr("gsi1pk").map_err(backend)?)
        .attribute_definitions(attr("gsi1sk").map_err(backend)?)
        .key_schema(key("pk", KeyType::Hash).map_err(backend)?)
        .key_schema(key("sk", KeyType::Range).map_err(backend)?)
        .global_secondary_indexes(index)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => return Ok(()),
        Err(e) => return Err(backend(e)),
    }
    client
        .wait_until_table_exists()
        .table_name(name)
        .wait(std::time::Duration::from_secs(120))
        .await
        .map_err(backend)?;
    let ttl = TimeToLiveSpecification::builder().attribute_name("expires_at").enabled(true).build().map_err(backend)?;
    client.update_time_to_live().table_name(name).time_to_live_specification(ttl).send().await.map_err(backend)?;
    Ok(())
}
