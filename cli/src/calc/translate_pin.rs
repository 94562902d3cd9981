//! `payhsm calc translate-pin`: PIN translation under PCI PIN requirement 3-3.

use clap::Args;
use payhsm_core::{
    pin::{
        block::{EncryptedPinBlock, PinBlockFormat},
        translate::{self, TranslationContext},
    },
    rng::OsRandom,
};
use serde_json::{Value, json};

use super::{
    common::{block_key, pan},
    pin_block::{CipherAlgorithm, format},
};
use crate::error::CliError;

#[derive(Args)]
pub(crate) struct TranslateArgs {
    /// The incoming PIN encryption key in hex.
    #[arg(long)]
    incoming_key: String,
    /// ISO_FORMAT_0, ISO_FORMAT_1, ISO_FORMAT_3 or ISO_FORMAT_4.
    #[arg(long)]
    incoming_format: String,
    /// The outgoing PIN encryption key in hex.
    #[arg(long)]
    outgoing_key: String,
    /// ISO_FORMAT_0, ISO_FORMAT_1, ISO_FORMAT_3 or ISO_FORMAT_4.
    #[arg(long)]
    outgoing_format: String,
    /// The incoming encrypted PIN block in hex.
    #[arg(long)]
    pin_block: String,
    /// The PAN the incoming block is bound to (formats 0, 3, 4), also used outgoing.
    #[arg(long)]
    pan: Option<String>,
    /// The outgoing PAN; refused when it differs from --pan for formats 0, 3 and 4.
    #[arg(long)]
    outgoing_pan: Option<String>,
}

const FORMATS: [PinBlockFormat; 4] = [
    PinBlockFormat::Iso0,
    PinBlockFormat::Iso1,
    PinBlockFormat::Iso3,
    PinBlockFormat::Iso4,
];

pub(crate) fn run(a: &TranslateArgs) -> Result<Value, CliError> {
    let fin = format(&a.incoming_format, &FORMATS)?;
    let fout = format(&a.outgoing_format, &FORMATS)?;
    let in_pan = a.pan.as_deref().map(|p| pan("--pan", p)).transpose()?;
    let out_pan = a
        .outgoing_pan
        .as_deref()
        .map(|p| pan("--outgoing-pan", p))
        .transpose()?;
    // The rules come first: a refused translation never touches a key.
    translate::check(
        fin,
        fout,
        in_pan.as_ref(),
        out_pan.as_ref(),
        TranslationContext::Online,
    )?;
    let kin = block_key(
        "--incoming-key",
        &a.incoming_key,
        Some(fin.cipher_algorithm()),
    )?;
    let kout = block_key(
        "--outgoing-key",
        &a.outgoing_key,
        Some(fout.cipher_algorithm()),
    )?;
    let blk = EncryptedPinBlock::from_hex(&a.pin_block)
        .map_err(|e| CliError::invalid("--pin-block", e))?;
    let incoming_pan = if fin.uses_pan() {
        in_pan.as_ref()
    } else {
        None
    };
    let out = translate::translate(
        &kin,
        fin,
        &blk,
        incoming_pan,
        &kout,
        fout,
        out_pan.as_ref().or(in_pan.as_ref()),
        TranslationContext::Online,
        &mut OsRandom,
    )?;
    Ok(json!({ "PinBlock": out.to_string() }))
}
