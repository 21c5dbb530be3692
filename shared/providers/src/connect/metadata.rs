//! The post-connect metadata pull: once an account is connected, a queued
//! task reads what the provider says about it — the shop, its marketplaces,
//! currencies and languages, the account or org — and keeps each as a state
//! record (kinds `account`, `store`, `marketplace`, `currency`, `language`).
//! The calls are data on each provider's [`super::OAuthFlow`]; this is the
//! one puller over them. A pull is idempotent (each record is a snapshot,
//! versioned by the time it was read), so a retried task repeats nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portage_client::Origins;
use portage_core::apps::ProviderApp;
use portage_core::connect::MetadataHandler;
use portage_core::ports::{Clock, Secrets, StateStore};
use portage_core::sync::Settlement;
use portage_core::{StateChange, Version};
use serde_json::Value;
use tracing::{info, warn};
use url::Url;

use super::piece;

/// The record kinds a pull writes.
pub const KINDS: [&str; 5] = ["account", "store", "marketplace", "currency", "language"];

/// The connection's values a call may use.
pub struct Account<'a> {
    values: &'a HashMap<&'static str, String>,
}

impl Account<'_> {
    /// A value of the connection (`shop`, `region`, `instance_url`, `id`,
    /// `access_token`…), if it has one.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// How a metadata call sends the access token.
#[derive(Debug, Clone, Copy)]
pub enum MetadataAuth {
    /// `Authorization: Bearer`.
    Bearer,
    /// In a header of the provider's (`X-Shopify-Access-Token`, `x-amz-access-token`).
    Header(&'static str),
    /// Bearer, with Etsy's `x-api-key: keystring:shared_secret`.
    EtsyBearer,
}

/// One record a call's answer holds: kind, id, content.
pub type MetadataRecord = (&'static str, String, Value);

/// One call of a provider's pull.
#[derive(Clone, Copy)]
pub struct MetadataCall {
    /// Its URL, from the connection's values; `None` when they lack what it needs.
    pub url: fn(&Account<'_>) -> Option<String>,
    /// How it authenticates.
    pub auth: MetadataAuth,
    /// A JSON body, POSTed (a GraphQL query); `None` for a GET.
    pub body: Option<&'static str>,
    /// The records its answer holds.
    pub records: fn(&Value) -> Vec<MetadataRecord>,
}

/// The values of a connection calls are built from.
const VALUES: [&str; 7] = ["access_token", "shop", "region", "instance_url", "id", "hub_id", "selling_partner_id"];

/// How long a failed pull waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// The worker's handler for metadata tasks.
pub struct MetadataPuller {
    secrets: Arc<dyn Secrets>,
    state: Arc<dyn StateStore>,
    http: reqwest::Client,
    origins: Origins,
    clock: Arc<dyn Clock>,
}

impl MetadataPuller {
    /// A puller calling providers with `http` (through `origins`) and writing to `state`.
    pub fn new(
        secrets: Arc<dyn Secrets>,
        state: Arc<dyn StateStore>,
        http: reqwest::Client,
        origins: Origins,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { secrets, state, http, origins, clock }
    }

    async fn values(&self, provider: &str, connection: &str) -> Result<HashMap<&'static str, String>, String> {
        let mut values = HashMap::new();
        for key in VALUES {
            let value = self.secrets.get(provider, connection, key).await.map_err(|e| e.to_string())?;
            if let Some(value) = value {
                values.insert(key, value.expose().to_owned());
            }
        }
        Ok(values)
    }

    /// Makes one call; `Ok(None)` when the provider refuses it for good.
    async fn call(
        &self,
        provider: &str,
        call: &MetadataCall,
        account: &Account<'_>,
    ) -> Result<Option<Value>, &'static str> {
        let Some(url) = (call.url)(account) else { return Ok(None) };
        let token = account.get("access_token").ok_or("no_access_token")?;
        let url = Url::parse(&url).map_err(|_| "bad_url")?;
        let url = self.origins.resolve(&url);
        let mut request = match call.body {
            Some(body) => self.http.post(url).header(http::header::CONTENT_TYPE, "application/json").body(body),
            None => self.http.get(url),
        };
        request = request.header(http::header::ACCEPT, "application/json");
        request = match call.auth {
            MetadataAuth::Bearer => request.bearer_auth(token),
            MetadataAuth::Header(name) => request.header(name, token),
            MetadataAuth::EtsyBearer => {
                let app = ProviderApp::load(self.secrets.as_ref(), provider).await.map_err(|_| "store_unavailable")?;
                let key = app.ok_or("no_provider_app")?.etsy_api_key();
                request.bearer_auth(token).header("x-api-key", key.expose())
            }
        };
        let response = request.send().await.map_err(|_| "unreachable")?;
        match response.status().as_u16() {
            200..=299 => response.json().await.map(Some).map_err(|_| "not_json"),
            401 | 403 | 404 => Ok(None),
            _ => Err("provider_unavailable"),
        }
    }
}

#[async_trait]
impl MetadataHandler for MetadataPuller {
    async fn pull(&self, provider: &str, connection: &str) -> Settlement {
        let Some(flow) = piece(provider).ok().and_then(|p| p.oauth) else { return Settlement::Ack };
        let values = match self.values(provider, connection).await {
            Ok(values) => values,
            Err(error) => {
                warn!(provider, connection, %error, "metadata pull: secrets unavailable");
                return Settlement::Retry { delay: RETRY_AFTER };
            }
        };
        let account = Account { values: &values };
        let now = self.clock.now_ms();
        let mut written = 0;
        for call in flow.metadata {
            let answer = match self.call(provider, call, &account).await {
                Ok(Some(answer)) => answer,
                Ok(None) => {
                    warn!(provider, connection, "metadata call refused or not applicable: skipped");
                    continue;
                }
                Err(code) => {
                    warn!(provider, connection, error = code, "metadata pull failed; retried");
                    return Settlement::Retry { delay: RETRY_AFTER };
                }
            };
            for (kind, id, data) in (call.records)(&answer) {
                let change = StateChange {
                    kind: kind.to_owned(),
                    id,
                    version: Version { primary: now, secondary: 0 },
                    data,
                    deleted: false,
                };
                if let Err(error) = self.state.upsert(provider, connection, &change, None, now).await {
                    warn!(provider, connection, %error, "metadata record not written; retried");
                    return Settlement::Retry { delay: RETRY_AFTER };
                }
                written += 1;
            }
        }
        info!(provider, connection, records = written, "account metadata pulled");
        Settlement::Ack
    }
}

/// One record of `kind` when `object[id_field]` is an id.
pub fn record(kind: &'static str, object: &Value, id_field: &str) -> Option<MetadataRecord> {
    id_of(&object[id_field]).map(|id| (kind, id, object.clone()))
}

/// A `currency` or `language` record named by a code (`USD`, `en-US`).
pub fn code(kind: &'static str, code: &Value) -> Option<MetadataRecord> {
    id_of(code).map(|id| (kind, id.clone(), serde_json::json!({ "code": id })))
}

/// A string or number field as an id.
pub(crate) fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
