//! `payhsm calc`: algorithms on clear test keys given in hex.
//!
//! One file per command family. Each command returns the JSON object it prints, with AWS
//! Payment Cryptography's field names.

mod dukpt;
mod emv;
mod kcv;

use clap::Subcommand;
use serde_json::Value;

use crate::error::CliError;

/// The calculator's commands.
#[derive(Subcommand)]
pub(crate) enum Calc {
    /// Key check value of a TDES or AES key.
    Kcv(kcv::Args),
    /// DUKPT (TDES X9.24-1, AES X9.24-3): derive keys, translate PINs, MACs, data.
    Dukpt {
        #[command(subcommand)]
        command: Box<dukpt::Command>,
    },
    /// EMV issuer cryptography: ICC master keys, session keys, ARQC, ARPC, script MACs.
    Emv {
        #[command(subcommand)]
        command: Box<emv::Command>,
    },
}

/// Runs a calculator command.
pub(crate) fn run(cmd: Calc) -> Result<Value, CliError> {
    match cmd {
        Calc::Kcv(args) => kcv::run(&args),
        Calc::Dukpt { command } => dukpt::run(&command),
        Calc::Emv { command } => emv::run(&command),
    }
}
