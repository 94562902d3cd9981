//! `payhsm calc emv`: EMV issuer cryptography on a clear issuer master key.
//!
//! Either name the session key mode (`--mode`) and, if it is not the mode's default, the
//! padding, or name a cryptogram version preset (`--cvn`), which sets the master key option,
//! the mode and the padding. The transaction data is always the caller's: see the preset table
//! in `payhsm_core::emv::cvn` for the data elements each version MACs.

use clap::{Args as ClapArgs, Subcommand};
use payhsm_core::{
    Error,
    crypto::{SoftwareKey, SymmetricKey},
    emv::{
        self, Card, PanSequenceNumber, ac,
        cvn::{ArpcKey, CryptogramVersion},
        mkd::MasterKeyDerivation,
        session::{SessionKeyDerivation, SessionKeyMode},
        sm::{self, SessionKeyDerivationValue},
    },
    fields::Pan,
    hex,
    key::{Algorithm, KeyAlgorithm},
    mac::Padding,
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
    let m = KeyMaterial::from_hex("imk", &a.imk).map_err(|e| CliError::invalid("--imk", e))?;
    KeyAlgorithm::from_block_cipher(Algorithm::TDES, m.len())
        .and_then(|alg| SoftwareKey::new(alg, &m))
        .map_err(|e| CliError::invalid("--imk", e))
}

fn card(a: &CardArgs, preset: Option<MasterKeyDerivation>) -> Result<CardOwned, CliError> {
    let pan = Pan::new(&a.pan).map_err(|e| CliError::invalid("--pan", e))?;
    let psn = PanSequenceNumber::new(&a.psn).map_err(|e| CliError::invalid("--psn", e))?;
    let option = match (&a.option, preset) {
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
                return Err(CliError::new(
                    "--mode and --cvn both given",
                    Some("A preset sets the mode; give one of them."),
                ));
            }
            (Some(m), None) => {
                SessionKeyMode::from_name(m).map_err(|e| CliError::invalid("--mode", e))?
            }
            (None, Some(c)) => c.session_key_mode(),
            (None, None) => {
                return Err(CliError::new(
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
                CliError::new("method 1 needs --auth-response-code", Some("Give the ARC."))
            })?;
            ac::arpc_method1(&key, &arqc, &decode::<2>("--auth-response-code", arc)?)?
        }
        2 => {
            let csu = a.card_status_update.as_deref().ok_or_else(|| {
                CliError::new("method 2 needs --card-status-update", Some("Give the CSU."))
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
            return Err(CliError::new(
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
