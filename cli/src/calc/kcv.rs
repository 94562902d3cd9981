//! `payhsm calc kcv`.

use clap::{Args as ClapArgs, ValueEnum};
use payhsm_core::{
    crypto::SoftwareKey,
    kcv::{self, KcvMethod},
    key::{Algorithm, KeyAlgorithm},
    secret::KeyMaterial,
};
use serde_json::{Value, json};

use crate::error::CliError;

#[derive(ClapArgs)]
pub(crate) struct Args {
    /// The key, in hex (16 or 24 bytes for TDES; 16, 24 or 32 for AES).
    #[arg(long)]
    key: String,
    /// How to compute the KCV; default: ANSI_X9_24 for TDES, CMAC for AES.
    #[arg(long, value_enum)]
    method: Option<Method>,
    /// The key's algorithm; default: TDES for 16- and 24-byte keys, AES for 32-byte keys.
    #[arg(long, value_enum)]
    algorithm: Option<Cipher>,
    /// KCV length in bytes: up to 3 for ANSI_X9_24, up to 5 for CMAC.
    #[arg(long, default_value_t = kcv::DEFAULT_KCV_LEN)]
    length: usize,
}

#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
enum Method {
    /// Encrypt a zero block (TDES only).
    #[value(name = "ANSI_X9_24")]
    AnsiX924,
    /// CMAC of a zero block.
    Cmac,
}

#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "UPPER")]
enum Cipher {
    Tdes,
    Aes,
}

pub(crate) fn run(args: &Args) -> Result<Value, CliError> {
    let material =
        KeyMaterial::from_hex("key", &args.key).map_err(|e| CliError::invalid("--key", e))?;
    let cipher = match (args.algorithm, material.len()) {
        (Some(Cipher::Tdes), _) | (None, 16 | 24) => Algorithm::TDES,
        (Some(Cipher::Aes), _) | (None, _) => Algorithm::AES,
    };
    let algorithm = KeyAlgorithm::from_block_cipher(cipher, material.len())
        .map_err(|e| CliError::invalid("--key", e))?;
    let key = SoftwareKey::new(algorithm, &material)?;
    let method = match args.method {
        Some(Method::AnsiX924) => KcvMethod::AnsiX924,
        Some(Method::Cmac) => KcvMethod::Cmac,
        None => KcvMethod::default_for(algorithm)?,
    };
    let kcv = kcv::compute(&key, method, args.length)?;
    Ok(json!({
        "KeyCheckValue": kcv.to_string(),
        "KeyCheckValueAlgorithm": method.name(),
    }))
}
