//! Billing end to end, in one process on a clock the test moves (see
//! `billing_world.rs`): commands through `/v1/commands`, Stripe's and
//! PayPal's events as signed webhooks, entitlements through
//! `/v1/billing/customers/…`.

use portage_fakes::Faults;
use serde_json::{Value, json};

use crate::billing_world::{DAY, World};

fn checkout_input(customer: &str, seats: i64) -> Value {
    json!({"customer": customer, "email": format!("{customer}@example.com"), "plan": "pro", "seats": seats,
        "success_url": "https://app.example/welcome", "cancel_url": "https://app.example/pricing",
        "allow_promotion_codes": true})
}

fn steps(command: &Value) -> Vec<(String, String)> {
    let listed = command["steps"].as_array().cloned().unwrap_or_default();
    listed.iter().map(|s| (s["name"].as_str().unwrap().to_owned(), s["status"].as_str().unwrap().to_owned())).collect()
}

fn step(name: &str, status: &str) -> (String, String) {
    (name.to_owned(), status.to_owned())
}

/// The form of Stripe's last write to `path`.
fn last_form(world: &World, path: &str) -> Vec<(String, String)> {
    let writes = world.stripe.writes();
    writes.iter().rev().find(|(request, _)| request.starts_with(path)).map(|(_, form)| form.clone()).unwrap_or_default()
}

fn has(form: &[(String, String)], key: &str, value: &str) -> bool {
    form.iter().any(|(k, v)| k == key && v == value)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customers_whole_life_from_checkout_to_cancellation() {
    let world = World::new().await;
    let checkout = world.command("checkout", "checkout-1", checkout_input("cust_1", 5)).await;
    assert_eq!(checkout["status"], "succeeded", "{checkout}");
    let result = &checkout["result"];
    assert_eq!(result["provider"], "stripe");
    assert!(result["url"].as_str().unwrap().starts_with("https://checkout.stripe.com/"), "{result}");
    let session = result["session"].as_str().unwrap().to_owned();
    assert_eq!(steps(&checkout), [step("stripe.customer", "done"), step("stripe.checkout", "done")]);
    let form = last_form(&world, "POST /v1/checkout/sessions");
    for (key, value) in [
        ("mode", "subscription"),
        ("line_items[0][price]", "price_pro_monthly"),
        ("line_items[0][quantity]", "5"),
        ("subscription_data[trial_period_days]", "14"),
        ("subscription_data[metadata][portage_customer]", "cust_1"),
        ("allow_promotion_codes", "true"),
    ] {
        assert!(has(&form, key, value), "{key}={value} in {form:?}");
    }
    let customers = world.stripe.customers();
    assert_eq!(customers.len(), 1);
    let stripe_customer = customers[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(customers[0]["metadata"]["portage_customer"], "cust_1");

    let shown = world.entitlement("cust_1").await;
    assert_eq!(
        (shown["plan"].as_str(), shown["status"].as_str()),
        (Some("free"), Some("none")),
        "the redirect grants nothing: {shown}"
    );

    // A second checkout for the same customer reuses their Stripe customer.
    let again = world.command("checkout", "checkout-2", checkout_input("cust_1", 5)).await;
    assert_eq!(again["status"], "succeeded");
    assert_eq!(steps(&again), [step("stripe.checkout", "done")]);
    assert_eq!(world.stripe.customers().len(), 1, "the Stripe customer is created once");

    // Checkout completed: the trial starts.
    world.stripe.complete_checkout(&session).unwrap();
    world.deliver().await;
    let start = world.now();
    let shown = world.entitlement("cust_1").await;
    assert_eq!(
        (shown["plan"].as_str(), shown["status"].as_str(), shown["seats"].as_i64()),
        (Some("pro"), Some("trialing"), Some(5)),
        "{shown}"
    );
    assert_eq!(shown["trial_end"], portage_core::rfc3339_ms((start + 14 * DAY) * 1000));
    assert_eq!((shown["limits"]["personas"].as_i64(), shown["limits"]["seats"].as_i64()), (Some(50), Some(5)));

    // The trial ends paid: active.
    world.advance_to(start + 14 * DAY + 60).await;
    let shown = world.entitlement("cust_1").await;
    assert_eq!((shown["status"].as_str(), shown["seats"].as_i64()), (Some("active"), Some(5)), "{shown}");

    // Seats to 8, proration asked for.
    let seats = world
        .command("set_seats", "seats-1", json!({"customer": "cust_1", "seats": 8, "proration": "always_invoice"}))
        .await;
    assert_eq!(seats["status"], "succeeded", "{seats}");
    let form = last_form(&world, "POST /v1/subscriptions/");
    assert!(has(&form, "items[0][quantity]", "8") && has(&form, "proration_behavior", "always_invoice"), "{form:?}");
    world.deliver().await;
    assert_eq!(world.entitlement("cust_1").await["limits"]["seats"], 8);

    // The next renewal's payment fails: grace keeps the plan.
    world.stripe.fail_payments(&stripe_customer, true);
    let renewal = start + 14 * DAY + 30 * DAY;
    world.advance_to(renewal + 60).await;
    let shown = world.entitlement("cust_1").await;
    assert_eq!((shown["status"].as_str(), shown["plan"].as_str()), (Some("grace"), Some("pro")), "{shown}");
    assert_eq!(shown["grace_until"], portage_core::rfc3339_ms((renewal + 7 * DAY) * 1000));

    // After grace_days, the default plan applies and the app is told once.
    let told = world.advance_to(renewal + 7 * DAY + 1).await;
    assert_eq!(told, ["default/cust_1"]);
    let shown = world.entitlement("cust_1").await;
    assert_eq!(
        (shown["status"].as_str(), shown["plan"].as_str(), shown["limits"]["personas"].as_i64()),
        (Some("past_due"), Some("free"), Some(5)),
        "{shown}"
    );
    assert!(world.advance_to(renewal + 7 * DAY + 120).await.is_empty(), "told once");

    // The customer pays: restored.
    world.stripe.pay(&stripe_customer);
    world.deliver().await;
    let shown = world.entitlement("cust_1").await;
    assert_eq!(
        (shown["status"].as_str(), shown["plan"].as_str(), shown["seats"].as_i64()),
        (Some("active"), Some("pro"), Some(8)),
        "{shown}"
    );

    // Cancels at the period's end: active until then, free after.
    let cancel = world.command("cancel", "cancel-1", json!({"customer": "cust_1", "when": "period_end"})).await;
    assert_eq!(
        (cancel["status"].as_str(), cancel["result"]["when"].as_str()),
        (Some("succeeded"), Some("period_end")),
        "{cancel}"
    );
    world.deliver().await;
    assert_eq!(world.entitlement("cust_1").await["status"], "active");
    world.advance_to(renewal + 30 * DAY + 60).await;
    let shown = world.entitlement("cust_1").await;
    assert_eq!((shown["status"].as_str(), shown["plan"].as_str()), (Some("canceled"), Some("free")), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stripe_down_at_checkout_falls_back_to_paypal_and_an_unknown_outcome_does_not() {
    let world = World::new().await;
    world.stripe.switches.set(Faults { outage: true, ..Faults::default() });
    let checkout = world.command("checkout", "checkout-down", checkout_input("cust_2", 2)).await;
    assert_eq!(checkout["status"], "succeeded", "{checkout}");
    let result = &checkout["result"];
    assert_eq!(result["provider"], "paypal", "{result}");
    assert!(result["url"].as_str().unwrap().starts_with("https://www.paypal.com/"), "{result}");
    assert_eq!(steps(&checkout), [step("stripe.checkout", "failed"), step("paypal.subscription", "done")]);
    assert_eq!(checkout["steps"][0]["result"]["code"], "stripe_unavailable", "{checkout}");
    let subscription = result["subscription"].as_str().unwrap().to_owned();
    let at_paypal = world.paypal.object(&subscription).unwrap();
    assert_eq!((at_paypal["custom_id"].as_str(), at_paypal["quantity"].as_str()), (Some("cust_2"), Some("2")));

    world.deliver().await;
    assert_eq!(world.entitlement("cust_2").await["status"], "none", "pending approval grants nothing");
    world.paypal.approve_subscription(&subscription).unwrap();
    world.deliver().await;
    let shown = world.entitlement("cust_2").await;
    assert_eq!(
        (shown["provider"].as_str(), shown["plan"].as_str(), shown["status"].as_str(), shown["seats"].as_i64()),
        (Some("paypal"), Some("pro"), Some("active"), Some(2)),
        "{shown}"
    );
    let accounts = world.state("account", "cust_2").await;
    let payer = world.paypal.object(&subscription).unwrap()["subscriber"]["payer_id"].clone();
    assert_eq!(accounts["paypal_payer"], payer, "the PayPal payer is kept beside the Stripe customer: {accounts}");

    // Credits too: a PayPal order, captured once approved, granted once.
    let credits = world
        .command("buy_credits", "credits-down", json!({"customer": "cust_2", "addon": "image_credits", "quantity": 3}))
        .await;
    assert_eq!(
        (credits["status"].as_str(), credits["result"]["provider"].as_str()),
        (Some("succeeded"), Some("paypal")),
        "{credits}"
    );
    let order = credits["result"]["order"].as_str().unwrap().to_owned();
    assert_eq!(world.paypal.object(&order).unwrap()["purchase_units"][0]["amount"]["value"], "27.00");
    world.paypal.approve_order(&order).unwrap();
    world.deliver().await;
    world.deliver().await;
    assert_eq!(world.entitlement("cust_2").await["credits"]["image_credits"], 300);

    // Stripe answers again, but drops its answer after acting: unknown, no PayPal.
    world.stripe.switches.set(Faults::default());
    let first = world.command("checkout", "checkout-up", checkout_input("cust_3", 1)).await;
    assert_eq!(first["result"]["provider"], "stripe", "{first}");
    let paypal_before = world.paypal.switches.requests();
    world.stripe.switches.set(Faults { drop_rate: 1.0, ..Faults::default() });
    let unknown = world.command("checkout", "checkout-dropped", checkout_input("cust_3", 1)).await;
    assert_eq!(unknown["status"], "unknown", "{unknown}");
    assert_eq!(world.paypal.switches.requests(), paypal_before, "no fallback while Stripe's outcome is unknown");
    assert!(steps(&unknown).is_empty(), "{unknown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn credits_are_granted_once_paid_and_taken_back_as_refunded() {
    let world = World::new().await;
    let bought = world
        .command("buy_credits", "credits-1", json!({"customer": "cust_4", "addon": "image_credits", "quantity": 2}))
        .await;
    assert_eq!(
        (bought["status"].as_str(), bought["result"]["provider"].as_str()),
        (Some("succeeded"), Some("stripe")),
        "{bought}"
    );
    let form = last_form(&world, "POST /v1/checkout/sessions");
    for (key, value) in [
        ("mode", "payment"),
        ("metadata[portage_addon]", "image_credits"),
        ("metadata[portage_units]", "2"),
        ("success_url", "https://app.example/billing"),
    ] {
        assert!(has(&form, key, value), "{key}={value} in {form:?}");
    }
    assert_eq!(world.entitlement("cust_4").await["credits"]["image_credits"], 0, "not before it is paid");
    let session = world.stripe.complete_checkout(bought["result"]["session"].as_str().unwrap()).unwrap();
    world.deliver().await;
    assert_eq!(world.entitlement("cust_4").await["credits"]["image_credits"], 200);
    // The same completion delivered again (a new delivery id): nothing more.
    let replayed =
        world.stripe.events_since(0).into_iter().rfind(|e| e["type"] == "checkout.session.completed").unwrap();
    let mut redelivered = replayed.clone();
    redelivered["id"] = json!("evt_redelivered_1");
    world.webhook("stripe", &redelivered, &portage_core::Secret::new(crate::common::SECRET)).await;
    world.drain().await;
    assert_eq!(world.entitlement("cust_4").await["credits"]["image_credits"], 200, "granted once per paid checkout");

    let intent = session["payment_intent"].as_str().unwrap().to_owned();
    let half = world.command("refund", "refund-1", json!({"payment": intent, "amount": 900})).await;
    assert_eq!(
        (half["status"].as_str(), half["result"]["provider"].as_str()),
        (Some("succeeded"), Some("stripe")),
        "{half}"
    );
    world.deliver().await;
    assert_eq!(world.entitlement("cust_4").await["credits"]["image_credits"], 100, "half refunded, half taken back");
    world.command("refund", "refund-2", json!({"payment": intent})).await;
    world.deliver().await;
    assert_eq!(world.entitlement("cust_4").await["credits"]["image_credits"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn plans_change_now_or_at_the_period_end_add_ons_raise_limits_and_the_portal_opens() {
    let world = World::new().await;
    let checkout = world.command("checkout", "co", checkout_input("cust_5", 3)).await;
    world.stripe.complete_checkout(checkout["result"]["session"].as_str().unwrap()).unwrap();
    world.deliver().await;
    let start = world.now();
    world.advance_to(start + 14 * DAY + 60).await;

    let add = world
        .command("add_addon", "add-1", json!({"customer": "cust_5", "addon": "extra_personas", "quantity": 2}))
        .await;
    assert_eq!(add["status"], "succeeded", "{add}");
    world.deliver().await;
    assert_eq!(world.entitlement("cust_5").await["limits"]["personas"], 100, "50 + 2 × 25");
    let not_recurring =
        world.command("add_addon", "add-2", json!({"customer": "cust_5", "addon": "image_credits"})).await;
    assert_eq!(
        (not_recurring["status"].as_str(), not_recurring["error"]["code"].as_str()),
        (Some("failed"), Some("addon_not_recurring"))
    );

    let later = world
        .command("change_plan", "plan-1", json!({"customer": "cust_5", "plan": "enterprise", "when": "period_end"}))
        .await;
    assert_eq!(later["status"], "succeeded", "{later}");
    assert_eq!(steps(&later), [step("stripe.schedule", "done")]);
    world.deliver().await;
    assert_eq!(world.entitlement("cust_5").await["plan"], "pro", "until the period ends");
    let period_end = start + 14 * DAY + 30 * DAY;
    assert_eq!(later["result"]["effective_at"], portage_core::rfc3339_ms(period_end * 1000));
    world.advance_to(period_end + 60).await;
    let shown = world.entitlement("cust_5").await;
    assert_eq!((shown["plan"].as_str(), shown["limits"]["personas"].as_i64()), (Some("enterprise"), None), "{shown}");

    // Commands come seconds apart: Stripe stamps events by the second, and two
    // changes of one subscription within a second are not ordered.
    world.advance_to(world.now() + 5).await;
    let now = world.command("change_plan", "plan-2", json!({"customer": "cust_5", "plan": "pro", "when": "now"})).await;
    assert_eq!(now["status"], "succeeded", "{now}");
    assert!(has(&last_form(&world, "POST /v1/subscriptions/"), "proration_behavior", "create_prorations"));
    world.deliver().await;
    assert_eq!(world.entitlement("cust_5").await["plan"], "pro");
    world.advance_to(world.now() + 5).await;
    let removed = world.command("remove_addon", "rm-1", json!({"customer": "cust_5", "addon": "extra_personas"})).await;
    assert_eq!(removed["result"]["removed"], true, "{removed}");
    world.deliver().await;
    assert_eq!(world.entitlement("cust_5").await["limits"]["personas"], 50);

    let portal = world
        .command("portal", "portal-1", json!({"customer": "cust_5", "return_url": "https://app.example/account"}))
        .await;
    assert!(portal["result"]["url"].as_str().unwrap().starts_with("https://billing.stripe.com/"), "{portal}");
    let unknown = world
        .command("portal", "portal-2", json!({"customer": "nobody", "return_url": "https://app.example/account"}))
        .await;
    assert_eq!(unknown["error"]["code"], "no_stripe_customer", "{unknown}");
    world.advance_to(world.now() + 5).await;
    let now_cancel = world.command("cancel", "cancel-now", json!({"customer": "cust_5", "when": "now"})).await;
    assert_eq!(now_cancel["result"]["status"], "canceled", "{now_cancel}");
    world.deliver().await;
    assert_eq!(world.entitlement("cust_5").await["status"], "canceled");
}
