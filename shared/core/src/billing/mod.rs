//! Billing: the plans and add-ons an app sells (configured), and what a
//! customer may use at a moment (their entitlement), derived only from
//! synced provider state — never from a checkout's redirect.
//!
//! A customer's billing record (provider `billing`, kind `customer`, id the
//! app's customer id) is what the provider's subscription says, kept by the
//! billing projection as events and listings arrive. The entitlement is that
//! record read against the configuration and the clock:
//!
//! | subscription | status | plan |
//! |---|---|---|
//! | none, `incomplete`, `incomplete_expired` | `none` | the default plan |
//! | `trialing` | `trialing` | its plan |
//! | `active` (also when it cancels at period end) | `active` | its plan |
//! | `past_due`, within `grace_days` of the first failed payment | `grace` | its plan |
//! | `past_due` after that, `unpaid` | `past_due` | the default plan |
//! | `canceled`, `paused` | `canceled` | the default plan |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The record kind a customer's billing state is kept under (provider `billing`).
pub const CUSTOMER_KIND: &str = "customer";
/// The provider name billing records and actions are under.
pub const PROVIDER: &str = "billing";
/// The limit seat-based plans count seats under.
pub const SEATS: &str = "seats";
/// The record kind of a customer's accounts at the providers (provider
/// `billing`, id the app's customer id): see [`BillingAccount`].
pub const ACCOUNT_KIND: &str = "account";

/// Where an app's customer is known at the providers: the Stripe customer
/// Portage created for them (once), the PayPal subscription or payer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingAccount {
    /// The Stripe customer (`cus_…`).
    pub stripe_customer: Option<String>,
    /// The PayPal payer, once PayPal names one.
    #[serde(default)]
    pub paypal_payer: Option<String>,
}

mod config;

pub use config::{Addon, BillingConfig, ConfigError, Money, Plan};

/// A customer's billing state, as the provider last said it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingState {
    /// `stripe` or `paypal`.
    pub provider: Option<String>,
    /// The subscription's plan (by configured name).
    pub plan: Option<String>,
    /// The subscription (`sub_…`, or PayPal's `I-…`).
    #[serde(default)]
    pub subscription: Option<String>,
    /// Recurring add-ons on the subscription, by name: their quantity.
    #[serde(default)]
    pub addons: BTreeMap<String, i64>,
    /// The provider's subscription status (Stripe's names; PayPal's mapped to them).
    pub subscription_status: Option<String>,
    /// Seats (the subscription's quantity).
    pub seats: Option<i64>,
    /// When the trial ends, Unix ms.
    pub trial_end_ms: Option<i64>,
    /// When the current period ends, Unix ms.
    pub period_end_ms: Option<i64>,
    /// When the first payment of the current failure run failed, Unix ms.
    pub first_failed_at_ms: Option<i64>,
    /// The version of the subscription change the status fields are from.
    #[serde(default)]
    pub source_version: Option<crate::Version>,
    /// Times of failing changes since the last good one (the current failure run).
    #[serde(default)]
    pub failures_ms: Vec<i64>,
    /// The time of the latest good (not failing) change seen.
    #[serde(default)]
    pub last_ok_ms: Option<i64>,
    /// When the customer was told their grace ran out (`billing.downgraded`),
    /// while they stay downgraded.
    #[serde(default)]
    pub downgraded_at_ms: Option<i64>,
    /// Credits granted by paid add-on checkouts, by add-on.
    #[serde(default)]
    pub credits_granted: BTreeMap<String, i64>,
}

/// What a customer may use now, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlement {
    /// The plan that applies.
    pub plan: String,
    /// `trialing`, `active`, `grace`, `past_due`, `canceled` or `none`.
    pub status: &'static str,
    /// When the grace period ends, while one runs (or has run out).
    pub grace_until_ms: Option<i64>,
    /// Caps by limit (`None`: unlimited): the plan's limits, seats, add-on credits.
    pub limits: BTreeMap<String, Option<i64>>,
    /// Credits granted, by add-on (each also a limit).
    pub credits: BTreeMap<String, i64>,
}

const DAY_MS: i64 = 86_400_000;

impl Entitlement {
    /// The cap on `limit`; `None` when unlimited (a limit the plan does not name).
    pub fn cap(&self, limit: &str) -> Option<i64> {
        self.limits.get(limit).copied().flatten()
    }
}

/// Reads a customer's state against the configuration at `now_ms`.
pub fn entitlement(config: &BillingConfig, state: &BillingState, now_ms: i64) -> Entitlement {
    let grace_until_ms = state.first_failed_at_ms.map(|at| at + i64::from(config.grace_days) * DAY_MS);
    let paid = state.plan.clone().filter(|p| config.plans.contains_key(p));
    let (status, keeps_plan) = match state.subscription_status.as_deref() {
        Some("trialing") => ("trialing", true),
        Some("active") => ("active", true),
        Some("past_due") if grace_until_ms.is_none_or(|until| now_ms < until) => ("grace", true),
        Some("past_due" | "unpaid") => ("past_due", false),
        Some("canceled" | "paused") => ("canceled", false),
        _ => ("none", false),
    };
    let plan = match (keeps_plan, paid) {
        (true, Some(plan)) => plan,
        _ => config.default_plan.clone(),
    };
    let mut limits: BTreeMap<String, Option<i64>> = BTreeMap::new();
    let configured = config.plans.get(&plan);
    for (limit, cap) in configured.map(|p| &p.limits).into_iter().flatten() {
        limits.insert(limit.clone(), Some(*cap));
    }
    if configured.is_some_and(|p| p.per_seat) && keeps_plan {
        limits.insert(SEATS.to_owned(), Some(state.seats.unwrap_or(1)));
    }
    for (name, quantity) in state.addons.iter().filter(|_| keeps_plan) {
        let Some(addon) = config.addons.get(name) else { continue };
        if let Some(cap) = addon.raises.as_ref().and_then(|limit| limits.get_mut(limit)).and_then(Option::as_mut) {
            *cap = cap.saturating_add(addon.grants.saturating_mul(*quantity));
        }
    }
    let credits: BTreeMap<String, i64> = config
        .addons
        .iter()
        .filter(|(_, addon)| addon.raises.is_none())
        .map(|(name, _)| (name.clone(), state.credits_granted.get(name).copied().unwrap_or(0)))
        .collect();
    for (name, granted) in &credits {
        limits.insert(name.clone(), Some(*granted));
    }
    let grace_until_ms = grace_until_ms.filter(|_| matches!(status, "grace" | "past_due"));
    Entitlement { plan, status, grace_until_ms, limits, credits }
}

/// The entitlement as the API answers it.
pub fn view(customer: &str, state: &BillingState, entitlement: &Entitlement, usage: &BTreeMap<String, i64>) -> Value {
    let rfc3339 = crate::domain::rfc3339_ms;
    let limits: serde_json::Map<String, Value> =
        entitlement.limits.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let credits: serde_json::Map<String, Value> = entitlement
        .credits
        .iter()
        .map(|(name, granted)| (name.clone(), json!((granted - usage.get(name).copied().unwrap_or(0)).max(0))))
        .collect();
    json!({
        "customer": customer,
        "plan": entitlement.plan,
        "status": entitlement.status,
        "seats": state.seats.filter(|_| matches!(entitlement.status, "trialing" | "active" | "grace")),
        "limits": limits,
        "usage": usage,
        "credits": credits,
        "trial_end": state.trial_end_ms.map(rfc3339),
        "period_end": state.period_end_ms.map(rfc3339),
        "grace_until": entitlement.grace_until_ms.map(rfc3339),
        "provider": state.provider,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BillingConfig {
        toml_like(json!({
            "default_plan": "free",
            "grace_days": 7,
            "plans": {
                "free": {"limits": {"personas": 5}},
                "pro": {"stripe_price": "price_pro", "per_seat": true, "trial_days": 14, "limits": {"personas": 50}},
                "enterprise": {"stripe_price": "price_ent", "limits": {}}
            },
            "addons": {"image_credits": {"stripe_price": "price_credits", "grants": 100},
                "more_personas": {"stripe_price": "price_more", "grants": 10, "raises": "personas"}}
        }))
    }

    fn toml_like(value: Value) -> BillingConfig {
        serde_json::from_value(value).unwrap()
    }

    fn state(status: &str, plan: &str) -> BillingState {
        BillingState {
            provider: Some("stripe".into()),
            plan: Some(plan.into()),
            subscription_status: Some(status.into()),
            seats: Some(5),
            ..Default::default()
        }
    }

    #[test]
    fn statuses_and_plans_follow_the_subscription() {
        let c = config();
        c.validate().unwrap();
        assert_eq!(c.plan_for_price("price_pro"), Some("pro"));
        let none = entitlement(&c, &BillingState::default(), 0);
        assert_eq!((none.plan.as_str(), none.status, none.cap("personas")), ("free", "none", Some(5)));
        let pro = entitlement(&c, &state("active", "pro"), 0);
        assert_eq!(
            (pro.plan.as_str(), pro.status, pro.cap("personas"), pro.cap(SEATS)),
            ("pro", "active", Some(50), Some(5))
        );
        assert_eq!(entitlement(&c, &state("trialing", "pro"), 0).status, "trialing");
        let ent = entitlement(&c, &state("active", "enterprise"), 0);
        assert_eq!((ent.cap("personas"), ent.cap(SEATS)), (None, None), "no key: unlimited");
        assert_eq!(entitlement(&c, &state("canceled", "pro"), 0).plan, "free");
        assert_eq!(entitlement(&c, &state("incomplete", "pro"), 0).status, "none");
        let mut more = state("active", "pro");
        more.addons.insert("more_personas".into(), 2);
        let raised = entitlement(&c, &more, 0);
        assert_eq!(raised.cap("personas"), Some(70), "two units of a recurring add-on raise the limit by 20");
        assert!(!raised.credits.contains_key("more_personas"), "a recurring add-on is no credit");
        more.subscription_status = Some("canceled".into());
        assert_eq!(entitlement(&c, &more, 0).cap("personas"), Some(5), "nor does it outlive the plan");
    }

    #[test]
    fn past_due_keeps_the_plan_for_the_grace_days_then_downgrades() {
        let c = config();
        let mut s = state("past_due", "pro");
        s.first_failed_at_ms = Some(1_000);
        let within = entitlement(&c, &s, 1_000 + 7 * DAY_MS - 1);
        assert_eq!((within.status, within.plan.as_str()), ("grace", "pro"));
        assert_eq!(within.grace_until_ms, Some(1_000 + 7 * DAY_MS));
        let after = entitlement(&c, &s, 1_000 + 7 * DAY_MS);
        assert_eq!((after.status, after.plan.as_str(), after.cap("personas")), ("past_due", "free", Some(5)));
        assert_eq!(entitlement(&c, &state("unpaid", "pro"), 0).plan, "free");
    }

    #[test]
    fn paypal_amounts_multiply_in_their_own_notation() {
        let unit = Money { value: "9.00".into(), currency_code: "USD".into() };
        assert_eq!(unit.times(3).map(|m| m.value), Some("27.00".into()));
        let yen = Money { value: "500".into(), currency_code: "JPY".into() };
        assert_eq!(yen.times(2).map(|m| m.value), Some("1000".into()));
        let odd = Money { value: "0.05".into(), currency_code: "EUR".into() };
        assert_eq!(odd.times(21).map(|m| m.value), Some("1.05".into()));
        assert_eq!(Money { value: "nine".into(), currency_code: "USD".into() }.times(2), None);
    }

    #[test]
    fn bad_configurations_are_refused() {
        let mut c = config();
        c.default_plan = "gold".into();
        assert_eq!(c.validate(), Err(ConfigError::UnknownDefaultPlan("gold".into())));
        let mut c = config();
        c.addons.get_mut("image_credits").unwrap().stripe_price = Some("price_pro".into());
        assert_eq!(c.validate(), Err(ConfigError::PriceTwice("price_pro".into())));
        let mut c = config();
        c.addons.get_mut("image_credits").unwrap().grants = 0;
        assert!(matches!(c.validate(), Err(ConfigError::NothingGranted(_))));
        for value in ["-9.00", "0.00", "nine", "9,00"] {
            let mut c = config();
            c.addons.get_mut("image_credits").unwrap().paypal_price =
                Some(Money { value: value.into(), currency_code: "USD".into() });
            assert!(matches!(c.validate(), Err(ConfigError::InvalidPaypalPrice(_))), "{value}");
        }
        let mut c = config();
        c.addons.get_mut("more_personas").unwrap().raises = Some("exports".into());
        assert!(matches!(c.validate(), Err(ConfigError::RaisesNothing(_, _))));
    }
}
