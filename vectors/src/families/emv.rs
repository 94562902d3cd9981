//! EMV issuer cryptography: ICC master keys (options A and B), session keys, ARQC, ARPC
//! methods 1 and 2 (pyemv HSM-checked and jPOS vectors), and cross-checked entries for the
//! session key modes, cryptogram-version presets, issuer script MACs and PIN change scripts.

use payhsm_core::{
    crypto::{SoftwareKey, SymmetricKey, Tag},
    derived::DerivedKey,
    emv::{
        self, Card, PanSequenceNumber, ac,
        cvn::{ArpcKey, CryptogramVersion},
        mkd::MasterKeyDerivation,
        pin_change::{
            self, CurrentPin, PinBlockLengthPosition, PinBlockPadding, PinChangeMethod,
            PinChangeRequest, VisaAmexAttributes,
        },
        session::{self, SessionKeyDerivation, SessionKeyMode},
        sm::{self, EmvEncryptionMode, SessionKeyDerivationValue},
    },
    fields::Pan,
    hex,
    kcv::{self, KcvMethod},
    key::KeyAlgorithm,
    mac::Padding,
    pin::{
        Pin,
        block::{self, EncryptedPinBlock, PinBlockFormat},
    },
};

use crate::{Case, Failure};

pub(crate) fn check(case: &Case) -> Result<(), Failure> {
    if case.has_input("pin_change_method") {
        pin_change(case)
    } else if case.has_input("session_key_mode") || case.has_input("cvn") {
        cross_check(case)
    } else if case.has_input("issuer_master_key") {
        published(case)
    } else {
        arpc_only(case)
    }
}

fn tdes(key: &[u8]) -> Result<SoftwareKey, Failure> {
    let m = payhsm_core::secret::KeyMaterial::from_slice("vector key", key)?;
    Ok(SoftwareKey::new(KeyAlgorithm::Tdes2Key, &m)?)
}

fn imk(case: &Case) -> Result<SoftwareKey, Failure> {
    tdes(case.input_key("issuer_master_key")?.expose_secret())
}

fn array<const N: usize>(case: &Case, name: &str) -> Result<[u8; N], Failure> {
    case.input_hex(name)?
        .try_into()
        .map_err(|_| Failure::Error(format!("inputs.{name} is not {N} bytes")))
}

fn option(text: &str) -> Result<MasterKeyDerivation, Failure> {
    Ok(match text {
        "Option A" => MasterKeyDerivation::OptionA,
        "Option B" => MasterKeyDerivation::OptionB,
        other => MasterKeyDerivation::from_name(other)?,
    })
}

fn padding(text: &str) -> Result<Padding, Failure> {
    Ok(match text {
        "00" | "1" => Padding::Method1,
        "80" | "2" | "ISO 9797-1 method 2 (80 00..)" => Padding::Method2,
        other => return Err(Failure::Error(format!("unknown padding {other}"))),
    })
}

fn kcv2(key: &(impl SymmetricKey + ?Sized)) -> Result<String, Failure> {
    Ok(kcv::compute(key, KcvMethod::AnsiX924, 2)?.to_string())
}

fn keyhex(k: &DerivedKey) -> String {
    hex::encode(k.expose_secret())
}

/// The ARPC by `arpc_method` (1 with `arc`, 2 with `csu` and optional proprietary data).
fn arpc(case: &Case, key: &(impl SymmetricKey + ?Sized), arqc: &[u8]) -> Result<Tag, Failure> {
    match case.input_u64("arpc_method")? {
        1 => Ok(ac::arpc_method1(key, arqc, &auth_response_code(case)?)?),
        2 => {
            let prop = match case.input_opt("proprietary_authentication_data")? {
                Some(p) => hex::decode("proprietary data", p)?,
                None => Vec::new(),
            };
            Ok(ac::arpc_method2(key, arqc, &case.input_hex("csu")?, &prop)?)
        }
        n => Err(Failure::Error(format!("unknown ARPC method {n}"))),
    }
}

/// The ARC: hex in `arc`, or ASCII in `arc_ascii` (PBOC prints the response code `01`).
fn auth_response_code(case: &Case) -> Result<Vec<u8>, Failure> {
    match case.input_opt("arc_ascii")? {
        Some(a) => Ok(a.as_bytes().to_vec()),
        None => case.input_hex("arc"),
    }
}

/// pyemv HSM and jPOS entries: MK from IMK, session key from a given R, ARQC, ARPC.
fn published(case: &Case) -> Result<(), Failure> {
    let imk = imk(case)?;
    if let Some(kcv) = case.input_opt("issuer_master_key_kcv")?
        && !kcv.eq_ignore_ascii_case(&kcv2(&imk)?)
    {
        return Err(Failure::Error("the IMK's KCV does not match".into()));
    }
    let pan = Pan::new(case.input("pan")?)?;
    let card = Card {
        pan: &pan,
        psn: PanSequenceNumber::new(case.input("psn")?)?,
        option: option(case.input("mk_derivation")?)?,
    };
    let mk = card.master_key(&imk)?;
    case.check("icc_master_key", &keyhex(&mk))?;
    case.check_opt("icc_master_key_kcv_2", &kcv2(&mk.handle()?)?)?;
    if let Some(s) = case.input_opt("session_key_derivation")?
        && !s.starts_with("EMV common session key")
    {
        return Err(Failure::Error(format!(
            "unknown session key derivation {s}"
        )));
    }
    let sk = session::common_session_key(&mk.handle()?, &array(case, "r")?)?;
    case.check("session_key", &keyhex(&sk))?;
    let sk = sk.handle()?;
    case.check_opt("session_key_kcv_2", &kcv2(&sk)?)?;
    let data = case.input_hex("ac_data")?;
    let pad = padding(case.input("ac_padding")?)?;
    let arqc = ac::generate_ac(&sk, &data, pad)?;
    case.check("arqc", &hex::encode(arqc.as_bytes()))?;
    ac::verify_ac(&sk, &data, pad, arqc.as_bytes())?;
    if case.has_expected("arpc") {
        let key = match case.input("arpc_key")? {
            "ICC master key" => mk.handle()?,
            "AC session key" => sk,
            other => return Err(Failure::Error(format!("unknown ARPC key {other}"))),
        };
        let r = arpc(case, &key, arqc.as_bytes())?;
        case.check("arpc", &hex::encode(r.as_bytes()))?;
    }
    Ok(())
}

/// jPOS ARPC entries: the ARPC from a given ARQC under a given MK or session key.
fn arpc_only(case: &Case) -> Result<(), Failure> {
    let mk = tdes(&case.input_hex("icc_master_key")?)?;
    let sk = tdes(&case.input_hex("session_key")?)?;
    let key = match case.input("arpc_key")? {
        "ICC master key" => mk,
        "AC session key" => sk,
        other => return Err(Failure::Error(format!("unknown ARPC key {other}"))),
    };
    let r = arpc(case, &key, &case.input_hex("arqc")?)?;
    case.check("arpc", &hex::encode(r.as_bytes()))
}

/// Cross-checked entries (pyemv 1.5.0 and the PBOC example): a session key mode or a CVN
/// preset end to end, and optionally an issuer script MAC.
fn cross_check(case: &Case) -> Result<(), Failure> {
    // Session-key-only entries start from the ICC master key.
    if case.has_input("icc_master_key") {
        let mk = DerivedKey::new(KeyAlgorithm::Tdes2Key, case.input_key("icc_master_key")?)?;
        let atc = array(case, "atc")?;
        let sk = match case.input("session_key_mode")? {
            "VISA_SECURE_MESSAGING" => session::visa_secure_messaging_key(&mk, atc)?,
            mode => {
                let d =
                    SessionKeyDerivation::new(SessionKeyMode::from_name(mode)?, Some(atc), None)?;
                session::session_key(&mk, &d)?
            }
        };
        return case.check("session_key", &keyhex(&sk));
    }
    let imk = imk(case)?;
    let cvn = case
        .input_opt("cvn")?
        .map(CryptogramVersion::from_name)
        .transpose()?;
    let (mode, opt, pad) = match cvn {
        Some(c) => (c.session_key_mode(), c.master_key_derivation(), c.padding()),
        None => {
            let mode = SessionKeyMode::from_name(case.input("session_key_mode")?)?;
            (
                mode,
                option(case.input("mk_derivation")?)?,
                padding(case.input("padding")?)?,
            )
        }
    };
    let pan = Pan::new(case.input("pan")?)?;
    let card = Card {
        pan: &pan,
        psn: PanSequenceNumber::new(case.input("psn")?)?,
        option: opt,
    };
    let atc = case
        .input_opt("atc")?
        .map(|a| hex::decode("atc", a))
        .transpose()?
        .map(|a| <[u8; 2]>::try_from(a.as_slice()))
        .transpose()
        .map_err(|_| Failure::Error("inputs.atc is not 2 bytes".into()))?;
    let un = match case.input_opt("unpredictable_number")? {
        Some(u) => Some(
            <[u8; 4]>::try_from(hex::decode("un", u)?.as_slice())
                .map_err(|_| Failure::Error("inputs.unpredictable_number is not 4 bytes".into()))?,
        ),
        None => None,
    };
    // Visa and Amex take no ATC for the session key; the ATC is still part of the data.
    let derivation_atc = if matches!(mode, SessionKeyMode::Visa | SessionKeyMode::Amex) {
        None
    } else {
        atc
    };
    let derivation = SessionKeyDerivation::new(mode, derivation_atc, un)?;
    let data = case.input_hex("transaction_data")?;
    let arqc = emv::generate_arqc(&imk, &card, &derivation, &data, pad)?;
    case.check("arqc", &hex::encode(arqc.as_bytes()))?;
    emv::verify_arqc(&imk, &card, &derivation, &data, pad, arqc.as_bytes())?;
    let mk = card.master_key(&imk)?;
    let sk = session::session_key(&mk, &derivation)?;
    case.check_opt("session_key", &keyhex(&sk))?;
    if case.has_expected("arpc") {
        let use_mk = match cvn {
            Some(c) => c.arpc_key() == ArpcKey::IccMasterKey,
            None => case.input("arpc_key")? == "ICC master key",
        };
        let key = if use_mk { mk.handle()? } else { sk.handle()? };
        if let Some(c) = cvn
            && u64::from(c.arpc_method()) != case.input_u64("arpc_method")?
        {
            return Err(Failure::Error("the preset's ARPC method differs".into()));
        }
        let r = arpc(case, &key, arqc.as_bytes())?;
        case.check("arpc", &hex::encode(r.as_bytes()))?;
    }
    if case.has_expected("script_mac") {
        let smi = Card {
            pan: &pan,
            psn: card.psn,
            option: opt,
        }
        .master_key(&tdes(
            case.input_key("issuer_master_key_smi")?.expose_secret(),
        )?)?;
        let value = match case.input("script_derivation_value")? {
            "ATC" => SessionKeyDerivationValue::ApplicationTransactionCounter(
                atc.ok_or_else(|| Failure::Error("inputs.atc is missing".into()))?,
            ),
            "AC" => SessionKeyDerivationValue::ApplicationCryptogram(
                <[u8; 8]>::try_from(arqc.as_bytes())
                    .map_err(|_| Failure::Error("the ARQC is not 8 bytes".into()))?,
            ),
            other => return Err(Failure::Error(format!("unknown script value {other}"))),
        };
        let script_mode = SessionKeyMode::from_name(case.input("script_session_key_mode")?)?;
        let sk = sm::secure_messaging_key(&smi, script_mode, value)?.handle()?;
        let mut message = case.input_hex("script_command_header")?;
        message.extend_from_slice(&atc.unwrap_or_default());
        message.extend_from_slice(arqc.as_bytes());
        let mac = sm::script_mac(&sk, &message, None)?;
        case.check("script_mac", &hex::encode(mac.as_bytes()))?;
    }
    Ok(())
}

/// An encrypted PIN block input and its format; the entry's clear PIN (`pin_field`) must be
/// what the block holds.
fn pin_block_input(
    case: &Case,
    pek: &SoftwareKey,
    block_field: &str,
    pin_field: &str,
    format: PinBlockFormat,
    pan: &Pan,
) -> Result<EncryptedPinBlock, Failure> {
    let blk = EncryptedPinBlock::new(&case.input_hex(block_field)?)?;
    let pin = block::decrypt(pek, format, &blk, Some(pan))?;
    if pin.expose_secret() != Pin::new(case.input(pin_field)?)?.expose_secret() {
        return Err(Failure::Error(format!(
            "inputs.{block_field} does not hold inputs.{pin_field}"
        )));
    }
    Ok(blk)
}

/// PIN change scripts (`GenerateMacEmvPinChange`), cross-checked with pyemv.
fn pin_change(case: &Case) -> Result<(), Failure> {
    let pan = Pan::new(case.input("pan")?)?;
    let card = Card {
        pan: &pan,
        psn: PanSequenceNumber::new(case.input("psn")?)?,
        option: option(case.input("mk_derivation")?)?,
    };
    let format = PinBlockFormat::from_name(case.input("pin_block_format")?)?;
    let smi = imk_named(case, "issuer_master_key_smi")?;
    let smc = imk_named(case, "issuer_master_key_smc")?;
    let pek = tdes(case.input_key("new_pin_pek")?.expose_secret())?;
    let new_block = pin_block_input(case, &pek, "new_pin_block", "new_pin", format, &pan)?;
    let method_name = case.input("pin_change_method")?;
    let (ac_imk, current_pek) = match method_name {
        "VISA" | "AMEX" => (
            Some(imk_named(case, "issuer_master_key_ac")?),
            case.input_opt("current_pin_pek")?
                .map(|k| tdes(&hex::decode("current_pin_pek", k)?))
                .transpose()?,
        ),
        _ => (None, None),
    };
    let current_block = current_pek
        .as_ref()
        .map(|k| pin_block_input(case, k, "current_pin_block", "current_pin", format, &pan))
        .transpose()?;
    let method = match method_name {
        "EMV_COMMON" => PinChangeMethod::EmvCommon {
            application_cryptogram: array(case, "application_cryptogram")?,
            mode: EmvEncryptionMode::from_name(case.input("mode")?)?,
            padding: PinBlockPadding::from_name(case.input("pin_block_padding")?)?,
            length_position: PinBlockLengthPosition::from_name(
                case.input("pin_block_length_position")?,
            )?,
        },
        "MASTERCARD" => PinChangeMethod::Mastercard {
            application_cryptogram: array(case, "application_cryptogram")?,
        },
        "EMV2000" => PinChangeMethod::Emv2000 {
            atc: array(case, "atc")?,
        },
        "VISA" | "AMEX" => {
            let attributes = VisaAmexAttributes {
                atc: array(case, "atc")?,
                ac_imk: ac_imk
                    .as_ref()
                    .ok_or_else(|| Failure::Error("no IMK-AC".into()))?,
                current_pin: current_pek
                    .as_ref()
                    .zip(current_block.as_ref())
                    .map(|(pek, pin_block)| CurrentPin { pek, pin_block }),
            };
            if method_name == "VISA" {
                PinChangeMethod::Visa(attributes)
            } else {
                PinChangeMethod::Amex(attributes)
            }
        }
        other => return Err(Failure::Error(format!("unknown PIN change method {other}"))),
    };
    let mac_len = if case.has_input("mac_length") {
        Some(
            usize::try_from(case.input_u64("mac_length")?)
                .map_err(|_| Failure::Error("inputs.mac_length is too large".into()))?,
        )
    } else {
        None
    };
    let message = case.input_hex("message_data")?;
    let out = pin_change::generate_mac_emv_pin_change(&PinChangeRequest {
        new_pin_pek: &pek,
        new_pin_block: &new_block,
        pin_block_format: format,
        smi_imk: &smi,
        smc_imk: &smc,
        card,
        message_data: &message,
        method,
        mac_len,
    })?;
    case.check("encrypted_pin_block", &out.encrypted_pin_block.to_string())?;
    case.check("mac", &hex::encode(out.mac.as_bytes()))
}

fn imk_named(case: &Case, name: &str) -> Result<SoftwareKey, Failure> {
    tdes(case.input_key(name)?.expose_secret())
}
