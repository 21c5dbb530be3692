//! Changes to the customer's Stripe subscription: its plan (now, or at the
//! period's end through a subscription schedule), its seats, its recurring
//! add-ons, its cancellation. Each answer is recorded as the subscription.

use portage_client::ApiRequest;
use portage_core::actions::{ActionError, Execution};
use portage_core::commands::CommandStep;
use serde_json::{Value, json};

use super::{Object, answered, call, client, id, items, pair, plan, plan_item, post, subscription, text};
use crate::actions::refused;
use crate::billing::commands::Context;
use crate::stripe::records::Kind;

/// The subscription after an update, as the result and its record.
fn updated(ctx: &Context<'_>, subscription: &Object, result: Value) -> Result<Execution, ActionError> {
    Ok(Execution { result, changes: vec![answered(ctx, Kind::Subscription, subscription)?] })
}

/// `change_plan`: `now`, the plan item's price swapped with prorations;
/// `period_end`, a subscription schedule whose next phase, from the period's
/// end, is the new plan (two journalled steps).
pub(in crate::billing) async fn change_plan(ctx: &Context<'_>) -> Result<Execution, ActionError> {
    let (name, plan) = plan(ctx)?;
    let price = plan
        .stripe_price
        .as_deref()
        .ok_or_else(|| refused("plan_not_sold", format!("'{name}' has no Stripe price")))?;
    let client = client(ctx).await?;
    let subscription = subscription(ctx, &client).await?;
    let (item, _, quantity) = plan_item(ctx, &subscription)?;
    let quantity = if plan.per_seat { quantity } else { 1 };
    let sub_id = id(&subscription);
    if ctx.text("when") == Some("now") {
        let form = vec![
            pair("items[0][id]", item),
            pair("items[0][price]", price),
            pair("items[0][quantity]", quantity.to_string()),
            pair("proration_behavior", "create_prorations"),
            pair("metadata[portage_plan]", name),
        ];
        let changed = call(&client, post(format!("/v1/subscriptions/{sub_id}"), &form, ctx.key("plan"))).await?;
        let result = json!({ "provider": "stripe", "subscription": sub_id, "plan": name, "when": "now" });
        return updated(ctx, &changed, result);
    }
    let schedule = match ctx.done("stripe.schedule").and_then(|d| d.get("schedule")).and_then(Value::as_str) {
        Some(schedule) => schedule.to_owned(),
        None => {
            let existing = text(&subscription, "schedule").map(str::to_owned);
            let schedule = match existing {
                Some(schedule) => schedule,
                None => {
                    let form = vec![pair("from_subscription", sub_id.as_str())];
                    let created =
                        call(&client, post("/v1/subscription_schedules".to_owned(), &form, ctx.key("schedule")))
                            .await?;
                    id(&created)
                }
            };
            ctx.record(CommandStep::done("stripe.schedule", json!({ "schedule": schedule }), ctx.now_ms())).await?;
            schedule
        }
    };
    // The current phase keeps its start (Stripe refuses to move it) and
    // ends with the period; the next phase runs from there.
    let current = call(&client, ApiRequest::get(format!("/v1/subscription_schedules/{schedule}"))).await?;
    let phase = current.get("phases").and_then(|p| p.get(0)).cloned().unwrap_or(Value::Null);
    let period_end = subscription
        .get("current_period_end")
        .and_then(Value::as_i64)
        .or_else(|| items_period_end(&subscription))
        .or_else(|| phase.get("end_date").and_then(Value::as_i64))
        .ok_or_else(|| refused("no_period", "the subscription has no current period"))?;
    let period_start = phase
        .get("start_date")
        .and_then(Value::as_i64)
        .ok_or_else(|| refused("no_phase", "the subscription schedule has no current phase"))?;
    let mut form = vec![pair("end_behavior", "release"), pair("proration_behavior", "none")];
    form.push(pair("phases[0][start_date]", period_start.to_string()));
    form.push(pair("phases[0][end_date]", period_end.to_string()));
    for (n, (_, price_now, units)) in items(&subscription).into_iter().enumerate() {
        form.push(pair(format!("phases[0][items][{n}][price]"), price_now.clone()));
        form.push(pair(format!("phases[0][items][{n}][quantity]"), units.to_string()));
        let next = if ctx.config.plan_for_price(&price_now).is_some() {
            (price.to_owned(), quantity)
        } else {
            (price_now, units)
        };
        form.push(pair(format!("phases[1][items][{n}][price]"), next.0));
        form.push(pair(format!("phases[1][items][{n}][quantity]"), next.1.to_string()));
    }
    form.push(pair("phases[1][metadata][portage_plan]", name));
    call(&client, post(format!("/v1/subscription_schedules/{schedule}"), &form, ctx.key("phases"))).await?;
    let at = portage_core::rfc3339_ms(period_end.saturating_mul(1000));
    let result = json!({ "provider": "stripe", "subscription": sub_id, "plan": name, "when": "period_end",
        "schedule": schedule, "effective_at": at });
    Ok(Execution { result, changes: Vec::new() })
}

fn items_period_end(subscription: &Object) -> Option<i64> {
    let listed = subscription.get("items").and_then(|i| i.get("data")).and_then(Value::as_array)?;
    listed.iter().filter_map(|i| i.get("current_period_end").and_then(Value::as_i64)).max()
}

/// `set_seats`: the plan item's quantity, prorated as asked.
pub(in crate::billing) async fn set_seats(ctx: &Context<'_>) -> Result<Execution, ActionError> {
    let client = client(ctx).await?;
    let subscription = subscription(ctx, &client).await?;
    let (item, price, _) = plan_item(ctx, &subscription)?;
    let per_seat = ctx.config.plan_for_price(&price).and_then(|p| ctx.config.plans.get(p)).is_some_and(|p| p.per_seat);
    if !per_seat {
        return Err(refused("plan_not_per_seat", "the customer's plan is not priced per seat"));
    }
    let seats = ctx.number("seats").unwrap_or(1);
    let form = vec![
        pair("items[0][id]", item),
        pair("items[0][quantity]", seats.to_string()),
        pair("proration_behavior", ctx.text("proration").unwrap_or("create_prorations")),
    ];
    let sub_id = id(&subscription);
    let changed = call(&client, post(format!("/v1/subscriptions/{sub_id}"), &form, ctx.key("seats"))).await?;
    updated(ctx, &changed, json!({ "provider": "stripe", "subscription": sub_id, "seats": seats }))
}

fn recurring_addon<'a>(ctx: &'a Context<'_>) -> Result<(&'a str, &'a str), ActionError> {
    let name = ctx.text("addon").unwrap_or_default();
    let addon = ctx.config.addons.get(name).ok_or_else(|| refused("unknown_addon", format!("no add-on '{name}'")))?;
    match (&addon.raises, addon.stripe_price.as_deref()) {
        (Some(_), Some(price)) => Ok((name, price)),
        (None, _) => Err(refused("addon_not_recurring", format!("'{name}' is bought as credits: use buy_credits"))),
        (Some(_), None) => Err(refused("addon_not_sold", format!("'{name}' has no Stripe price"))),
    }
}

/// `add_addon`: the add-on's item at `quantity` units, created or updated.
pub(in crate::billing) async fn add_addon(ctx: &Context<'_>) -> Result<Execution, ActionError> {
    let (name, price) = recurring_addon(ctx)?;
    let client = client(ctx).await?;
    let subscription = subscription(ctx, &client).await?;
    let sub_id = id(&subscription);
    let quantity = ctx.number("quantity").unwrap_or(1);
    let existing = items(&subscription).into_iter().find(|(_, p, _)| p == price);
    let mut form = vec![pair("quantity", quantity.to_string()), pair("proration_behavior", "create_prorations")];
    let request = match existing {
        Some((item, _, _)) => post(format!("/v1/subscription_items/{item}"), &form, ctx.key("addon")),
        None => {
            form.extend([pair("subscription", sub_id.as_str()), pair("price", price)]);
            post("/v1/subscription_items".to_owned(), &form, ctx.key("addon"))
        }
    };
    call(&client, request).await?;
    let now = call(&client, ApiRequest::get(format!("/v1/subscriptions/{sub_id}"))).await?;
    updated(ctx, &now, json!({ "provider": "stripe", "subscription": sub_id, "addon": name, "quantity": quantity }))
}

/// `remove_addon`: the add-on's item deleted (prorated); nothing to do when
/// it is not on the subscription.
pub(in crate::billing) async fn remove_addon(ctx: &Context<'_>) -> Result<Execution, ActionError> {
    let (name, price) = recurring_addon(ctx)?;
    let client = client(ctx).await?;
    let subscription = subscription(ctx, &client).await?;
    let sub_id = id(&subscription);
    let Some((item, _, _)) = items(&subscription).into_iter().find(|(_, p, _)| p == price) else {
        let result = json!({ "provider": "stripe", "subscription": sub_id, "addon": name, "removed": false });
        return Ok(Execution { result, changes: Vec::new() });
    };
    let request = ApiRequest::delete(format!("/v1/subscription_items/{item}"))
        .query("proration_behavior", "create_prorations")
        .idempotency_key(ctx.key("addon"));
    call(&client, request).await?;
    let now = call(&client, ApiRequest::get(format!("/v1/subscriptions/{sub_id}"))).await?;
    updated(ctx, &now, json!({ "provider": "stripe", "subscription": sub_id, "addon": name, "removed": true }))
}

/// `cancel`: `now` deletes the subscription; `period_end` sets it to cancel then.
pub(in crate::billing) async fn cancel(ctx: &Context<'_>) -> Result<Execution, ActionError> {
    let client = client(ctx).await?;
    let subscription = subscription(ctx, &client).await?;
    let sub_id = id(&subscription);
    let when = ctx.text("when").unwrap_or("period_end");
    let request = if when == "now" {
        ApiRequest::delete(format!("/v1/subscriptions/{sub_id}")).idempotency_key(ctx.key("cancel"))
    } else {
        post(format!("/v1/subscriptions/{sub_id}"), &vec![pair("cancel_at_period_end", "true")], ctx.key("cancel"))
    };
    let changed = call(&client, request).await?;
    let status = changed.get("status").cloned().unwrap_or(Value::Null);
    updated(ctx, &changed, json!({ "provider": "stripe", "subscription": sub_id, "when": when, "status": status }))
}
