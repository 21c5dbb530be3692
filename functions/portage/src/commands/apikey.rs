//! `portage apikey create|list|revoke`: the keys apps call `/v1` with.
//! A key is printed once, when it is made, and stored only as a hash.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use clap::{Args, Subcommand};
use portage_api::keys;
use portage_api::views::rfc3339_ms;
use portage_core::api_keys::{ApiKeyRecord, ApiKeys, Scope};
use portage_core::ports::{Clock, SystemClock};
use serde_json::json;

use crate::app::App;
use crate::cli::{Format, Global};
use crate::output::{print_json, print_table};

/// `portage apikey`: API keys for the application API.
#[derive(Debug, Subcommand)]
pub(crate) enum ApiKeyCommand {
    /// Make a key and print it (only the key, on stdout; it is not shown again).
    Create(CreateArgs),
    /// List keys: name, prefix, scopes, created, last used (never the key).
    List {
        /// `table` for people, `json` for programs.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// The deployed table (PORTAGE_TABLE, as `aws provision` prints it) instead of the local store.
        #[arg(long)]
        aws: bool,
    },
    /// Revoke a key: requests with it are refused from now on.
    Revoke {
        /// The key's name.
        name: String,
        /// The deployed table instead of the local store.
        #[arg(long)]
        aws: bool,
    },
}

/// `portage apikey create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// A unique name for the key (1 to 64 letters, digits, `_`, `-` or `.`).
    #[arg(long)]
    pub name: String,
    /// What the key may do (repeatable): commands:write, commands:read, state:read, events:read,
    /// events:write, connections:read, connections:write, admin.
    #[arg(long = "scope", required = true)]
    pub scopes: Vec<Scope>,
    /// The deployed table (PORTAGE_TABLE, as `aws provision` prints it) instead of the local store.
    #[arg(long)]
    pub aws: bool,
}

/// Runs an `apikey` subcommand.
pub(crate) async fn run(global: &Global, command: ApiKeyCommand) -> anyhow::Result<ExitCode> {
    let aws = match &command {
        ApiKeyCommand::Create(CreateArgs { aws, .. })
        | ApiKeyCommand::List { aws, .. }
        | ApiKeyCommand::Revoke { aws, .. } => *aws,
    };
    let store: Arc<dyn ApiKeys> = if aws { super::aws::deployed().await?.0 } else { App::open(global)?.db };
    match command {
        ApiKeyCommand::Create(args) => {
            let key = create(store.as_ref(), &args.name, &args.scopes, SystemClock.now_ms()).await?;
            println!("{}", key.expose());
        }
        ApiKeyCommand::List { format, .. } => {
            let listed = store.list().await?;
            match format {
                Format::Json => print_json(&listed.iter().map(view).collect::<Vec<_>>())?,
                Format::Table => {
                    let rows: Vec<Vec<String>> = listed
                        .iter()
                        .map(|k| {
                            vec![
                                k.name.clone(),
                                k.prefix.clone(),
                                scopes(k),
                                rfc3339_ms(k.created_at_ms),
                                k.last_used_at_ms.map_or_else(|| "never".to_owned(), rfc3339_ms),
                            ]
                        })
                        .collect();
                    print_table(&["NAME", "PREFIX", "SCOPES", "CREATED", "LAST_USED"], &rows)?;
                }
            }
        }
        ApiKeyCommand::Revoke { name, .. } => {
            if !store.revoke(&name).await? {
                bail!("no API key named '{name}'");
            }
            println!("revoked {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Makes and stores a key named `name`; refuses a bad or taken name.
pub(crate) async fn create(
    store: &dyn ApiKeys,
    name: &str,
    scopes: &[Scope],
    now_ms: i64,
) -> anyhow::Result<portage_core::Secret> {
    if !keys::is_valid_name(name) {
        bail!("an API key name is 1 to 64 letters, digits, '_', '-' or '.'");
    }
    let (key, record) = keys::issue(name, scopes, now_ms);
    if !store.create(&record).await? {
        bail!("an API key named '{name}' exists already (revoke it first)");
    }
    Ok(key)
}

fn scopes(key: &ApiKeyRecord) -> String {
    key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

fn view(key: &ApiKeyRecord) -> serde_json::Value {
    json!({
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "created_at": rfc3339_ms(key.created_at_ms),
        "last_used_at": key.last_used_at_ms.map(rfc3339_ms),
    })
}
