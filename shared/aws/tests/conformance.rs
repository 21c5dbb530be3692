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
