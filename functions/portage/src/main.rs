//! `portage`: runs every Portage flow locally (`portage serve`) and carries the
//! operator's tools. See `portage --help` and the README.

mod app;
mod aws_cmd;
mod cli;
mod config;
mod events_cmd;
mod output;
mod progress;
mod providers_cmd;
mod serve;
mod state_cmd;
mod webhook_cmd;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(&cli.global, args).await,
        Command::Webhook(cmd) => webhook_cmd::run(&cli.global, cmd).await,
        Command::Notifications(cmd) => webhook_cmd::run_notifications(&cli.global, cmd).await,
        Command::Events(cmd) => events_cmd::run_events(&cli.global, cmd).await,
        Command::Replay(args) => events_cmd::run_replay(&cli.global, args).await,
        Command::Dlq(cmd) => events_cmd::run_dlq(&cli.global, cmd).await,
        Command::State(cmd) => state_cmd::run(&cli.global, cmd).await,
        Command::Reconcile(args) => state_cmd::run_reconcile(&cli.global, args).await,
        Command::Aws(cmd) => aws_cmd::run_aws(cmd).await,
        Command::Secrets(cmd) => aws_cmd::run_secrets(&cli.global, cmd).await,
        Command::Providers(args) => providers_cmd::run(&args),
    }
}

/// Logs go to stderr (stdout carries command output): human-readable by
/// default, JSON with `PORTAGE_LOG_FORMAT=json`; the level from `PORTAGE_LOG`.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTAGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("PORTAGE_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
