//! `/v1/billing/customers/{customer}[?connection=]`: what a customer may use
//! (scope `state:read`), and metered usage checked and consumed atomically
//! against it (scope `commands:write`). Both read the customer's billing
//! record on the connection (the Stripe connection its subscription is on;
//! `default` when the request names none), which only synced provider state
//! writes.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use portage_core::billing::{self, BillingConfig, BillingState, Entitlement};
use portage_core::usage::Consumed;
use serde::Deserialize;
use serde_json::json;

use crate::ApiContext;
use crate::error::ApiError;
use crate::query::{ApiQuery, connection};

/// Whether an app's customer id or a limit's name can be used as a key.
fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.:@-".contains(c))
}

/// What a customer's entitlement is read from: their billing state, the
/// credits granted to them, and their usage.
type Entitled = (Arc<BillingConfig>, BillingState, Entitlement, BTreeMap<String, i64>);

/// The configuration, the customer's billing state (with the credits their
/// paid checkouts granted), entitlement and usage now.
async fn entitled(ctx: &ApiContext, connection: &str, customer: &str) -> Result<Entitled, ApiError> {
    let config = ctx.billing.clone().ok_or(ApiError::NotFound("billing_not_configured"))?;
    if !valid_name(customer) {
        return Err(ApiError::invalid("customer", "1 to 128 letters, digits or _.:@-"));
    }
    let record =
        ctx.state.get(billing::PROVIDER, portage_core::DEFAULT_CONNECTION, billing::CUSTOMER_KIND, customer).await?;
    let mut state: BillingState = record
        .filter(|r| !r.deleted)
        .map(|r| serde_json::from_value(r.data))
        .transpose()
        .map_err(|e| ApiError::Store(portage_core::StoreError::Corrupt(format!("billing record: {e}"))))?
        .unwrap_or_default();
    let mut usage = ctx.usage.usage(connection, customer).await?;
    for addon in config.addons.keys() {
        if let Some(granted) = usage.remove(&portage_providers::entitlements::granted_limit(addon)) {
            state.credits_granted.insert(addon.clone(), granted);
        }
    }
    let entitlement = billing::entitlement(&config, &state, ctx.clock.now_ms());
    Ok((config, state, entitlement, usage))
}

/// The connection a billing route names.
#[derive(Debug, Deserialize)]
pub(crate) struct OnConnection {
    connection: Option<String>,
}

/// `GET /v1/billing/customers/{customer}`.
pub(crate) async fn get_customer(
    State(ctx): State<Arc<ApiContext>>,
    Path(customer): Path<String>,
    ApiQuery(on): ApiQuery<OnConnection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (_, state, entitlement, usage) = entitled(&ctx, &connection(on.connection)?, &customer).await?;
    Ok(Json(billing::view(&customer, &state, &entitlement, &usage)))
}

/// `POST /v1/billing/customers/{customer}/usage`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Usage {
    limit: String,
    quantity: i64,
    idempotency_key: Option<String>,
}

/// `POST /v1/billing/customers/{customer}/usage`.
pub(crate) async fn consume(
    State(ctx): State<Arc<ApiContext>>,
    Path(customer): Path<String>,
    ApiQuery(on): ApiQuery<OnConnection>,
    body: Result<Json<Usage>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let connection = connection(on.connection)?;
    let Json(usage) = body.map_err(|e| ApiError::invalid("body", e.body_text()))?;
    let key = usage.idempotency_key.filter(|k| !k.is_empty()).ok_or(ApiError::MissingIdempotencyKey)?;
    if !valid_name(&usage.limit) {
        return Err(ApiError::invalid("limit", "1 to 128 letters, digits or _.:@-"));
    }
    if usage.limit.starts_with("granted:") {
        return Err(ApiError::invalid("limit", "granted credits are counted by paid checkouts only"));
    }
    let (_, _, entitlement, _) = entitled(&ctx, &connection, &customer).await?;
    let cap = entitlement.cap(&usage.limit);
    let now = ctx.clock.now_ms();
    let consumed = ctx.usage.consume(&connection, &customer, &usage.limit, usage.quantity, cap, &key, now).await?;
    let remaining = |used: i64| cap.map(|cap| (cap - used).max(0));
    Ok(match consumed {
        Consumed::Granted { used } => Json(json!({ "remaining": remaining(used) })).into_response(),
        Consumed::Exceeded { used } => {
            let body = json!({ "error": "quota_exceeded", "limit": usage.limit, "remaining": remaining(used) });
            tracing::info!(code = "quota_exceeded", "usage refused");
            (StatusCode::PAYMENT_REQUIRED, Json(body)).into_response()
        }
    })
}
