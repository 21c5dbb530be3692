//! Page sizes and opaque cursors: a cursor is base64url JSON of where the
//! previous page ended, so callers pass it back untouched.

use base64::Engine;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A page's size when the caller names none.
pub(crate) const DEFAULT_LIMIT: usize = 100;
/// The largest page served.
pub(crate) const MAX_LIMIT: usize = 1000;

/// The page size asked for, within 1 to [`MAX_LIMIT`].
pub(crate) fn limit(asked: Option<usize>) -> Result<usize, ApiError> {
    match asked {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid("limit", format!("must be between 1 and {MAX_LIMIT}"))),
    }
}

/// The cursor for the page after one ending at `position`.
pub(crate) fn encode<T: Serialize>(position: &T) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default())
}

/// Reads a cursor this API issued.
pub(crate) fn decode<T: DeserializeOwned>(cursor: Option<&str>) -> Result<Option<T>, ApiError> {
    let Some(cursor) = cursor else { return Ok(None) };
    let bad = || ApiError::invalid("cursor", "not a cursor this API issued");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map(Some).map_err(|_| bad())
}
