//! What the normalisers share: ids that come as JSON numbers or strings,
//! RFC 3339 times, and the one event id of a delivery that carries several.

use serde_json::Value;

use crate::signing::sha256_hex;

/// Longest id, type or account recorded.
pub(crate) const MAX_LEN: usize = 255;

/// An id a payload gives as a number or a non-empty string of at most
/// `max_len` bytes.
pub(crate) fn id_text(value: Option<&Value>, max_len: usize) -> Option<String> {
    match value? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() && s.len() <= max_len => Some(s.clone()),
        _ => None,
    }
}

/// Unix seconds of an RFC 3339 time (`Z`, `+00:00` or no zone, a space or
/// `T` between date and time, any fraction).
pub(crate) fn rfc3339_secs(text: &str) -> Option<i64> {
    let time = humantime::parse_rfc3339_weak(text.trim_end_matches("+00:00")).ok()?;
    i64::try_from(time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs()).ok()
}

/// The type of a delivery carrying events of these types: the one they
/// share, else `batch`.
pub(crate) fn shared_type(types: &[&str]) -> String {
    match types.first() {
        Some(first) if types.iter().all(|t| t == first) && !first.is_empty() && first.len() <= MAX_LEN => {
            (*first).to_owned()
        }
        _ => "batch".to_owned(),
    }
}

/// The event id of a delivery that carries these events' ids: the id itself
/// for one, else `batch:` and the SHA-256 of the sorted ids, so the provider's
/// retry of the same batch is a duplicate however it is ordered or formatted.
/// `None` for none.
pub(crate) fn batch_id(mut ids: Vec<String>) -> Option<String> {
    match ids.len() {
        0 => None,
        1 => ids.pop(),
        _ => {
            ids.sort();
            Some(format!("batch:{}", sha256_hex(ids.join(",").as_bytes())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_times_and_batches() {
        assert_eq!(id_text(Some(&json!(12)), 5), Some("12".into()));
        assert_eq!(id_text(Some(&json!("")), 5), None);
        assert_eq!(id_text(Some(&json!("abcdef")), 5), None);
        assert_eq!(rfc3339_secs("2026-11-20 10:00:00+00:00"), Some(1_795_168_800));
        assert_eq!(rfc3339_secs("2026-11-20T10:00:00.123Z"), Some(1_795_168_800));
        assert_eq!(batch_id(vec!["a".into()]), Some("a".into()));
        assert_eq!(batch_id(vec!["b".into(), "a".into()]), batch_id(vec!["a".into(), "b".into()]));
        assert_eq!(batch_id(Vec::new()), None);
    }
}
