//! The shared adapter conformance suite, run against the embedded adapters.

use std::sync::Arc;

use portage_core::conformance;
use portage_core::ports::SystemClock;
use portage_embedded::SqliteQueue;

#[tokio::test]
async fn event_log_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    conformance::event_log(db.as_ref(), "conformance").await;
}

#[tokio::test]
async fn state_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    conformance::state_store(db.as_ref(), "conformance").await;
}

#[tokio::test]
async fn queue_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    let queue = SqliteQueue::new(db, Arc::new(SystemClock), 4);
    conformance::queue(&queue, 4).await;
}

#[tokio::test]
async fn data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = portage_embedded::open(dir.path()).unwrap();
        conformance::state_store(db.as_ref(), "before").await;
        db.close();
    }
    let db = portage_embedded::open(dir.path()).unwrap();
    use portage_core::ports::StateStore;
    assert_eq!(db.list("before", "default", "customer").await.unwrap().len(), 2);
}

#[tokio::test]
async fn outbox_intake_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    let queue = SqliteQueue::new(db.clone(), Arc::new(SystemClock), 4);
    conformance::intake(&queue, db.as_ref(), &queue, "conformance").await;
}

#[tokio::test]
async fn separate_intake_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    let queue = Arc::new(SqliteQueue::new(db.clone(), Arc::new(SystemClock), 4));
    let intake = portage_core::intake::SeparateIntake::new(db.clone(), queue.clone());
    conformance::intake(&intake, db.as_ref(), queue.as_ref(), "conformance").await;
}

#[tokio::test]
async fn secrets_conform() {
    conformance::secrets(&portage_embedded::MapSecrets::new(), "conformance").await;
}

#[tokio::test]
async fn leases_conform() {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    conformance::leases(db.as_ref(), "oauth:stripe/default").await;
}

#[tokio::test]
async fn connections_never_meet() {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    conformance::tenancy(db.as_ref(), db.as_ref(), "conformance").await;
}

#[tokio::test]
async fn api_keys_conform() {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    conformance::api_keys(db.as_ref()).await;
}

#[tokio::test]
async fn pages_conform() {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    conformance::state_pages(db.as_ref(), "conformance").await;
    conformance::event_pages(db.as_ref(), "conformance").await;
}

#[tokio::test]
async fn command_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    conformance::command_store(db.as_ref()).await;
}

#[tokio::test]
async fn queue_groups_conform() {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    let queue = SqliteQueue::new(db, Arc::new(SystemClock), 4);
    conformance::queue_groups(&queue).await;
}

#[tokio::test]
async fn notification_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    conformance::notification_store(db.as_ref()).await;
}

#[tokio::test]
async fn connect_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    conformance::connect_store(db.as_ref(), "run").await;
}

#[tokio::test]
async fn saved_secrets_outlive_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let file = portage_embedded::SecretsFile::new(dir.path().join("secrets.toml"));
    let secrets = portage_embedded::MapSecrets::new().saving_to(file.clone());
    conformance::secrets(&secrets, "conformance").await;
    let saved = file.read().unwrap();
    assert_eq!(saved.connections["conformance"]["c1"]["api_key"], "again");
    assert_eq!(saved.connections["conformance"]["c2"]["api_key"], "other");
    assert!(!saved.connections["conformance"]["c1"].contains_key("webhook_secret"), "deleted before");
}

#[tokio::test]
async fn usage_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    conformance::usage_store(db.as_ref(), "run").await;
}
