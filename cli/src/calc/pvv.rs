//! `payhsm calc pvv`: the Visa PIN verification value.

use clap::{Args, Subcommand};
use payhsm_core::pin::{
    Pin,
    pvv::{self, Pvki},
};
use serde_json::{Value, json};

use super::common::{INVALID_PIN, pan, tdes2_key, verified};
use crate::error::CliError;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct Cmd {
    #[command(subcommand)]
    verify: Option<Verify>,
    #[command(flatten)]
    args: PvvArgs,
}

#[derive(Subcommand)]
enum Verify {
    /// Checks a PVV: {"Verified": true}, or INVALID_PIN and exit 1.
    Verify(VerifyArgs),
}

#[derive(Args)]
struct VerifyArgs {
    #[command(flatten)]
    args: PvvArgs,
    /// The PVV to check (4 digits).
    #[arg(long)]
    verification_value: String,
}

#[derive(Args)]
struct PvvArgs {
    /// The PIN verification key (two-key TDES) in hex.
    #[arg(long, required = true)]
    key: Option<String>,
    /// The PAN.
    #[arg(long, required = true)]
    pan: Option<String>,
    /// The PIN, 4 to 12 digits (the PVV uses the leftmost 4).
    #[arg(long, required = true)]
    pin: Option<String>,
    /// The PIN verification key index, 0 to 6.
    #[arg(long, required = true)]
    pvki: Option<u8>,
}

type Parsed = (
    payhsm_core::crypto::SoftwareKey,
    payhsm_core::fields::Pan,
    Pin,
    Pvki,
);

fn parse(a: &PvvArgs) -> Result<Parsed, CliError> {
    let missing = |o: &str| CliError::invalid(o, "required");
    let key = tdes2_key("--key", a.key.as_deref().ok_or_else(|| missing("--key"))?)?;
    let pan = pan("--pan", a.pan.as_deref().ok_or_else(|| missing("--pan"))?)?;
    let pin = Pin::new(a.pin.as_deref().ok_or_else(|| missing("--pin"))?)
        .map_err(|e| CliError::invalid("--pin", e))?;
    let pvki = Pvki::new(a.pvki.ok_or_else(|| missing("--pvki"))?)
        .map_err(|e| CliError::invalid("--pvki", e))?;
    Ok((key, pan, pin, pvki))
}

pub(crate) fn run(cmd: &Cmd) -> Result<Value, CliError> {
    match &cmd.verify {
        None => {
            let (key, pan, pin, pvki) = parse(&cmd.args)?;
            let v = pvv::generate(&key, &pan, &pin, pvki)?;
            Ok(json!({ "VerificationValue": v.expose_secret() }))
        }
        Some(Verify::Verify(v)) => {
            let (key, pan, pin, pvki) = parse(&v.args)?;
            verified(
                pvv::verify(&key, &pan, &pin, pvki, &v.verification_value),
                INVALID_PIN,
            )
        }
    }
}
