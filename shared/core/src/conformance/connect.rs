//! Conformance checks for connect sessions and the registry of connections.

use crate::Secret;
use crate::connect::{AuthKind, ConnectSession, ConnectStore, ConnectionRecord, ConnectionStatus, SessionStatus};

fn session(id: &str, provider: &str, now_ms: i64) -> ConnectSession {
    ConnectSession {
        id: id.to_owned(),
        provider: provider.to_owned(),
        connection: "acme".to_owned(),
        return_url: "https://app.example/done".to_owned(),
        shop: Some("acme.myshopify.com".to_owned()),
        region: None,
        scopes: vec!["read_orders".to_owned(), "write_products".to_owned()],
        status: SessionStatus::Open,
        state_digest: None,
        verifier: None,
        created_at_ms: now_ms,
        expires_at_ms: now_ms + 600_000,
    }
}

fn record(provider: &str, connection: &str, status: ConnectionStatus) -> ConnectionRecord {
    ConnectionRecord {
        provider: provider.to_owned(),
        connection: connection.to_owned(),
        status,
        auth: AuthKind::Oauth2,
        scopes: vec!["a".to_owned()],
        connected_at_ms: 1_800_000_000_000,
        expires_at_ms: Some(1_800_000_003_600),
        refresh_expires_at_ms: None,
        last_refreshed_at_ms: None,
        last_error: None,
        expiring_notified_at_ms: None,
    }
}

/// Checks a connect store: a session starts once, only while open and
/// unexpired, is found by its state's digest, finishes once; connection
/// records are replaced whole and listed by provider. Ids should be unique
/// per run.
pub async fn connect_store(store: &dyn ConnectStore, run: &str) {
    let now = 1_800_000_000_000;
    let id = format!("cs_{run}a");
    let created = session(&id, "shopify", now);
    store.create_session(&created).await.unwrap();
    assert_eq!(store.session(&id).await.unwrap().as_ref(), Some(&created));
    assert!(store.session(&format!("cs_{run}none")).await.unwrap().is_none());

    let digest = format!("{run}digest-a");
    let verifier = Secret::new("verifier-a");
    assert!(store.start_session(&id, &digest, Some(&verifier), now + 1).await.unwrap(), "an open session starts");
    assert!(!store.start_session(&id, &format!("{run}digest-b"), None, now + 2).await.unwrap(), "once");
    assert!(store.session_for_state(&format!("{run}digest-b")).await.unwrap().is_none(), "the loser left nothing");
    let started = store.session_for_state(&digest).await.unwrap().expect("found by its state");
    assert_eq!(started.id, id);
    assert_eq!(started.status, SessionStatus::Started);
    assert_eq!(started.verifier.as_ref().map(Secret::expose), Some("verifier-a"));
    assert_eq!(started.scopes, created.scopes);
    assert!(store.finish_session(&id).await.unwrap(), "a started session finishes");
    assert!(!store.finish_session(&id).await.unwrap(), "once");
    let finished = store.session(&id).await.unwrap().unwrap();
    assert_eq!(finished.status, SessionStatus::Finished);
    assert!(finished.verifier.is_none(), "the verifier is dropped once used");
    assert!(!store.start_session(&id, &format!("{run}digest-c"), None, now + 3).await.unwrap(), "finished stays so");

    let late = format!("cs_{run}b");
    store.create_session(&session(&late, "etsy", now)).await.unwrap();
    assert!(!store.start_session(&late, &format!("{run}digest-d"), None, now + 600_000).await.unwrap(), "expired");
    assert!(!store.finish_session(&late).await.unwrap(), "an open session cannot finish");
    assert!(!store.start_session(&format!("cs_{run}none"), &format!("{run}digest-e"), None, now).await.unwrap());

    let provider = format!("p{run}");
    let other = format!("q{run}");
    store.put_connection(&record(&provider, "b", ConnectionStatus::Connected)).await.unwrap();
    store.put_connection(&record(&provider, "a", ConnectionStatus::Connected)).await.unwrap();
    store.put_connection(&record(&other, "a", ConnectionStatus::Connected)).await.unwrap();
    let mut changed = record(&provider, "a", ConnectionStatus::NeedsReauth);
    changed.last_error = Some("invalid_grant".to_owned());
    changed.expires_at_ms = None;
    store.put_connection(&changed).await.unwrap();
    assert_eq!(store.connection(&provider, "a").await.unwrap().as_ref(), Some(&changed), "replaced whole");
    let mut back = changed.clone();
    back.status = ConnectionStatus::Connected;
    assert!(!store.move_connection(&back, ConnectionStatus::Connected).await.unwrap(), "not from connected");
    assert_eq!(store.connection(&provider, "a").await.unwrap().as_ref(), Some(&changed), "nothing written");
    assert!(store.move_connection(&back, ConnectionStatus::NeedsReauth).await.unwrap());
    assert!(!store.move_connection(&changed, ConnectionStatus::NeedsReauth).await.unwrap(), "moved once");
    assert_eq!(store.connection(&provider, "a").await.unwrap().as_ref(), Some(&back));
    store.put_connection(&changed).await.unwrap();
    assert!(store.connection(&provider, "c").await.unwrap().is_none());
    let names: Vec<String> =
        store.connections(Some(&provider)).await.unwrap().into_iter().map(|r| r.connection).collect();
    assert_eq!(names, ["a", "b"], "by name, one provider only");
    let all = store.connections(None).await.unwrap();
    assert!(all.iter().any(|r| r.provider == other) && all.iter().any(|r| r.provider == provider));
}
