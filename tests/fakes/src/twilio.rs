//! A Twilio Messaging fake for `POST
//! /2010-04-01/Accounts/{AccountSid}/Messages.json`: HTTP Basic with the
//! account SID and auth token (20003 otherwise; the path's SID must be the
//! user's), form bodies with `To`, one of `From`/`MessagingServiceSid` and
//! `Body` (21604/21602 otherwise), 201 with the message resource, Twilio's
//! error body `{code, message, more_info, status}`, and 20429 ("too many
//! concurrent requests", never processed) for the next
//! [`Twilio::refuse_concurrent`] requests. A dropped connection is dropped
//! *after* the message is queued.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use serde_json::{Value, json};

use crate::faults::{Fault, Switches, answer, dropped};
use crate::recorded::Recorder;

/// The fake's state.
pub struct Twilio {
    /// The account SID it accepts.
    pub account_sid: String,
    /// Its auth token.
    pub auth_token: String,
    /// Fault switches and counts.
    pub switches: Switches,
    /// Every request it accepted for sending.
    pub recorder: Recorder,
    refusals_left: AtomicU64,
    sent: Mutex<Vec<Value>>,
}

impl Twilio {
    /// A fake for one account.
    pub fn new(account_sid: &str, auth_token: &str) -> Arc<Self> {
        Arc::new(Self {
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            switches: Switches::default(),
            recorder: Recorder::default(),
            refusals_left: AtomicU64::new(0),
            sent: Mutex::new(Vec::new()),
        })
    }

    /// The router.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new().route("/2010-04-01/Accounts/{account}/Messages.json", post(send)).with_state(self.clone())
    }

    /// Answers the next `n` sends with 20429, before processing them.
    pub fn refuse_concurrent(&self, n: u64) {
        self.refusals_left.store(n, Ordering::SeqCst);
    }

    /// Every message queued, oldest first.
    pub fn sent(&self) -> Vec<Value> {
        self.sent.lock().expect("sent").clone()
    }
}

fn error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16()});
    (status, [("twilio-request-id", format!("RQ{:032x}", rand::random::<u128>()))], axum::Json(body)).into_response()
}

fn authorized(fake: &Twilio, headers: &HeaderMap, account: &str) -> bool {
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", fake.account_sid, fake.auth_token));
    let given = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "));
    given == Some(expected.as_str()) && account == fake.account_sid
}

async fn send(
    State(fake): State<Arc<Twilio>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let fault = fake.switches.decide().await;
    if fault != Fault::Drop
        && let Some(injected) = answer(fault, |status| error(status, 20500, "Internal Server Error"))
    {
        return injected;
    }
    if !authorized(&fake, &headers, &account) {
        return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    if fake.refusals_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
        return error(StatusCode::TOO_MANY_REQUESTS, 20429, "Too Many Requests");
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let Some(to) = field("To") else {
        return error(StatusCode::BAD_REQUEST, 21604, "A 'To' phone number is required.");
    };
    if field("From").is_none() && field("MessagingServiceSid").is_none() {
        return error(StatusCode::BAD_REQUEST, 21603, "A 'From' phone number is required.");
    }
    let Some(text) = field("Body") else { return error(StatusCode::BAD_REQUEST, 21602, "Message body is required.") };
    let path = format!("/2010-04-01/Accounts/{account}/Messages.json");
    fake.recorder.keep("POST", &path, &headers, &body);
    let sid = format!("SM{:032x}", rand::random::<u128>());
    let message = json!({"sid": sid, "account_sid": account, "to": to, "from": field("From"), "body": text,
        "messaging_service_sid": field("MessagingServiceSid"), "status": "queued", "direction": "outbound-api",
        "status_callback": field("StatusCallback"), "num_segments": "1", "api_version": "2010-04-01",
        "uri": format!("/2010-04-01/Accounts/{account}/Messages/{sid}.json")});
    fake.sent.lock().expect("sent").push(message.clone());
    if fault == Fault::Drop {
        return dropped();
    }
    (StatusCode::CREATED, axum::Json(message)).into_response()
}
