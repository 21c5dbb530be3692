//! API keys, tokens and client credentials a user gives
//! (`PUT /v1/connections/{provider}/{connection}`): checked with one cheap
//! authenticated call before anything is saved.
//!
//! A store URL the user gives (WooCommerce, Magento) must be https on a
//! public host: its name must resolve only to public addresses, unless the
//! operator pointed that host elsewhere (`[origins]`), so the check never
//! becomes a way to reach Portage's own network.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use portage_core::Secret;
use portage_core::connect::{AuthKind, ConnectionRecord};
use portage_core::is_valid_connection;
use url::Url;

use super::authorize::is_store_url;
use super::{ConnectError, Connector, piece};

/// How the check call authenticates.
#[derive(Debug, Clone)]
pub enum KeyAuth {
    /// `Authorization: Bearer`.
    Bearer(String),
    /// HTTP Basic.
    Basic(String, String),
}

/// The one call that proves the credentials work.
#[derive(Debug, Clone)]
pub struct KeyProbe {
    /// GET or POST.
    pub method: http::Method,
    /// The path (and query) under the base URL.
    pub path: String,
    /// Its credentials.
    pub auth: KeyAuth,
    /// A form body, for a POST (PayPal's `grant_type=client_credentials`).
    pub form: &'static [(&'static str, &'static str)],
}

/// The credentials given, by field.
pub struct KeyInput<'a> {
    values: &'a BTreeMap<String, String>,
}

impl<'a> KeyInput<'a> {
    /// The credentials given.
    pub(crate) fn new(values: &'a BTreeMap<String, String>) -> Self {
        Self { values }
    }

    /// A field's value (required fields are present and non-empty).
    pub fn get(&self, field: &str) -> String {
        self.values.get(field).cloned().unwrap_or_default()
    }
}

/// A provider's API-key connection, as data.
#[derive(Clone, Copy)]
pub struct KeyCheck {
    /// Fields that must be given, under the names the API clients read.
    pub required: &'static [&'static str],
    /// Fields that may be given too (a webhook signing secret).
    pub optional: &'static [&'static str],
    /// The production base URL; `None` when the user gives it (a store).
    pub base_url: Option<&'static str>,
    /// Other base URLs a user may choose (a sandbox).
    pub alternatives: &'static [&'static str],
    /// The check call.
    pub probe: fn(&KeyInput<'_>) -> KeyProbe,
}

/// How long the check call may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether an address is one Portage may call on a user's word.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| !is_public(IpAddr::V4(v4))))
        }
    }
}

impl Connector {
    /// Checks and saves a connection's credentials.
    pub async fn put_keys(
        &self,
        provider: &str,
        connection: &str,
        credentials: BTreeMap<String, String>,
        base_url: Option<String>,
    ) -> Result<ConnectionRecord, ConnectError> {
        let check = piece(provider)?.api_key.ok_or(ConnectError::NotConnectable)?;
        if !is_valid_connection(connection) {
            return Err(ConnectError::InvalidConnection);
        }
        let known = |field: &str| check.required.contains(&field) || check.optional.contains(&field);
        let missing = check.required.iter().any(|f| credentials.get(*f).is_none_or(|v| v.trim().is_empty()));
        if missing || credentials.keys().any(|k| !known(k)) {
            return Err(ConnectError::InvalidCredentials);
        }
        let base = self.checked_base(check, base_url.as_deref()).await?;
        self.probe(&base, &(check.probe)(&KeyInput::new(&credentials))).await?;

        let mut values: Vec<(String, Secret)> = credentials.into_iter().map(|(k, v)| (k, Secret::new(v))).collect();
        if let Some(given) = base_url {
            values.push(("base_url".into(), Secret::new(given.trim_end_matches('/'))));
        }
        self.secrets.put(provider, connection, &values).await?;
        let record =
            ConnectionRecord::connected(provider, connection, AuthKind::ApiKey, Vec::new(), self.clock.now_ms());
        self.connected(record.clone()).await?;
        Ok(record)
    }

    /// The base URL the check calls, with its host's override applied.
    async fn checked_base(&self, check: &KeyCheck, given: Option<&str>) -> Result<Url, ConnectError> {
        let named = match (check.base_url, given) {
            (Some(fixed), None) => fixed.to_owned(),
            (Some(_), Some(given)) if check.alternatives.contains(&given.trim_end_matches('/')) => given.to_owned(),
            (Some(_), Some(_)) => return Err(ConnectError::InvalidBaseUrl),
            (None, Some(given)) if is_store_url(given) => {
                self.public_store(given).await?;
                given.to_owned()
            }
            (None, _) => return Err(ConnectError::InvalidBaseUrl),
        };
        let url = Url::parse(named.trim_end_matches('/')).map_err(|_| ConnectError::InvalidBaseUrl)?;
        Ok(self.origins.resolve(&url))
    }

    /// Refuses a store whose host resolves to an address that is not public
    /// (unless the operator overrides that host).
    pub(crate) async fn public_store(&self, store: &str) -> Result<(), ConnectError> {
        let url = Url::parse(store).map_err(|_| ConnectError::InvalidBaseUrl)?;
        if self.origins.resolve(&url) != url {
            return Ok(());
        }
        let host = url.host_str().ok_or(ConnectError::InvalidBaseUrl)?;
        let addresses: Vec<_> = tokio::net::lookup_host((host, 443))
            .await
            .map_err(|_| ConnectError::InvalidBaseUrl)?
            .map(|a| a.ip())
            .collect();
        if addresses.is_empty() || !addresses.into_iter().all(is_public) {
            return Err(ConnectError::InvalidBaseUrl);
        }
        Ok(())
    }

    /// Makes the check call: 2xx is valid, 401 and 403 refused.
    pub(crate) async fn probe(&self, base: &Url, probe: &KeyProbe) -> Result<(), ConnectError> {
        let url = format!("{}{}", base.as_str().trim_end_matches('/'), probe.path);
        let mut request = self.http.request(probe.method.clone(), url).timeout(PROBE_TIMEOUT);
        request = match &probe.auth {
            KeyAuth::Bearer(token) => request.bearer_auth(token),
            KeyAuth::Basic(user, password) => request.basic_auth(user, Some(password)),
        };
        if !probe.form.is_empty() {
            request = request.form(probe.form);
        }
        let response = request.send().await.map_err(|_| ConnectError::ProviderUnavailable)?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            400 | 401 | 403 => Err(ConnectError::InvalidCredentials),
            _ => Err(ConnectError::ProviderUnavailable),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
