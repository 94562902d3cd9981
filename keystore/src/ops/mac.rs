//! `GenerateMac` and `VerifyMac`.
//!
//! ISO 9797-1 algorithms 1 and 3 use padding method 1 (zeros), the ANSI X9.9 / X9.19 choice.
//! `MacLength` is in bytes. The `Dukpt*` members MAC under the DUKPT MAC working key of the
//! BDK named by `KeyIdentifier` and the request's KSN. `EmvMac` is the EMV issuer script MAC
//! (ISO 9797-1 algorithm 3, padding method 2, 4 to 8 bytes) under the secure-messaging
//! integrity session key of the card, derived from the issuer master key `KeyIdentifier`
//! names (E2).

use payhsm_core::{
    dukpt::{self as core_dukpt, DukptMacAlgorithm, KeyVariant, Ksn},
    emv::{
        session::SessionKeyMode,
        sm::{self, SessionKeyDerivationValue},
    },
    key::KeyAlgorithm,
    mac::{self, MacAlgorithm, Padding},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    dukpt::{self, DukptMacAttributes},
    emv::{CardData, fixed},
    hex_field, lenient_int, verified,
};
use crate::{
    Error, VerificationFailedReason,
    error::core_error,
    hsm::{Audit, Hsm},
    model::KeyRecord,
    policy::{self, KeyRole, roles},
    store::Store,
};

/// `GenerateMac`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GenerateMacInput {
    /// The MAC key.
    pub key_identifier: String,
    /// The message, 2 to 8192 hex digits.
    pub message_data: String,
    /// The algorithm.
    pub generation_attributes: MacAttributes,
    /// 4 to 32 bytes; the algorithm's full output if absent.
    #[serde(default, deserialize_with = "lenient_int")]
    pub mac_length: Option<usize>,
}

/// `VerifyMac`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VerifyMacInput {
    /// The MAC key.
    pub key_identifier: String,
    /// The message, 2 to 8192 hex digits.
    pub message_data: String,
    /// The presented MAC, 8 to 128 hex digits.
    pub mac: String,
    /// The algorithm.
    pub verification_attributes: MacAttributes,
    /// The presented MAC's length in bytes (must agree with `Mac`).
    #[serde(default, deserialize_with = "lenient_int")]
    pub mac_length: Option<usize>,
}

/// `MacAttributes`: exactly one member.
#[derive(Debug, Deserialize)]
pub enum MacAttributes {
    /// A MAC algorithm by name.
    Algorithm(String),
    /// EMV issuer script MAC under an issuer master key for secure-messaging integrity.
    EmvMac(EmvMacAttributes),
    /// ISO 9797-1 algorithm 1 under a DUKPT MAC key of the BDK named by `KeyIdentifier`.
    DukptIso9797Algorithm1(DukptMacAttributes),
    /// ISO 9797-1 algorithm 3 under a DUKPT MAC key.
    DukptIso9797Algorithm3(DukptMacAttributes),
    /// CMAC under a DUKPT MAC key.
    DukptCmac(DukptMacAttributes),
}

/// `MacAlgorithmEmv`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EmvMacAttributes {
    /// `EMV_OPTION_A` or `EMV_OPTION_B`.
    pub major_key_derivation_mode: String,
    /// The PAN.
    pub primary_account_number: String,
    /// Two digits.
    pub pan_sequence_number: String,
    /// `EMV_COMMON_SESSION_KEY`, `EMV2000`, `AMEX`, `MASTERCARD_SESSION_KEY`, `VISA` or
    /// `UNION_PAY`.
    pub session_key_derivation_mode: String,
    /// What the session key derives from.
    pub session_key_derivation_value: SessionKeyDerivationValueInput,
}

/// `SessionKeyDerivationValue`: exactly one member.
#[derive(Debug, Deserialize)]
pub enum SessionKeyDerivationValueInput {
    /// The application cryptogram, 16 hex digits.
    ApplicationCryptogram(String),
    /// The application transaction counter, 4 hex digits.
    ApplicationTransactionCounter(String),
}

/// What a MAC request asks for.
enum Method<'a> {
    /// A MAC key's own algorithm.
    Key(MacAlgorithm),
    /// A DUKPT working key of a BDK.
    Dukpt(DukptMacAlgorithm, &'a DukptMacAttributes, &'static str),
    /// The EMV script MAC under a secure-messaging session key.
    Emv(EmvScript),
}

/// The parsed `EmvMac` member.
struct EmvScript {
    card: CardData,
    mode: SessionKeyMode,
    value: SessionKeyDerivationValue,
}

impl EmvScript {
    fn parse(base: &str, e: &EmvMacAttributes) -> Result<Self, Error> {
        let path = |f: &str| format!("{base}.EmvMac.{f}");
        let card = CardData::parse(
            &format!("{base}.EmvMac"),
            &e.primary_account_number,
            &e.pan_sequence_number,
            &e.major_key_derivation_mode,
        )?;
        let mode = SessionKeyMode::from_name(&e.session_key_derivation_mode)
            .map_err(|err| core_error(&path("SessionKeyDerivationMode"), err))?;
        let value_path = path("SessionKeyDerivationValue");
        let value = match &e.session_key_derivation_value {
            SessionKeyDerivationValueInput::ApplicationCryptogram(t) => {
                SessionKeyDerivationValue::ApplicationCryptogram(fixed::<8>(
                    &format!("{value_path}.ApplicationCryptogram"),
                    t,
                )?)
            }
            SessionKeyDerivationValueInput::ApplicationTransactionCounter(t) => {
                SessionKeyDerivationValue::ApplicationTransactionCounter(fixed::<2>(
                    &format!("{value_path}.ApplicationTransactionCounter"),
                    t,
                )?)
            }
        };
        Ok(Self { card, mode, value })
    }
}

impl MacAttributes {
    fn parse(&self, base: &str, generate: bool) -> Result<(Method<'_>, KeyRole), Error> {
        let name = match self {
            Self::Algorithm(name) => name,
            Self::EmvMac(e) => {
                let role = if generate {
                    roles::EMV_MAC_GENERATE
                } else {
                    roles::EMV_MAC_VERIFY
                };
                return Ok((Method::Emv(EmvScript::parse(base, e)?), role));
            }
            Self::DukptIso9797Algorithm1(d) => {
                return Ok((
                    Method::Dukpt(
                        DukptMacAlgorithm::Iso9797Algorithm1,
                        d,
                        "DukptIso9797Algorithm1",
                    ),
                    roles::DUKPT_BDK,
                ));
            }
            Self::DukptIso9797Algorithm3(d) => {
                return Ok((
                    Method::Dukpt(
                        DukptMacAlgorithm::Iso9797Algorithm3,
                        d,
                        "DukptIso9797Algorithm3",
                    ),
                    roles::DUKPT_BDK,
                ));
            }
            Self::DukptCmac(d) => {
                return Ok((
                    Method::Dukpt(DukptMacAlgorithm::Cmac, d, "DukptCmac"),
                    roles::DUKPT_BDK,
                ));
            }
        };
        let algorithm = MacAlgorithm::from_name(name)
            .map_err(|e| core_error(&format!("{base}.Algorithm"), e))?;
        use MacAlgorithm as M;
        let (g, v) = match algorithm {
            M::Iso9797Algorithm1 => (roles::MAC_ISO9797_1_GENERATE, roles::MAC_ISO9797_1_VERIFY),
            M::Iso9797Algorithm3 => (roles::MAC_ISO9797_3_GENERATE, roles::MAC_ISO9797_3_VERIFY),
            M::Cmac => (roles::MAC_CMAC_GENERATE, roles::MAC_CMAC_VERIFY),
            M::Hmac | M::HmacSha224 | M::HmacSha256 | M::HmacSha384 | M::HmacSha512 => {
                (roles::MAC_HMAC_GENERATE, roles::MAC_HMAC_VERIFY)
            }
            M::As2805_4_1 => (roles::MAC_AS2805_GENERATE, roles::MAC_AS2805_VERIFY),
        };
        Ok((Method::Key(algorithm), if generate { g } else { v }))
    }
}

/// The KSN, key variant and working-key algorithm of a DUKPT MAC request.
fn dukpt_parts(
    base: &str,
    member: &str,
    d: &DukptMacAttributes,
    bdk: KeyAlgorithm,
) -> Result<(Ksn, KeyVariant, Option<KeyAlgorithm>), Error> {
    let path = |f: &str| format!("{base}.{member}.{f}");
    Ok((
        dukpt::ksn(&path("KeySerialNumber"), &d.key_serial_number)?,
        dukpt::variant(&path("DukptKeyVariant"), Some(&d.dukpt_key_variant))?,
        dukpt::derivation_type(
            &path("DukptDerivationType"),
            d.dukpt_derivation_type.as_deref(),
            bdk,
        )?,
    ))
}

/// What `GenerateMac` returns.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateMacOutput {
    /// The ARN of the key used.
    pub key_arn: String,
    /// The key's check value.
    pub key_check_value: String,
    /// The MAC (hex).
    pub mac: String,
}

/// What `VerifyMac` returns (a mismatch is an error, not an output).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyMacOutput {
    /// The ARN of the key used.
    pub key_arn: String,
    /// The key's check value.
    pub key_check_value: String,
}

impl<S: Store> Hsm<S> {
    /// The script MAC of `message` under the secure-messaging integrity session key that
    /// `script` derives from the issuer master key `record` (all 8 bytes when `len` is
    /// `None`).
    fn emv_script_mac(
        &self,
        record: &KeyRecord,
        script: &EmvScript,
        message: &[u8],
        len: Option<usize>,
        base: &str,
    ) -> Result<payhsm_core::crypto::Tag, Error> {
        let imk = self.store().open(record)?;
        let session = script
            .card
            .card()
            .master_key(&*imk)
            .and_then(|mk| sm::secure_messaging_key(&mk, script.mode, script.value))
            .and_then(|k| k.handle())
            .map_err(|e| core_error(&format!("{base}.EmvMac"), e))?;
        sm::script_mac(&session, message, len).map_err(|e| core_error("MacLength", e))
    }

    /// `GenerateMac`.
    pub fn generate_mac(&self, input: GenerateMacInput) -> Result<GenerateMacOutput, Error> {
        let params = || json!({ "keyIdentifier": input.key_identifier });
        self.run("GenerateMac", Audit::FailuresOnly, params, || {
            let base = "GenerationAttributes";
            let (method, role) = input.generation_attributes.parse(base, true)?;
            let message = hex_field("MessageData", &input.message_data, 2, 8192)?;
            if let Some(n) = input.mac_length
                && !(4..=32).contains(&n)
            {
                return Err(Error::validation("MacLength", "expected 4 to 32 bytes"));
            }
            let record = self.load_in_use(&input.key_identifier, "KeyIdentifier")?;
            policy::check_key(&role, &record)?;
            let tag = match method {
                Method::Key(algorithm) => {
                    let key = self.store().open(&record)?;
                    mac::generate(
                        &*key,
                        algorithm,
                        &message,
                        Padding::Method1,
                        input.mac_length,
                    )
                }
                Method::Dukpt(algorithm, d, member) => {
                    let (ksn, variant, dt) =
                        dukpt_parts(base, member, d, record.attributes.key_algorithm)?;
                    let bdk = self.bdk(&record)?;
                    core_dukpt::generate_mac(
                        bdk.bdk(),
                        &ksn,
                        variant,
                        dt,
                        algorithm,
                        &message,
                        input.mac_length,
                    )
                }
                Method::Emv(script) => {
                    Ok(self.emv_script_mac(&record, &script, &message, input.mac_length, base)?)
                }
            }
            .map_err(|e| core_error("MacLength", e))?;
            Ok((
                GenerateMacOutput {
                    key_arn: self.arn_text(&record)?,
                    key_check_value: record.key_check_value.clone(),
                    mac: payhsm_core::hex::encode(tag.as_bytes()),
                },
                Vec::new(),
            ))
        })
    }

    /// `VerifyMac`: the one `INVALID_MAC` on any mismatch.
    pub fn verify_mac(&self, input: VerifyMacInput) -> Result<VerifyMacOutput, Error> {
        let params = || json!({ "keyIdentifier": input.key_identifier });
        self.run("VerifyMac", Audit::FailuresOnly, params, || {
            let base = "VerificationAttributes";
            let (method, role) = input.verification_attributes.parse(base, false)?;
            let message = hex_field("MessageData", &input.message_data, 2, 8192)?;
            let presented = hex_field("Mac", &input.mac, 8, 128)?;
            if let Some(n) = input.mac_length
                && n != presented.len()
            {
                return Err(Error::validation(
                    "MacLength",
                    "does not match the length of Mac",
                ));
            }
            let record = self.load_in_use(&input.key_identifier, "KeyIdentifier")?;
            policy::check_key(&role, &record)?;
            let result = match method {
                Method::Key(algorithm) => {
                    let key = self.store().open(&record)?;
                    mac::verify(&*key, algorithm, &message, Padding::Method1, &presented)
                }
                Method::Dukpt(algorithm, d, member) => {
                    let (ksn, variant, dt) =
                        dukpt_parts(base, member, d, record.attributes.key_algorithm)?;
                    let bdk = self.bdk(&record)?;
                    core_dukpt::verify_mac(
                        bdk.bdk(),
                        &ksn,
                        variant,
                        dt,
                        algorithm,
                        &message,
                        &presented,
                    )
                }
                Method::Emv(script) => {
                    if !(4..=8).contains(&presented.len()) {
                        return Err(Error::validation("Mac", "an EMV MAC is 4 to 8 bytes"));
                    }
                    self.emv_script_mac(&record, &script, &message, None, base)?
                        .verify_truncated(&presented)
                }
            };
            verified(result, VerificationFailedReason::InvalidMac, "Mac")?;
            Ok((
                VerifyMacOutput {
                    key_arn: self.arn_text(&record)?,
                    key_check_value: record.key_check_value.clone(),
                },
                Vec::new(),
            ))
        })
    }
}
