//! A string that must never reach a log line or an error message.

use std::fmt;

/// True for the keys that hold webhook signing secrets: `webhook_secret`,
/// and any `webhook_secret_*` kept during a rotation.
pub fn is_signing_key(key: &str) -> bool {
    key == "webhook_secret" || key.starts_with("webhook_secret_")
}

/// Wraps a credential (signing secret, token, key). `Debug` and `Display` print
/// a placeholder, so a secret that ends up in a `tracing` field or an error by
/// mistake is not disclosed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// True for the keys that hold webhook signing secrets: `webhook_secret`,
    /// and any `webhook_secret_*` kept during a rotation.
    pub fn is_signing_key(key: &str) -> bool {
        key == "webhook_secret" || key.starts_with("webhook_secret_")
    }

    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("whsec_topsecret");
        assert!(!format!("{s:?} {s}").contains("topsecret"));
        assert_eq!(s.expose(), "whsec_topsecret");
    }
}
