//! `portage apps set|list`: Portage's own app at each provider (its OAuth
//! client), which every tenant's connect flow uses. Kept as Secrets Manager
//! `PREFIX + apps/PROVIDER` with `--aws`, in DATA/secrets.toml otherwise;
//! never printed.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;
use portage_core::Secret;
use portage_core::apps::{APP_KEYS, APPS, ProviderApp, validate};
use portage_core::ports::Secrets;
use serde_json::json;

use crate::app::App;
use crate::cli::{Format, Global};
use crate::config;
use crate::output::{print_json, print_table};

/// `portage apps`: Portage's registration at each provider.
#[derive(Debug, Subcommand)]
pub(crate) enum AppsCommand {
    /// Register the app of PROVIDER: `client_id=… client_secret=… [redirect_uri=…] [scopes=…]`
    /// (eBay's redirect_uri is the RuName; Etsy's client_id and client_secret are the keystring and
    /// shared secret). Replaces what was set before.
    Set {
        /// Write to Secrets Manager (PREFIX + apps/PROVIDER) instead of DATA/secrets.toml.
        #[arg(long)]
        aws: bool,
        /// Secrets Manager name prefix, with --aws.
        #[arg(long, env = "PORTAGE_SECRETS_PREFIX", default_value = "portage/")]
        prefix: String,
        /// The provider, e.g. `hubspot`.
        provider: String,
        /// KEY=VALUE pairs.
        #[arg(required = true)]
        pairs: Vec<String>,
    },
    /// Which providers have an app (never its secrets).
    List {
        /// Read Secrets Manager instead of the local store.
        #[arg(long)]
        aws: bool,
        /// Secrets Manager name prefix, with --aws.
        #[arg(long, env = "PORTAGE_SECRETS_PREFIX", default_value = "portage/")]
        prefix: String,
        /// `table` for people, `json` for programs.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// Runs an `apps` subcommand.
pub(crate) async fn run(global: &Global, command: AppsCommand) -> anyhow::Result<ExitCode> {
    let registry = portage_providers::registry();
    match command {
        AppsCommand::Set { aws, prefix, provider, pairs } => {
            if registry.get(&provider).is_none() {
                bail!("unknown provider '{provider}' (see `portage providers`)");
            }
            let mut values = Vec::new();
            for pair in &pairs {
                // Values are never echoed: client secrets are credentials.
                let (key, value) = pair.split_once('=').context("expected KEY=VALUE")?;
                values.push((key.to_owned(), Secret::new(value)));
            }
            validate(&provider, &values)?;
            // The app is replaced whole: a setting left out is cleared, not kept from before.
            for key in APP_KEYS {
                if !values.iter().any(|(k, _)| k == key) {
                    values.push((key.to_owned(), Secret::new("")));
                }
            }
            if aws {
                let secrets = super::aws::deployed_secrets(&prefix).await;
                secrets.put(APPS, &provider, &values).await?;
                println!("set the {provider} app in {}", secrets.secret_name(APPS, &provider));
            } else {
                let path = config::save_local_secrets(&global.data, APPS, &provider, &values)?;
                println!("set the {provider} app in {}", path.display());
            }
        }
        AppsCommand::List { aws, prefix, format } => {
            let secrets: Arc<dyn Secrets> =
                if aws { Arc::new(super::aws::deployed_secrets(&prefix).await) } else { App::open(global)?.secrets };
            let mut rows = Vec::new();
            for provider in registry.names() {
                if let Some(app) = ProviderApp::load(secrets.as_ref(), provider).await? {
                    rows.push(json!({"provider": provider, "redirect_uri": app.redirect_uri, "scopes": app.scopes}));
                }
            }
            match format {
                Format::Json => print_json(&rows)?,
                Format::Table => print_table(
                    &["PROVIDER", "REDIRECT_URI", "SCOPES"],
                    &rows
                        .iter()
                        .map(|r| {
                            let scopes: Vec<&str> =
                                r["scopes"].as_array().into_iter().flatten().filter_map(|s| s.as_str()).collect();
                            vec![
                                r["provider"].as_str().unwrap_or_default().to_owned(),
                                r["redirect_uri"].as_str().unwrap_or("-").to_owned(),
                                scopes.join(" "),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
