//! `payhsm calc`: algorithms on clear test keys given in hex.
//!
//! One file per command family. Each command returns the JSON object it prints, with AWS
//! Payment Cryptography's field names.

mod kcv;

use clap::Subcommand;
use serde_json::Value;

use crate::error::CliError;

/// The calculator's commands.
#[derive(Subcommand)]
pub(crate) enum Calc {
    /// Key check value of a TDES or AES key.
    Kcv(kcv::Args),
}

/// Runs a calculator command.
pub(crate) fn run(cmd: Calc) -> Result<Value, CliError> {
    match cmd {
        Calc::Kcv(args) => kcv::run(&args),
    }
}
