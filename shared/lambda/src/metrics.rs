//! CloudWatch metrics in the embedded metric format: one JSON line on stdout
//! per count, which CloudWatch Logs turns into a metric in namespace `Portage`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// Counts one occurrence of `name` (accepted, duplicate, rejected, processed,
/// failed, retried, dead_lettered) with the given dimensions.
pub fn count(name: &str, dimensions: &[(&str, &str)]) {
    add(name, dimensions, 1);
}

/// Counts `value` occurrences of `name` at once (e.g. records a reconcile
/// run repaired).
pub fn add(name: &str, dimensions: &[(&str, &str)], value: usize) {
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let names: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": "Portage",
                "Dimensions": [names],
                "Metrics": [{"Name": name, "Unit": "Count"}],
            }],
        }),
    );
    for (key, value) in dimensions {
        line.insert((*key).to_owned(), Value::String((*value).to_owned()));
    }
    line.insert(name.to_owned(), json!(value));
    println!("{}", Value::Object(line));
}
