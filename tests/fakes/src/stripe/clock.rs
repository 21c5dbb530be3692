//! The fake's time, test-clock style: frozen, and moved only by
//! [`Stripe::advance`], on the way to which trials end, periods renew and
//! invoices are paid — or fail for a customer whose card is set to fail —
//! schedules move to their next phase, and cancellations at the period's
//! end happen, each as the events Stripe sends, stamped with the simulated
//! time. A customer finishing Checkout is [`Stripe::complete_checkout`].

use serde_json::{Value, json};

use super::Stripe;

const MONTH: i64 = 30 * 86_400;

impl Stripe {
    /// Makes the customer's payments fail (a declined card) or succeed again.
    pub fn fail_payments(&self, customer: &str, failing: bool) {
        let mut set = self.failing.lock().expect("failing");
        if failing {
            set.insert(customer.to_owned())
        } else {
            set.remove(customer)
        };
    }

    /// The fake's time (Unix seconds): frozen, and moved only by [`Self::advance`].
    pub fn now(&self) -> i64 {
        *self.clock.lock().expect("clock")
    }

    /// A subscription as it now stands.
    pub fn subscription(&self, id: &str) -> Option<Value> {
        self.object(id, "subscription")
    }

    /// The customer finishes Checkout: a subscription session starts the
    /// subscription (trialing, or active and paid), a payment session is
    /// paid; then `checkout.session.completed`.
    pub fn complete_checkout(&self, session: &str) -> Option<Value> {
        let mut session = self.object(session, "checkout.session")?;
        let now = self.now();
        let customer = session["customer"].as_str().unwrap_or_default().to_owned();
        let (price, quantity) =
            (session["line_items"][0]["price"].clone(), session["line_items"][0]["quantity"].clone());
        if session["mode"] == "subscription" {
            let trial = session["subscription_data"]["trial_period_days"].as_i64().filter(|d| *d > 0);
            let end = trial.map_or(now + MONTH, |days| now + days * 86_400);
            let id = self.next_id("sub");
            let subscription = json!({
                "id": id, "object": "subscription", "customer": customer, "created": now,
                "status": if trial.is_some() { "trialing" } else { "active" },
                "metadata": session["subscription_data"]["metadata"], "cancel_at_period_end": false,
                "canceled_at": null, "ended_at": null, "schedule": null, "currency": "usd", "livemode": false,
                "trial_start": trial.map(|_| now), "trial_end": trial.map(|_| end),
                "items": {"object": "list", "has_more": false, "data": [
                    {"id": self.next_id("si"), "object": "subscription_item", "price": {"id": price, "object": "price"},
                     "quantity": quantity, "current_period_start": now, "current_period_end": end}]}
            });
            self.store(&subscription);
            self.record_event("customer.subscription.created", &subscription);
            self.invoice(&id, &customer, trial.is_none(), "subscription_create");
            session["subscription"] = json!(id);
            session["payment_status"] = json!(if trial.is_some() { "no_payment_required" } else { "paid" });
        } else {
            let unit = self.price(price.as_str().unwrap_or_default()).ok()?["unit_amount"].as_i64().unwrap_or(0);
            let intent = json!({"id": self.next_id("pi"), "object": "payment_intent", "customer": customer,
                "amount": unit * quantity.as_i64().unwrap_or(1), "currency": "usd", "status": "succeeded",
                "latest_charge": self.next_id("ch")});
            self.put_payment_intent(intent.clone());
            session["payment_intent"] = intent["id"].clone();
            session["amount_total"] = intent["amount"].clone();
            session["payment_status"] = json!("paid");
        }
        session["status"] = json!("complete");
        self.store(&session);
        self.record_event("checkout.session.completed", &session);
        Some(session)
    }

    /// An invoice for the subscription, paid or failed, and its event.
    fn invoice(&self, subscription: &str, customer: &str, charge: bool, reason: &str) -> bool {
        let failed = charge && self.failing.lock().expect("failing").contains(customer);
        let invoice = json!({"id": self.next_id("in"), "object": "invoice", "customer": customer,
            "parent": {"type": "subscription_details", "subscription_details": {"subscription": subscription}},
            "status": if failed { "open" } else { "paid" }, "billing_reason": reason, "attempt_count": 1,
            "amount_due": 1000, "amount_paid": if failed { 0 } else { 1000 }, "currency": "usd", "created": self.now()});
        self.record_event(if failed { "invoice.payment_failed" } else { "invoice.paid" }, &invoice);
        !failed
    }

    /// Moves the fake's time to `to`, making happen what falls due on the way.
    pub fn advance(&self, to: i64) {
        let ids: Vec<String> = {
            let objects = self.subscriptions.lock().expect("objects");
            objects
                .values()
                .filter(|o| o["object"] == "subscription")
                .filter_map(|o| o["id"].as_str().map(str::to_owned))
                .collect()
        };
        for id in ids {
            while let Some(sub) = self.subscription(&id).filter(|s| s["status"] != "canceled") {
                let end = sub["items"]["data"][0]["current_period_end"].as_i64().unwrap_or(i64::MAX);
                if end > to {
                    break;
                }
                *self.clock.lock().expect("clock") = end;
                self.renew(sub, end);
            }
        }
        *self.clock.lock().expect("clock") = to;
    }

    /// The end of a period: cancellation, the schedule's next phase, renewal.
    fn renew(&self, mut sub: Value, end: i64) {
        let customer = sub["customer"].as_str().unwrap_or_default().to_owned();
        if sub["cancel_at_period_end"] == true {
            sub["status"] = json!("canceled");
            sub["ended_at"] = json!(end);
            sub["canceled_at"] = json!(end);
            self.store(&sub);
            self.record_event("customer.subscription.deleted", &sub);
            return;
        }
        if let Some(mut schedule) = sub["schedule"].as_str().and_then(|s| self.object(s, "subscription_schedule"))
            && let Some(next) = schedule["phases"].get(1).cloned()
        {
            let items: Vec<Value> = next["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|item| {
                    json!({"id": self.next_id("si"), "object": "subscription_item",
                    "price": {"id": item["price"], "object": "price"}, "quantity": item["quantity"]})
                })
                .collect();
            sub["items"]["data"] = json!(items);
            if let Some(extra) = next["metadata"].as_object() {
                extra.iter().for_each(|(k, v)| sub["metadata"][k] = v.clone());
            }
            sub["schedule"] = Value::Null;
            schedule["status"] = json!("released");
            self.store(&schedule);
        }
        if let Some(items) = sub["items"]["data"].as_array_mut() {
            for item in items {
                item["current_period_start"] = json!(end);
                item["current_period_end"] = json!(end + MONTH);
            }
        }
        let paid = self.invoice(sub["id"].as_str().unwrap_or_default(), &customer, true, "subscription_cycle");
        sub["status"] = json!(if paid { "active" } else { "past_due" });
        self.store(&sub);
        self.record_event("customer.subscription.updated", &sub);
    }

    /// The customer pays what is due (a new card): a `past_due` subscription
    /// is active again, its invoice paid.
    pub fn pay(&self, customer: &str) {
        self.fail_payments(customer, false);
        let due: Vec<Value> = {
            let objects = self.subscriptions.lock().expect("objects");
            objects
                .values()
                .filter(|o| {
                    o["object"] == "subscription" && o["customer"] == json!(customer) && o["status"] == "past_due"
                })
                .cloned()
                .collect()
        };
        for mut sub in due {
            self.invoice(sub["id"].as_str().unwrap_or_default(), customer, true, "subscription_cycle");
            sub["status"] = json!("active");
            self.store(&sub);
            self.record_event("customer.subscription.updated", &sub);
        }
    }
}
