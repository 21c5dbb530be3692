//! Where a provider's host is really reached: itself, unless an operator
//! points it at a sandbox or a test fake.

use std::collections::BTreeMap;

use thiserror::Error;
use url::Url;

/// Host overrides: requests for `api.ebay.com` go to
/// `https://api.sandbox.ebay.com`, or in tests to `http://127.0.0.1:PORT`.
/// The check that a URL is on the provider's own hosts is made on the URL the
/// provider named, before an override applies, so an override never widens
/// what is trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    by_host: BTreeMap<String, Url>,
}

/// An override that cannot be read.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid origin override '{0}': expected HOST=URL[,HOST=URL…] with an http or https URL")]
pub struct OriginsError(String);

impl Origins {
    /// No overrides: every host is itself.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses `HOST=URL[,HOST=URL…]`, the form of `PORTAGE_PROVIDER_ORIGINS`.
    pub fn parse(text: &str) -> Result<Self, OriginsError> {
        let mut by_host = BTreeMap::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let invalid = || OriginsError(entry.to_owned());
            let (host, base) = entry.split_once('=').ok_or_else(invalid)?;
            let base = Url::parse(base.trim()).map_err(|_| invalid())?;
            if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
                return Err(invalid());
            }
            by_host.insert(host.trim().to_ascii_lowercase(), base);
        }
        Ok(Self { by_host })
    }

    /// The overrides `PORTAGE_PROVIDER_ORIGINS` names (none when unset).
    pub fn from_env() -> Result<Self, OriginsError> {
        Self::parse(&std::env::var("PORTAGE_PROVIDER_ORIGINS").unwrap_or_default())
    }

    /// `url` with its scheme, host and port replaced by the override for its
    /// host, if there is one; otherwise unchanged.
    pub fn resolve(&self, url: &Url) -> Url {
        let Some(base) = url.host_str().and_then(|host| self.by_host.get(&host.to_ascii_lowercase())) else {
            return url.clone();
        };
        let mut resolved = base.clone();
        resolved.set_path(url.path());
        resolved.set_query(url.query());
        resolved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_scheme_host_and_port_only() {
        let origins =
            Origins::parse("api.ebay.com=http://127.0.0.1:9000, API.PAYPAL.COM=https://example.test").unwrap();
        let url = Url::parse("https://api.ebay.com/commerce/notification/v1/public_key/k1?x=1").unwrap();
        assert_eq!(origins.resolve(&url).as_str(), "http://127.0.0.1:9000/commerce/notification/v1/public_key/k1?x=1");
        let url = Url::parse("https://api.paypal.com/v1/notifications/certs/CERT-1").unwrap();
        assert_eq!(origins.resolve(&url).as_str(), "https://example.test/v1/notifications/certs/CERT-1");
        let other = Url::parse("https://api.sandbox.paypal.com/x").unwrap();
        assert_eq!(origins.resolve(&other), other);
    }

    #[test]
    fn malformed_overrides_are_refused() {
        for text in ["api.ebay.com", "api.ebay.com=notaurl", "h=ftp://x"] {
            assert!(Origins::parse(text).is_err(), "{text}");
        }
        assert_eq!(Origins::parse(" ").unwrap(), Origins::none());
    }
}
