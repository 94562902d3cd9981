//! `payhsm calc dukpt`: TDES and AES DUKPT on a clear BDK.
//!
//! The KSN says which DUKPT: 20 (or 16) hex digits for TDES DUKPT (ANSI X9.24-1), 24 for AES
//! DUKPT (X9.24-3); the BDK must be a two-key TDES key or an AES key to match.

use clap::{Args as ClapArgs, Subcommand, ValueEnum};
use payhsm_core::{
    crypto::SoftwareKey,
    dukpt::{self, Bdk, DukptEncryptionMode, DukptMacAlgorithm, KeyVariant, Ksn, WorkingKeyUsage},
    fields::Pan,
    hex, kcv,
    key::{Algorithm, KeyAlgorithm},
    pin::block::{EncryptedPinBlock, PinBlockFormat},
    rng::OsRandom,
    secret::KeyMaterial,
};
use serde_json::{Value, json};

use super::common;
use crate::error::CliError;

/// The DUKPT commands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Initial, transaction and working key for a KSN.
    Derive(DeriveArgs),
    /// Translate a PIN block from the DUKPT PIN key to a PIN encryption key.
    TranslatePin(TranslatePinArgs),
    /// Generate or verify a MAC under the DUKPT MAC key.
    Mac {
        #[command(subcommand)]
        action: MacAction,
    },
    /// Encrypt whole blocks under the DUKPT data key.
    Encrypt(CryptArgs),
    /// Decrypt whole blocks under the DUKPT data key.
    Decrypt(CryptArgs),
}

/// The BDK and KSN every DUKPT command takes.
#[derive(ClapArgs)]
pub(crate) struct KeyArgs {
    /// The base derivation key, in hex (16 bytes for TDES DUKPT; 16, 24 or 32 for AES DUKPT).
    #[arg(long)]
    bdk: String,
    /// The key serial number: 20 (or 16) hex digits for TDES DUKPT, 24 for AES DUKPT.
    #[arg(long)]
    ksn: String,
    /// The working key's type (DukptDerivationType); default: TDES_2KEY for TDES DUKPT, the
    /// BDK's type for AES DUKPT. HMAC gives an AES DUKPT HMAC-SHA256 key.
    #[arg(long, value_enum)]
    key_type: Option<KeyType>,
}

#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
enum KeyType {
    #[value(name = "TDES_2KEY")]
    Tdes2Key,
    #[value(name = "TDES_3KEY")]
    Tdes3Key,
    #[value(name = "AES_128")]
    Aes128,
    #[value(name = "AES_192")]
    Aes192,
    #[value(name = "AES_256")]
    Aes256,
    Hmac,
}

impl KeyType {
    fn algorithm(self) -> KeyAlgorithm {
        match self {
            Self::Tdes2Key => KeyAlgorithm::Tdes2Key,
            Self::Tdes3Key => KeyAlgorithm::Tdes3Key,
            Self::Aes128 => KeyAlgorithm::Aes128,
            Self::Aes192 => KeyAlgorithm::Aes192,
            Self::Aes256 => KeyAlgorithm::Aes256,
            Self::Hmac => KeyAlgorithm::HmacSha256,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
enum Variant {
    Bidirectional,
    Request,
    Response,
}

impl Variant {
    fn core(self) -> KeyVariant {
        match self {
            Self::Bidirectional => KeyVariant::Bidirectional,
            Self::Request => KeyVariant::Request,
            Self::Response => KeyVariant::Response,
        }
    }
}

#[derive(ClapArgs)]
pub(crate) struct DeriveArgs {
    #[command(flatten)]
    keys: KeyArgs,
    /// The working key to derive: PIN, MAC_GENERATE, MAC_VERIFY, MAC_BOTH, DATA_ENCRYPT,
    /// DATA_DECRYPT, DATA_BOTH, KEY_ENCRYPTION or KEY_DERIVATION (the last two AES only).
    #[arg(long)]
    usage: Option<String>,
}

#[derive(ClapArgs)]
pub(crate) struct TranslatePinArgs {
    #[command(flatten)]
    keys: KeyArgs,
    /// The incoming PIN block, in hex.
    #[arg(long)]
    pin_block: String,
    /// The incoming format: ISO_FORMAT_0, ISO_FORMAT_1, ISO_FORMAT_3 (TDES) or ISO_FORMAT_4 (AES).
    #[arg(long)]
    incoming_format: String,
    /// The PAN the PIN block is bound to.
    #[arg(long)]
    pan: Option<String>,
    /// The outgoing PIN encryption key, in hex (TDES for formats 0, 1, 3; AES for format 4).
    #[arg(long)]
    pek: String,
    /// The outgoing format: ISO_FORMAT_0, ISO_FORMAT_1, ISO_FORMAT_3 or ISO_FORMAT_4.
    #[arg(long)]
    outgoing_format: String,
}

/// Generate or verify.
#[derive(Subcommand)]
pub(crate) enum MacAction {
    /// Generate a MAC.
    Generate(MacArgs),
    /// Verify a MAC: prints {"Verified": true} or fails with INVALID_MAC.
    Verify(MacVerifyArgs),
}

#[derive(ClapArgs)]
pub(crate) struct MacArgs {
    #[command(flatten)]
    keys: KeyArgs,
    /// The message, in hex.
    #[arg(long)]
    message: String,
    /// ISO9797_ALGORITHM1, ISO9797_ALGORITHM3, CMAC or HMAC (AES DUKPT).
    #[arg(long)]
    algorithm: String,
    /// The key variant.
    #[arg(long, value_enum, default_value = "REQUEST")]
    variant: Variant,
    /// MAC length in bytes (default: the algorithm's full output).
    #[arg(long)]
    mac_length: Option<usize>,
}

#[derive(ClapArgs)]
pub(crate) struct MacVerifyArgs {
    #[command(flatten)]
    mac: MacArgs,
    /// The MAC to verify, in hex.
    #[arg(long = "mac")]
    presented: String,
}

#[derive(ClapArgs)]
pub(crate) struct CryptArgs {
    #[command(flatten)]
    keys: KeyArgs,
    /// The data, in hex: whole cipher blocks (8 bytes TDES, 16 AES).
    #[arg(long)]
    data: String,
    /// ECB or CBC.
    #[arg(long, default_value = "CBC")]
    mode: String,
    /// The CBC initialization vector, in hex (default zero).
    #[arg(long)]
    iv: Option<String>,
    /// The key variant.
    #[arg(long, value_enum, default_value = "BIDIRECTIONAL")]
    variant: Variant,
}

/// The BDK as the KSN's DUKPT wants it: bytes for TDES, a handle for AES.
struct Keys {
    material: KeyMaterial,
    aes: Option<SoftwareKey>,
    ksn: Ksn,
    key_type: Option<KeyAlgorithm>,
}

impl Keys {
    fn parse(args: &KeyArgs) -> Result<Self, CliError> {
        let material =
            KeyMaterial::from_hex("bdk", &args.bdk).map_err(|e| CliError::invalid("--bdk", e))?;
        let ksn = Ksn::from_hex(&args.ksn).map_err(|e| CliError::invalid("--ksn", e))?;
        let aes = match ksn {
            Ksn::Tdes(_) => None,
            Ksn::Aes(_) => Some(
                KeyAlgorithm::from_block_cipher(Algorithm::AES, material.len())
                    .and_then(|a| SoftwareKey::new(a, &material))
                    .map_err(|e| CliError::invalid("--bdk", e))?,
            ),
        };
        Ok(Self {
            material,
            aes,
            ksn,
            key_type: args.key_type.map(KeyType::algorithm),
        })
    }

    fn bdk(&self) -> Bdk<'_> {
        match &self.aes {
            Some(k) => Bdk::Aes(k),
            None => Bdk::Tdes(&self.material),
        }
    }
}

fn decode(option: &str, text: &str) -> Result<Vec<u8>, CliError> {
    hex::decode("value", text).map_err(|e| CliError::invalid(option, e))
}

fn format(option: &str, name: &str) -> Result<PinBlockFormat, CliError> {
    PinBlockFormat::from_name(name).map_err(|e| CliError::invalid(option, e))
}

pub(crate) fn run(cmd: &Command) -> Result<Value, CliError> {
    match cmd {
        Command::Derive(a) => derive(a),
        Command::TranslatePin(a) => translate_pin(a),
        Command::Mac { action } => mac(action),
        Command::Encrypt(a) => crypt(a, true),
        Command::Decrypt(a) => crypt(a, false),
    }
}

fn derive(args: &DeriveArgs) -> Result<Value, CliError> {
    let keys = Keys::parse(&args.keys)?;
    let usage = args
        .usage
        .as_deref()
        .map(WorkingKeyUsage::from_name)
        .transpose()
        .map_err(|e| CliError::invalid("--usage", e))?;
    let d = dukpt::derive(keys.bdk(), &keys.ksn, usage, keys.key_type)?;
    let mut out = json!({
        "InitialKey": hex::encode(d.initial_key.expose_secret()),
        "TransactionKey": hex::encode(d.transaction_key.expose_secret()),
    });
    if let Some(w) = &d.working_key {
        out["WorkingKey"] = json!(hex::encode(w.expose_secret()));
    }
    Ok(out)
}

fn translate_pin(args: &TranslatePinArgs) -> Result<Value, CliError> {
    let keys = Keys::parse(&args.keys)?;
    let incoming = format("--incoming-format", &args.incoming_format)?;
    let outgoing = format("--outgoing-format", &args.outgoing_format)?;
    let block = EncryptedPinBlock::from_hex(&args.pin_block)
        .map_err(|e| CliError::invalid("--pin-block", e))?;
    let pan = args
        .pan
        .as_deref()
        .map(Pan::new)
        .transpose()
        .map_err(|e| CliError::invalid("--pan", e))?;
    let pek_material =
        KeyMaterial::from_hex("pek", &args.pek).map_err(|e| CliError::invalid("--pek", e))?;
    let cipher = if outgoing == PinBlockFormat::Iso4 {
        Algorithm::AES
    } else {
        Algorithm::TDES
    };
    let pek = KeyAlgorithm::from_block_cipher(cipher, pek_material.len())
        .and_then(|a| SoftwareKey::new(a, &pek_material))
        .map_err(|e| CliError::invalid("--pek", e))?;
    let out = dukpt::translate_pin(
        keys.bdk(),
        &keys.ksn,
        keys.key_type,
        incoming,
        &block,
        pan.as_ref(),
        &pek,
        outgoing,
        &mut OsRandom,
    )?;
    Ok(json!({
        "PinBlock": out.to_string(),
        "KeyCheckValue": kcv::default_kcv(&pek)?.to_string(),
    }))
}

fn mac(action: &MacAction) -> Result<Value, CliError> {
    let (args, presented) = match action {
        MacAction::Generate(a) => (a, None),
        MacAction::Verify(v) => (&v.mac, Some(&v.presented)),
    };
    let keys = Keys::parse(&args.keys)?;
    let algorithm = DukptMacAlgorithm::from_name(&args.algorithm)
        .map_err(|e| CliError::invalid("--algorithm", e))?;
    let message = decode("--message", &args.message)?;
    let variant = args.variant.core();
    match presented {
        None => {
            let tag = dukpt::generate_mac(
                keys.bdk(),
                &keys.ksn,
                variant,
                keys.key_type,
                algorithm,
                &message,
                args.mac_length,
            )?;
            Ok(json!({ "Mac": hex::encode(tag.as_bytes()) }))
        }
        Some(p) => {
            let mac = decode("--mac", p)?;
            common::verified(
                dukpt::verify_mac(
                    keys.bdk(),
                    &keys.ksn,
                    variant,
                    keys.key_type,
                    algorithm,
                    &message,
                    &mac,
                ),
                common::INVALID_MAC,
            )
        }
    }
}

fn crypt(args: &CryptArgs, encrypt: bool) -> Result<Value, CliError> {
    let keys = Keys::parse(&args.keys)?;
    let mode =
        DukptEncryptionMode::from_name(&args.mode).map_err(|e| CliError::invalid("--mode", e))?;
    let iv = args.iv.as_deref().map(|v| decode("--iv", v)).transpose()?;
    let mut data = decode("--data", &args.data)?;
    let f = if encrypt {
        dukpt::encrypt_data
    } else {
        dukpt::decrypt_data
    };
    f(
        keys.bdk(),
        &keys.ksn,
        args.variant.core(),
        keys.key_type,
        mode,
        iv.as_deref(),
        &mut data,
    )?;
    let field = if encrypt { "CipherText" } else { "PlainText" };
    Ok(json!({ field: hex::encode(&data) }))
}
