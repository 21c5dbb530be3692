//! Conformance checks for the command store.

use serde_json::json;

use crate::commands::{
    BeginOutcome, CommandError, CommandFilter, CommandOutcome, CommandStatus, CommandStore, NewCommand, SubmitOutcome,
};

fn command(id: &str, connection: &str, key: &str, fingerprint: &str, at: i64) -> NewCommand {
    NewCommand {
        id: id.to_owned(),
        provider: "conformance".to_owned(),
        connection: connection.to_owned(),
        action: "customer.create".to_owned(),
        input: json!({ "email": "ada@example.com" }),
        idempotency_key: key.to_owned(),
        fingerprint: fingerprint.to_owned(),
        resource: Some("conformance:customer:cus_1".to_owned()),
        created_at_ms: at,
    }
}

fn error(code: &str) -> CommandError {
    CommandError { kind: "transient".into(), code: code.into(), message: "m".into(), request_id: Some("req_1".into()) }
}

/// Checks the command store: one command per (provider, connection, key),
/// conflicts, the lifecycle with leases and interruptions, listing and
/// redrive. The store must hold no commands.
pub async fn command_store(store: &dyn CommandStore) {
    let t = 1_800_000_000_000;
    let created = match store.submit(&command("cmd_1", "a", "k1", "f1", t)).await.unwrap() {
        SubmitOutcome::Created(c) => c,
        other => panic!("expected a new command, got {other:?}"),
    };
    assert_eq!((created.status, created.attempts, created.updated_at_ms), (CommandStatus::Queued, 0, t));
    assert_eq!(created.input, json!({ "email": "ada@example.com" }));
    match store.submit(&command("cmd_2", "a", "k1", "f1", t + 1)).await.unwrap() {
        SubmitOutcome::Existing(c) => assert_eq!(c.id, "cmd_1", "the same request is the same command"),
        other => panic!("expected the existing command, got {other:?}"),
    }
    assert_eq!(store.submit(&command("cmd_3", "a", "k1", "f2", t + 2)).await.unwrap(), SubmitOutcome::Conflict);
    assert!(store.get("cmd_2").await.unwrap().is_none() && store.get("cmd_3").await.unwrap().is_none());
    assert!(
        matches!(store.submit(&command("cmd_4", "b", "k1", "f9", t + 3)).await.unwrap(), SubmitOutcome::Created(_)),
        "another connection's key never meets this one's"
    );

    let begun = match store.begin("cmd_1", t + 10, t + 1_000).await.unwrap() {
        BeginOutcome::Begun(c) => c,
        other => panic!("expected to begin, got {other:?}"),
    };
    assert_eq!((begun.status, begun.attempts, begun.lease_until_ms), (CommandStatus::Running, 1, Some(t + 1_000)));
    assert_eq!(store.begin("cmd_1", t + 20, t + 2_000).await.unwrap(), BeginOutcome::Busy(t + 1_000));
    match store.begin("cmd_1", t + 1_001, t + 3_000).await.unwrap() {
        BeginOutcome::Interrupted(c) => assert_eq!(c.attempts, 2, "an expired lease is an interruption"),
        other => panic!("expected an interruption, got {other:?}"),
    }
    let step = |name: &str, at: i64| crate::commands::CommandStep::done(name, json!({ "id": name }), at);
    store.record_step("cmd_1", &step("first", t + 1_050)).await.unwrap();
    store.record_step("cmd_1", &step("second", t + 1_060)).await.unwrap();
    store.finish("cmd_1", &CommandOutcome::Retry(error("timeout")), t + 1_100).await.unwrap();
    let retried = store.get("cmd_1").await.unwrap().unwrap();
    assert_eq!((retried.status, retried.error.clone()), (CommandStatus::Queued, Some(error("timeout"))));
    let journal: Vec<_> = retried.steps.iter().map(|s| (s.name.as_str(), s.at_ms)).collect();
    assert_eq!(journal, [("first", t + 1_050), ("second", t + 1_060)], "the journal outlives the attempt, in order");
    store.record_step("cmd_1", &step("while queued", t + 1_150)).await.unwrap();
    match store.begin("cmd_1", t + 1_200, t + 5_000).await.unwrap() {
        BeginOutcome::Begun(c) => {
            assert_eq!(c.steps.len(), 2, "only a running command journals; the next attempt reads it")
        }
        other => panic!("expected to begin, got {other:?}"),
    }
    store.finish("cmd_1", &CommandOutcome::Succeeded(json!({ "customer": "cus_1" })), t + 1_300).await.unwrap();
    let done = store.get("cmd_1").await.unwrap().unwrap();
    assert_eq!((done.status, done.attempts, done.updated_at_ms), (CommandStatus::Succeeded, 3, t + 1_300));
    assert_eq!(done.result, Some(json!({ "customer": "cus_1" })));
    assert_eq!(done.lease_until_ms, None);
    assert!(matches!(store.begin("cmd_1", t + 1_400, t + 6_000).await.unwrap(), BeginOutcome::Final(_)));
    store.finish("cmd_1", &CommandOutcome::Failed(error("late")), t + 1_500).await.unwrap();
    assert_eq!(store.get("cmd_1").await.unwrap().unwrap().status, CommandStatus::Succeeded, "only a running one ends");
    assert_eq!(store.begin("cmd_9", t, t).await.unwrap(), BeginOutcome::NotFound);

    assert!(matches!(store.begin("cmd_4", t + 10, t + 100).await.unwrap(), BeginOutcome::Begun(_)));
    store.finish("cmd_4", &CommandOutcome::Failed(error("gone")), t + 20).await.unwrap();
    assert!(!store.requeue_failed("cmd_1", t + 30).await.unwrap(), "only a failed command is redriven");
    assert!(store.requeue_failed("cmd_4", t + 30).await.unwrap());
    assert_eq!(store.get("cmd_4").await.unwrap().unwrap().status, CommandStatus::Queued);

    for i in 0..4 {
        store.submit(&command(&format!("cmd_p{i}"), "p", &format!("kp{i}"), "f", t + 100 + i)).await.unwrap();
    }
    let mut filter = CommandFilter { connection: Some("p".into()), limit: 3, ..CommandFilter::default() };
    let first: Vec<_> = store.list(&filter).await.unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(first, ["cmd_p3", "cmd_p2", "cmd_p1"], "newest first");
    filter.before = Some((t + 101, "cmd_p1".into()));
    let rest: Vec<_> = store.list(&filter).await.unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(rest, ["cmd_p0"]);
    let stranded = store.stranded(t + 102, 10).await.unwrap();
    let ids = |found: Vec<crate::commands::CommandRecord>| found.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let stranded = ids(stranded);
    assert!(stranded.contains(&"cmd_p0".to_owned()) && stranded.contains(&"cmd_p1".to_owned()), "{stranded:?}");
    assert!(!stranded.contains(&"cmd_p2".to_owned()), "enqueued at or after the cut: not stranded");
    assert!(!stranded.contains(&"cmd_1".to_owned()), "a begun command is not stranded");
    store.mark_enqueued("cmd_p0", t + 500).await.unwrap();
    assert!(!ids(store.stranded(t + 102, 10).await.unwrap()).contains(&"cmd_p0".to_owned()), "just enqueued again");
    let succeeded = CommandFilter { status: Some(CommandStatus::Succeeded), limit: 10, ..CommandFilter::default() };
    let ids: Vec<_> = store.list(&succeeded).await.unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(ids, ["cmd_1"]);
}

fn grouped(id: &str, group: Option<&str>) -> crate::domain::Task {
    crate::domain::Task::Command { id: id.to_owned(), group: group.map(str::to_owned) }
}

fn ids(deliveries: &[crate::domain::Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| match &d.task {
            crate::domain::Task::Command { id, .. } => id.clone(),
            other => panic!("not a command: {other:?}"),
        })
        .collect()
}

/// The ids of a group's messages in a receive, in the order received.
fn of_group(deliveries: &[crate::domain::Delivery], prefix: &str) -> Vec<String> {
    ids(deliveries).into_iter().filter(|id| id.starts_with(prefix)).collect()
}

/// Checks ordering groups: a group's messages are handed out in the order
/// sent, and none while an earlier one of its group is in flight; a receive
/// may carry several of one group (SQS FIFO does), always a prefix of what
/// is left, which the consumer works through in order. Other groups and
/// ungrouped messages are not held up. The queue must be empty.
pub async fn queue_groups(queue: &dyn crate::ports::Queue) {
    use std::time::Duration;
    let visibility = Duration::from_secs(30);
    queue
        .send(&[
            grouped("a1", Some("g:a")),
            grouped("a2", Some("g:a")),
            grouped("b1", Some("g:b")),
            grouped("n1", None),
        ])
        .await
        .unwrap();
    queue.send(&[grouped("a3", Some("g:a"))]).await.unwrap();
    let order = ["a1", "a2", "a3"];
    let first = queue.receive(10, visibility).await.unwrap();
    let a = of_group(&first, "a");
    assert!(!a.is_empty() && order.starts_with(&a.iter().map(String::as_str).collect::<Vec<_>>()), "{a:?}");
    assert_eq!((of_group(&first, "b"), of_group(&first, "n")), (vec!["b1".to_owned()], vec!["n1".to_owned()]));
    assert!(queue.receive(10, visibility).await.unwrap().is_empty(), "a group waits for its messages in flight");
    // a1 fails: it and what came after it in its group go back, unprocessed.
    for delivery in &first {
        match &delivery.task {
            crate::domain::Task::Command { id, .. } if id.starts_with('a') => {
                queue.retry_later(&delivery.receipt, Duration::ZERO).await.unwrap();
            }
            _ => queue.ack(&delivery.receipt).await.unwrap(),
        }
    }
    let mut seen = Vec::new();
    for _ in 0..order.len() {
        let got = queue.receive(10, visibility).await.unwrap();
        if got.is_empty() {
            break;
        }
        assert!(of_group(&got, "a") == ids(&got), "only group a is left: {:?}", ids(&got));
        seen.extend(ids(&got));
        for delivery in &got {
            queue.ack(&delivery.receipt).await.unwrap();
        }
    }
    assert_eq!(seen, order, "a retried message keeps its place ahead of its group");
}

/// Checks the notification store: subscriptions with their secrets, one
/// notification's attempts, listing by status, redrive, and removal giving
/// up what was pending. The store must be empty.
pub async fn notification_store(store: &dyn crate::notifications::NotificationStore) {
    use crate::notifications::{Notification, NotificationStatus, Subscription};
    let subscription = Subscription {
        id: "sub_1".into(),
        url: "https://app.example.com/hooks".into(),
        types: vec!["command.*".into(), "state.changed".into()],
        description: Some("app".into()),
        secret: Some(crate::Secret::new("whsec_c2VjcmV0")),
        allow_private: false,
        created_at_ms: 1,
    };
    store.add_subscription(&subscription).await.unwrap();
    let found = store.subscription("sub_1").await.unwrap().unwrap();
    assert_eq!(
        (found.types.clone(), found.secret.as_ref().map(|s| s.expose().to_owned())),
        (subscription.types.clone(), Some("whsec_c2VjcmV0".to_owned()))
    );
    assert!(store.subscription("sub_9").await.unwrap().is_none());
    let notification = |id: &str| Notification {
        id: id.into(),
        subscription_id: "sub_1".into(),
        kind: "command.succeeded".into(),
        body: "{\"type\":\"command.succeeded\"}".into(),
        status: NotificationStatus::Pending,
        attempts: 0,
        last_error: None,
        created_at_ms: 10,
        updated_at_ms: 10,
    };
    store.add_notifications(&[notification("msg_1"), notification("msg_2")]).await.unwrap();
    store.attempted("msg_1", NotificationStatus::Pending, Some("answered 500"), 20).await.unwrap();
    store.attempted("msg_1", NotificationStatus::Failed, Some("answered 500"), 30).await.unwrap();
    store.attempted("msg_1", NotificationStatus::Delivered, None, 40).await.unwrap();
    let failed = store.notification("msg_1").await.unwrap().unwrap();
    assert_eq!((failed.status, failed.attempts), (NotificationStatus::Failed, 2), "only a pending one is attempted");
    assert_eq!(failed.body, "{\"type\":\"command.succeeded\"}", "the body is kept as made");
    let listed = store.notifications(Some(NotificationStatus::Failed), 10).await.unwrap();
    assert_eq!(listed.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(), ["msg_1"]);
    assert!(store.requeue_notification("msg_1", 50).await.unwrap());
    assert_eq!(store.notification("msg_1").await.unwrap().unwrap().attempts, 0, "a fresh schedule");
    assert!(!store.requeue_notification("msg_2", 50).await.unwrap(), "only a failed one is redriven");
    assert!(store.remove_subscription("sub_1").await.unwrap());
    assert!(!store.remove_subscription("sub_1").await.unwrap());
    assert_eq!(store.notification("msg_2").await.unwrap().unwrap().status, NotificationStatus::Failed, "given up");
    assert!(store.subscriptions().await.unwrap().is_empty());
}
