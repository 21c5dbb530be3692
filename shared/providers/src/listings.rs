//! Each connection's reconcile listing, over the process's long-lived API
//! clients, found through the providers' capabilities.

use std::sync::Arc;

use portage_client::ClientPool;
use portage_core::ports::Clock;
use portage_core::reconcile::ChangeSource;
use tracing::warn;

/// The listings of these `(provider, connection)` pairs, and the pairs that
/// cannot be listed (`provider/connection`): a provider with no listing yet,
/// or a connection without the credential its listing needs.
pub async fn change_sources(
    pool: &ClientPool,
    clock: Arc<dyn Clock>,
    connections: &[(String, String)],
) -> (Vec<Arc<dyn ChangeSource>>, Vec<String>) {
    let all = crate::capabilities();
    let mut sources: Vec<Arc<dyn ChangeSource>> = Vec::new();
    let mut not_listed = Vec::new();
    for (provider, connection) in connections {
        let Some(listing) = all.iter().find(|c| c.provider == provider).and_then(|c| c.reconcile) else {
            not_listed.push(format!("{provider}/{connection}"));
            continue;
        };
        match pool.client((listing.policy)(), connection, listing.credential).await {
            Ok(Some(client)) => sources.push((listing.source)(client, connection, clock.clone())),
            Ok(None) => not_listed.push(format!("{provider}/{connection}")),
            Err(error) => {
                warn!(provider = %provider, connection = %connection, %error, "credentials unreadable: not listed");
                not_listed.push(format!("{provider}/{connection}"));
            }
        }
    }
    (sources, not_listed)
}
