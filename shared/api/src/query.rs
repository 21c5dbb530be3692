//! Query-string extraction whose refusals are the API's own errors, and the
//! parameters several routes share.

use axum::extract::{FromRequestParts, Query};
use http::request::Parts;
use portage_core::{DEFAULT_CONNECTION, is_valid_connection};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `Query<T>`, refusing a malformed query string with `invalid_parameter`.
pub(crate) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::invalid("query", rejection.body_text())),
        }
    }
}

/// The parameters of a newest-first listing (events, commands); each one
/// absent means "any".
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ListParams {
    pub(crate) provider: Option<String>,
    pub(crate) connection: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) limit: Option<usize>,
    pub(crate) cursor: Option<String>,
}

/// The connection a request names (`default` when it names none), checked.
pub(crate) fn connection(asked: Option<String>) -> Result<String, ApiError> {
    let connection = asked.unwrap_or_else(|| DEFAULT_CONNECTION.to_owned());
    if is_valid_connection(&connection) {
        Ok(connection)
    } else {
        Err(ApiError::invalid(
            "connection",
            "1 to 64 letters, digits, '_', '-' or '.', starting with a letter or digit",
        ))
    }
}

/// An RFC 3339 time (UTC) as Unix milliseconds.
pub(crate) fn time_ms(parameter: &'static str, text: &str) -> Result<i64, ApiError> {
    let at = humantime::parse_rfc3339_weak(text)
        .map_err(|e| ApiError::invalid(parameter, format!("not an RFC 3339 time in UTC: {e}")))?;
    let ms = at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    Ok(i64::try_from(ms).unwrap_or(i64::MAX))
}
