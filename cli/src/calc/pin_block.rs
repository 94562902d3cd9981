//! `payhsm calc pin-block`: ISO 9564-1 PIN blocks on clear test keys.

use clap::{Args, Subcommand};
use payhsm_core::{
    fields::Pan,
    hex,
    pin::{
        Pin,
        block::{self, EncryptedPinBlock, Fill, PinBlockFormat},
    },
    rng::OsRandom,
};
use serde_json::{Value, json};

use super::common::{block_key, pan};
use crate::error::CliError;

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// Encodes and encrypts a PIN block: {"EncryptedPinBlock": "HEX"}.
    Encrypt(EncryptArgs),
    /// Decrypts a PIN block: {"Pin": "DIGITS"}.
    Decrypt(DecryptArgs),
    /// Encodes a clear PIN block of format 0 to 3: {"PinBlock": "HEX"}.
    Encode(EncodeArgs),
    /// Decodes a clear PIN block of format 0 to 3: {"Pin": "DIGITS"}.
    Decode(DecodeArgs),
}

#[derive(Args)]
pub(crate) struct EncryptArgs {
    /// ISO_FORMAT_0, ISO_FORMAT_1, ISO_FORMAT_3 or ISO_FORMAT_4.
    #[arg(long)]
    format: String,
    /// The PIN encryption key in hex: TDES for formats 0 to 3, AES for format 4.
    #[arg(long)]
    key: String,
    /// The PIN, 4 to 12 digits.
    #[arg(long)]
    pin: String,
    /// The PAN (formats 0, 3 and 4).
    #[arg(long)]
    pan: Option<String>,
}

#[derive(Args)]
pub(crate) struct DecryptArgs {
    /// ISO_FORMAT_0, ISO_FORMAT_1, ISO_FORMAT_3 or ISO_FORMAT_4.
    #[arg(long)]
    format: String,
    /// The PIN encryption key in hex.
    #[arg(long)]
    key: String,
    /// The encrypted PIN block in hex (16 digits, or 32 for format 4).
    #[arg(long)]
    pin_block: String,
    /// The PAN (formats 0, 3 and 4).
    #[arg(long)]
    pan: Option<String>,
}

#[derive(Args)]
pub(crate) struct EncodeArgs {
    /// ISO_FORMAT_0, ISO_FORMAT_1, ISO_FORMAT_2 or ISO_FORMAT_3.
    #[arg(long)]
    format: String,
    /// The PIN, 4 to 12 digits.
    #[arg(long)]
    pin: String,
    /// The PAN (formats 0 and 3).
    #[arg(long)]
    pan: Option<String>,
}

#[derive(Args)]
pub(crate) struct DecodeArgs {
    /// ISO_FORMAT_0, ISO_FORMAT_1, ISO_FORMAT_2 or ISO_FORMAT_3.
    #[arg(long)]
    format: String,
    /// The clear PIN block in hex (16 digits).
    #[arg(long)]
    pin_block: String,
    /// The PAN (formats 0 and 3).
    #[arg(long)]
    pan: Option<String>,
}

pub(crate) fn format(text: &str, allow: &[PinBlockFormat]) -> Result<PinBlockFormat, CliError> {
    let f = PinBlockFormat::from_name(text).map_err(|e| CliError::invalid("--format", e))?;
    if allow.contains(&f) {
        Ok(f)
    } else {
        Err(CliError::invalid(
            "--format",
            format!("{f} is not accepted by this command"),
        ))
    }
}

fn opt_pan(text: Option<&String>) -> Result<Option<Pan>, CliError> {
    text.map(|p| pan("--pan", p)).transpose()
}

const ONLINE: [PinBlockFormat; 4] = [
    PinBlockFormat::Iso0,
    PinBlockFormat::Iso1,
    PinBlockFormat::Iso3,
    PinBlockFormat::Iso4,
];
const CLEAR: [PinBlockFormat; 4] = [
    PinBlockFormat::Iso0,
    PinBlockFormat::Iso1,
    PinBlockFormat::Iso2,
    PinBlockFormat::Iso3,
];

pub(crate) fn run(cmd: &Cmd) -> Result<Value, CliError> {
    match cmd {
        Cmd::Encrypt(a) => {
            let f = format(&a.format, &ONLINE)?;
            let key = block_key("--key", &a.key, Some(f.cipher_algorithm()))?;
            let pin = Pin::new(&a.pin).map_err(|e| CliError::invalid("--pin", e))?;
            let pan = opt_pan(a.pan.as_ref())?;
            let e = block::encrypt(&key, f, &pin, pan.as_ref(), Fill::Random(&mut OsRandom))?;
            Ok(json!({ "EncryptedPinBlock": e.to_string() }))
        }
        Cmd::Decrypt(a) => {
            let f = format(&a.format, &ONLINE)?;
            let key = block_key("--key", &a.key, Some(f.cipher_algorithm()))?;
            let blk = EncryptedPinBlock::from_hex(&a.pin_block)
                .map_err(|e| CliError::invalid("--pin-block", e))?;
            let pan = opt_pan(a.pan.as_ref())?;
            let pin = block::decrypt(&key, f, &blk, pan.as_ref())?;
            Ok(json!({ "Pin": pin.expose_secret() }))
        }
        Cmd::Encode(a) => {
            let f = format(&a.format, &CLEAR)?;
            let pin = Pin::new(&a.pin).map_err(|e| CliError::invalid("--pin", e))?;
            let pan = opt_pan(a.pan.as_ref())?;
            let c = block::encode(f, &pin, pan.as_ref(), Fill::Random(&mut OsRandom))?;
            Ok(json!({ "PinBlock": hex::encode(c.expose_secret()) }))
        }
        Cmd::Decode(a) => {
            let f = format(&a.format, &CLEAR)?;
            let bytes = hex::decode("pin block", &a.pin_block)
                .map_err(|e| CliError::invalid("--pin-block", e))?;
            let pan = opt_pan(a.pan.as_ref())?;
            let pin = block::decode(f, &bytes, pan.as_ref())?;
            Ok(json!({ "Pin": pin.expose_secret() }))
        }
    }
}

/// The key algorithm family of a format's cipher.
pub(crate) trait CipherAlgorithm {
    fn cipher_algorithm(self) -> payhsm_core::key::Algorithm;
}

impl CipherAlgorithm for PinBlockFormat {
    fn cipher_algorithm(self) -> payhsm_core::key::Algorithm {
        match self.cipher() {
            payhsm_core::crypto::BlockCipher::Aes => payhsm_core::key::Algorithm::AES,
            payhsm_core::crypto::BlockCipher::Tdes => payhsm_core::key::Algorithm::TDES,
        }
    }
}
