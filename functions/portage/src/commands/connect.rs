//! `portage connect PROVIDER`: opens a connect session, prints its URL (and
//! opens a browser with `--open`), and waits until the account is connected;
//! `portage connections list|show|disconnect`: the registry of connections.
//! Locally they work on the data directory `portage serve` uses (the
//! browser's callback comes back to the running `serve`); with `--aws`, on
//! the deployed table and secrets.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use portage_api::connect::view;
use portage_api::views::rfc3339_ms;
use portage_core::connect::{ConnectionStatus, SESSION_TTL_MS, SessionStatus};
use portage_core::ports::{Clock, SystemClock};
use portage_providers::connect::{ConnectSettings, Connector, SessionRequest};

use crate::app::App;
use crate::cli::{Format, Global};
use crate::output::{print_json, print_table};

/// `portage connect`.
#[derive(Debug, Args)]
pub(crate) struct ConnectArgs {
    /// The provider (`shopify`, `etsy`, `hubspot`…).
    pub provider: String,
    /// The connection the account becomes.
    #[arg(long, default_value = portage_core::DEFAULT_CONNECTION)]
    pub connection: String,
    /// Shopify: the `name.myshopify.com` domain; WooCommerce: the store URL;
    /// Salesforce: a My Domain host.
    #[arg(long)]
    pub shop: Option<String>,
    /// Amazon: `na`, `eu` or `fe`; Salesforce: `login` or `test`.
    #[arg(long)]
    pub region: Option<String>,
    /// A scope to ask for instead of the app's (repeatable).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Open the URL in a browser too.
    #[arg(long)]
    pub open: bool,
    /// Where the browser reaches Portage (`portage serve`'s address, or the deployment's).
    #[arg(long, env = "PORTAGE_PUBLIC_BASE_URL", default_value = "http://127.0.0.1:8080")]
    pub base_url: String,
    /// How long to wait for the browser, in seconds (at most the session's 600).
    #[arg(long, default_value_t = 600)]
    pub wait_seconds: u64,
    /// The deployed table and secrets (as `aws provision` prints them) instead of the local store.
    #[arg(long)]
    pub aws: bool,
    /// The deployed secrets' name prefix.
    #[arg(long, env = "PORTAGE_SECRETS_PREFIX", default_value = "portage/")]
    pub prefix: String,
}

/// `portage connections`.
#[derive(Debug, Subcommand)]
pub(crate) enum ConnectionsCommand {
    /// Every connection (of one provider with `--provider`): status, auth, expiries; never a token.
    List {
        /// Only this provider's.
        #[arg(long)]
        provider: Option<String>,
        /// `table` for people, `json` for programs.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// The deployed registry instead of the local one.
        #[arg(long)]
        aws: bool,
    },
    /// One connection.
    Show {
        /// The provider.
        provider: String,
        /// The connection.
        connection: String,
        /// `table` for people, `json` for programs.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// The deployed registry instead of the local one.
        #[arg(long)]
        aws: bool,
    },
    /// Revoke the token at the provider (where it offers that) and delete the credentials.
    Disconnect {
        /// The provider.
        provider: String,
        /// The connection.
        connection: String,
        /// The deployed registry and secrets instead of the local ones.
        #[arg(long)]
        aws: bool,
        /// The deployed secrets' name prefix.
        #[arg(long, env = "PORTAGE_SECRETS_PREFIX", default_value = "portage/")]
        prefix: String,
    },
}

/// The page the browser lands on at the end of a `portage connect`.
fn done_url(base_url: &str) -> String {
    format!("{}/connect/done", base_url.trim_end_matches('/'))
}

/// The connect flows, locally or on the deployment, with `extra_return`
/// allowed as a return URL beside the configured ones.
async fn connector(
    global: &Global,
    aws: bool,
    prefix: &str,
    base_url: Option<String>,
    extra_return: Option<String>,
) -> anyhow::Result<Connector> {
    if !aws {
        return App::open(global)?.connector_with(base_url, extra_return);
    }
    let (table, queue) = super::aws::deployed().await?;
    let secrets = Arc::new(super::aws::deployed_secrets(prefix).await);
    let origins = portage_client::Origins::from_env()?;
    let mut return_urls = portage_providers::connect::return_urls_from_env();
    return_urls.extend(extra_return);
    let settings = ConnectSettings { public_base_url: base_url, return_urls };
    Ok(portage_providers::wiring::connector(table, queue, secrets, Arc::new(SystemClock), origins, settings)?)
}

/// Runs `portage connect`.
pub(crate) async fn connect(global: &Global, args: ConnectArgs) -> anyhow::Result<ExitCode> {
    let done = done_url(&args.base_url);
    let connector = connector(global, args.aws, &args.prefix, Some(args.base_url.clone()), Some(done.clone())).await?;
    let request = SessionRequest {
        provider: args.provider.clone(),
        connection: args.connection.clone(),
        return_url: done,
        shop: args.shop,
        region: args.region,
        scopes: (!args.scopes.is_empty()).then_some(args.scopes),
    };
    let session = connector.create_session(request).await.map_err(|e| anyhow::anyhow!("{} ({})", e, e.code()))?;
    println!("{}", session.url);
    if args.open {
        open_browser(&session.url);
    }
    let wait = Duration::from_secs(args.wait_seconds).min(Duration::from_millis(SESSION_TTL_MS.unsigned_abs()));
    let deadline = tokio::time::Instant::now() + wait;
    eprintln!("waiting for the browser (up to {} s)…", wait.as_secs());
    loop {
        let current = connector.store().session(&session.id).await?.context("the session disappeared")?;
        if current.status == SessionStatus::Finished {
            let record = connector.store().connection(&args.provider, &args.connection).await?;
            let connected = record
                .as_ref()
                .is_some_and(|r| r.status == ConnectionStatus::Connected && r.connected_at_ms >= current.created_at_ms);
            if connected {
                println!("connected {}/{}", args.provider, args.connection);
                return Ok(ExitCode::SUCCESS);
            }
            bail!("the provider did not connect {}/{} (the browser shows why)", args.provider, args.connection);
        }
        if tokio::time::Instant::now() >= deadline || current.expired(SystemClock.now_ms()) {
            bail!("no answer from the browser in time: run `portage connect` again");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Hands the URL to the desktop's browser; says so when there is none.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    if std::process::Command::new(opener).arg(url).spawn().is_err() {
        eprintln!("could not start {opener}: open the URL above yourself");
    }
}

/// Runs a `connections` subcommand.
pub(crate) async fn connections(global: &Global, command: ConnectionsCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConnectionsCommand::List { provider, format, aws } => {
            let connector = connector(global, aws, "portage/", None, None).await?;
            let records = connector.store().connections(provider.as_deref()).await?;
            match format {
                Format::Json => print_json(&records.iter().map(view).collect::<Vec<_>>())?,
                Format::Table => {
                    let time = |at: Option<i64>| at.map_or_else(|| "-".to_owned(), rfc3339_ms);
                    let rows: Vec<Vec<String>> = records
                        .iter()
                        .map(|r| {
                            vec![
                                r.provider.clone(),
                                r.connection.clone(),
                                r.status.to_string(),
                                view(r)["auth"].as_str().unwrap_or_default().to_owned(),
                                time(r.expires_at_ms),
                                time(r.refresh_expires_at_ms),
                                r.last_error.clone().unwrap_or_else(|| "-".to_owned()),
                            ]
                        })
                        .collect();
                    let header =
                        ["PROVIDER", "CONNECTION", "STATUS", "AUTH", "EXPIRES", "REFRESH_EXPIRES", "LAST_ERROR"];
                    print_table(&header, &rows)?;
                }
            }
        }
        ConnectionsCommand::Show { provider, connection, format, aws } => {
            let connector = connector(global, aws, "portage/", None, None).await?;
            let record = connector.store().connection(&provider, &connection).await?;
            let record = record.with_context(|| format!("no connection {provider}/{connection}"))?;
            match format {
                Format::Json => print_json(&view(&record))?,
                Format::Table => {
                    let shown = view(&record);
                    let rows: Vec<Vec<String>> = shown
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| vec![k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)])
                        .collect();
                    print_table(&["FIELD", "VALUE"], &rows)?;
                }
            }
        }
        ConnectionsCommand::Disconnect { provider, connection, aws, prefix } => {
            let connector = connector(global, aws, &prefix, None, None).await?;
            connector.disconnect(&provider, &connection).await.map_err(|e| anyhow::anyhow!("{} ({})", e, e.code()))?;
            println!("disconnected {provider}/{connection}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
