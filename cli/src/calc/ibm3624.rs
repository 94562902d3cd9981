//! `payhsm calc ibm3624`: IBM 3624 natural PIN, offset, PIN from offset and verification.

use clap::{Args, Subcommand};
use payhsm_core::pin::{
    Pin,
    decimalization::{DecimalizationPolicy, DecimalizationTable},
    ibm3624::{self, Ibm3624Params},
};
use serde_json::{Value, json};

use super::common::{INVALID_PIN, tdes2_key, verified};
use crate::error::CliError;

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// The offset of a customer-selected PIN: {"PinOffset": "…"}.
    Offset(OffsetArgs),
    /// The natural PIN: {"Pin": "…"}.
    NaturalPin(NaturalArgs),
    /// The PIN an offset gives: {"Pin": "…"}.
    PinFromOffset(FromOffsetArgs),
    /// Checks a PIN against an offset: {"Verified": true}, or INVALID_PIN and exit 1.
    Verify(VerifyArgs),
}

#[derive(Args)]
pub(crate) struct Common {
    /// The PIN verification key (two-key TDES) in hex.
    #[arg(long)]
    key: String,
    /// The PIN validation data, 4 to 16 digits.
    #[arg(long)]
    pin_validation_data: String,
    /// The pad character, one hex digit.
    #[arg(long)]
    pad_character: String,
    /// The decimalisation table, 16 digits.
    #[arg(long)]
    decimalization_table: String,
}

#[derive(Args)]
pub(crate) struct OffsetArgs {
    #[command(flatten)]
    common: Common,
    /// The customer-selected PIN.
    #[arg(long)]
    pin: String,
}

#[derive(Args)]
pub(crate) struct NaturalArgs {
    #[command(flatten)]
    common: Common,
    /// The PIN length, 4 to 12.
    #[arg(long, default_value_t = 4)]
    pin_length: usize,
}

#[derive(Args)]
pub(crate) struct FromOffsetArgs {
    #[command(flatten)]
    common: Common,
    /// The offset, 4 to 12 digits.
    #[arg(long)]
    offset: String,
}

#[derive(Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    common: Common,
    /// The PIN to check.
    #[arg(long)]
    pin: String,
    /// The offset, 4 to 12 digits (its length is the check length).
    #[arg(long)]
    offset: String,
    /// Accept only these decimalisation tables (the defence against the decimalisation-table
    /// attack); repeat for several. Without it any table is accepted, as the service does.
    #[arg(long = "allowed-decimalization-table")]
    allowed: Vec<String>,
}

fn parse(c: &Common) -> Result<(payhsm_core::crypto::SoftwareKey, Ibm3624Params), CliError> {
    let key = tdes2_key("--key", &c.key)?;
    let table = DecimalizationTable::new(&c.decimalization_table)
        .map_err(|e| CliError::invalid("--decimalization-table", e))?;
    let params = Ibm3624Params::new(table, &c.pin_validation_data, &c.pad_character)?;
    Ok((key, params))
}

fn pin(text: &str) -> Result<Pin, CliError> {
    Pin::new(text).map_err(|e| CliError::invalid("--pin", e))
}

pub(crate) fn run(cmd: &Cmd) -> Result<Value, CliError> {
    match cmd {
        Cmd::Offset(a) => {
            let (key, params) = parse(&a.common)?;
            let off = ibm3624::offset(&key, &params, &pin(&a.pin)?)?;
            Ok(json!({ "PinOffset": off.expose_secret() }))
        }
        Cmd::NaturalPin(a) => {
            let (key, params) = parse(&a.common)?;
            let p = ibm3624::natural_pin(&key, &params, a.pin_length)?;
            Ok(json!({ "Pin": p.expose_secret() }))
        }
        Cmd::PinFromOffset(a) => {
            let (key, params) = parse(&a.common)?;
            let p = ibm3624::pin_from_offset(&key, &params, &a.offset)?;
            Ok(json!({ "Pin": p.expose_secret() }))
        }
        Cmd::Verify(a) => {
            let (key, params) = parse(&a.common)?;
            let stored = a
                .allowed
                .iter()
                .map(|t| {
                    DecimalizationTable::new(t)
                        .map_err(|e| CliError::invalid("--allowed-decimalization-table", e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let policy = if stored.is_empty() {
                DecimalizationPolicy::AnyTable
            } else {
                DecimalizationPolicy::StoredOnly(&stored)
            };
            verified(
                ibm3624::verify(&key, &params, &policy, &pin(&a.pin)?, &a.offset),
                INVALID_PIN,
            )
        }
    }
}
