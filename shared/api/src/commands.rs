//! `/v1/commands` and `/v1/actions`: an app asks for an effect, finds out
//! how it went, and reads which effects there are.
//!
//! A command is recorded (one conditional write on provider, connection and
//! idempotency key) and queued before the answer; the same request again is
//! the same command, another request under the same key is refused.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use portage_core::commands::{CommandFilter, CommandRecord, CommandStatus, NewCommand, SubmitOutcome};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::query::{ApiQuery, ListParams, connection};
use crate::{ApiContext, paging};

/// The longest `Prefer: wait=N` honoured, in seconds.
const MAX_WAIT_SECS: u64 = 30;
/// How often a waiting request looks at its command.
const WAIT_POLL: Duration = Duration::from_millis(20);
/// The longest idempotency key (Stripe's limit; a derived key must fit it).
const MAX_KEY_LEN: usize = 255;

/// `POST /v1/commands`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Submission {
    provider: String,
    connection: Option<String>,
    action: String,
    #[serde(default)]
    input: Option<Value>,
    idempotency_key: Option<String>,
}

/// An idempotency key, checked: present, 1 to 255 visible ASCII characters.
fn checked_key(key: String) -> Result<String, ApiError> {
    if key.is_empty() {
        return Err(ApiError::MissingIdempotencyKey);
    }
    if key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid("idempotency_key", format!("1 to {MAX_KEY_LEN} visible ASCII characters")));
    }
    Ok(key)
}

/// `Prefer: wait=N`, at most [`MAX_WAIT_SECS`].
fn wait(headers: &HeaderMap) -> Option<Duration> {
    let prefer = headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    let secs = prefer
        .split([',', ';'])
        .filter_map(|p| p.trim().strip_prefix("wait="))
        .find_map(|n| n.trim().parse::<u64>().ok())?;
    Some(Duration::from_secs(secs.min(MAX_WAIT_SECS)))
}

/// JSON with object keys sorted at every depth: one text per value, so an
/// equal input always has an equal fingerprint.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> =
                entries.iter().map(|(k, v)| format!("{}:{}", Value::String((*k).clone()), canonical(v))).collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

fn fingerprint(action: &str, input: &Value) -> String {
    hex::encode(Sha256::digest(format!("{action}\n{}", canonical(input)).as_bytes()))
}

/// A new command id: `cmd_`, the time in hex (ids sort roughly by age) and 64 random bits.
fn new_id(now_ms: i64) -> String {
    format!("cmd_{now_ms:012x}{:016x}", rand::random::<u64>())
}

/// A command as the API shows it.
pub fn view(command: &CommandRecord) -> Value {
    command.view()
}

/// The answer to a submission: the whole command (200) once it is over,
/// else its id and status (202).
fn answer(command: &CommandRecord, duplicate: bool) -> Response {
    if command.status.is_final() {
        let mut body = view(command);
        body["duplicate"] = json!(duplicate);
        return (StatusCode::OK, Json(body)).into_response();
    }
    let body = json!({ "id": command.id, "status": command.status, "duplicate": duplicate });
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// What a command asks for, before it is checked.
#[derive(Debug, Clone)]
pub struct CommandRequest {
    /// Provider name.
    pub provider: String,
    /// The connection (`default` when absent).
    pub connection: Option<String>,
    /// The action's name.
    pub action: String,
    /// The input (`{}` when absent).
    pub input: Option<Value>,
    /// The app's idempotency key.
    pub idempotency_key: String,
}

/// Checks a command request, records it (or finds the same one) and queues
/// it: what `POST /v1/commands` and `portage commands run` share. Answers
/// the command and whether it existed already.
pub async fn record(ctx: &ApiContext, request: CommandRequest) -> Result<(CommandRecord, bool), ApiError> {
    let key = checked_key(request.idempotency_key)?;
    let action = *ctx.actions.get(&request.provider, &request.action).ok_or(ApiError::NotFound("unknown_action"))?;
    let connection = connection(request.connection)?;
    let input = request.input.unwrap_or_else(|| json!({}));
    let problems = ctx.actions.problems(&action, &input);
    if !problems.is_empty() {
        return Err(ApiError::InvalidInput(problems));
    }
    for secret in action.credentials {
        if ctx.secrets.get(action.provider, &connection, secret).await?.is_none() {
            return Err(ApiError::ConnectionNotReady(secret));
        }
    }
    let now = ctx.clock.now_ms();
    let resource = action.resource(&connection, &input);
    let new = NewCommand {
        id: new_id(now),
        provider: action.provider.to_owned(),
        connection,
        action: action.name.to_owned(),
        fingerprint: fingerprint(action.name, &input),
        resource,
        input,
        idempotency_key: key,
        created_at_ms: now,
    };
    let (command, duplicate) = match ctx.commands.submit(&new).await? {
        SubmitOutcome::Created(command) => (command, false),
        SubmitOutcome::Existing(command) => (command, true),
        SubmitOutcome::Conflict => return Err(ApiError::IdempotencyKeyReused),
    };
    if command.status == CommandStatus::Queued {
        // Also for a duplicate still queued: its first enqueue may have been
        // lost, and a second message only finds it taken or over.
        ctx.queue.send(&[command.task()]).await?;
        if let Some(wake) = &ctx.wake {
            wake.notify_one();
        }
    }
    Ok((command, duplicate))
}

/// `POST /v1/commands`.
pub(crate) async fn submit(
    State(ctx): State<Arc<ApiContext>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let submission: Submission = serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e.to_string()))?;
    let key = submission
        .idempotency_key
        .or_else(|| headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned))
        .unwrap_or_default();
    let request = CommandRequest {
        provider: submission.provider,
        connection: submission.connection,
        action: submission.action,
        input: submission.input,
        idempotency_key: key,
    };
    let (command, duplicate) = record(&ctx, request).await?;
    let Some(wait) = wait(&headers) else { return Ok(answer(&command, duplicate)) };
    let deadline = tokio::time::Instant::now() + wait;
    let mut latest = command;
    while !latest.status.is_final() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(WAIT_POLL).await;
        if let Some(fresh) = ctx.commands.get(&latest.id).await? {
            latest = fresh;
        }
    }
    Ok(answer(&latest, duplicate))
}

/// `GET /v1/commands/{id}`.
pub(crate) async fn get(State(ctx): State<Arc<ApiContext>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let command = ctx.commands.get(&id).await?.ok_or(ApiError::NotFound("command_not_found"))?;
    Ok(Json(view(&command)))
}

/// `GET /v1/commands`: newest first, `next_cursor` while more remain.
pub(crate) async fn list(
    State(ctx): State<Arc<ApiContext>>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let status =
        params.status.as_deref().map(str::parse).transpose().map_err(|e: String| ApiError::invalid("status", e))?;
    let filter = CommandFilter {
        status,
        provider: params.provider,
        connection: params.connection.map(|c| connection(Some(c))).transpose()?,
        before: paging::decode(params.cursor.as_deref())?,
        limit: paging::limit(params.limit)?,
    };
    let commands = ctx.commands.list(&filter).await?;
    let next = (commands.len() == filter.limit)
        .then(|| commands.last().map(|c| paging::encode(&(c.created_at_ms, c.id.clone()))))
        .flatten();
    Ok(Json(json!({ "data": commands.iter().map(view).collect::<Vec<_>>(), "next_cursor": next })))
}

/// The catalogue's parameter.
#[derive(Debug, Deserialize)]
pub(crate) struct ActionParams {
    provider: Option<String>,
}

/// `GET /v1/actions[?provider=P]`.
pub(crate) async fn actions(
    State(ctx): State<Arc<ApiContext>>,
    ApiQuery(params): ApiQuery<ActionParams>,
) -> Json<Value> {
    Json(Value::Array(ctx.actions.view(params.provider.as_deref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_ignore_key_order_and_see_every_value() {
        let a = json!({ "email": "a@x.io", "metadata": { "b": "2", "a": "1" } });
        let b = json!({ "metadata": { "a": "1", "b": "2" }, "email": "a@x.io" });
        assert_eq!(fingerprint("customer.create", &a), fingerprint("customer.create", &b));
        assert_ne!(fingerprint("customer.create", &a), fingerprint("customer.update", &a));
        assert_ne!(fingerprint("customer.create", &a), fingerprint("customer.create", &json!({ "email": "a@x.io" })));
    }

    #[test]
    fn prefer_wait_is_read_and_capped() {
        let mut headers = HeaderMap::new();
        assert_eq!(wait(&headers), None);
        headers.insert("prefer", "respond-async, wait=5".parse().unwrap());
        assert_eq!(wait(&headers), Some(Duration::from_secs(5)));
        headers.insert("prefer", "wait=3600".parse().unwrap());
        assert_eq!(wait(&headers), Some(Duration::from_secs(30)));
    }
}
