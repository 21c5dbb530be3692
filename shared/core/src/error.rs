//! Error types of the core: why a delivery is rejected, why a store call
//! failed, why a sync attempt failed.

use thiserror::Error;

/// Why a webhook delivery was refused. Each variant has a stable reason code
/// that goes in the response body (`{"error": "<code>"}`) and the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum RejectReason {
    /// The signature header is absent.
    #[error("missing_signature")]
    MissingSignature,
    /// The signature header is present but cannot be parsed.
    #[error("malformed_signature")]
    MalformedSignature,
    /// The header parses, but carries no signature of a scheme we check.
    #[error("no_supported_signature")]
    NoSupportedSignature,
    /// No signature matches any of the connection's secrets.
    #[error("signature_mismatch")]
    SignatureMismatch,
    /// The signed timestamp lies outside the tolerance window.
    #[error("timestamp_outside_tolerance")]
    TimestampOutsideTolerance,
    /// The connection has no signing secret configured.
    #[error("no_secret_configured")]
    NoSecretConfigured,
    /// The signature is valid but the payload is not what the provider sends.
    #[error("malformed_payload")]
    MalformedPayload,
    /// The body is larger than the configured limit.
    #[error("payload_too_large")]
    PayloadTooLarge,
    /// No provider is registered under the route's name.
    #[error("unknown_provider")]
    UnknownProvider,
    /// The route's connection name is not one Portage accepts (see
    /// [`crate::domain::is_valid_connection`]).
    #[error("invalid_connection")]
    InvalidConnection,
    /// The signing key the delivery names is not the provider's: fetched
    /// from elsewhere than its own hosts, a certificate that does not chain to
    /// a public root or is expired, or not issued to the provider's name.
    #[error("untrusted_signing_key")]
    UntrustedSigningKey,
    /// The signing key the delivery names could not be fetched (the host
    /// unreachable, the key unknown, the connection's credentials missing);
    /// answered 503, so the provider retries and nothing is lost.
    #[error("signing_key_unavailable")]
    SigningKeyUnavailable,
}

impl RejectReason {
    /// The stable reason code.
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::MalformedSignature => "malformed_signature",
            Self::NoSupportedSignature => "no_supported_signature",
            Self::SignatureMismatch => "signature_mismatch",
            Self::TimestampOutsideTolerance => "timestamp_outside_tolerance",
            Self::NoSecretConfigured => "no_secret_configured",
            Self::MalformedPayload => "malformed_payload",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnknownProvider => "unknown_provider",
            Self::InvalidConnection => "invalid_connection",
            Self::UntrustedSigningKey => "untrusted_signing_key",
            Self::SigningKeyUnavailable => "signing_key_unavailable",
        }
    }

    /// The HTTP status a rejection is answered with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::MalformedPayload => 400,
            Self::PayloadTooLarge => 413,
            Self::UnknownProvider | Self::InvalidConnection => 404,
            Self::SigningKeyUnavailable => 503,
            _ => 401,
        }
    }
}

/// A store, queue or secrets adapter failed.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The backing service or file could not be reached or answered an error.
    #[error("storage backend error: {0}")]
    Backend(String),
    /// Stored data could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The request was refused as invalid by the adapter.
    #[error("invalid request to the store: {0}")]
    Invalid(String),
    /// The item is larger than the backend can hold (a DynamoDB item stops at
    /// 400 KB): ingest answers 413, so the provider does not retry in vain.
    #[error("too large to store: {0}")]
    TooLarge(String),
}

/// Why a sync attempt failed.
#[derive(Debug, Error)]
pub enum SyncError {
    /// Retrying cannot help: the message goes to the dead-letter queue.
    #[error("permanent failure ({code}): {message}")]
    Permanent {
        /// Stable error code.
        code: &'static str,
        /// Human-readable explanation (no secrets, no personal data).
        message: String,
    },
    /// May succeed later: the message is retried with backoff.
    #[error("transient failure: {0}")]
    Transient(String),
    /// A port failed; retried like a transient failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Shorthand for a permanent failure caused by a payload we cannot read.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::Permanent { code: "malformed_payload", message: message.into() }
    }
}
