//! Every way an API call can fail, and the one place each becomes an HTTP
//! answer: a status, a JSON body with a stable `error` code, and a log line
//! with the same code (never a key, a secret or a body).

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use portage_core::StoreError;
use portage_core::api_keys::Scope;
use serde_json::{Value, json};
use tracing::warn;

/// Why an API call was refused or could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No key, or a key this deployment does not know.
    #[error("unauthorized")]
    Unauthorized,
    /// The key lacks the scope the route needs.
    #[error("forbidden: needs {0}")]
    Forbidden(Scope),
    /// No such route, or no such record.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// A query parameter or body field is not acceptable.
    #[error("invalid {parameter}: {message}")]
    InvalidParameter {
        /// The parameter's name.
        parameter: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A command without an idempotency key.
    #[error("missing idempotency key")]
    MissingIdempotencyKey,
    /// The idempotency key was used before for another action or input.
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    /// The command's input does not match its action's schema.
    #[error("invalid input")]
    InvalidInput(Vec<crate::actions::InputProblem>),
    /// The connection lacks the credentials the action needs.
    #[error("connection not ready: needs {0}")]
    ConnectionNotReady(&'static str),
    /// A body field is not acceptable (422 with its own code).
    #[error("{code}: {message}")]
    Unacceptable {
        /// The stable code (`invalid_url`, `invalid_types`).
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A connect step was refused.
    #[error("connect: {0}")]
    Connect(#[from] portage_providers::connect::ConnectError),
    /// The store could not be reached; the caller may retry.
    #[error("store unavailable: {0}")]
    Store(#[from] StoreError),
}

impl ApiError {
    /// An unacceptable parameter.
    pub fn invalid(parameter: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidParameter { parameter, message: message.into() }
    }

    /// The answer's body as one line, for a command-line tool to print.
    pub fn describe(&self) -> String {
        self.status_and_body().1.to_string()
    }

    fn status_and_body(&self) -> (StatusCode, Value) {
        match self {
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, json!({ "error": "unauthorized" })),
            Self::Forbidden(scope) => (StatusCode::FORBIDDEN, json!({ "error": "forbidden", "scope": scope })),
            Self::NotFound(code) => (StatusCode::NOT_FOUND, json!({ "error": code })),
            Self::InvalidParameter { parameter, message } => (
                StatusCode::BAD_REQUEST,
                json!({ "error": "invalid_parameter", "parameter": parameter, "message": message }),
            ),
            Self::MissingIdempotencyKey => (StatusCode::BAD_REQUEST, json!({ "error": "missing_idempotency_key" })),
            Self::IdempotencyKeyReused => (StatusCode::CONFLICT, json!({ "error": "idempotency_key_reused" })),
            Self::InvalidInput(details) => {
                (StatusCode::UNPROCESSABLE_ENTITY, json!({ "error": "invalid_input", "details": details }))
            }
            Self::ConnectionNotReady(secret) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "error": "connection_not_ready", "message": format!("the connection has no {secret} secret") }),
            ),
            Self::Unacceptable { code, message } => {
                (StatusCode::UNPROCESSABLE_ENTITY, json!({ "error": code, "message": message }))
            }
            Self::Connect(error) => {
                (connect_status(error), json!({ "error": error.code(), "message": error.to_string() }))
            }
            Self::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, json!({ "error": "store_unavailable" })),
        }
    }
}

/// The status of a refused connect step.
fn connect_status(error: &portage_providers::connect::ConnectError) -> StatusCode {
    use portage_providers::connect::ConnectError as E;
    match error {
        E::UnknownProvider | E::SessionNotFound | E::ConnectionNotFound => StatusCode::NOT_FOUND,
        E::SessionUsed => StatusCode::GONE,
        E::InvalidState | E::InvalidHmac | E::ShopMismatch => StatusCode::BAD_REQUEST,
        E::ProviderUnavailable => StatusCode::BAD_GATEWAY,
        E::NoPublicBaseUrl | E::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        E::NotConnectable
        | E::ReturnUrlNotAllowed
        | E::InvalidShop
        | E::InvalidRegion
        | E::InvalidConnection
        | E::InvalidScopes
        | E::NoProviderApp
        | E::InvalidCredentials
        | E::InvalidBaseUrl => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.status_and_body();
        let code = body["error"].as_str().unwrap_or_default();
        match &self {
            // The store's own message names tables and codes, never contents.
            Self::Store(error) => warn!(code, %error, "api call failed"),
            _ => warn!(code, status = status.as_u16(), "api call refused"),
        }
        (status, Json(body)).into_response()
    }
}
