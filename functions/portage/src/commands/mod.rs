//! One module per `portage` subcommand: its arguments (every one documented,
//! as `--help` shows them) and what it does.

pub(crate) mod actions;
pub(crate) mod apikey;
pub(crate) mod apps;
pub(crate) mod aws;
pub(crate) mod command;
pub(crate) mod connect;
pub(crate) mod dlq;
pub(crate) mod events;
pub(crate) mod notifications;
pub(crate) mod providers;
pub(crate) mod reconcile;
pub(crate) mod replay;
pub(crate) mod secrets;
pub(crate) mod serve;
pub(crate) mod state;
pub(crate) mod subscriptions;
pub(crate) mod webhook;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the subcommand the command line names.
pub(crate) async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let global = &cli.global;
    match cli.command {
        Command::Serve(args) => serve::run(global, args).await,
        Command::Apikey(command) => apikey::run(global, command).await,
        Command::Commands(command) => command::run(global, command).await,
        Command::Actions(command) => actions::run(&command),
        Command::Subscriptions(command) => subscriptions::run(global, command).await,
        Command::Webhook(command) => webhook::run(global, command).await,
        Command::Notifications(command) => notifications::run(global, command).await,
        Command::Events(command) => events::run(global, command).await,
        Command::Replay(args) => replay::run(global, args).await,
        Command::Dlq(command) => dlq::run(global, command).await,
        Command::State(command) => state::run(global, command).await,
        Command::Reconcile(args) => reconcile::run(global, args).await,
        Command::Aws(command) => aws::run(command).await,
        Command::Secrets(command) => secrets::run(global, command).await,
        Command::Apps(command) => apps::run(global, command).await,
        Command::Connect(args) => connect::connect(global, args).await,
        Command::Connections(command) => connect::connections(global, command).await,
        Command::Providers(args) => providers::run(&args),
    }
}
