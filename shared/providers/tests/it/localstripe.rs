//! The shared client with Stripe's policy against localstripe (PyPI,
//! installed pinned by the test command into target/ci-venv), a stateful
//! Stripe fake someone else wrote: customers created with idempotency keys
//! and paged back, a plan, a payment method and a subscription whose
//! invoice is listed, and a missing object mapped to `NotFound`.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use portage_client::pagination::{Pagination, pages};
use portage_client::{ApiClient, ApiRequest, Credentials, Metrics, ProviderError};
use portage_core::Secret;
use portage_providers::stripe::api::StripeApi;
use serde_json::Value;

struct Localstripe {
    child: Child,
    base: String,
}

impl Drop for Localstripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Localstripe {
    let binary = std::env::var("PORTAGE_LOCALSTRIPE").map(std::path::PathBuf::from).unwrap_or_else(|_| {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ci-venv/bin/localstripe")
    });
    assert!(binary.exists(), "localstripe not found: run infra/test.sh (it installs it) or set PORTAGE_LOCALSTRIPE");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(binary)
        .args(["--port", &port.to_string(), "--from-scratch"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start localstripe");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "localstripe did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Localstripe { child, base: format!("http://127.0.0.1:{port}") }
}

/// A client pool whose Stripe is this localstripe.
fn pool_at(server: &Localstripe) -> Arc<portage_client::ClientPool> {
    let mut secrets = portage_embedded::MapSecrets::new();
    secrets.insert("stripe", "default", "api_key", Secret::new("sk_test_localstripe0123456789"));
    let origins = portage_client::Origins::parse(&format!("api.stripe.com={}", server.base)).unwrap();
    Arc::new(portage_client::ClientPool::new(Arc::new(secrets), origins).unwrap())
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

#[tokio::test]
async fn customers_subscriptions_and_invoices_through_localstripe() {
    let server = start();
    let client = ApiClient::new(
        portage_client::http_client().unwrap(),
        Arc::new(StripeApi),
        "default",
        Credentials::Bearer(Secret::new("sk_test_localstripe0123456789")),
        Some(server.base.clone()),
        Arc::new(Metrics::new()),
    );
    let json = |r: portage_client::ApiResponse| r.json("stripe").unwrap();

    let mut created = Vec::new();
    for i in 0..25 {
        let email = format!("c{i}@example.com");
        let request = ApiRequest::post_form("/v1/customers", &[("email", &email)]).idempotency_key(format!("cmd-{i}"));
        created.push(id(&json(client.send(&request).await.unwrap())));
    }
    let listed: Vec<Vec<Value>> =
        pages(&client, ApiRequest::get("/v1/customers"), Pagination::StripeCursor { limit: 10 })
            .try_collect()
            .await
            .unwrap();
    assert_eq!(listed.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    let mut seen: Vec<String> = listed.iter().flatten().map(id).collect();
    seen.sort();
    created.sort();
    assert_eq!(seen, created);

    let product = json(
        client.send(&ApiRequest::post_form("/v1/products", &[("name", "Plan"), ("type", "service")])).await.unwrap(),
    );
    let plan =
        [("id", "monthly"), ("product", &id(&product)), ("currency", "usd"), ("amount", "500"), ("interval", "month")];
    client.send(&ApiRequest::post_form("/v1/plans", &plan)).await.unwrap();
    let customer = &created[0];
    let card = [
        ("type", "card"),
        ("card[number]", "4242424242424242"),
        ("card[exp_month]", "12"),
        ("card[exp_year]", "2030"),
        ("card[cvc]", "123"),
    ];
    let method = id(&json(client.send(&ApiRequest::post_form("/v1/payment_methods", &card)).await.unwrap()));
    client
        .send(&ApiRequest::post_form(format!("/v1/payment_methods/{method}/attach"), &[("customer", customer)]))
        .await
        .unwrap();
    let default = [("invoice_settings[default_payment_method]", method.as_str())];
    client.send(&ApiRequest::post_form(format!("/v1/customers/{customer}"), &default)).await.unwrap();
    let subscribe =
        ApiRequest::post_form("/v1/subscriptions", &[("customer", customer), ("items[0][plan]", "monthly")])
            .idempotency_key("subscribe-1");
    let subscription = json(client.send(&subscribe).await.unwrap());
    assert_eq!(subscription["status"], "active");

    let subscriptions =
        json(client.send(&ApiRequest::get("/v1/subscriptions").query("customer", customer)).await.unwrap());
    assert_eq!(subscriptions["data"][0]["id"], subscription["id"]);
    let invoices: Vec<Vec<Value>> = pages(
        &client,
        ApiRequest::get("/v1/invoices").query("customer", customer),
        Pagination::StripeCursor { limit: 10 },
    )
    .try_collect()
    .await
    .unwrap();
    let invoices: Vec<&Value> = invoices.iter().flatten().collect();
    assert_eq!(invoices.len(), 1);
    assert_eq!(
        (invoices[0]["id"].clone(), invoices[0]["status"].clone()),
        (subscription["latest_invoice"].clone(), Value::from("paid"))
    );

    let missing = client.send(&ApiRequest::get("/v1/customers/cus_missing")).await.unwrap_err();
    assert!(matches!(missing, ProviderError::NotFound(_)), "{missing}");

    full_reconcile_lists_what_no_webhook_announced(&server).await;
}

/// A full reconcile run through the connection's pooled client lists every
/// object the test made at localstripe (no webhook announced any), and a
/// second run finds nothing left to repair. (localstripe 1.15.10's events
/// list takes neither `types[]` nor wildcards, so incremental runs are
/// tested against the Stripe fake.)
async fn full_reconcile_lists_what_no_webhook_announced(server: &Localstripe) {
    let pool = pool_at(server);
    let clock: Arc<dyn portage_core::ports::Clock> = Arc::new(portage_core::ports::SystemClock);
    let connections = [("stripe".to_owned(), "default".to_owned())];
    let (sources, not_listed) = portage_providers::listings::change_sources(&pool, clock.clone(), &connections).await;
    assert!(not_listed.is_empty(), "{not_listed:?}");
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    let reconciler = portage_core::reconcile::Reconciler::new(db.clone(), clock, sources, Duration::from_secs(600));
    let report = reconciler.run(portage_core::reconcile::Mode::Full).await;
    let kind = |name: &str| report.kinds.iter().find(|k| k.kind == name).unwrap().clone();
    assert!(report.kinds.iter().all(|k| k.complete), "{report:?}");
    assert_eq!((kind("customer").listed, kind("customer").repaired), (25, 25));
    assert_eq!(kind("subscription").listed, 1);
    assert!(kind("invoice").listed >= 1);
    let again = reconciler.run(portage_core::reconcile::Mode::Full).await;
    assert!(again.kinds.iter().all(|k| k.repaired == 0), "unchanged objects are not rewritten: {again:?}");
}

#[tokio::test]
async fn stripe_actions_through_localstripe() {
    use portage_core::actions::{ActionError, ActionExecutor};
    use portage_providers::stripe::commands::StripeActions;

    use crate::support::command;
    use serde_json::json;

    let server = start();
    let pool = pool_at(&server);
    let clock: Arc<dyn portage_core::ports::Clock> = Arc::new(portage_core::ports::SystemClock);
    let actions = StripeActions::new(pool.clone(), clock);

    let input = json!({"email": "ada@example.com", "name": "Ada", "metadata": {"plan": "pro"}});
    let created = actions.execute(&command("stripe", "cmd_ls1", "customer.create", input)).await.unwrap();
    let customer = created.result["customer"].as_str().unwrap().to_owned();
    assert!(customer.starts_with("cus_"), "{:?}", created.result);
    assert_eq!(created.changes.len(), 1);
    assert_eq!((created.changes[0].kind.as_str(), created.changes[0].id.as_str()), ("customer", customer.as_str()));
    assert_eq!(created.changes[0].data["metadata"], json!({"plan": "pro"}));

    let renamed = actions
        .execute(&command("stripe", "cmd_ls2", "customer.update", json!({"customer": customer, "name": "Ada L."})))
        .await
        .unwrap();
    assert_eq!(renamed.result, json!({"customer": customer}));
    assert_eq!(renamed.changes[0].data["name"], "Ada L.");
    assert!(renamed.changes[0].version > created.changes[0].version, "a later answer is a newer version");

    let client = pool
        .client(Arc::new(StripeApi), "default", portage_client::CredentialSource::Bearer("api_key"))
        .await
        .unwrap()
        .unwrap();
    let card = [
        ("type", "card"),
        ("card[number]", "4242424242424242"),
        ("card[exp_month]", "12"),
        ("card[exp_year]", "2030"),
        ("card[cvc]", "123"),
    ];
    let method =
        id(&client.send(&ApiRequest::post_form("/v1/payment_methods", &card)).await.unwrap().json("stripe").unwrap());
    let intent = [("amount", "2000"), ("currency", "eur"), ("payment_method", method.as_str())];
    let intent =
        id(&client.send(&ApiRequest::post_form("/v1/payment_intents", &intent)).await.unwrap().json("stripe").unwrap());
    let confirmed = client
        .send(&ApiRequest::post_form(format!("/v1/payment_intents/{intent}/confirm"), &[]))
        .await
        .unwrap()
        .json("stripe")
        .unwrap();
    assert_eq!(confirmed["status"], "succeeded", "{confirmed}");

    let refunded = actions
        .execute(&command("stripe", "cmd_ls3", "refund.create", json!({"payment_intent": intent, "amount": 500})))
        .await
        .unwrap();
    assert!(refunded.result["refund"].as_str().is_some_and(|r| r.starts_with("re_")), "{:?}", refunded.result);
    assert_eq!(refunded.result["status"], "succeeded");
    assert_eq!((refunded.changes[0].kind.as_str(), refunded.changes[0].data["amount"].clone()), ("refund", json!(500)));

    let missing = actions
        .execute(&command("stripe", "cmd_ls4", "refund.create", json!({"payment_intent": "pi_doesnotexist"})))
        .await
        .unwrap_err();
    assert!(matches!(missing, ActionError::Refused { .. }), "a missing payment intent is refused: {missing:?}");
}

/// Billing's actions where localstripe has the API they call (it has no
/// Checkout Sessions, prices, portal or schedules: those are checked
/// against the Stripe fake): the app's customer becomes one Stripe
/// customer, kept even when the checkout itself cannot be made, never
/// created twice; the subscription is found by that customer and
/// cancelled at the period's end, then now.
#[tokio::test]
async fn billing_customers_and_cancellations_through_localstripe() {
    use portage_core::actions::{ActionError, ActionExecutor};
    use serde_json::json;

    let server = start();
    let pool = pool_at(&server);
    let clock: Arc<dyn portage_core::ports::Clock> = Arc::new(portage_core::ports::SystemClock);
    let dir = tempfile::tempdir().unwrap();
    let db = portage_embedded::open(dir.path()).unwrap();
    let config: portage_core::billing::BillingConfig = serde_json::from_value(json!({"default_plan": "free",
        "plans": {"free": {}, "pro": {"stripe_price": "monthly"}}}))
    .unwrap();
    let actions = portage_providers::billing::commands::BillingActions::new(
        pool.clone(),
        db.clone(),
        db.clone(),
        clock,
        Some(Arc::new(config)),
    );
    let input = json!({"customer": "cust_ls", "email": "ls@example.com", "plan": "pro",
        "success_url": "https://app.example/ok", "cancel_url": "https://app.example/no"});
    for (n, id) in ["cmd_b1", "cmd_b2"].iter().enumerate() {
        let refused = actions.execute(&crate::support::running(&db, id, "checkout", input.clone()).await).await;
        assert!(
            matches!(refused, Err(ActionError::Refused { .. })),
            "attempt {n}: no Checkout at localstripe: {refused:?}"
        );
    }
    let client = pool
        .client(Arc::new(StripeApi), "default", portage_client::CredentialSource::Bearer("api_key"))
        .await
        .unwrap()
        .unwrap();
    let json = |r: portage_client::ApiResponse| r.json("stripe").unwrap();
    let customers = json(client.send(&ApiRequest::get("/v1/customers")).await.unwrap());
    let listed = customers["data"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "one Stripe customer for the app's customer: {customers}");
    assert_eq!(
        (listed[0]["email"].as_str(), listed[0]["metadata"]["portage_customer"].as_str()),
        (Some("ls@example.com"), Some("cust_ls"))
    );
    let customer = id(&listed[0]);

    let product = json(
        client.send(&ApiRequest::post_form("/v1/products", &[("name", "Pro"), ("type", "service")])).await.unwrap(),
    );
    let plan =
        [("id", "monthly"), ("product", &id(&product)), ("currency", "usd"), ("amount", "1500"), ("interval", "month")];
    client.send(&ApiRequest::post_form("/v1/plans", &plan)).await.unwrap();
    let card = [
        ("type", "card"),
        ("card[number]", "4242424242424242"),
        ("card[exp_month]", "12"),
        ("card[exp_year]", "2030"),
        ("card[cvc]", "123"),
    ];
    let method = id(&json(client.send(&ApiRequest::post_form("/v1/payment_methods", &card)).await.unwrap()));
    client
        .send(&ApiRequest::post_form(
            format!("/v1/payment_methods/{method}/attach"),
            &[("customer", customer.as_str())],
        ))
        .await
        .unwrap();
    let default = [("invoice_settings[default_payment_method]", method.as_str())];
    client.send(&ApiRequest::post_form(format!("/v1/customers/{customer}"), &default)).await.unwrap();
    let subscribe =
        [("customer", customer.as_str()), ("items[0][plan]", "monthly"), ("metadata[portage_customer]", "cust_ls")];
    let subscription = id(&json(client.send(&ApiRequest::post_form("/v1/subscriptions", &subscribe)).await.unwrap()));

    let later = json!({"customer": "cust_ls", "when": "period_end"});
    let done = actions.execute(&crate::support::running(&db, "cmd_b3", "cancel", later).await).await.unwrap();
    assert_eq!(
        (done.result["subscription"].as_str(), done.result["status"].as_str()),
        (Some(subscription.as_str()), Some("active")),
        "{}",
        done.result
    );
    assert_eq!(done.changes[0].data["cancel_at_period_end"], true);
    let now = json!({"customer": "cust_ls", "when": "now"});
    let done = actions.execute(&crate::support::running(&db, "cmd_b4", "cancel", now).await).await.unwrap();
    assert_eq!(done.result["status"], "canceled", "{}", done.result);
}
