//! `clerk-users`: bulk import (exactly once, at the rate limit), export, bulk
//! actions and counts on Clerk users, the emulator, and the migration benchmark.
//!
//! The `emulator` cargo feature (on by default) brings the `emulator` and `bench`
//! subcommands and links the emulator (axum, the password hash crates); without it
//! (`cargo install clerk-cli --no-default-features`) the binary is the client alone.

mod args;
#[cfg(feature = "emulator")]
mod bench_report;
#[cfg(feature = "emulator")]
mod bench_workers;
mod check;
mod cmd_actions;
#[cfg(feature = "emulator")]
mod cmd_bench;
mod cmd_export;
mod cmd_import;
mod cmd_sync;
mod dedup;
mod input;
mod input_lock;
mod migration_tool;
mod progress;
mod records;
#[cfg(feature = "emulator")]
mod redis_server;
mod report;
#[cfg(feature = "emulator")]
mod svg;
#[cfg(feature = "emulator")]
mod synth;
mod terminal;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cmd_actions::{Action, ActionArgs};
use crate::terminal::tell;

/// Bulk operations on Clerk users that lose nothing and never exceed the rate limit.
#[derive(Parser, Debug)]
#[command(name = "clerk-users", version, about, long_about = None)]
struct Cli {
    /// The common flags, accepted before the subcommand too (`clerk-users --api-url URL import f`).
    #[command(flatten)]
    connect: args::ConnectArgs,
    #[command(flatten)]
    output: args::OutputArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Bulk-create users from a file, exactly once (resumable with a checkpoint).
    Import(cmd_import::ImportArgs),
    /// Make the instance equal a file: create, update only what differs, ban or
    /// delete the users it lacks (plan, then apply; --dry-run shows the plan).
    Sync(cmd_sync::SyncArgs),
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
    #[cfg(feature = "emulator")]
    Emulator(EmulatorCommand),
    /// Migration benchmark: import synthetic users into an embedded emulator at the
    /// quota, then verify each exists exactly once.
    #[cfg(feature = "emulator")]
    Bench(cmd_bench::BenchArgs),
    /// One worker process of `bench --workers` (started by the bench, not by hand).
    #[cfg(feature = "emulator")]
    #[command(hide = true)]
    BenchWorker(bench_workers::WorkerArgs),
}

#[cfg(feature = "emulator")]
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
    pub(crate) message: Option<String>,
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
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // Quiet by default, but a wait the server asked for (Retry-After) is said:
    // a run that stalls for it must not look hung.
    let default = if verbose == 0 {
        "warn,clerk_layers::retry=info"
    } else {
        level
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal: a log file gets plain text.
    let log = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_filter(filter);
    // The progress bar hears of the retry layer's waits whatever RUST_LOG says,
    // and of nothing else (no other callsite is enabled for it).
    let waits = tracing_subscriber::filter::Targets::new()
        .with_target("clerk_layers::retry", tracing::Level::INFO);
    let _ = tracing_subscriber::registry()
        .with(log)
        .with(progress::RetryWaits.with_filter(waits))
        .try_init();
}

fn verbosity(command: &Command) -> u8 {
    match command {
        Command::Import(a) => a.output.verbose,
        Command::Sync(a) => a.output.verbose,
        Command::Export(a) => a.output.verbose,
        Command::Count(a) => a.output.verbose,
        Command::Ban(a)
        | Command::Unban(a)
        | Command::Delete(a)
        | Command::Lock(a)
        | Command::Unlock(a) => a.output.verbose,
        #[cfg(feature = "emulator")]
        Command::Emulator(a) => a.verbose,
        #[cfg(feature = "emulator")]
        Command::Bench(a) => a.verbose,
        #[cfg(feature = "emulator")]
        Command::BenchWorker(a) => a.output.verbose,
    }
}

async fn dispatch(command: Command) -> CliResult<()> {
    match command {
        Command::Import(args) => cmd_import::run(args).await,
        Command::Sync(args) => cmd_sync::run(args).await,
        Command::Export(args) => cmd_export::run_export(args).await,
        Command::Count(args) => cmd_export::run_count(args).await,
        Command::Ban(args) => cmd_actions::run(Action::Ban, args).await,
        Command::Unban(args) => cmd_actions::run(Action::Unban, args).await,
        Command::Delete(args) => cmd_actions::run(Action::Delete, args).await,
        Command::Lock(args) => cmd_actions::run(Action::Lock, args).await,
        Command::Unlock(args) => cmd_actions::run(Action::Unlock, args).await,
        #[cfg(feature = "emulator")]
        Command::Emulator(cmd) => {
            let config = cmd
                .args
                .into_config()
                .map_err(|e| CliError::usage(e.to_string()))?;
            clerk_emulator::run_until_shutdown(config)
                .await
                .map_err(|e| CliError::failure(format!("emulator: {e}")))
        }
        #[cfg(feature = "emulator")]
        Command::Bench(args) => cmd_bench::run(args).await,
        #[cfg(feature = "emulator")]
        Command::BenchWorker(args) => bench_workers::run_worker(args).await,
    }
}

/// Parses the command line: a common flag given before the subcommand applies to it,
/// unless the subcommand's own copy of that flag was given too.
fn parse(argv: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Command, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let mut cmd = Cli::command();
    let matches = cmd.try_get_matches_from_mut(argv)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let Some((_, sub)) = matches.subcommand() else {
        return Ok(cli.command);
    };
    let before = |id: &str| args::given(&matches, id) && !args::given(sub, id);
    let mut command = cli.command;
    match &mut command {
        Command::Import(a) => args::adopt(
            &mut a.connect,
            &mut a.output,
            &cli.connect,
            cli.output,
            before,
        ),
        Command::Sync(a) => args::adopt(
            &mut a.connect,
            &mut a.output,
            &cli.connect,
            cli.output,
            before,
        ),
        Command::Export(a) => args::adopt(
            &mut a.connect,
            &mut a.output,
            &cli.connect,
            cli.output,
            before,
        ),
        Command::Count(a) => args::adopt(
            &mut a.connect,
            &mut a.output,
            &cli.connect,
            cli.output,
            before,
        ),
        Command::Ban(a)
        | Command::Unban(a)
        | Command::Delete(a)
        | Command::Lock(a)
        | Command::Unlock(a) => args::adopt(
            &mut a.connect,
            &mut a.output,
            &cli.connect,
            cli.output,
            before,
        ),
        #[cfg(feature = "emulator")]
        Command::Bench(a) => a.adopt(&cli.connect, cli.output, before),
        #[cfg(feature = "emulator")]
        Command::BenchWorker(a) => args::adopt(
            &mut a.connect,
            &mut a.output,
            &cli.connect,
            cli.output,
            before,
        ),
        #[cfg(feature = "emulator")]
        Command::Emulator(a) => {
            if let Some(flag) = args::CONNECT_FLAGS.iter().find(|id| before(id)) {
                return Err(cmd.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "--{} does not apply to `emulator`; its own flags go after it (clerk-users emulator --help)",
                        flag.replace('_', "-")
                    ),
                ));
            }
            a.verbose = a.verbose.saturating_add(cli.output.verbose);
        }
    }
    Ok(command)
}

fn main() -> ExitCode {
    let command = parse(std::env::args_os()).unwrap_or_else(|e| e.exit());
    init_tracing(verbosity(&command));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            tell!("clerk-users: cannot start the async runtime: {err}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(message) = err.message {
                tell!("clerk-users: {message}");
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

    fn parsed(argv: &[&str]) -> Result<Command, clap::Error> {
        parse(argv.iter().map(std::ffi::OsString::from))
    }

    #[test]
    fn common_flags_work_before_the_subcommand_as_after_it() {
        let before = parsed(&[
            "clerk-users",
            "--api-url",
            "http://127.0.0.1:9",
            "--secret-key",
            "sk_test_x",
            "--rate-limit",
            "5/1s",
            "--concurrency",
            "3",
            "--json",
            "-v",
            "import",
            "f.jsonl",
        ])
        .unwrap();
        let after = parsed(&[
            "clerk-users",
            "import",
            "f.jsonl",
            "--api-url",
            "http://127.0.0.1:9",
            "--secret-key",
            "sk_test_x",
            "--rate-limit",
            "5/1s",
            "--concurrency",
            "3",
            "--json",
            "-v",
        ])
        .unwrap();
        for command in [before, after] {
            let Command::Import(a) = command else {
                panic!("not import")
            };
            assert_eq!(a.connect.api_url.as_deref(), Some("http://127.0.0.1:9"));
            assert!(a.connect.secret_key.is_some());
            assert_eq!(a.connect.rate_limit, args::parse_rate("5/1s").ok());
            assert_eq!(a.connect.concurrency, 3);
            assert!(a.output.json);
            assert_eq!(a.output.verbose, 1);
        }
        // Every command that talks to a server takes them first, bench included.
        for sub in [
            &["export"][..],
            &["count"],
            &["ban"],
            &["delete"],
            #[cfg(feature = "emulator")]
            &["bench"],
        ] {
            let mut argv = vec![
                "clerk-users",
                "--api-url",
                "http://127.0.0.1:9",
                "--concurrency",
                "7",
            ];
            argv.extend_from_slice(sub);
            let command = parsed(&argv).unwrap_or_else(|e| panic!("{sub:?}: {e}"));
            let (url, concurrency) = match command {
                Command::Export(a) => (a.connect.api_url, a.connect.concurrency),
                Command::Count(a) => (a.connect.api_url, a.connect.concurrency),
                Command::Ban(a) | Command::Delete(a) => (a.connect.api_url, a.connect.concurrency),
                #[cfg(feature = "emulator")]
                Command::Bench(a) => (a.api_url, a.concurrency),
                other => panic!("{other:?}"),
            };
            assert_eq!(url.as_deref(), Some("http://127.0.0.1:9"), "{sub:?}");
            assert_eq!(concurrency, 7, "{sub:?}");
        }
    }

    #[test]
    fn a_flag_after_the_subcommand_wins_over_the_same_flag_before_it() {
        let command = parsed(&[
            "clerk-users",
            "--api-url",
            "http://127.0.0.1:1",
            "--concurrency",
            "2",
            "count",
            "--api-url",
            "http://127.0.0.1:2",
        ])
        .unwrap();
        let Command::Count(a) = command else {
            panic!("not count")
        };
        assert_eq!(a.connect.api_url.as_deref(), Some("http://127.0.0.1:2"));
        assert_eq!(a.connect.concurrency, 2);
    }

    #[cfg(feature = "emulator")]
    #[test]
    fn client_flags_before_emulator_are_refused_with_a_reason() {
        let err = parsed(&["clerk-users", "--rate-limit", "5/1s", "emulator"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("--rate-limit does not apply to `emulator`"),
            "{err}"
        );
        let Command::Emulator(a) = parsed(&["clerk-users", "-vv", "emulator"]).unwrap() else {
            panic!("not emulator")
        };
        assert_eq!(a.verbose, 2);
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
