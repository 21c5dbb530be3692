//! `portage commands run|show|list`: effects at providers, asked for from
//! the command line as an app asks for them over `POST /v1/commands`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use portage_api::commands::{CommandRequest, record, view};
use portage_core::commands::{CommandFilter, CommandRecord, CommandStatus, CommandStore};
use portage_core::ports::Queue;
use serde_json::Value;

use crate::app::App;
use crate::cli::{Format, Global};
use crate::output::{print_json, print_table, rfc3339_ms};

/// `portage commands`: effects at providers.
#[derive(Debug, Subcommand)]
pub(crate) enum CommandsCommand {
    /// Record a command and queue it (the same key again is the same command).
    Run(RunArgs),
    /// Show one command.
    Show {
        /// The command's id (`cmd_…`).
        id: String,
    },
    /// List commands, newest first.
    List {
        /// Only commands with this status (queued, running, succeeded, failed, unknown).
        #[arg(long)]
        status: Option<CommandStatus>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// `table` for people, `json` for programs.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// `portage commands run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The provider (`stripe`, `sendgrid`, …).
    pub provider: String,
    /// The action (`customer.create`; `portage actions list` names them all).
    pub action: String,
    /// The connection (tenant account) to act for.
    #[arg(long, default_value = portage_core::DEFAULT_CONNECTION)]
    pub connection: String,
    /// The input: a JSON file, or `-` for standard input.
    #[arg(long)]
    pub input: PathBuf,
    /// Your key for this request: the same key and input again is the same command.
    #[arg(long)]
    pub idempotency_key: String,
    /// Wait up to this many seconds for the command to finish, working the
    /// local queue meanwhile (so it runs whether or not `serve` is up).
    #[arg(long)]
    pub wait: Option<u64>,
    /// `table` for people, `json` for programs.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Runs a `commands` subcommand.
pub(crate) async fn run(global: &Global, command: CommandsCommand) -> anyhow::Result<ExitCode> {
    let app = App::open(global)?;
    match command {
        CommandsCommand::Run(args) => run_one(&app, args).await,
        CommandsCommand::Show { id } => {
            let command = CommandStore::get(app.db.as_ref(), &id).await?.with_context(|| format!("no command {id}"))?;
            print_json(&view(&command))?;
            Ok(ExitCode::SUCCESS)
        }
        CommandsCommand::List { status, limit, format } => {
            let filter = CommandFilter { status, limit, ..CommandFilter::default() };
            let commands = CommandStore::list(app.db.as_ref(), &filter).await?;
            match format {
                Format::Json => print_json(&commands.iter().map(view).collect::<Vec<_>>())?,
                Format::Table => print_table(
                    &["ID", "PROVIDER", "CONNECTION", "ACTION", "STATUS", "ATTEMPTS", "CREATED"],
                    &commands.iter().map(row).collect::<Vec<_>>(),
                )?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn row(c: &CommandRecord) -> Vec<String> {
    vec![
        c.id.clone(),
        c.provider.clone(),
        c.connection.clone(),
        c.action.clone(),
        c.status.to_string(),
        c.attempts.to_string(),
        rfc3339_ms(c.created_at_ms),
    ]
}

fn read_input(path: &PathBuf) -> anyhow::Result<Value> {
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    serde_json::from_str(&text).context("the input is not JSON")
}

async fn run_one(app: &App, args: RunArgs) -> anyhow::Result<ExitCode> {
    let request = CommandRequest {
        provider: args.provider,
        connection: Some(args.connection),
        action: args.action,
        input: Some(read_input(&args.input)?),
        idempotency_key: args.idempotency_key,
    };
    let ctx = app.api_context(Arc::new(app.worker()?), None, None)?;
    let (mut command, _) = match record(&ctx, request).await {
        Ok(recorded) => recorded,
        Err(error) => bail!("{}", error.describe()),
    };
    if let Some(secs) = args.wait {
        command = wait_working(app, command, Duration::from_secs(secs)).await?;
    }
    match args.format {
        Format::Json => print_json(&view(&command))?,
        Format::Table => {
            print_table(&["ID", "PROVIDER", "CONNECTION", "ACTION", "STATUS", "ATTEMPTS", "CREATED"], &[row(&command)])?
        }
    }
    Ok(match command.status {
        CommandStatus::Failed | CommandStatus::Unknown => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

/// Works the local queue until the command is over or `wait` passes.
async fn wait_working(app: &App, mut command: CommandRecord, wait: Duration) -> anyhow::Result<CommandRecord> {
    let worker = app.worker()?;
    let deadline = Instant::now() + wait;
    while !command.status.is_final() && Instant::now() < deadline {
        let batch = app.queue.receive(10, app.worker_settings.visibility).await?;
        for delivery in &batch {
            worker.handle_delivery(app.queue.as_ref(), delivery).await;
        }
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if let Some(fresh) = CommandStore::get(app.db.as_ref(), &command.id).await? {
            command = fresh;
        }
    }
    Ok(command)
}
