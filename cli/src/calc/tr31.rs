//! `payhsm calc tr31`: ANSI X9.143 / TR-31 key blocks on clear test keys.

use clap::{Args, Subcommand};
use payhsm_core::{
    crypto::SoftwareKey,
    hex, kcv,
    key::{Algorithm, KeyAlgorithm, KeyModesOfUse},
    rng::OsRandom,
    secret::KeyMaterial,
};
use payhsm_tr31::{
    Header, Kbpk, KeyBlock, UnwrapOptions, Version, WrapOptions, kbpk_algorithm, unwrap, wrap,
};
use serde_json::{Map, Value, json};

use crate::error::CliError;

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Wraps a key under a KBPK: versions B and D, key length masked (X9.143).
    Wrap(WrapArgs),
    /// Unwraps a key block and prints its header fields, the key and its KCV.
    Unwrap(UnwrapArgs),
    /// Prints a key block's header fields without unwrapping it.
    Inspect(InspectArgs),
}

#[derive(Args)]
pub(crate) struct WrapArgs {
    /// The key block protection key, in hex (TDES for versions A, B, C; AES for D).
    #[arg(long)]
    kbpk: String,
    /// The header, e.g. D0000P0AE00E0000 (the length field is set by the wrap).
    #[arg(long)]
    header: String,
    /// The key to wrap, in hex.
    #[arg(long)]
    key: String,
    /// Allow the legacy versions A and C (never for new key exchanges).
    #[arg(long)]
    allow_legacy: bool,
    /// Do not pad the key to its algorithm's longest length (TR-31:2018 style).
    #[arg(long)]
    no_key_length_masking: bool,
}

#[derive(Args)]
pub(crate) struct UnwrapArgs {
    /// The key block protection key, in hex.
    #[arg(long)]
    kbpk: String,
    /// The key block.
    #[arg(long)]
    key_block: String,
    /// Accept the legacy versions A and C.
    #[arg(long)]
    allow_legacy: bool,
    /// Accept a block whose padding shows its key's length (not masked, as TR-31:2018's
    /// examples and some HSMs write them).
    #[arg(long)]
    allow_short_padding: bool,
}

#[derive(Args)]
pub(crate) struct InspectArgs {
    /// The key block.
    #[arg(long)]
    key_block: String,
}

pub(crate) fn run(cmd: &Command) -> Result<Value, CliError> {
    match cmd {
        Command::Wrap(a) => {
            let header = Header::parse(&a.header).map_err(|e| CliError::invalid("--header", e))?;
            let kbpk = kbpk_material(&a.kbpk)?;
            let options = WrapOptions {
                allow_version_a: a.allow_legacy,
                allow_version_c: a.allow_legacy,
                mask_key_length: !a.no_key_length_masking,
            };
            let key =
                KeyMaterial::from_hex("key", &a.key).map_err(|e| CliError::invalid("--key", e))?;
            let block = wrap(
                clear(header.version(), &kbpk)?,
                &header,
                key.expose_secret(),
                &options,
                &mut OsRandom,
            )?;
            Ok(json!({ "KeyBlock": block }))
        }
        Command::Unwrap(a) => {
            let parsed =
                KeyBlock::parse(&a.key_block).map_err(|e| CliError::invalid("--key-block", e))?;
            let kbpk = kbpk_material(&a.kbpk)?;
            let options = UnwrapOptions {
                allow_legacy_versions: a.allow_legacy,
                allow_short_padding: a.allow_short_padding,
                ..UnwrapOptions::default()
            };
            let unwrapped = unwrap(clear(parsed.version(), &kbpk)?, &a.key_block, &options)?;
            let key = unwrapped.key.expose_secret();
            let mut out = header_fields(&unwrapped.header, key.len());
            out.insert("Key".into(), hex::encode(key).into());
            if let Ok(algorithm) =
                KeyAlgorithm::from_block_cipher(unwrapped.header.algorithm(), key.len())
            {
                let handle = SoftwareKey::new(algorithm, &KeyMaterial::from_slice("key", key)?)?;
                let kcv = kcv::default_kcv(&handle)?;
                out.insert("KeyCheckValue".into(), kcv.to_string().into());
                out.insert(
                    "KeyCheckValueAlgorithm".into(),
                    kcv::KcvMethod::default_for(algorithm)?.name().into(),
                );
            }
            Ok(Value::Object(out))
        }
        Command::Inspect(a) => {
            let parsed =
                KeyBlock::parse(&a.key_block).map_err(|e| CliError::invalid("--key-block", e))?;
            let mut out = header_fields(parsed.header(), 0);
            out.insert(
                "KeyBlockLength".into(),
                parsed.header().block_length().into(),
            );
            out.insert(
                "EncryptedKeyDataLength".into(),
                parsed.encrypted_key_data().len().into(),
            );
            Ok(Value::Object(out))
        }
    }
}

/// The header's fields with AWS Payment Cryptography names where they exist.
fn header_fields(header: &Header, key_len: usize) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("Header".into(), header.to_string().into());
    out.insert(
        "KeyBlockVersion".into(),
        char::from(header.version().id()).to_string().into(),
    );
    out.insert("KeyUsage".into(), header.key_usage().to_string().into());
    out.insert(
        "KeyAlgorithm".into(),
        algorithm_name(header, key_len).into(),
    );
    out.insert(
        "ModeOfUse".into(),
        header.mode_of_use().code_str().to_owned().into(),
    );
    if let Some(modes) = KeyModesOfUse::from_mode_of_use(header.mode_of_use()) {
        let flags: Map<String, Value> = modes
            .iter()
            .map(|(name, on)| (name.to_owned(), Value::Bool(on)))
            .collect();
        out.insert("KeyModesOfUse".into(), Value::Object(flags));
    }
    out.insert("KeyVersionNumber".into(), header.key_version().into());
    out.insert(
        "Exportability".into(),
        header.exportability().to_string().into(),
    );
    let blocks: Map<String, Value> = header
        .optional_blocks()
        .iter()
        .map(|b| (b.id().to_owned(), Value::from(b.data())))
        .collect();
    out.insert("OptionalBlocks".into(), Value::Object(blocks));
    out
}

/// The service's algorithm name when the header and key length determine it (TDES, AES); the
/// TR-31 algorithm otherwise (the key length of an encrypted key is unknown before unwrapping).
fn algorithm_name(header: &Header, key_len: usize) -> String {
    match (header.algorithm(), header.hmac_hash()) {
        (Algorithm::HMAC, Ok(Some(hash))) => format!("HMAC_{hash:?}").to_uppercase(),
        (algorithm, _) => KeyAlgorithm::from_block_cipher(algorithm, key_len)
            .map(|a| a.name().to_owned())
            .unwrap_or_else(|_| algorithm.to_string()),
    }
}

fn kbpk_material(hex: &str) -> Result<KeyMaterial, CliError> {
    KeyMaterial::from_hex("KBPK", hex).map_err(|e| CliError::invalid("--kbpk", e))
}

fn clear(version: Version, kbpk: &KeyMaterial) -> Result<Kbpk<'_>, CliError> {
    let algorithm =
        kbpk_algorithm(version, kbpk.len()).map_err(|e| CliError::invalid("--kbpk", e))?;
    Ok(Kbpk::Clear {
        algorithm,
        key: kbpk,
    })
}
