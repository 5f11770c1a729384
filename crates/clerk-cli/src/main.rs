//! `clerk-users`: bulk import (exactly once, at the rate limit), export, bulk
//! actions and counts on Clerk users, the emulator, and the migration benchmark.

mod args;
mod cmd_actions;
mod cmd_bench;
mod cmd_export;
mod cmd_import;
mod import;
mod input;
mod journal;
mod progress;
mod report;
mod synth;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cmd_actions::{Action, ActionArgs};

/// Bulk operations on Clerk users that lose nothing and never exceed the rate limit.
#[derive(Parser, Debug)]
#[command(name = "clerk-users", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Bulk-create users from a file, exactly once (resumable with a checkpoint).
    Import(cmd_import::ImportArgs),
    /// Stream users (with list filters) as JSON Lines, in constant memory.
    Export(cmd_export::ExportArgs),
    /// Count users matching the list filters.
    Count(cmd_export::CountArgs),
    /// Ban users (bulk endpoint, 50 per request).
    Ban(ActionArgs),
    /// Lift bans (bulk endpoint, 50 per request).
    Unban(ActionArgs),
    /// Delete users.
    Delete(ActionArgs),
    /// Lock users.
    Lock(ActionArgs),
    /// Unlock users.
    Unlock(ActionArgs),
    /// Run the local Clerk emulator (same flags as the `clerk-emulator` binary).
    Emulator(EmulatorCommand),
    /// Migration benchmark: import synthetic users into an embedded emulator at the
    /// quota, then verify each exists exactly once.
    Bench(cmd_bench::BenchArgs),
}

#[derive(clap::Args, Debug)]
struct EmulatorCommand {
    #[command(flatten)]
    args: clerk_emulator::EmulatorArgs,
    /// Log requests to stderr (-v, -vv, -vvv).
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

/// A command's failure: what to print, and the exit code.
#[derive(Debug)]
pub(crate) struct CliError {
    code: u8,
    message: Option<String>,
}

impl CliError {
    /// Bad input or configuration (exit code 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: Some(message.into()),
        }
    }

    /// The work failed (exit code 1).
    pub(crate) fn failure(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: Some(message.into()),
        }
    }

    /// Exit with `code`; the report already said why.
    pub(crate) fn quiet(code: u8) -> Self {
        Self {
            code,
            message: None,
        }
    }
}

pub(crate) type CliResult<T> = Result<T, CliError>;

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn verbosity(command: &Command) -> u8 {
    match command {
        Command::Import(a) => a.output.verbose,
        Command::Export(a) => a.output.verbose,
        Command::Count(a) => a.output.verbose,
        Command::Ban(a)
        | Command::Unban(a)
        | Command::Delete(a)
        | Command::Lock(a)
        | Command::Unlock(a) => a.output.verbose,
        Command::Emulator(a) => a.verbose,
        Command::Bench(a) => a.verbose,
    }
}

async fn dispatch(command: Command) -> CliResult<()> {
    match command {
        Command::Import(args) => cmd_import::run(args).await,
        Command::Export(args) => cmd_export::run_export(args).await,
        Command::Count(args) => cmd_export::run_count(args).await,
        Command::Ban(args) => cmd_actions::run(Action::Ban, args).await,
        Command::Unban(args) => cmd_actions::run(Action::Unban, args).await,
        Command::Delete(args) => cmd_actions::run(Action::Delete, args).await,
        Command::Lock(args) => cmd_actions::run(Action::Lock, args).await,
        Command::Unlock(args) => cmd_actions::run(Action::Unlock, args).await,
        Command::Emulator(cmd) => {
            let config = cmd
                .args
                .into_config()
                .map_err(|e| CliError::usage(e.to_string()))?;
            clerk_emulator::run_until_shutdown(config)
                .await
                .map_err(|e| CliError::failure(format!("emulator: {e}")))
        }
        Command::Bench(args) => cmd_bench::run(args).await,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(verbosity(&cli.command));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("clerk-users: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(message) = err.message {
                eprintln!("clerk-users: {message}");
            }
            ExitCode::from(err.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_secret_key_is_not_in_debug_output() {
        let cli = Cli::try_parse_from([
            "clerk-users",
            "count",
            "--secret-key",
            "sk_live_SUPERSECRET",
        ])
        .unwrap();
        let shown = format!("{cli:?}");
        assert!(!shown.contains("SUPERSECRET"), "{shown}");
    }
}
