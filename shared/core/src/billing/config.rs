//! `[billing]`: the plans and add-ons an app sells, their prices at Stripe
//! and PayPal, and the checks made on them at start-up.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The Stripe price it is sold at (monthly; per seat when `per_seat`); none for a free plan.
    pub stripe_price: Option<String>,
    /// The PayPal billing plan it falls back to.
    pub paypal_plan: Option<String>,
    /// Priced per seat: the subscription's quantity is the seats.
    #[serde(default)]
    pub per_seat: bool,
    /// Days of trial a checkout starts with.
    pub trial_days: Option<u32>,
    /// What it allows, by limit; a limit it does not name is unlimited.
    #[serde(default)]
    pub limits: BTreeMap<String, i64>,
}

/// An add-on: bought in units (image credits: one-time, each unit grants
/// credits under the add-on's name), or, when it `raises` a limit, a
/// recurring item on the subscription (each unit raises that limit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Addon {
    /// The Stripe price of one unit (one-time; recurring when it `raises`).
    pub stripe_price: Option<String>,
    /// Credits each unit grants, or how much each raises the limit.
    pub grants: i64,
    /// The plan limit a recurring add-on raises (`add_addon`, `remove_addon`).
    #[serde(default)]
    pub raises: Option<String>,
    /// One unit's price on PayPal, for a credits purchase that falls back to
    /// a PayPal order when Stripe is down.
    #[serde(default)]
    pub paypal_price: Option<Money>,
}

/// An amount as PayPal writes it: a decimal string and a currency code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// The amount, e.g. `"9.00"`.
    pub value: String,
    /// ISO 4217, e.g. `"USD"`.
    pub currency_code: String,
}

impl Money {
    /// `units` of this amount, in the same notation (`"9.00"` × 3 = `"27.00"`);
    /// `None` when the value is not a plain decimal.
    pub fn times(&self, units: i64) -> Option<Money> {
        let (whole, fraction) = self.value.split_once('.').unwrap_or((&self.value, ""));
        let digits = fraction.len();
        let scale = 10_i64.checked_pow(u32::try_from(digits).ok()?)?;
        let cents = whole.parse::<i64>().ok()?.checked_mul(scale)?.checked_add(if digits == 0 {
            0
        } else {
            fraction.parse::<i64>().ok()?
        })?;
        let total = cents.checked_mul(units)?;
        let value = if digits == 0 {
            total.to_string()
        } else {
            format!("{}.{:0width$}", total / scale, total % scale, width = digits)
        };
        Some(Money { value, currency_code: self.currency_code.clone() })
    }
}

/// `[billing]` (and `PORTAGE_BILLING` on AWS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingConfig {
    /// The plan of customers with no (or no longer a) paid subscription.
    pub default_plan: String,
    /// How long `past_due` keeps the plan after the first failed payment.
    #[serde(default = "default_grace_days")]
    pub grace_days: u32,
    /// The plans, by name.
    #[serde(default)]
    pub plans: BTreeMap<String, Plan>,
    /// The add-ons, by name.
    #[serde(default)]
    pub addons: BTreeMap<String, Addon>,
    /// Where Checkout sends the customer back when a command names no
    /// `success_url` / `cancel_url` (a credits purchase).
    #[serde(default)]
    pub return_url: Option<String>,
}

fn default_grace_days() -> u32 {
    7
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `default_plan` names no plan.
    #[error("[billing] default_plan '{0}' is not one of the plans")]
    UnknownDefaultPlan(String),
    /// Two plans or add-ons sell at one price: a subscription's plan would be ambiguous.
    #[error("[billing] price '{0}' is named twice")]
    PriceTwice(String),
    /// An add-on that grants nothing.
    #[error("[billing] add-on '{0}' must grant a positive number of credits")]
    NothingGranted(String),
    /// A negative limit.
    #[error("[billing] plan '{0}': limit '{1}' must be zero or more")]
    NegativeLimit(String, String),
    /// A PayPal price that is not a positive decimal with a currency.
    #[error(
        "[billing] add-on '{0}': paypal_price must be a positive decimal value (\"9.00\") and a 3-letter currency_code"
    )]
    InvalidPaypalPrice(String),
    /// A recurring add-on raising a limit no plan has.
    #[error("[billing] add-on '{0}' raises '{1}', which no plan limits")]
    RaisesNothing(String, String),
}

impl BillingConfig {
    /// Checks the configuration's own consistency (prices are checked
    /// against Stripe separately, at start-up).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.plans.contains_key(&self.default_plan) {
            return Err(ConfigError::UnknownDefaultPlan(self.default_plan.clone()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for price in self.prices() {
            if !seen.insert(price) {
                return Err(ConfigError::PriceTwice(price.to_owned()));
            }
        }
        if let Some((name, _)) = self.addons.iter().find(|(_, a)| a.grants <= 0) {
            return Err(ConfigError::NothingGranted(name.clone()));
        }
        for (name, plan) in &self.plans {
            if let Some((limit, _)) = plan.limits.iter().find(|(_, v)| **v < 0) {
                return Err(ConfigError::NegativeLimit(name.clone(), limit.clone()));
            }
        }
        for (name, addon) in &self.addons {
            if let Some(price) = &addon.paypal_price {
                let digits = price.value.chars().all(|c| c.is_ascii_digit() || c == '.');
                let currency =
                    price.currency_code.len() == 3 && price.currency_code.chars().all(|c| c.is_ascii_uppercase());
                let positive = price.times(1).is_some_and(|m| m.value.chars().any(|c| c.is_ascii_digit() && c != '0'));
                if !(digits && currency && positive) {
                    return Err(ConfigError::InvalidPaypalPrice(name.clone()));
                }
            }
            if let Some(limit) = &addon.raises
                && !self.plans.values().any(|p| p.limits.contains_key(limit))
            {
                return Err(ConfigError::RaisesNothing(name.clone(), limit.clone()));
            }
        }
        Ok(())
    }

    /// Every Stripe price the plans and add-ons name.
    pub fn prices(&self) -> Vec<&str> {
        let plans = self.plans.values().filter_map(|p| p.stripe_price.as_deref());
        plans.chain(self.addons.values().filter_map(|a| a.stripe_price.as_deref())).collect()
    }

    /// The add-on sold at a Stripe price.
    pub fn addon_for_price(&self, price: &str) -> Option<&str> {
        self.addons.iter().find(|(_, a)| a.stripe_price.as_deref() == Some(price)).map(|(name, _)| name.as_str())
    }

    /// The plan PayPal bills under a PayPal plan id.
    pub fn plan_for_paypal(&self, paypal_plan: &str) -> Option<&str> {
        self.plans.iter().find(|(_, p)| p.paypal_plan.as_deref() == Some(paypal_plan)).map(|(name, _)| name.as_str())
    }

    /// The plan sold at a Stripe price.
    pub fn plan_for_price(&self, price: &str) -> Option<&str> {
        self.plans.iter().find(|(_, p)| p.stripe_price.as_deref() == Some(price)).map(|(name, _)| name.as_str())
    }
}
