//! `clerk-emulator`: a local Clerk Backend API (Users) with real rate limits and fault injection.

use clap::Parser;
use clerk_emulator::EmulatorArgs;

/// A faithful local emulator of Clerk's Backend API (Users resource).
#[derive(Debug, Parser)]
#[command(name = "clerk-emulator", version, about)]
struct Cli {
    #[command(flatten)]
    args: EmulatorArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match cli.args.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("clerk-emulator: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("clerk-emulator: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(clerk_emulator::run_until_shutdown(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clerk-emulator: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
