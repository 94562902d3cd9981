//! `payhsm calc mac`: MAC generation and verification on clear test keys.

use clap::{Args, Subcommand};
use payhsm_core::{
    crypto::SoftwareKey,
    hex,
    key::KeyAlgorithm,
    mac::{self, MacAlgorithm, Padding},
    secret::KeyMaterial,
};
use serde_json::{Value, json};

use super::common::{INVALID_MAC, block_key, verified};
use crate::error::CliError;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct Cmd {
    #[command(subcommand)]
    verify: Option<Verify>,
    #[command(flatten)]
    args: MacArgs,
}

#[derive(Subcommand)]
enum Verify {
    /// Checks a MAC: {"Verified": true}, or INVALID_MAC and exit 1.
    Verify {
        #[command(flatten)]
        args: MacArgs,
        /// The MAC to check, in hex (at least 4 bytes).
        #[arg(long)]
        mac: String,
    },
}

#[derive(Args)]
struct MacArgs {
    /// ISO9797_ALGORITHM1, ISO9797_ALGORITHM3, CMAC, HMAC_SHA224, HMAC_SHA256, HMAC_SHA384,
    /// HMAC_SHA512 or AS2805_4_1.
    #[arg(long, required = true)]
    algorithm: Option<String>,
    /// The key in hex: TDES for 16 or 24 bytes, AES for 32 (see --aes); any length of at
    /// least 14 bytes for HMAC.
    #[arg(long, required = true)]
    key: Option<String>,
    /// Treat a 16- or 24-byte key as AES (ISO9797_ALGORITHM1 and CMAC).
    #[arg(long)]
    aes: bool,
    /// The message in hex.
    #[arg(long, required = true)]
    message: Option<String>,
    /// ISO 9797-1 padding method 1, 2 or 3 (ISO9797 algorithms only).
    #[arg(long, default_value_t = 1)]
    padding: u8,
    /// The MAC length in bytes (at least 4); default: the full output.
    #[arg(long)]
    length: Option<usize>,
}

type Parsed = (SoftwareKey, MacAlgorithm, Vec<u8>, Padding);

fn parse(a: &MacArgs) -> Result<Parsed, CliError> {
    let req =
        |v: &Option<String>, o: &str| v.clone().ok_or_else(|| CliError::invalid(o, "required"));
    let algorithm = MacAlgorithm::from_name(&req(&a.algorithm, "--algorithm")?)
        .map_err(|e| CliError::invalid("--algorithm", e))?;
    let key_hex = req(&a.key, "--key")?;
    let hmac = match algorithm {
        MacAlgorithm::HmacSha224 => Some(KeyAlgorithm::HmacSha224),
        MacAlgorithm::HmacSha256 | MacAlgorithm::Hmac => Some(KeyAlgorithm::HmacSha256),
        MacAlgorithm::HmacSha384 => Some(KeyAlgorithm::HmacSha384),
        MacAlgorithm::HmacSha512 => Some(KeyAlgorithm::HmacSha512),
        _ => None,
    };
    let key = match hmac {
        Some(alg) => {
            let m = KeyMaterial::from_hex("key", &key_hex)
                .map_err(|e| CliError::invalid("--key", e))?;
            SoftwareKey::new(alg, &m).map_err(|e| CliError::invalid("--key", e))?
        }
        None => block_key(
            "--key",
            &key_hex,
            a.aes.then_some(payhsm_core::key::Algorithm::AES),
        )?,
    };
    if !algorithm.takes_padding() && a.padding != 1 {
        return Err(CliError::invalid(
            "--padding",
            "only the ISO9797 algorithms take a padding method",
        ));
    }
    let padding = Padding::from_number(a.padding).map_err(|e| CliError::invalid("--padding", e))?;
    let message = hex::decode("message", &req(&a.message, "--message")?)
        .map_err(|e| CliError::invalid("--message", e))?;
    Ok((key, algorithm, message, padding))
}

pub(crate) fn run(cmd: &Cmd) -> Result<Value, CliError> {
    match &cmd.verify {
        None => {
            let (key, algorithm, message, padding) = parse(&cmd.args)?;
            let tag = mac::generate(&key, algorithm, &message, padding, cmd.args.length)?;
            Ok(json!({ "Mac": hex::encode(tag.as_bytes()) }))
        }
        Some(Verify::Verify {
            args,
            mac: presented,
        }) => {
            let (key, algorithm, message, padding) = parse(args)?;
            let presented =
                hex::decode("mac", presented).map_err(|e| CliError::invalid("--mac", e))?;
            verified(
                mac::verify(&key, algorithm, &message, padding, &presented),
                INVALID_MAC,
            )
        }
    }
}
