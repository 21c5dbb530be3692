//! Every provider has the shape DESIGN.md fixes, checked from the
//! capabilities alone: a file per capability in its folder (and none for an
//! absent one), its docs page with the six sections, its fixtures, its
//! function crate and its template.yaml block; and the live pieces agree
//! with what the descriptor says.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// DESIGN.md's file set: one file per capability.
const FIXED_FILES: [&str; 9] = [
    "mod.rs",
    "webhook.rs",
    "normalise.rs",
    "records.rs",
    "sync.rs",
    "reconcile.rs",
    "commands.rs",
    "api.rs",
    "oauth.rs",
];

/// What a webhook source may keep beside `webhook.rs`: its signature
/// scheme, fetched-key checks, a second delivery format, its tests.
const WEBHOOK_HELPERS: [&str; 5] = ["verify.rs", "keys.rs", "certificate.rs", "outbound.rs", "tests.rs"];

const SECTIONS: [&str; 6] = ["Webhooks", "Connect", "API client", "Sync", "Reconcile", "Commands"];

#[test]
fn every_provider_has_the_fixed_shape() {
    let registry = portage_providers::registry();
    let capabilities = portage_providers::capabilities();
    let template = std::fs::read_to_string(repo().join("template.yaml")).unwrap();
    let mut names: Vec<&str> = capabilities.iter().filter(|c| c.webhooks).map(|c| c.provider).collect();
    names.sort_unstable();
    assert_eq!(names, registry.names(), "the registry holds every provider that takes notifications");
    for c in &capabilities {
        let p = c.provider;
        let folder = repo().join("shared/providers/src").join(p);
        let has = |file: &str| folder.join(file).exists();
        assert!(has("mod.rs"), "{p}: mod.rs");
        assert_eq!(has("webhook.rs"), c.webhooks, "{p}: webhook.rs is its webhook source");
        // Actions that go through other providers' clients keep them in one
        // file (or folder) per provider.
        let through: Vec<String> =
            c.commands.iter().flat_map(|piece| piece.through.iter().map(|t| (*t).to_owned())).collect();
        for entry in std::fs::read_dir(&folder).unwrap() {
            let file = entry.unwrap().file_name().into_string().unwrap();
            assert!(
                FIXED_FILES.contains(&file.as_str())
                    || WEBHOOK_HELPERS.contains(&file.as_str())
                    || through.iter().any(|t| file == format!("{t}.rs") || file == *t),
                "{p}/{file}: a capability lives in its fixed file, never under another name"
            );
        }
        for other in &through {
            assert!(
                has(&format!("{other}.rs")) || has(&format!("{other}/mod.rs")),
                "{p}: {other}.rs or {other}/ holds its actions' calls through {other}"
            );
        }
        assert_eq!(has("api.rs"), c.api, "{p}: api.rs is its API policy");
        assert_eq!(has("sync.rs"), c.sync.is_some(), "{p}: sync.rs is its sync capability");
        assert_eq!(has("reconcile.rs"), c.reconcile.is_some(), "{p}: reconcile.rs is its listing");
        assert_eq!(has("records.rs"), c.sync.is_some() || c.reconcile.is_some(), "{p}: records.rs maps its objects");
        assert_eq!(has("commands.rs"), c.commands.is_some(), "{p}: commands.rs is its actions");
        if let Some(piece) = c.commands {
            assert!(c.api || !piece.through.is_empty(), "{p}: actions need an API policy");
            for other in piece.through {
                let other = capabilities.iter().find(|o| o.provider == *other);
                assert!(other.is_some_and(|o| o.api), "{p}: it acts through providers with an API policy");
            }
            for action in piece.actions {
                assert_eq!(action.provider, p, "{p}: its actions are its own");
                let schema: serde_json::Value = serde_json::from_str(action.input_schema)
                    .unwrap_or_else(|e| panic!("{p} {}: the input schema is JSON: {e}", action.name));
                assert_eq!(schema["type"], "object", "{p} {}: the input is an object", action.name);
                assert!(
                    docs_page(p).contains(&format!("`{}`", action.name)),
                    "{p} {}: the docs page names the action",
                    action.name
                );
            }
        }
        assert_eq!(has("oauth.rs"), c.connect.is_some_and(|c| c.oauth.is_some()), "{p}: oauth.rs is its OAuth app");
        if let Some(flow) = c.connect.and_then(|c| c.oauth) {
            let place = portage_providers::connect::Place { shop: Some("acme.myshopify.com"), region: None };
            let endpoints = (flow.endpoints)(&place);
            assert_eq!(endpoints.authorize.scheme(), "https", "{p}: authorizes over https");
            assert!(endpoints.token.url.starts_with("https://"), "{p}: exchanges over https");
            assert!(docs_page(p).contains("## Connect"), "{p}: the docs page says how it connects");
        }
        if let Some(listing) = c.reconcile {
            assert!(!listing.kinds.is_empty(), "{p}: a listing lists something");
            assert!(c.api, "{p}: a listing needs an API policy");
        }

        let docs = docs_page(p);
        let headings: Vec<&str> = docs.lines().filter_map(|l| l.strip_prefix("## ")).map(str::trim).collect();
        let fixed: Vec<&str> = headings.iter().copied().filter(|h| SECTIONS.contains(h)).collect();
        assert_eq!(fixed, SECTIONS, "{p}: the docs page has the six sections, in order");

        let fixtures = repo().join("fixtures").join(p);
        assert!(std::fs::read_dir(&fixtures).is_ok_and(|mut d| d.next().is_some()), "{p}: fixtures/{p}/");

        assert_eq!(registry.get(p).is_some(), c.webhooks, "{p}: a webhook source iff it takes notifications");
        if c.webhooks {
            let via_queue = registry.get(p).is_some_and(|s| s.transport() == portage_core::provider::Transport::Queue);
            let (crate_dir, resource) = if via_queue {
                (format!("functions/notifications-{p}"), format!("Notifications{}Function:", camel(p)))
            } else {
                (format!("functions/webhook-{p}"), format!("Webhook{}Function:", camel(p)))
            };
            assert!(repo().join(&crate_dir).join("Cargo.toml").exists(), "{p}: {crate_dir}");
            assert!(template.contains(&format!("\n  {resource}")), "{p}: template.yaml declares {resource}");
        }
    }
}

fn camel(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

#[test]
fn the_live_pieces_agree_with_the_descriptors() {
    let stripe = portage_providers::stripe::CAPABILITIES;
    let listing = stripe.reconcile.expect("stripe lists");
    assert_eq!(listing.kinds, ["customer", "subscription", "invoice", "payment"]);
    assert_eq!((listing.policy)().provider(), "stripe");
    let sync = stripe.sync.expect("stripe syncs").kinds;
    assert_eq!(sync, ["customer", "subscription", "invoice", "checkout_session", "payment", "charge"]);
    // What sync writes for each fixture is of a kind the descriptor names.
    let fixtures = repo().join("fixtures/stripe");
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let event: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let record = crate::support::stripe_record("default", &event);
        for change in portage_providers::stripe::sync::snapshot_changes(&record).unwrap() {
            assert!(sync.contains(&change.kind.as_str()), "{}: {}", path.display(), change.kind);
        }
    }
}

fn docs_page(provider: &str) -> String {
    std::fs::read_to_string(repo().join(format!("docs/integrations/{provider}.md")))
        .unwrap_or_else(|_| panic!("{provider}: docs/integrations/{provider}.md"))
}
