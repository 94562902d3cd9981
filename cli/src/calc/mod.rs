//! `payhsm calc`: algorithms on clear test keys given in hex.
//!
//! One file per command family. Each command returns the JSON object it prints, with AWS
//! Payment Cryptography's field names.

mod card;
mod common;
mod dukpt;
mod emv;
mod ibm3624;
mod kcv;
mod mac;
mod pin_block;
mod pvv;
mod tr31;
mod tr34;
mod translate_pin;

use clap::Subcommand;
use serde_json::Value;

use crate::error::CliError;

/// The calculator's commands (boxed: their argument structs are large and clap parses one).
#[derive(Subcommand)]
pub(crate) enum Calc {
    /// Key check value of a TDES or AES key.
    Kcv(kcv::Args),
    /// ANSI X9.143 / TR-31 key blocks: wrap, unwrap, inspect.
    #[command(subcommand)]
    Tr31(tr31::Command),
    /// ISO 9564-1 PIN blocks: encrypt, decrypt, encode, decode.
    #[command(subcommand)]
    PinBlock(Box<pin_block::Cmd>),
    /// Translates a PIN block between keys and formats (PCI PIN 3-3 rules).
    TranslatePin(Box<translate_pin::TranslateArgs>),
    /// Visa PIN verification value (PVV); `verify` checks one.
    Pvv(Box<pvv::Cmd>),
    /// IBM 3624 natural PIN, offset, PIN from offset, verification.
    #[command(subcommand)]
    Ibm3624(Box<ibm3624::Cmd>),
    /// Visa CVV / Mastercard CVC (CVV2: service code 000, iCVV: 999); `verify` checks one.
    Cvv(Box<card::CvvCmd>),
    /// American Express CSC version 1 or 2 (3, 4 or 5 digits); `verify` checks one.
    AmexCsc(Box<card::CscCmd>),
    /// Visa dynamic CVV; `verify` checks one.
    Dcvv(Box<card::DcvvCmd>),
    /// Mastercard CVC3 (dynamic CVC); `verify` checks one.
    Cvc3(Box<card::Cvc3Cmd>),
    /// Visa CAVV (3-D Secure, CVV-based); `verify` checks one.
    Cavv(Box<card::CavvCmd>),
    /// MACs: ISO 9797-1 algorithms 1 and 3, CMAC, HMAC, AS2805 4.1; `verify` checks one.
    Mac(Box<mac::Cmd>),
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
    /// TR-34 key transport: test certificates, export (KDH) and import (KRD) of key blocks.
    #[command(subcommand)]
    Tr34(tr34::Tr34),
}

/// Runs a calculator command.
pub(crate) fn run(cmd: Calc) -> Result<Value, CliError> {
    match cmd {
        Calc::Kcv(args) => kcv::run(&args),
        Calc::Tr31(cmd) => tr31::run(&cmd),
        Calc::PinBlock(cmd) => pin_block::run(&cmd),
        Calc::TranslatePin(args) => translate_pin::run(&args),
        Calc::Pvv(cmd) => pvv::run(&cmd),
        Calc::Ibm3624(cmd) => ibm3624::run(&cmd),
        Calc::Cvv(cmd) => cmd.run(),
        Calc::AmexCsc(cmd) => cmd.run(),
        Calc::Dcvv(cmd) => cmd.run(),
        Calc::Cvc3(cmd) => cmd.run(),
        Calc::Cavv(cmd) => cmd.run(),
        Calc::Mac(cmd) => mac::run(&cmd),
        Calc::Dukpt { command } => dukpt::run(&command),
        Calc::Emv { command } => emv::run(&command),
        Calc::Tr34(cmd) => tr34::run(cmd),
    }
}
