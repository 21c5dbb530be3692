//! The event's two DynamoDB items, built and read back: the event item
//! (status, lease, normalised fields, index keys, TTL) and the payload item
//! (headers and the gzip-compressed raw body). Key design: see `event_log`.

use std::io::{Read, Write};

use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use portage_core::{EventKey, EventRecord, EventStatus, NewEvent, NormalizedEvent, StoreError};

use crate::DynamoTable;
use crate::index::shard_of;
use crate::item::{Item, get_n, get_s, n, opt_n, opt_s, s};

/// Largest compressed payload stored: DynamoDB items stop at 400 KB.
const MAX_STORED_PAYLOAD: usize = 350 * 1024;

/// The status index's sort key: receipt time, then the event's key. `#`
/// sorts below every character a provider or connection name may hold, so
/// the string order is the order of [`portage_core::EventPosition`].
pub(crate) fn gsi1_sort_key(received_at_ms: i64, key: &EventKey) -> String {
    format!("{received_at_ms:015}#{}#{}#{}", key.provider, key.connection, key.event_id)
}

/// The partition key both of an event's items share. Provider and
/// connection names hold no `#`, so only the event id (last) may, and two
/// keys never read alike.
pub(crate) fn event_pk(key: &EventKey) -> String {
    format!("EVENT#{}#{}#{}", key.provider, key.connection, key.event_id)
}

/// The index shard of an event (see [`crate::index`]).
pub(crate) fn shard(key: &EventKey) -> u32 {
    shard_of(&[&key.provider, &key.connection, &key.event_id])
}

/// The index partition of a status, without its shard.
pub(crate) fn status_partition(status: EventStatus) -> String {
    format!("EVENTS#{status}")
}

/// The index partition of a status: one of `GSI_SHARDS` per status.
pub(crate) fn status_pk(status: EventStatus, shard: u32) -> String {
    format!("{}#{shard}", status_partition(status))
}

fn compress(raw: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(raw).and_then(|()| encoder.finish()).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn decompress(stored: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(stored).read_to_end(&mut raw).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(raw)
}

/// An event record from its event item and, when read, its payload item.
pub(crate) fn record_from_items(event: &Item, payload: Option<&Item>) -> Result<EventRecord, StoreError> {
    let status: EventStatus = get_s(event, "status")?.parse().map_err(StoreError::Corrupt)?;
    let (headers, raw) = match payload {
        Some(p) => {
            let headers =
                serde_json::from_str(&get_s(p, "headers")?).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let raw = match p.get("raw") {
                Some(AttributeValue::B(blob)) => decompress(blob.as_ref())?,
                _ => return Err(StoreError::Corrupt("payload item lacks its body".into())),
            };
            (headers, raw)
        }
        None => (Vec::new(), Vec::new()),
    };
    Ok(EventRecord {
        provider: get_s(event, "provider")?,
        connection: get_s(event, "connection")?,
        event: NormalizedEvent {
            event_id: get_s(event, "event_id")?,
            event_type: get_s(event, "event_type")?,
            occurred_at: get_n(event, "occurred_at")?,
            account: opt_s(event, "account"),
            object_kind: opt_s(event, "object_kind"),
            object_id: opt_s(event, "object_id"),
            livemode: match event.get("livemode") {
                Some(AttributeValue::Bool(b)) => Some(*b),
                _ => None,
            },
        },
        status,
        received_at_ms: get_n(event, "received_at_ms")?,
        attempts: u32::try_from(opt_n(event, "attempts").unwrap_or(0)).unwrap_or(0),
        lease_until_ms: opt_n(event, "lease_until_ms"),
        finished_at_ms: opt_n(event, "finished_at_ms"),
        detail: opt_s(event, "detail"),
        headers,
        raw: Bytes::from(raw),
    })
}

impl DynamoTable {
    /// When an item made at `received_at_ms` expires (the table's TTL).
    pub(crate) fn expires_at(&self, received_at_ms: i64) -> AttributeValue {
        let retention = i64::try_from(self.event_retention.as_secs()).unwrap_or(i64::MAX);
        n(received_at_ms.div_euclid(1000).saturating_add(retention))
    }

    /// The event item and the payload item of a new event; refuses a payload
    /// too large for a DynamoDB item even compressed.
    pub(crate) fn event_items(&self, event: &NewEvent) -> Result<(Item, Item), StoreError> {
        let pk = event_pk(&event.key());
        let e = &event.event;
        let mut item = Item::from([
            ("pk".to_owned(), s(&pk)),
            ("sk".to_owned(), s("EVENT")),
            ("provider".to_owned(), s(&event.provider)),
            ("event_id".to_owned(), s(&e.event_id)),
            ("connection".to_owned(), s(&event.connection)),
            ("event_type".to_owned(), s(&e.event_type)),
            ("occurred_at".to_owned(), n(e.occurred_at)),
            ("status".to_owned(), s(EventStatus::Received.as_str())),
            ("received_at_ms".to_owned(), n(event.received_at_ms)),
            ("claimed_at_ms".to_owned(), n(event.received_at_ms)),
            ("attempts".to_owned(), n(0)),
            ("gsi1pk".to_owned(), s(status_pk(EventStatus::Received, shard(&event.key())))),
            ("gsi1sk".to_owned(), s(gsi1_sort_key(event.received_at_ms, &event.key()))),
            ("expires_at".to_owned(), self.expires_at(event.received_at_ms)),
        ]);
        for (name, value) in [("account", &e.account), ("object_kind", &e.object_kind), ("object_id", &e.object_id)] {
            if let Some(value) = value {
                item.insert(name.to_owned(), s(value));
            }
        }
        if let Some(live) = e.livemode {
            item.insert("livemode".to_owned(), AttributeValue::Bool(live));
        }
        let body = compress(&event.raw)?;
        if body.len() > MAX_STORED_PAYLOAD {
            return Err(StoreError::TooLarge(format!(
                "payload of {} bytes compresses to {} bytes, over {MAX_STORED_PAYLOAD}",
                event.raw.len(),
                body.len()
            )));
        }
        let headers = serde_json::to_string(&event.headers).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let payload = Item::from([
            ("pk".to_owned(), s(pk)),
            ("sk".to_owned(), s("PAYLOAD")),
            ("headers".to_owned(), s(headers)),
            ("raw".to_owned(), AttributeValue::B(body.into())),
            ("expires_at".to_owned(), self.expires_at(event.received_at_ms)),
        ]);
        Ok((item, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::shard;
    use crate::index::GSI_SHARDS;
    use portage_core::EventKey;

    #[test]
    fn shards_are_stable_and_spread() {
        let key = |id: &str| EventKey::new("stripe", "default", id);
        // Stored in the index: these values (FNV-1a 32 of `stripe#default#evt_1`, … mod 8) must never change.
        assert_eq!([shard(&key("evt_1")), shard(&key("evt_2"))], [0, 1]);
        assert_eq!(shard(&EventKey::new("shopify", "shop-a", "abc")), 3);
        let counts = (0..8000).fold([0u32; GSI_SHARDS as usize], |mut counts, i| {
            counts[shard(&key(&format!("evt_{i}"))) as usize] += 1;
            counts
        });
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
    }
}
