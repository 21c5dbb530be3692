//! A SendGrid v3 fake for `POST /v3/mail/send`: `Authorization: Bearer
//! <API key>` (401 with SendGrid's error body otherwise), the checks the
//! mail-send description makes required (`personalizations[].to`,
//! `from.email`, content or a template), 202 with an empty body and
//! `X-Message-Id`, SendGrid's `X-RateLimit-*` headers, and its error body
//! `{"errors": [{"message", "field", "help"}]}`. Faults come from
//! [`crate::Faults`]; a dropped connection is dropped *after* the mail is
//! accepted (it went, and the client cannot know).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::faults::{Fault, Switches, answer, dropped};
use crate::recorded::Recorder;

/// The fake's state.
pub struct SendGrid {
    /// The API key it accepts.
    pub key: String,
    /// Fault switches and counts.
    pub switches: Switches,
    /// Every request it accepted for sending.
    pub recorder: Recorder,
    sent: Mutex<Vec<(String, Value)>>,
}

impl SendGrid {
    /// A fake accepting `key`.
    pub fn new(key: &str) -> Arc<Self> {
        Arc::new(Self {
            key: key.to_owned(),
            switches: Switches::default(),
            recorder: Recorder::default(),
            sent: Mutex::new(Vec::new()),
        })
    }

    /// The router.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new().route("/v3/mail/send", post(send)).with_state(self.clone())
    }

    /// Every mail accepted, with its message id, oldest first.
    pub fn sent(&self) -> Vec<(String, Value)> {
        self.sent.lock().expect("sent").clone()
    }
}

fn errors(status: StatusCode, message: &str, field: Option<&str>) -> Response {
    (status, limit_headers(), axum::Json(json!({"errors": [{"message": message, "field": field, "help": null}]})))
        .into_response()
}

fn limit_headers() -> [(&'static str, String); 3] {
    let reset = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) + 60;
    [
        ("x-ratelimit-limit", "600".to_owned()),
        ("x-ratelimit-remaining", "599".to_owned()),
        ("x-ratelimit-reset", reset.to_string()),
    ]
}

/// What SendGrid refuses in a mail-send body, if anything: (message, field).
fn refusal(body: &Value) -> Option<(&'static str, &'static str)> {
    let personalizations = body["personalizations"].as_array().filter(|p| !p.is_empty());
    let Some(personalizations) = personalizations else {
        return Some((
            "The personalizations field is required and must have at least one personalization.",
            "personalizations",
        ));
    };
    if personalizations.iter().any(|p| {
        p["to"]
            .as_array()
            .is_none_or(|to| to.is_empty() || to.iter().any(|t| !t["email"].as_str().is_some_and(|e| e.contains('@'))))
    }) {
        return Some((
            "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
            "personalizations.0.to",
        ));
    }
    if !body["from"]["email"].as_str().is_some_and(|e| e.contains('@')) {
        return Some((
            "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.",
            "from.email",
        ));
    }
    if body["template_id"].is_null() && body["content"].as_array().is_none_or(Vec::is_empty) {
        return Some(("Unless a valid template_id is provided, the content parameter is required.", "content"));
    }
    None
}

async fn send(State(fake): State<Arc<SendGrid>>, headers: HeaderMap, body: String) -> Response {
    let fault = fake.switches.decide().await;
    if fault != Fault::Drop
        && let Some(injected) = answer(fault, |status| errors(status, "internal error", None))
    {
        return injected;
    }
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(fake.key.as_str()) {
        return errors(
            StatusCode::UNAUTHORIZED,
            "The provided authorization grant is invalid, expired, or revoked",
            None,
        );
    }
    let Ok(parsed) = serde_json::from_str::<Value>(&body) else {
        return errors(StatusCode::BAD_REQUEST, "Bad Request", None);
    };
    if let Some((message, field)) = refusal(&parsed) {
        return errors(StatusCode::BAD_REQUEST, message, Some(field));
    }
    fake.recorder.keep("POST", "/v3/mail/send", &headers, &body);
    let id = format!("{:022x}", rand::random::<u128>() >> 40);
    fake.sent.lock().expect("sent").push((id.clone(), parsed));
    if fault == Fault::Drop {
        return dropped();
    }
    let mut response = (StatusCode::ACCEPTED, limit_headers()).into_response();
    response.headers_mut().insert("x-message-id", id.parse().expect("header"));
    response
}
