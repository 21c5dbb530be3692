//! Which providers reconcile can list, and each connection's listing over
//! the process's long-lived API clients.

use std::sync::Arc;

use portage_client::{ClientPool, CredentialSource};
use portage_core::ports::Clock;
use portage_core::reconcile::ChangeSource;
use tracing::warn;

use crate::stripe;

/// The listings of these `(provider, connection)` pairs, and the pairs that
/// cannot be listed (`provider/connection`): a provider with no listing yet,
/// or a connection without the credential its listing needs.
pub async fn change_sources(
    pool: &ClientPool,
    clock: Arc<dyn Clock>,
    connections: &[(String, String)],
) -> (Vec<Arc<dyn ChangeSource>>, Vec<String>) {
    let mut sources: Vec<Arc<dyn ChangeSource>> = Vec::new();
    let mut not_listed = Vec::new();
    for (provider, connection) in connections {
        let client = match provider.as_str() {
            "stripe" => {
                pool.client(Arc::new(stripe::api::StripeApi), connection, CredentialSource::Bearer("api_key")).await
            }
            _ => Ok(None),
        };
        match client {
            Ok(Some(client)) => {
                sources.push(Arc::new(stripe::reconcile::StripeListing::new(client, connection, clock.clone())));
            }
            Ok(None) => not_listed.push(format!("{provider}/{connection}")),
            Err(error) => {
                warn!(provider = %provider, connection = %connection, %error, "credentials unreadable: not listed");
                not_listed.push(format!("{provider}/{connection}"));
            }
        }
    }
    (sources, not_listed)
}

/// The providers that have a reconcile listing.
pub const LISTED_PROVIDERS: [&str; 1] = ["stripe"];
