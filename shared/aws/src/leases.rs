//! The leases port on the DynamoDB table: item `LEASE#{name}` / `LEASE`,
//! taken with a conditional put, expiring by TTL an hour after its deadline.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use portage_core::StoreError;
use portage_core::ports::Leases;

use crate::item::{n, s};
use crate::{DynamoTable, backend};

fn lease_pk(name: &str) -> String {
    format!("LEASE#{name}")
}

#[async_trait]
impl Leases for DynamoTable {
    async fn try_lease(&self, name: &str, holder: &str, now_ms: i64, until_ms: i64) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(lease_pk(name)))
            .item("sk", s("LEASE"))
            .item("holder", s(holder))
            .item("until_ms", n(until_ms))
            .item("expires_at", n(until_ms / 1000 + 3600))
            .condition_expression("attribute_not_exists(pk) OR until_ms < :now OR holder = :holder")
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":holder", s(holder))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) => {
                Ok(false)
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn release(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(lease_pk(name)))
            .key("sk", s("LEASE"))
            .condition_expression("holder = :holder")
            .expression_attribute_values(":holder", s(holder))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            // Another holder has it now: nothing of ours to give back.
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), DeleteItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(())
            }
            Err(e) => Err(backend(e)),
        }
    }
}
