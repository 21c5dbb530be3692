//! Conformance checks for the usage counters.

use crate::usage::{Consumed, UsageStore};

/// Checks a usage store: caps hold, keys count once, give-backs floor at
/// zero, counters are per connection and customer, and 50 concurrent consumers of a cap of
/// 10 are granted exactly 10. `run` should be unique per run.
pub async fn usage_store(store: &dyn UsageStore, run: &str) {
    let (ada, bob) = (format!("ada-{run}"), format!("bob-{run}"));
    let now = 1_800_000_000_000;
    assert_eq!(
        store.consume("c1", &ada, "personas", 3, Some(5), "k1", now).await.unwrap(),
        Consumed::Granted { used: 3 }
    );
    assert_eq!(
        store.consume("c1", &ada, "personas", 3, Some(5), "k2", now).await.unwrap(),
        Consumed::Exceeded { used: 3 }
    );
    assert_eq!(
        store.consume("c1", &ada, "personas", 3, Some(5), "k1", now).await.unwrap(),
        Consumed::Granted { used: 3 },
        "a key counts once"
    );
    assert_eq!(
        store.consume("c1", &ada, "personas", 2, Some(5), "k2", now).await.unwrap(),
        Consumed::Granted { used: 5 }
    );
    assert_eq!(
        store.consume("c1", &ada, "credits", 500, None, "k3", now).await.unwrap(),
        Consumed::Granted { used: 500 }
    );
    assert_eq!(
        store.consume("c1", &ada, "personas", -9, Some(5), "k4", now).await.unwrap(),
        Consumed::Granted { used: 0 },
        "giving back stops at zero"
    );
    assert_eq!(
        store.consume("c1", &bob, "personas", 1, Some(1), "k1", now).await.unwrap(),
        Consumed::Granted { used: 1 }
    );
    let usage = store.usage("c1", &ada).await.unwrap();
    assert_eq!((usage.get("personas"), usage.get("credits")), (Some(&0), Some(&500)));
    assert_eq!(store.usage("c1", &bob).await.unwrap().get("personas"), Some(&1), "customers are apart");
    assert_eq!(
        store.consume("c2", &bob, "personas", 1, Some(1), "k1", now).await.unwrap(),
        Consumed::Granted { used: 1 },
        "another connection's customer of the same id has its own counters and keys"
    );
    assert_eq!(store.usage("c1", &bob).await.unwrap().get("personas"), Some(&1), "connections are apart");

    let racer = format!("racer-{run}");
    let keys: Vec<String> = (0..50).map(|i| format!("race-{i}")).collect();
    let attempts = keys.iter().map(|key| store.consume("c1", &racer, "seats", 1, Some(10), key, now));
    let outcomes = futures::future::join_all(attempts).await;
    let granted = outcomes.iter().filter(|o| matches!(o, Ok(Consumed::Granted { .. }))).count();
    assert_eq!(granted, 10, "50 concurrent consumers of a cap of 10: exactly 10 granted");
    assert_eq!(store.usage("c1", &racer).await.unwrap().get("seats"), Some(&10));
}
