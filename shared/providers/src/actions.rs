//! What every provider's action executor shares: its connection's client,
//! and the reading of a failed call as a command's outcome.

use std::sync::Arc;

use portage_client::{ApiClient, ClientPool, CredentialSource, Policy, ProviderError};
use portage_core::actions::ActionError;

/// A refusal with this code and message.
pub(crate) fn refused(code: &str, message: impl Into<String>) -> ActionError {
    ActionError::Refused { code: code.to_owned(), message: message.into(), request_id: None }
}

/// The connection's long-lived client; a refusal when the connection lacks
/// the credential (the API checks it at submission; it can be removed since).
pub(crate) async fn client_for(
    clients: &ClientPool,
    policy: Arc<dyn Policy>,
    connection: &str,
    credential: CredentialSource,
) -> Result<Arc<ApiClient>, ActionError> {
    match clients.client(policy, connection, credential).await {
        Ok(Some(client)) => Ok(client),
        Ok(None) => Err(refused("connection_not_ready", "the connection has no credentials for this action")),
        Err(error) => Err(ActionError::Transient {
            code: "secrets_unavailable".to_owned(),
            message: error.to_string(),
            request_id: None,
            retry_after: None,
        }),
    }
}

/// A failed call as an action's error:
/// - the request went out and no answer came back, or a gateway or server
///   error that may follow processing (500, 502, 504): ambiguous;
/// - not sent, throttled, or a 503 (refused before processing): transient;
/// - any other refusal: refused, with the provider's code.
pub(crate) fn from_provider(error: &ProviderError) -> ActionError {
    let detail = error.detail();
    let code = detail
        .and_then(|d| d.code.clone().or_else(|| d.status.map(|s| s.to_string())))
        .unwrap_or_else(|| "unavailable".to_owned());
    let message = error.to_string();
    let request_id = detail.and_then(|d| d.request_id.clone());
    match error {
        ProviderError::Interrupted(_) => ActionError::Ambiguous { code: "no_answer".to_owned(), message },
        ProviderError::Transient(d) if matches!(d.status, Some(500 | 502 | 504)) => {
            ActionError::Ambiguous { code, message }
        }
        ProviderError::RateLimited { retry_after, .. } => {
            ActionError::Transient { code, message, request_id, retry_after: *retry_after }
        }
        ProviderError::CircuitOpen { retry_after, .. } => ActionError::Transient {
            code: "circuit_open".to_owned(),
            message,
            request_id,
            retry_after: Some(*retry_after),
        },
        e if e.is_retryable() => ActionError::Transient { code, message, request_id, retry_after: None },
        _ => ActionError::Refused { code, message, request_id },
    }
}
