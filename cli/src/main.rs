//! `payhsm`: the command line of the payhsm HSM emulator.
//!
//! Every command prints one JSON object on stdout with AWS Payment Cryptography field names.
//! On bad input it prints one line on stderr — what went wrong, then what to do — and exits
//! non-zero; it never panics or prints a backtrace.

mod calc;
mod error;
mod vectors;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::CliError;

/// A payment-cryptography HSM emulator: key blocks, PIN, CVV, MAC, DUKPT, EMV.
#[derive(Parser)]
#[command(name = "payhsm", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A calculator on clear test keys (never for production keys).
    #[command(subcommand)]
    Calc(calc::Calc),
    /// Runs the published known-answer vectors and prints a table (the auditors' command).
    Vectors(vectors::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return error::report_usage(&e),
    };
    let result = match cli.command {
        Command::Calc(cmd) => calc::run(cmd).and_then(|v| print_json(&v)),
        Command::Vectors(args) => vectors::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}

/// Prints one JSON value on stdout.
fn print_json(value: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::new(format!("cannot format the output: {e}"), None))?;
    println!("{text}");
    Ok(())
}
