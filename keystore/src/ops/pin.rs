//! `GeneratePinData`, `VerifyPinData` and `TranslatePinData`.
//!
//! No operation returns a clear PIN (T-PIN-6). A PIN block that does not decrypt to a valid
//! block fails verification with the same `INVALID_PIN` as a wrong PIN (T-PIN-3).

use payhsm_core::{
    fields::{Pan, SecretDigits},
    pin::{
        Pin,
        block::{self, EncryptedPinBlock, Fill, PinBlockFormat},
        decimalization::{DecimalizationPolicy, DecimalizationTable},
        ibm3624::{self, Ibm3624Params},
        pvv::{self, Pvki},
        translate::{self, TranslationContext},
    },
    rng::OsRandom,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    Empty,
    dukpt::{self, DukptPinAttributes},
    lenient_int, pan, verified,
    wrapped_key::{OperationKey, WrappedKey},
};
use crate::{
    Error, VerificationFailedReason,
    error::core_error,
    hsm::{Audit, Hsm},
    model::KeyRecord,
    policy::{self, roles},
    store::Store,
    wire::SecretText,
};

/// `GeneratePinData`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GeneratePinDataInput {
    /// The PVK (V2) or IBM 3624 key (V1).
    pub generation_key_identifier: String,
    /// The PIN encryption key (P0).
    pub encryption_key_identifier: String,
    /// What to generate.
    pub generation_attributes: PinGenerationAttributes,
    /// `ISO_FORMAT_0`, `ISO_FORMAT_1`, `ISO_FORMAT_3` or `ISO_FORMAT_4`.
    pub pin_block_format: String,
    /// 4 to 12, default 4.
    #[serde(default, deserialize_with = "lenient_int")]
    pub pin_data_length: Option<usize>,
    /// The PAN (formats 0, 3, 4 and the Visa PVV need it).
    pub primary_account_number: Option<String>,
    /// The PIN encryption key in a TR-31 block under `EncryptionKeyIdentifier`'s KEK, or
    /// derived by ECDH with its ECC key pair (PIN set and reveal).
    pub encryption_wrapped_key: Option<WrappedKey>,
}

/// `PinGenerationAttributes`: exactly one member.
#[derive(Debug, Deserialize)]
pub enum PinGenerationAttributes {
    /// A random PIN and its Visa PVV.
    VisaPin(VisaPinIndex),
    /// The Visa PVV of a customer-selected PIN.
    VisaPinVerificationValue(VisaPinOfBlock),
    /// The IBM 3624 offset of a customer-selected PIN.
    Ibm3624PinOffset(Ibm3624OfBlock),
    /// The IBM 3624 natural PIN.
    Ibm3624NaturalPin(Ibm3624Attributes),
    /// A random PIN and its IBM 3624 offset.
    Ibm3624RandomPin(Ibm3624Attributes),
    /// The PIN an IBM 3624 offset gives.
    Ibm3624PinFromOffset(Ibm3624WithOffset),
}

/// `VisaPin`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VisaPinIndex {
    /// The PVKI, 0 to 6.
    #[serde(default, deserialize_with = "lenient_int")]
    pub pin_verification_key_index: Option<u8>,
}

/// `VisaPinVerificationValue`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VisaPinOfBlock {
    /// The customer-selected PIN under the encryption key.
    pub encrypted_pin_block: String,
    /// The PVKI, 0 to 6.
    #[serde(default, deserialize_with = "lenient_int")]
    pub pin_verification_key_index: Option<u8>,
}

/// The IBM 3624 inputs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Ibm3624Attributes {
    /// 16 decimal digits.
    pub decimalization_table: String,
    /// One hex digit.
    pub pin_validation_data_pad_character: String,
    /// 4 to 16 digits.
    pub pin_validation_data: String,
}

/// `Ibm3624PinOffset`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Ibm3624OfBlock {
    /// The customer-selected PIN under the encryption key.
    pub encrypted_pin_block: String,
    /// 16 decimal digits.
    pub decimalization_table: String,
    /// One hex digit.
    pub pin_validation_data_pad_character: String,
    /// 4 to 16 digits.
    pub pin_validation_data: String,
}

/// `Ibm3624PinFromOffset` and `Ibm3624PinVerification`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Ibm3624WithOffset {
    /// 16 decimal digits.
    pub decimalization_table: String,
    /// One hex digit.
    pub pin_validation_data_pad_character: String,
    /// 4 to 16 digits.
    pub pin_validation_data: String,
    /// 4 to 12 digits.
    pub pin_offset: String,
}

/// `VerifyPinData`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VerifyPinDataInput {
    /// The PVK (V2) or IBM 3624 key (V1).
    pub verification_key_identifier: String,
    /// The PIN encryption key (P0).
    pub encryption_key_identifier: String,
    /// How to verify.
    pub verification_attributes: PinVerificationAttributes,
    /// The PIN block.
    pub encrypted_pin_block: String,
    /// The block's format.
    pub pin_block_format: String,
    /// The PAN.
    pub primary_account_number: Option<String>,
    /// The PIN length (4 to 12).
    #[serde(default, deserialize_with = "lenient_int")]
    pub pin_data_length: Option<usize>,
    /// The PIN block is under a DUKPT PIN key of the BDK named by `EncryptionKeyIdentifier`.
    pub dukpt_attributes: Option<DukptPinAttributes>,
    /// The PIN encryption key in a TR-31 block under `EncryptionKeyIdentifier`'s KEK, or
    /// derived by ECDH with its ECC key pair (PIN set and reveal).
    pub encryption_wrapped_key: Option<WrappedKey>,
}

/// `PinVerificationAttributes`: exactly one member.
#[derive(Debug, Deserialize)]
pub enum PinVerificationAttributes {
    /// Visa PVV.
    VisaPin(VisaPinVerification),
    /// IBM 3624 offset.
    Ibm3624Pin(Ibm3624WithOffset),
}

/// `VisaPinVerification`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VisaPinVerification {
    /// The PVKI, 0 to 6.
    #[serde(default, deserialize_with = "lenient_int")]
    pub pin_verification_key_index: Option<u8>,
    /// The PVV on file.
    pub verification_value: String,
}

/// `TranslatePinData`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TranslatePinDataInput {
    /// The key the block arrives under.
    pub incoming_key_identifier: String,
    /// The key the block leaves under.
    pub outgoing_key_identifier: String,
    /// The incoming format.
    pub incoming_translation_attributes: TranslationIsoFormats,
    /// The outgoing format.
    pub outgoing_translation_attributes: TranslationIsoFormats,
    /// The PIN block (16 or 32 hex digits).
    pub encrypted_pin_block: String,
    /// The incoming block is under a DUKPT PIN key of the BDK named by
    /// `IncomingKeyIdentifier`.
    pub incoming_dukpt_attributes: Option<DukptPinAttributes>,
    /// DUKPT outgoing (not offered: a host does not encrypt under a device's key).
    pub outgoing_dukpt_attributes: Option<Value>,
    /// The incoming PIN key as a `WrappedKey` under, or derived with, `IncomingKeyIdentifier`.
    pub incoming_wrapped_key: Option<WrappedKey>,
    /// The outgoing PIN key as a `WrappedKey` under, or derived with, `OutgoingKeyIdentifier`.
    pub outgoing_wrapped_key: Option<WrappedKey>,
    /// AS2805 incoming (not offered).
    pub incoming_as2805_attributes: Option<Value>,
}

/// `TranslationIsoFormats`: exactly one member.
#[derive(Debug, Deserialize)]
pub enum TranslationIsoFormats {
    /// ISO format 0.
    IsoFormat0(PanOnly),
    /// ISO format 1.
    IsoFormat1(Empty),
    /// ISO format 3.
    IsoFormat3(PanOnly),
    /// ISO format 4.
    IsoFormat4(PanOnly),
    /// AS2805 format 0 (not offered).
    As2805Format0(PanOnly),
}

/// `PrimaryAccountNumber` alone.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PanOnly {
    /// The PAN.
    pub primary_account_number: String,
}

impl TranslationIsoFormats {
    fn parse(&self, path: &str) -> Result<(PinBlockFormat, Option<Pan>), Error> {
        let with_pan = |format, p: &PanOnly, member: &str| {
            pan(
                &format!("{path}.{member}.PrimaryAccountNumber"),
                &p.primary_account_number,
            )
            .map(|pan| (format, Some(pan)))
        };
        match self {
            Self::IsoFormat0(p) => with_pan(PinBlockFormat::Iso0, p, "IsoFormat0"),
            Self::IsoFormat1(_) => Ok((PinBlockFormat::Iso1, None)),
            Self::IsoFormat3(p) => with_pan(PinBlockFormat::Iso3, p, "IsoFormat3"),
            Self::IsoFormat4(p) => with_pan(PinBlockFormat::Iso4, p, "IsoFormat4"),
            Self::As2805Format0(_) => Err(Error::validation(
                &format!("{path}.As2805Format0"),
                "AS2805 PIN blocks are not offered by this HSM",
            )),
        }
    }
}

pub(super) fn pin_block_format(text: &str) -> Result<PinBlockFormat, Error> {
    match PinBlockFormat::from_name(text) {
        Ok(f) if f != PinBlockFormat::Iso2 => Ok(f),
        _ => Err(Error::validation(
            "PinBlockFormat",
            "expected ISO_FORMAT_0, ISO_FORMAT_1, ISO_FORMAT_3 or ISO_FORMAT_4",
        )),
    }
}

pub(super) fn encrypted_pin_block(path: &str, text: &str) -> Result<EncryptedPinBlock, Error> {
    if !matches!(text.len(), 16 | 32) {
        return Err(Error::validation(path, "expected 16 or 32 hex digits"));
    }
    EncryptedPinBlock::from_hex(text).map_err(|e| core_error(path, e))
}

fn pvki(path: &str, index: Option<u8>) -> Result<Pvki, Error> {
    let index = index.ok_or_else(|| Error::validation(path, "required"))?;
    Pvki::new(index).map_err(|e| core_error(path, e))
}

fn ibm3624_params(path: &str, table: &str, pad: &str, data: &str) -> Result<Ibm3624Params, Error> {
    let t = DecimalizationTable::new(table)
        .map_err(|e| core_error(&format!("{path}.DecimalizationTable"), e))?;
    Ibm3624Params::new(t, data, pad).map_err(|e| core_error(path, e))
}

fn not_offered(path: &str, what: &str) -> Error {
    Error::validation(path, format!("{what} is not offered by this HSM yet"))
}

/// The PAN a format needs, or `None` for format 1.
fn pan_for(format: PinBlockFormat, text: Option<&str>) -> Result<Option<Pan>, Error> {
    match text {
        Some(t) => pan("PrimaryAccountNumber", t).map(Some),
        None if format.uses_pan() => Err(Error::validation(
            "PrimaryAccountNumber",
            "ISO formats 0, 3 and 4 bind the PAN; give it",
        )),
        None => Ok(None),
    }
}

/// What `GeneratePinData` returns.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GeneratePinDataOutput {
    /// The ARN of the PIN generation or verification key.
    pub generation_key_arn: String,
    /// Its check value.
    pub generation_key_check_value: String,
    /// The ARN of the PEK the PIN block is under.
    pub encryption_key_arn: String,
    /// Its check value.
    pub encryption_key_check_value: String,
    /// The PIN block under the PEK (hex).
    pub encrypted_pin_block: String,
    /// The PIN's verification data.
    pub pin_data: PinData,
}

/// The service's `PinData` union: what verifies a PIN later. Secret: with the key, it
/// narrows the PIN down.
#[derive(Debug, Serialize, Deserialize)]
pub enum PinData {
    /// The IBM 3624 PIN offset.
    PinOffset(SecretText),
    /// The Visa PVV.
    VerificationValue(SecretText),
}

/// What `VerifyPinData` returns (a mismatch is an error, not an output).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyPinDataOutput {
    /// The ARN of the PIN verification key.
    pub verification_key_arn: String,
    /// Its check value.
    pub verification_key_check_value: String,
    /// The ARN of the PEK (or BDK) the PIN block came under.
    pub encryption_key_arn: String,
    /// Its check value.
    pub encryption_key_check_value: String,
}

/// What `TranslatePinData` returns.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TranslatePinDataOutput {
    /// The PIN block under the outgoing key (hex).
    pub pin_block: String,
    /// The ARN of the outgoing key.
    pub key_arn: String,
    /// Its check value.
    pub key_check_value: String,
}

impl<S: Store> Hsm<S> {
    /// `GeneratePinData`.
    pub fn generate_pin_data(
        &self,
        input: GeneratePinDataInput,
    ) -> Result<GeneratePinDataOutput, Error> {
        let params = || {
            json!({
                "generationKeyIdentifier": input.generation_key_identifier,
                "encryptionKeyIdentifier": input.encryption_key_identifier,
                "pinBlockFormat": input.pin_block_format,
            })
        };
        self.run("GeneratePinData", Audit::FailuresOnly, params, || {
            use PinGenerationAttributes as G;
            let a = &input.generation_attributes;
            let format = pin_block_format(&input.pin_block_format)?;
            let pan = pan_for(format, input.primary_account_number.as_deref())?;
            let pin_len = input.pin_data_length.unwrap_or(4);
            if !(Pin::MIN_LEN..=Pin::MAX_LEN).contains(&pin_len) {
                return Err(Error::validation("PinDataLength", "expected 4 to 12"));
            }
            let (gen_role, pek_role) = match a {
                G::VisaPin(_) => (roles::PVV_GENERATE, roles::PIN_ENCRYPT),
                G::VisaPinVerificationValue(_) => (roles::PVV_GENERATE, roles::PIN_DECRYPT),
                G::Ibm3624PinOffset(_) => (roles::IBM3624_GENERATE, roles::PIN_DECRYPT),
                G::Ibm3624NaturalPin(_) | G::Ibm3624RandomPin(_) | G::Ibm3624PinFromOffset(_) => {
                    (roles::IBM3624_GENERATE, roles::PIN_ENCRYPT)
                }
            };
            let [gen_record, pek_record] = self.load_all_in_use([
                (&input.generation_key_identifier, "GenerationKeyIdentifier"),
                (&input.encryption_key_identifier, "EncryptionKeyIdentifier"),
            ])?;
            policy::check_key(&gen_role, &gen_record)?;
            let pek = self.operation_key(
                &pek_record,
                (&input.encryption_key_identifier, "EncryptionKeyIdentifier"),
                &pek_role,
                input.encryption_wrapped_key.as_ref(),
                "EncryptionWrappedKey",
            )?;
            let gk = self.store().open(&gen_record)?;
            let base = "GenerationAttributes";
            let encrypt = |pin: &Pin| {
                block::encrypt(
                    &*pek.key,
                    format,
                    pin,
                    pan.as_ref(),
                    Fill::Random(&mut OsRandom),
                )
                .map_err(|e| core_error("PinBlockFormat", e))
            };
            let decrypt = |path: &str, text: &str| {
                let b = encrypted_pin_block(path, text)?;
                let pin = block::decrypt(&*pek.key, format, &b, pan.as_ref())
                    .map_err(|e| core_error(path, e))?;
                Ok::<_, Error>((b, pin))
            };
            let need_pan = || {
                pan.as_ref().ok_or_else(|| {
                    Error::validation("PrimaryAccountNumber", "the Visa PVV needs the PAN")
                })
            };
            let (pin_block, pin_data): (EncryptedPinBlock, PinData) = match a {
                G::VisaPin(v) => {
                    let index = pvki(
                        &format!("{base}.VisaPin.PinVerificationKeyIndex"),
                        v.pin_verification_key_index,
                    )?;
                    let (pin, pvv) =
                        pvv::random_pin(&*gk, need_pan()?, index, pin_len, &mut OsRandom)
                            .map_err(|e| core_error(base, e))?;
                    (encrypt(&pin)?, PinData::VerificationValue(pvv.into()))
                }
                G::VisaPinVerificationValue(v) => {
                    let m = format!("{base}.VisaPinVerificationValue");
                    let index = pvki(
                        &format!("{m}.PinVerificationKeyIndex"),
                        v.pin_verification_key_index,
                    )?;
                    let (b, pin) =
                        decrypt(&format!("{m}.EncryptedPinBlock"), &v.encrypted_pin_block)?;
                    let pvv = pvv::generate(&*gk, need_pan()?, &pin, index)
                        .map_err(|e| core_error(&m, e))?;
                    (b, PinData::VerificationValue(pvv.into()))
                }
                G::Ibm3624PinOffset(v) => {
                    let m = format!("{base}.Ibm3624PinOffset");
                    let p = ibm3624_params(
                        &m,
                        &v.decimalization_table,
                        &v.pin_validation_data_pad_character,
                        &v.pin_validation_data,
                    )?;
                    let (b, pin) =
                        decrypt(&format!("{m}.EncryptedPinBlock"), &v.encrypted_pin_block)?;
                    let offset = ibm3624::offset(&*gk, &p, &pin).map_err(|e| core_error(&m, e))?;
                    (b, PinData::PinOffset(offset.into()))
                }
                G::Ibm3624NaturalPin(v) => {
                    let m = format!("{base}.Ibm3624NaturalPin");
                    let p = ibm3624_params(
                        &m,
                        &v.decimalization_table,
                        &v.pin_validation_data_pad_character,
                        &v.pin_validation_data,
                    )?;
                    let pin =
                        ibm3624::natural_pin(&*gk, &p, pin_len).map_err(|e| core_error(&m, e))?;
                    let zeros = "0".repeat(pin_len);
                    let offset =
                        SecretDigits::new("PinOffset", &zeros).map_err(|e| core_error(&m, e))?;
                    (encrypt(&pin)?, PinData::PinOffset(offset.into()))
                }
                G::Ibm3624RandomPin(v) => {
                    let m = format!("{base}.Ibm3624RandomPin");
                    let p = ibm3624_params(
                        &m,
                        &v.decimalization_table,
                        &v.pin_validation_data_pad_character,
                        &v.pin_validation_data,
                    )?;
                    let (pin, offset) = ibm3624::random_pin(&*gk, &p, pin_len, &mut OsRandom)
                        .map_err(|e| core_error(&m, e))?;
                    (encrypt(&pin)?, PinData::PinOffset(offset.into()))
                }
                G::Ibm3624PinFromOffset(v) => {
                    let m = format!("{base}.Ibm3624PinFromOffset");
                    let p = ibm3624_params(
                        &m,
                        &v.decimalization_table,
                        &v.pin_validation_data_pad_character,
                        &v.pin_validation_data,
                    )?;
                    let pin = ibm3624::pin_from_offset(&*gk, &p, &v.pin_offset)
                        .map_err(|e| core_error(&format!("{m}.PinOffset"), e))?;
                    let offset = SecretDigits::new("PinOffset", &v.pin_offset)
                        .map_err(|e| core_error(&format!("{m}.PinOffset"), e))?;
                    (encrypt(&pin)?, PinData::PinOffset(offset.into()))
                }
            };
            Ok((
                GeneratePinDataOutput {
                    generation_key_arn: self.arn_text(&gen_record)?,
                    generation_key_check_value: gen_record.key_check_value.clone(),
                    encryption_key_arn: self.arn_text(&pek_record)?,
                    encryption_key_check_value: pek.key_check_value.clone(),
                    encrypted_pin_block: pin_block.to_string(),
                    pin_data,
                },
                Vec::new(),
            ))
        })
    }

    /// `VerifyPinData`: the one `INVALID_PIN` for a wrong PIN and for a bad block.
    pub fn verify_pin_data(&self, input: VerifyPinDataInput) -> Result<VerifyPinDataOutput, Error> {
        let params = || {
            json!({
                "verificationKeyIdentifier": input.verification_key_identifier,
                "encryptionKeyIdentifier": input.encryption_key_identifier,
                "pinBlockFormat": input.pin_block_format,
            })
        };
        self.run("VerifyPinData", Audit::FailuresOnly, params, || {
            let format = pin_block_format(&input.pin_block_format)?;
            let pan = pan_for(format, input.primary_account_number.as_deref())?;
            let block = encrypted_pin_block("EncryptedPinBlock", &input.encrypted_pin_block)?;
            if let Some(n) = input.pin_data_length
                && !(Pin::MIN_LEN..=Pin::MAX_LEN).contains(&n)
            {
                return Err(Error::validation("PinDataLength", "expected 4 to 12"));
            }
            let base = "VerificationAttributes";
            let role = match &input.verification_attributes {
                PinVerificationAttributes::VisaPin(_) => roles::PVV_VERIFY,
                PinVerificationAttributes::Ibm3624Pin(_) => roles::IBM3624_VERIFY,
            };
            let [ver_record, pek_record] = self.load_all_in_use([
                (
                    &input.verification_key_identifier,
                    "VerificationKeyIdentifier",
                ),
                (&input.encryption_key_identifier, "EncryptionKeyIdentifier"),
            ])?;
            policy::check_key(&role, &ver_record)?;
            let pek = self.pin_key(
                &pek_record,
                (&input.encryption_key_identifier, "EncryptionKeyIdentifier"),
                input
                    .dukpt_attributes
                    .as_ref()
                    .map(|d| (d, "DukptAttributes")),
                input
                    .encryption_wrapped_key
                    .as_ref()
                    .map(|w| (w, "EncryptionWrappedKey")),
            )?;
            // Checks of the request's own fields, before the PIN is touched.
            let check = match &input.verification_attributes {
                PinVerificationAttributes::VisaPin(v) => {
                    let index = pvki(
                        &format!("{base}.VisaPin.PinVerificationKeyIndex"),
                        v.pin_verification_key_index,
                    )?;
                    if v.verification_value.len() != 4
                        || !v.verification_value.bytes().all(|b| b.is_ascii_digit())
                    {
                        return Err(Error::validation(
                            &format!("{base}.VisaPin.VerificationValue"),
                            "expected 4 digits",
                        ));
                    }
                    let pan = pan.as_ref().ok_or_else(|| {
                        Error::validation("PrimaryAccountNumber", "the Visa PVV needs the PAN")
                    })?;
                    Check::Pvv(index, pan, &v.verification_value)
                }
                PinVerificationAttributes::Ibm3624Pin(v) => {
                    let m = format!("{base}.Ibm3624Pin");
                    let p = ibm3624_params(
                        &m,
                        &v.decimalization_table,
                        &v.pin_validation_data_pad_character,
                        &v.pin_validation_data,
                    )?;
                    if !(4..=12).contains(&v.pin_offset.len())
                        || !v.pin_offset.bytes().all(|b| b.is_ascii_digit())
                    {
                        return Err(Error::validation(
                            &format!("{m}.PinOffset"),
                            "expected 4 to 12 digits",
                        ));
                    }
                    Check::Ibm3624(p, &v.pin_offset)
                }
            };
            let vk = self.store().open(&ver_record)?;
            let invalid = Error::VerificationFailed {
                reason: VerificationFailedReason::InvalidPin,
            };
            let check_value = match &pek {
                PinKey::Pek(k) => k.key_check_value.clone(),
                PinKey::Dukpt(..) => pek_record.key_check_value.clone(),
            };
            let pin = match pek {
                PinKey::Pek(pek) => block::decrypt(&*pek.key, format, &block, pan.as_ref()),
                PinKey::Dukpt(ksn, dt) => {
                    let bdk = self.bdk(&pek_record)?;
                    payhsm_core::dukpt::decrypt_pin(
                        bdk.bdk(),
                        &ksn,
                        dt,
                        format,
                        &block,
                        pan.as_ref(),
                    )
                }
            }
            .map_err(|_| invalid.clone())?;
            if input.pin_data_length.is_some_and(|n| n != pin.len()) {
                return Err(invalid);
            }
            let result = match check {
                Check::Pvv(index, pan, value) => pvv::verify(&*vk, pan, &pin, index, value),
                Check::Ibm3624(p, offset) => {
                    ibm3624::verify(&*vk, &p, &DecimalizationPolicy::AnyTable, &pin, offset)
                }
            };
            verified(result, VerificationFailedReason::InvalidPin, base)?;
            Ok((
                VerifyPinDataOutput {
                    verification_key_arn: self.arn_text(&ver_record)?,
                    verification_key_check_value: ver_record.key_check_value.clone(),
                    encryption_key_arn: self.arn_text(&pek_record)?,
                    encryption_key_check_value: check_value,
                },
                Vec::new(),
            ))
        })
    }

    /// `TranslatePinData`: PCI PIN 3-3 format and PAN rules before any key is used.
    pub fn translate_pin_data(
        &self,
        input: TranslatePinDataInput,
    ) -> Result<TranslatePinDataOutput, Error> {
        let params = || {
            json!({
                "incomingKeyIdentifier": input.incoming_key_identifier,
                "outgoingKeyIdentifier": input.outgoing_key_identifier,
            })
        };
        self.run("TranslatePinData", Audit::FailuresOnly, params, || {
            for (value, path, what) in [
                (
                    &input.outgoing_dukpt_attributes,
                    "OutgoingDukptAttributes",
                    "DUKPT PIN encryption towards a device",
                ),
                (
                    &input.incoming_as2805_attributes,
                    "IncomingAs2805Attributes",
                    "AS2805 PIN translation",
                ),
            ] {
                if value.is_some() {
                    return Err(not_offered(path, what));
                }
            }
            let (fin, in_pan) = input
                .incoming_translation_attributes
                .parse("IncomingTranslationAttributes")?;
            let (fout, out_pan) = input
                .outgoing_translation_attributes
                .parse("OutgoingTranslationAttributes")?;
            let block = encrypted_pin_block("EncryptedPinBlock", &input.encrypted_pin_block)?;
            translate::check(
                fin,
                fout,
                in_pan.as_ref(),
                out_pan.as_ref(),
                TranslationContext::Online,
            )
            .map_err(|e| core_error("OutgoingTranslationAttributes", e))?;
            let [in_record, out_record] = self.load_all_in_use([
                (&input.incoming_key_identifier, "IncomingKeyIdentifier"),
                (&input.outgoing_key_identifier, "OutgoingKeyIdentifier"),
            ])?;
            let kin = self.pin_key(
                &in_record,
                (&input.incoming_key_identifier, "IncomingKeyIdentifier"),
                input
                    .incoming_dukpt_attributes
                    .as_ref()
                    .map(|d| (d, "IncomingDukptAttributes")),
                input
                    .incoming_wrapped_key
                    .as_ref()
                    .map(|w| (w, "IncomingWrappedKey")),
            )?;
            let kout = self.operation_key(
                &out_record,
                (&input.outgoing_key_identifier, "OutgoingKeyIdentifier"),
                &roles::PIN_ENCRYPT,
                input.outgoing_wrapped_key.as_ref(),
                "OutgoingWrappedKey",
            )?;
            let out = match kin {
                PinKey::Pek(kin) => translate::translate(
                    &*kin.key,
                    fin,
                    &block,
                    in_pan.as_ref(),
                    &*kout.key,
                    fout,
                    out_pan.as_ref().or(in_pan.as_ref()),
                    TranslationContext::Online,
                    &mut OsRandom,
                ),
                PinKey::Dukpt(ksn, dt) => {
                    let bdk = self.bdk(&in_record)?;
                    payhsm_core::dukpt::translate_pin(
                        bdk.bdk(),
                        &ksn,
                        dt,
                        fin,
                        &block,
                        in_pan.as_ref().or(out_pan.as_ref()),
                        &*kout.key,
                        fout,
                        &mut OsRandom,
                    )
                }
            }
            .map_err(|e| core_error("EncryptedPinBlock", e))?;
            Ok((
                TranslatePinDataOutput {
                    pin_block: out.to_string(),
                    key_arn: self.arn_text(&out_record)?,
                    key_check_value: kout.key_check_value.clone(),
                },
                Vec::new(),
            ))
        })
    }
}

/// The key a PIN block arrives under: a PIN key (stored or a `WrappedKey`), or the DUKPT PIN
/// key of a BDK (its KSN and working-key algorithm).
enum PinKey {
    Pek(OperationKey),
    Dukpt(
        payhsm_core::dukpt::Ksn,
        Option<payhsm_core::key::KeyAlgorithm>,
    ),
}

impl<S: Store> Hsm<S> {
    /// The key a PIN block under `record` (named by `key`) arrives under: the DUKPT PIN key
    /// `dukpt` names, or the PIN key, stored or the `wrapped` working key.
    fn pin_key(
        &self,
        record: &KeyRecord,
        key: (&str, &str),
        dukpt: Option<(&DukptPinAttributes, &str)>,
        wrapped: Option<(&WrappedKey, &str)>,
    ) -> Result<PinKey, Error> {
        match (dukpt, wrapped) {
            (Some(_), Some((_, path))) => Err(Error::validation(
                path,
                "a PIN block under a DUKPT key takes no WrappedKey",
            )),
            (Some((d, path)), None) => {
                policy::check_key(&roles::DUKPT_BDK, record)?;
                let (ksn, dt) = dukpt_pin(path, d, record)?;
                Ok(PinKey::Dukpt(ksn, dt))
            }
            (None, wrapped) => {
                let (wrapped, path) = wrapped.unzip();
                self.operation_key(
                    record,
                    key,
                    &roles::PIN_DECRYPT,
                    wrapped,
                    path.unwrap_or_default(),
                )
                .map(PinKey::Pek)
            }
        }
    }
}

/// The KSN and working-key algorithm of a DUKPT PIN request.
fn dukpt_pin(
    path: &str,
    d: &DukptPinAttributes,
    bdk: &crate::model::KeyRecord,
) -> Result<
    (
        payhsm_core::dukpt::Ksn,
        Option<payhsm_core::key::KeyAlgorithm>,
    ),
    Error,
> {
    let ksn = dukpt::ksn(&format!("{path}.KeySerialNumber"), &d.key_serial_number)?;
    dukpt::variant(
        &format!("{path}.DukptKeyVariant"),
        d.dukpt_key_variant.as_deref(),
    )?;
    let dt = dukpt::derivation_type(
        &format!("{path}.DukptKeyDerivationType"),
        d.dukpt_key_derivation_type
            .as_deref()
            .or(d.dukpt_derivation_type.as_deref()),
        bdk.attributes.key_algorithm,
    )?;
    Ok((ksn, dt))
}

enum Check<'a> {
    Pvv(Pvki, &'a Pan, &'a str),
    Ibm3624(Ibm3624Params, &'a str),
}
