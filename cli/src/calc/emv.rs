//! `payhsm calc emv`: EMV issuer cryptography on a clear issuer master key.
//!
//! Either name the session key mode (`--mode`) and, if it is not the mode's default, the
//! padding, or name a cryptogram version preset (`--cvn`), which sets the master key option,
//! the mode and the padding. The transaction data is always the caller's: see the preset table
//! in `payhsm_core::emv::cvn` for the data elements each version MACs.
//!
//! `pin-change` builds an offline PIN change script (`GenerateMacEmvPinChange`): the new PIN
//! block re-enciphered for the card and the script MAC, by derivation method.

use clap::{Args as ClapArgs, Subcommand};
use payhsm_core::{
    Error,
    crypto::{SoftwareKey, SymmetricKey},
    emv::{
        self, Card, PanSequenceNumber, ac,
        cvn::{ArpcKey, CryptogramVersion},
        mkd::MasterKeyDerivation,
        pin_change::{
            self, CurrentPin, PinBlockLengthPosition, PinBlockPadding, PinChangeMethod,
            PinChangeRequest, VisaAmexAttributes,
        },
        session::{SessionKeyDerivation, SessionKeyMode},
        sm::{self, EmvEncryptionMode, SessionKeyDerivationValue},
    },
    fields::Pan,
    hex,
    key::{Algorithm, KeyAlgorithm},
    mac::Padding,
    pin::block::{EncryptedPinBlock, PinBlockFormat},
    secret::KeyMaterial,
};
use serde_json::{Value, json};

use super::common;
use crate::error::CliError;

/// The EMV commands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// ICC master key from the issuer master key (option A or B).
    IccMasterKey(CardArgs),
    /// Session key for a mode.
    SessionKey(SessionArgs),
    /// Generate or verify an ARQC.
    Arqc {
        #[command(subcommand)]
        action: ArqcAction,
    },
    /// ARPC method 1 or 2.
    Arpc(ArpcArgs),
    /// Issuer script MAC (EmvMac): MAC algorithm 3, padding method 2, under the SMI session key.
    ScriptMac(ScriptMacArgs),
    /// Offline PIN change script (GenerateMacEmvPinChange): the new PIN enciphered for the card
    /// under the SMC session key, and the MAC over message data ‖ that PIN data under the SMI
    /// session key.
    PinChange(PinChangeArgs),
}

/// The issuer master key and the card.
#[derive(ClapArgs)]
pub(crate) struct CardArgs {
    /// The issuer master key (IMK-AC, or IMK-SMI for script MACs), in hex: TDES.
    #[arg(long)]
    imk: String,
    /// The PAN.
    #[arg(long)]
    pan: String,
    /// The PAN sequence number: two digits (00 when the card has none).
    #[arg(long, default_value = "00")]
    psn: String,
    /// The master key derivation: A or B (default A, or the preset's).
    #[arg(long)]
    option: Option<String>,
}

/// The session key derivation.
#[derive(ClapArgs)]
pub(crate) struct SessionArgs {
    #[command(flatten)]
    card: CardArgs,
    /// EMV_COMMON_SESSION_KEY, EMV2000, MASTERCARD_SESSION_KEY, VISA, AMEX or UNION_PAY.
    #[arg(long)]
    mode: Option<String>,
    /// A cryptogram version preset instead of --mode: VISA_CVN10, VISA_CVN18, VISA_CVN22,
    /// MASTERCARD_CVN16, MASTERCARD_CVN17, MASTERCARD_CVN20 or MASTERCARD_CVN21.
    #[arg(long)]
    cvn: Option<String>,
    /// The application transaction counter (9F36), 4 hex digits; not used by VISA and AMEX.
    #[arg(long)]
    atc: Option<String>,
    /// The unpredictable number (9F37), 8 hex digits: MASTERCARD_SESSION_KEY only.
    #[arg(long)]
    unpredictable_number: Option<String>,
}

/// Generate or verify.
#[derive(Subcommand)]
pub(crate) enum ArqcAction {
    /// Generate an ARQC.
    Generate(ArqcArgs),
    /// Verify an ARQC: prints {"Verified": true} or fails with INVALID_AUTH_REQUEST_CRYPTOGRAM.
    Verify(ArqcVerifyArgs),
}

#[derive(ClapArgs)]
pub(crate) struct ArqcArgs {
    #[command(flatten)]
    session: SessionArgs,
    /// The transaction data, in hex, unpadded.
    #[arg(long)]
    transaction_data: String,
    /// ISO 9797-1 padding method: 1 (zeros) or 2 (80 00..). Default: 1 for VISA, 2 otherwise.
    #[arg(long)]
    padding: Option<u8>,
}

#[derive(ClapArgs)]
pub(crate) struct ArqcVerifyArgs {
    #[command(flatten)]
    arqc: ArqcArgs,
    /// The ARQC to verify, 16 hex digits.
    #[arg(long = "auth-request-cryptogram")]
    presented: String,
}

#[derive(ClapArgs)]
pub(crate) struct ArpcArgs {
    #[command(flatten)]
    session: SessionArgs,
    /// 1 or 2.
    #[arg(long)]
    method: u8,
    /// The ARQC being answered, 16 hex digits.
    #[arg(long = "auth-request-cryptogram")]
    arqc: String,
    /// Method 1: the authorisation response code, 4 hex digits.
    #[arg(long)]
    auth_response_code: Option<String>,
    /// Method 2: the card status update, 8 hex digits.
    #[arg(long)]
    card_status_update: Option<String>,
    /// Method 2: proprietary authentication data, up to 16 hex digits.
    #[arg(long)]
    proprietary_data: Option<String>,
    /// Compute under the ICC master key instead of the session key (default: the preset's
    /// choice, else the session key).
    #[arg(long)]
    master_key: bool,
}

#[derive(ClapArgs)]
pub(crate) struct ScriptMacArgs {
    #[command(flatten)]
    card: CardArgs,
    /// EMV_COMMON_SESSION_KEY, EMV2000, MASTERCARD_SESSION_KEY, VISA, AMEX or UNION_PAY.
    #[arg(long)]
    mode: String,
    /// Derive from the application cryptogram (16 hex digits)…
    #[arg(long)]
    application_cryptogram: Option<String>,
    /// …or from the ATC (4 hex digits).
    #[arg(long)]
    atc: Option<String>,
    /// The message: command header, ATC, cryptogram and command data as the scheme wants.
    #[arg(long)]
    message: String,
    /// MAC length in bytes, 4 to 8.
    #[arg(long)]
    mac_length: Option<usize>,
}

#[derive(ClapArgs)]
pub(crate) struct PinChangeArgs {
    /// The derivation method: EMV_COMMON, VISA, AMEX, EMV2000 or MASTERCARD.
    #[arg(long)]
    method: String,
    /// The issuer master key for secure-messaging integrity (IMK-SMI), in hex: TDES.
    #[arg(long)]
    smi_imk: String,
    /// The issuer master key for secure-messaging confidentiality (IMK-SMC), in hex: TDES.
    #[arg(long)]
    smc_imk: String,
    /// The PIN encryption key of the new PIN block, in hex: TDES.
    #[arg(long)]
    new_pin_pek: String,
    /// The new PIN block, 16 hex digits.
    #[arg(long)]
    new_pin_block: String,
    /// The format of the PIN blocks: ISO_FORMAT_0, ISO_FORMAT_1 or ISO_FORMAT_3.
    #[arg(long)]
    pin_block_format: String,
    /// The PAN.
    #[arg(long)]
    pan: String,
    /// The PAN sequence number: two digits (00 when the card has none).
    #[arg(long, default_value = "00")]
    psn: String,
    /// The master key derivation for every issuer master key: A or B (default A).
    #[arg(long)]
    option: Option<String>,
    /// The script command the PIN data is appended to, 16 to 1024 hex digits (for example
    /// header ‖ ATC ‖ application cryptogram, as the scheme wants).
    #[arg(long)]
    message_data: String,
    /// EMV_COMMON and MASTERCARD: the application cryptogram (9F26), 16 hex digits.
    #[arg(long)]
    application_cryptogram: Option<String>,
    /// VISA, AMEX and EMV2000: the application transaction counter (9F36), 4 hex digits.
    #[arg(long)]
    atc: Option<String>,
    /// VISA and AMEX: the issuer master key for cryptograms (IMK-AC), in hex: TDES.
    #[arg(long)]
    ac_imk: Option<String>,
    /// VISA and AMEX, optional: the PIN encryption key of the current PIN block, in hex.
    #[arg(long)]
    current_pin_pek: Option<String>,
    /// VISA and AMEX, optional: the current PIN block (same format and PAN), 16 hex digits.
    #[arg(long)]
    current_pin_block: Option<String>,
    /// EMV_COMMON: ECB or CBC.
    #[arg(long)]
    mode: Option<String>,
    /// EMV_COMMON: NO_PADDING or ISO_IEC_7816_4.
    #[arg(long)]
    padding: Option<String>,
    /// EMV_COMMON: NONE or FRONT_OF_PIN_BLOCK (this needs ISO_IEC_7816_4 padding).
    #[arg(long)]
    length_position: Option<String>,
    /// MAC length in bytes, 4 to 8 (default 8).
    #[arg(long)]
    mac_length: Option<usize>,
}

pub(crate) fn run(cmd: &Command) -> Result<Value, CliError> {
    match cmd {
        Command::IccMasterKey(a) => {
            let imk = imk(a)?;
            let mk = card(a, None)?.master_key(&imk)?;
            Ok(json!({ "IccMasterKey": hex::encode(mk.expose_secret()) }))
        }
        Command::SessionKey(a) => {
            let s = Session::parse(a)?;
            let sk = s.card.session_key(&s.imk, &s.derivation)?;
            Ok(json!({ "SessionKey": hex::encode(sk.expose_secret()) }))
        }
        Command::Arqc { action } => arqc(action),
        Command::Arpc(a) => arpc(a),
        Command::ScriptMac(a) => script_mac(a),
        Command::PinChange(a) => pin_change(a),
    }
}

fn decode<const N: usize>(option: &str, text: &str) -> Result<[u8; N], CliError> {
    let v = hex::decode("value", text).map_err(|e| CliError::invalid(option, e))?;
    let n = v.len();
    v.try_into().map_err(|_| {
        CliError::invalid(
            option,
            Error::InvalidLength {
                field: "value",
                expected: "the length this option takes",
                actual: n,
            },
        )
    })
}

fn imk(a: &CardArgs) -> Result<SoftwareKey, CliError> {
    tdes_key("--imk", &a.imk)
}

/// A clear TDES key (two or three keys) given with `option`.
fn tdes_key(option: &str, hex: &str) -> Result<SoftwareKey, CliError> {
    let m = KeyMaterial::from_hex("key", hex).map_err(|e| CliError::invalid(option, e))?;
    KeyAlgorithm::from_block_cipher(Algorithm::TDES, m.len())
        .and_then(|alg| SoftwareKey::new(alg, &m))
        .map_err(|e| CliError::invalid(option, e))
}

fn card(a: &CardArgs, preset: Option<MasterKeyDerivation>) -> Result<CardOwned, CliError> {
    card_from(&a.pan, &a.psn, a.option.as_ref(), preset)
}

fn card_from(
    pan: &str,
    psn: &str,
    option: Option<&String>,
    preset: Option<MasterKeyDerivation>,
) -> Result<CardOwned, CliError> {
    let pan = Pan::new(pan).map_err(|e| CliError::invalid("--pan", e))?;
    let psn = PanSequenceNumber::new(psn).map_err(|e| CliError::invalid("--psn", e))?;
    let option = match (option, preset) {
        (Some(o), _) => {
            MasterKeyDerivation::from_name(o).map_err(|e| CliError::invalid("--option", e))?
        }
        (None, Some(p)) => p,
        (None, None) => MasterKeyDerivation::OptionA,
    };
    Ok(CardOwned { pan, psn, option })
}

/// A parsed card (the core `Card` borrows its PAN).
struct CardOwned {
    pan: Pan,
    psn: PanSequenceNumber,
    option: MasterKeyDerivation,
}

impl CardOwned {
    fn card(&self) -> Card<'_> {
        Card {
            pan: &self.pan,
            psn: self.psn,
            option: self.option,
        }
    }

    fn master_key(
        &self,
        imk: &(impl SymmetricKey + ?Sized),
    ) -> Result<payhsm_core::derived::DerivedKey, Error> {
        self.card().master_key(imk)
    }

    fn session_key(
        &self,
        imk: &(impl SymmetricKey + ?Sized),
        d: &SessionKeyDerivation,
    ) -> Result<payhsm_core::derived::DerivedKey, Error> {
        self.card().session_key(imk, d)
    }
}

/// Everything a session key needs, parsed.
struct Session {
    imk: SoftwareKey,
    card: CardOwned,
    derivation: SessionKeyDerivation,
    cvn: Option<CryptogramVersion>,
}

impl Session {
    fn parse(a: &SessionArgs) -> Result<Self, CliError> {
        let cvn = a
            .cvn
            .as_deref()
            .map(CryptogramVersion::from_name)
            .transpose()
            .map_err(|e| CliError::invalid("--cvn", e))?;
        let mode = match (&a.mode, cvn) {
            (Some(_), Some(_)) => {
                return Err(CliError::usage(
                    "--mode and --cvn both given",
                    Some("A preset sets the mode; give one of them."),
                ));
            }
            (Some(m), None) => {
                SessionKeyMode::from_name(m).map_err(|e| CliError::invalid("--mode", e))?
            }
            (None, Some(c)) => c.session_key_mode(),
            (None, None) => {
                return Err(CliError::usage(
                    "no session key mode",
                    Some("Give --mode or --cvn."),
                ));
            }
        };
        let atc = a
            .atc
            .as_deref()
            .map(|t| decode::<2>("--atc", t))
            .transpose()?;
        let un = a
            .unpredictable_number
            .as_deref()
            .map(|t| decode::<4>("--unpredictable-number", t))
            .transpose()?;
        // Visa and Amex derive no session key; an ATC given for the data is not an error.
        let derivation_atc = match mode {
            SessionKeyMode::Visa | SessionKeyMode::Amex => None,
            _ => atc,
        };
        let derivation = SessionKeyDerivation::new(mode, derivation_atc, un)
            .map_err(|e| CliError::invalid("--atc/--unpredictable-number", e))?;
        Ok(Self {
            imk: imk(&a.card)?,
            card: card(&a.card, cvn.map(CryptogramVersion::master_key_derivation))?,
            derivation,
            cvn,
        })
    }

    fn padding(&self, given: Option<u8>) -> Result<Padding, CliError> {
        match (given, self.cvn) {
            (Some(n @ (1 | 2)), _) => {
                Padding::from_number(n).map_err(|e| CliError::invalid("--padding", e))
            }
            (Some(_), _) => Err(CliError::invalid("--padding", "expected 1 or 2")),
            (None, Some(c)) => Ok(c.padding()),
            (None, None) => Ok(emv::default_padding(self.derivation.mode())),
        }
    }
}

fn arqc(action: &ArqcAction) -> Result<Value, CliError> {
    let (args, presented) = match action {
        ArqcAction::Generate(a) => (a, None),
        ArqcAction::Verify(v) => (&v.arqc, Some(&v.presented)),
    };
    let s = Session::parse(&args.session)?;
    let padding = s.padding(args.padding)?;
    let data = hex::decode("transaction data", &args.transaction_data)
        .map_err(|e| CliError::invalid("--transaction-data", e))?;
    let card = s.card.card();
    match presented {
        None => {
            let t = emv::generate_arqc(&s.imk, &card, &s.derivation, &data, padding)?;
            Ok(json!({ "AuthRequestCryptogram": hex::encode(t.as_bytes()) }))
        }
        Some(p) => {
            let presented = decode::<8>("--auth-request-cryptogram", p)?;
            common::verified(
                emv::verify_arqc(&s.imk, &card, &s.derivation, &data, padding, &presented),
                "INVALID_AUTH_REQUEST_CRYPTOGRAM",
            )
        }
    }
}

fn arpc(a: &ArpcArgs) -> Result<Value, CliError> {
    let s = Session::parse(&a.session)?;
    let arqc = decode::<8>("--auth-request-cryptogram", &a.arqc)?;
    if let Some(c) = s.cvn
        && c.arpc_method() != a.method
    {
        return Err(CliError::invalid(
            "--method",
            format!("{} uses ARPC method {}", c.name(), c.arpc_method()),
        ));
    }
    let use_mk = a.master_key || s.cvn.is_some_and(|c| c.arpc_key() == ArpcKey::IccMasterKey);
    let key = if use_mk {
        s.card.master_key(&s.imk)?
    } else {
        s.card.session_key(&s.imk, &s.derivation)?
    }
    .handle()?;
    let tag = match a.method {
        1 => {
            let arc = a.auth_response_code.as_deref().ok_or_else(|| {
                CliError::usage("method 1 needs --auth-response-code", Some("Give the ARC."))
            })?;
            ac::arpc_method1(&key, &arqc, &decode::<2>("--auth-response-code", arc)?)?
        }
        2 => {
            let csu = a.card_status_update.as_deref().ok_or_else(|| {
                CliError::usage("method 2 needs --card-status-update", Some("Give the CSU."))
            })?;
            let csu = decode::<4>("--card-status-update", csu)?;
            let prop = a
                .proprietary_data
                .as_deref()
                .map(|p| hex::decode("value", p))
                .transpose()
                .map_err(|e| CliError::invalid("--proprietary-data", e))?
                .unwrap_or_default();
            ac::arpc_method2(&key, &arqc, &csu, &prop)
                .map_err(|e| CliError::invalid("--proprietary-data", e))?
        }
        _ => return Err(CliError::invalid("--method", "expected 1 or 2")),
    };
    Ok(json!({ "AuthResponseValue": hex::encode(tag.as_bytes()) }))
}

fn script_mac(a: &ScriptMacArgs) -> Result<Value, CliError> {
    let imk = imk(&a.card)?;
    let mk = card(&a.card, None)?.master_key(&imk)?;
    let mode = SessionKeyMode::from_name(&a.mode).map_err(|e| CliError::invalid("--mode", e))?;
    let value = match (&a.application_cryptogram, &a.atc) {
        (Some(ac), None) => SessionKeyDerivationValue::ApplicationCryptogram(decode::<8>(
            "--application-cryptogram",
            ac,
        )?),
        (None, Some(atc)) => {
            SessionKeyDerivationValue::ApplicationTransactionCounter(decode::<2>("--atc", atc)?)
        }
        _ => {
            return Err(CliError::usage(
                "give exactly one of --application-cryptogram and --atc",
                Some("The session key derivation value is one of them."),
            ));
        }
    };
    let sk = sm::secure_messaging_key(&mk, mode, value)?.handle()?;
    let message =
        hex::decode("message", &a.message).map_err(|e| CliError::invalid("--message", e))?;
    let mac = sm::script_mac(&sk, &message, a.mac_length)?;
    Ok(json!({ "Mac": hex::encode(mac.as_bytes()) }))
}

/// The PIN change derivation methods, by the names the command takes.
const PIN_CHANGE_METHODS: &str = "EMV_COMMON, VISA, AMEX, EMV2000 or MASTERCARD";

/// Refuses an option the method does not take, so a user learns that it is not used.
fn not_for(flag: &str, given: bool, method: &str) -> Result<(), CliError> {
    if given {
        Err(CliError::invalid(
            flag,
            format!("the {method} method does not take this option"),
        ))
    } else {
        Ok(())
    }
}

/// An option the method needs.
fn needed<'a>(flag: &str, value: Option<&'a String>, method: &str) -> Result<&'a str, CliError> {
    value
        .map(String::as_str)
        .ok_or_else(|| CliError::invalid(flag, format!("the {method} method needs this option")))
}

/// A key the method needs.
fn needed_key<'a>(
    flag: &str,
    key: Option<&'a SoftwareKey>,
    method: &str,
) -> Result<&'a SoftwareKey, CliError> {
    key.ok_or_else(|| CliError::invalid(flag, format!("the {method} method needs this option")))
}

/// The core error's field, as the option that carries it.
fn pin_change_error(e: Error) -> CliError {
    let flag = match &e {
        Error::InvalidLength { field, .. } | Error::InvalidValue { field, .. } => match *field {
            "message data" => Some("--message-data"),
            "MAC length" => Some("--mac-length"),
            "PIN block padding type" => Some("--padding"),
            "PIN block format" => Some("--pin-block-format"),
            _ => None,
        },
        _ => None,
    };
    match flag {
        Some(f) => CliError::invalid(f, e),
        None => e.into(),
    }
}

fn pin_change(a: &PinChangeArgs) -> Result<Value, CliError> {
    let method = a.method.as_str();
    if !["EMV_COMMON", "VISA", "AMEX", "EMV2000", "MASTERCARD"].contains(&method) {
        return Err(CliError::invalid(
            "--method",
            format!("expected {PIN_CHANGE_METHODS}"),
        ));
    }
    let format = PinBlockFormat::from_name(&a.pin_block_format)
        .map_err(|e| CliError::invalid("--pin-block-format", e))?;
    if !matches!(
        format,
        PinBlockFormat::Iso0 | PinBlockFormat::Iso1 | PinBlockFormat::Iso3
    ) {
        return Err(CliError::invalid(
            "--pin-block-format",
            "expected ISO_FORMAT_0, ISO_FORMAT_1 or ISO_FORMAT_3",
        ));
    }
    let visa_amex = matches!(method, "VISA" | "AMEX");
    let uses_ac = matches!(method, "EMV_COMMON" | "MASTERCARD");
    let common = method == "EMV_COMMON";
    not_for(
        "--application-cryptogram",
        !uses_ac && a.application_cryptogram.is_some(),
        method,
    )?;
    not_for("--atc", uses_ac && a.atc.is_some(), method)?;
    not_for("--ac-imk", !visa_amex && a.ac_imk.is_some(), method)?;
    not_for(
        "--current-pin-pek",
        !visa_amex && a.current_pin_pek.is_some(),
        method,
    )?;
    not_for("--mode", !common && a.mode.is_some(), method)?;
    not_for("--padding", !common && a.padding.is_some(), method)?;
    not_for(
        "--length-position",
        !common && a.length_position.is_some(),
        method,
    )?;

    match (&a.current_pin_pek, &a.current_pin_block) {
        (Some(_), None) => {
            return Err(CliError::invalid(
                "--current-pin-block",
                "--current-pin-pek needs the current PIN block too",
            ));
        }
        (None, Some(_)) => {
            return Err(CliError::invalid(
                "--current-pin-pek",
                "--current-pin-block needs the key it is encrypted under too",
            ));
        }
        _ => {}
    }
    let card = card_from(&a.pan, &a.psn, a.option.as_ref(), None)?;
    let smi = tdes_key("--smi-imk", &a.smi_imk)?;
    let smc = tdes_key("--smc-imk", &a.smc_imk)?;
    let pek = tdes_key("--new-pin-pek", &a.new_pin_pek)?;
    let new_block = pin_block_arg("--new-pin-block", &a.new_pin_block)?;
    let message = hex::decode("value", &a.message_data)
        .map_err(|e| CliError::invalid("--message-data", e))?;
    let ac_imk = a
        .ac_imk
        .as_deref()
        .map(|k| tdes_key("--ac-imk", k))
        .transpose()?;
    let current_pek = a
        .current_pin_pek
        .as_deref()
        .map(|k| tdes_key("--current-pin-pek", k))
        .transpose()?;
    let current_block = a
        .current_pin_block
        .as_deref()
        .map(|b| pin_block_arg("--current-pin-block", b))
        .transpose()?;
    let application_cryptogram = || {
        decode::<8>(
            "--application-cryptogram",
            needed(
                "--application-cryptogram",
                a.application_cryptogram.as_ref(),
                method,
            )?,
        )
    };
    let atc = || decode::<2>("--atc", needed("--atc", a.atc.as_ref(), method)?);
    let method = match method {
        "EMV_COMMON" => PinChangeMethod::EmvCommon {
            application_cryptogram: application_cryptogram()?,
            mode: EmvEncryptionMode::from_name(needed("--mode", a.mode.as_ref(), method)?)
                .map_err(|e| CliError::invalid("--mode", e))?,
            padding: PinBlockPadding::from_name(needed("--padding", a.padding.as_ref(), method)?)
                .map_err(|e| CliError::invalid("--padding", e))?,
            length_position: PinBlockLengthPosition::from_name(needed(
                "--length-position",
                a.length_position.as_ref(),
                method,
            )?)
            .map_err(|e| CliError::invalid("--length-position", e))?,
        },
        "MASTERCARD" => PinChangeMethod::Mastercard {
            application_cryptogram: application_cryptogram()?,
        },
        "EMV2000" => PinChangeMethod::Emv2000 { atc: atc()? },
        _ => {
            let attributes = VisaAmexAttributes {
                atc: atc()?,
                ac_imk: needed_key("--ac-imk", ac_imk.as_ref(), method)?,
                current_pin: current_pek
                    .as_ref()
                    .zip(current_block.as_ref())
                    .map(|(pek, pin_block)| CurrentPin { pek, pin_block }),
            };
            if method == "VISA" {
                PinChangeMethod::Visa(attributes)
            } else {
                PinChangeMethod::Amex(attributes)
            }
        }
    };
    let out = pin_change::generate_mac_emv_pin_change(&PinChangeRequest {
        new_pin_pek: &pek,
        new_pin_block: &new_block,
        pin_block_format: format,
        smi_imk: &smi,
        smc_imk: &smc,
        card: card.card(),
        message_data: &message,
        method,
        mac_len: a.mac_length,
    })
    .map_err(pin_change_error)?;
    Ok(json!({
        "Mac": hex::encode(out.mac.as_bytes()),
        "EncryptedPinBlock": out.encrypted_pin_block.to_string(),
    }))
}

/// A TDES PIN block: 16 hex digits.
fn pin_block_arg(flag: &str, text: &str) -> Result<EncryptedPinBlock, CliError> {
    let b = decode::<8>(flag, text)?;
    EncryptedPinBlock::new(&b).map_err(|e| CliError::invalid(flag, e))
}
