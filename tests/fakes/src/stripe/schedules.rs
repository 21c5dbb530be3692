//! Subscription schedules: `POST /v1/subscription_schedules` from a
//! subscription (its current phase), then `POST /v1/subscription_schedules/{id}`
//! with the phases, whose first must keep its start date. The next phase
//! takes over at the period's end (see `clock.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::Stripe;
use super::billing::{indexed, invalid, param, proration};
use super::writes::{missing, write};

/// `POST /v1/subscription_schedules` (`from_subscription`) and `POST /v1/subscription_schedules/{id}` (phases).
pub(super) async fn write_schedule(
    State(fake): State<Arc<Stripe>>,
    headers: HeaderMap,
    schedule: Option<Path<String>>,
    body: String,
) -> Response {
    let schedule = schedule.map(|Path(id)| id);
    let request = format!("POST /v1/subscription_schedules/{} {body}", schedule.clone().unwrap_or_default());
    write(&fake, &headers, request, &body, |fake, params| {
        proration(params)?;
        let Some(id) = schedule else {
            let sub_id = param(params, "from_subscription").ok_or_else(|| invalid("from_subscription is required", "from_subscription"))?;
            let mut sub = fake.subscription(sub_id).ok_or_else(|| Box::new(missing("subscription", sub_id)))?;
            if !sub["schedule"].is_null() {
                return Err(invalid("The subscription is already attached to a schedule.", "from_subscription"));
            }
            let item = &sub["items"]["data"][0];
            let phase = json!({"start_date": item["current_period_start"], "end_date": item["current_period_end"],
                "items": sub["items"]["data"].as_array().into_iter().flatten().map(|i| json!({"price": i["price"]["id"], "quantity": i["quantity"]})).collect::<Vec<_>>()});
            let created = json!({"id": fake.next_id("sub_sched"), "object": "subscription_schedule", "subscription": sub_id,
                "status": "active", "end_behavior": "release", "phases": [phase]});
            sub["schedule"] = created["id"].clone();
            fake.store(&sub);
            fake.store(&created);
            return Ok(created);
        };
        let mut found = fake.object(&id, "subscription_schedule").ok_or_else(|| Box::new(missing("subscription_schedule", &id)))?;
        let phases: Vec<Value> = indexed(params, "phases").into_values().map(|phase| {
            let mut items: BTreeMap<usize, Value> = BTreeMap::new();
            let mut extra = serde_json::Map::new();
            for (field, value) in &phase {
                let parts: Vec<&str> = field.split('/').collect();
                match parts.as_slice() {
                    ["items", n, name] => { items.entry(n.parse().unwrap_or(0)).or_insert_with(|| json!({}))[*name] = json!(value); }
                    ["metadata", name] => { extra.insert((*name).to_owned(), json!(value)); }
                    [name] => { extra.insert(format!("_{name}"), json!(value)); }
                    _ => {}
                }
            }
            let items: Vec<Value> = items.into_values().map(|mut i| { i["quantity"] = json!(i["quantity"].as_str().and_then(|q| q.parse::<i64>().ok()).unwrap_or(1)); i }).collect();
            let date = |name: &str| extra.get(&format!("_{name}")).and_then(Value::as_str).and_then(|d| d.parse::<i64>().ok());
            let metadata: serde_json::Map<String, Value> = extra.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())).collect();
            json!({"start_date": date("start_date"), "end_date": date("end_date"), "items": items, "metadata": metadata})
        }).collect();
        if phases.first().map(|p| &p["start_date"]) != Some(&found["phases"][0]["start_date"]) {
            return Err(invalid("You can not modify the start date of the current phase.", "phases[0][start_date]"));
        }
        if phases.iter().any(|p| p["items"].as_array().is_none_or(Vec::is_empty)) {
            return Err(invalid("Each phase needs items.", "phases"));
        }
        found["phases"] = json!(phases);
        if let Some(end) = param(params, "end_behavior") {
            found["end_behavior"] = json!(end);
        }
        fake.store(&found);
        Ok(found)
    })
    .await
}
