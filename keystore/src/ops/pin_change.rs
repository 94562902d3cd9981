//! `GenerateMacEmvPinChange`: the issuer script that gives a chip card a new offline PIN.
//!
//! The new PIN block (ISO format 0, 1 or 3, 16 hex digits) is read under its PEK (P0), put in
//! the card's format, enciphered under the secure-messaging confidentiality session key
//! (from the issuer master key E1) and appended to the message data, which the script MAC
//! under the secure-messaging integrity session key (from E2) covers; for `Visa` and `Amex`
//! the VIS PIN block also binds the issuer master key for application cryptograms (E0) and,
//! when given, the current PIN. The computation is `payhsm_core::emv::pin_change`; this module
//! checks every key against its role first. No clear PIN leaves the core.

use payhsm_core::{
    emv::{
        pin_change::{
            self, CurrentPin, PinBlockLengthPosition, PinBlockPadding, PinChangeMethod,
            PinChangeRequest, VisaAmexAttributes,
        },
        sm::EmvEncryptionMode,
    },
    pin::block::EncryptedPinBlock,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    emv::{CardData, fixed},
    hex_field,
    pin::{encrypted_pin_block, pin_block_format},
};
use crate::{
    Error,
    error::core_error,
    hsm::{Audit, Hsm},
    policy::roles,
    store::Store,
};

/// `GenerateMacEmvPinChange`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GenerateMacEmvPinChangeInput {
    /// The PEK of the new PIN block (P0).
    pub new_pin_pek_identifier: String,
    /// The new PIN block, 16 hex digits.
    pub new_encrypted_pin_block: String,
    /// `ISO_FORMAT_0`, `ISO_FORMAT_1` or `ISO_FORMAT_3`.
    pub pin_block_format: String,
    /// The issuer master key for secure-messaging integrity (E2).
    pub secure_messaging_integrity_key_identifier: String,
    /// The issuer master key for secure-messaging confidentiality (E1).
    pub secure_messaging_confidentiality_key_identifier: String,
    /// The script command the PIN data is appended to, 16 to 1024 hex digits.
    pub message_data: String,
    /// The card scheme's derivation and its data.
    pub derivation_method_attributes: DerivationMethodAttributes,
}

/// `DerivationMethodAttributes`: exactly one member.
#[derive(Debug, Deserialize)]
pub enum DerivationMethodAttributes {
    /// EMV common session keys from the application cryptogram.
    EmvCommon(EmvCommonPinChange),
    /// Amex: session keys from the ATC, VIS PIN block.
    Amex(VisaAmexPinChange),
    /// Visa: the Visa secure-messaging keys, VIS PIN block.
    Visa(VisaAmexPinChange),
    /// EMV2000 session keys.
    Emv2000(AtcPinChange),
    /// Mastercard session keys from the application cryptogram.
    Mastercard(CryptogramPinChange),
}

/// `EmvCommonAttributes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EmvCommonPinChange {
    /// `EMV_OPTION_A` or `EMV_OPTION_B`.
    pub major_key_derivation_mode: String,
    /// The PAN.
    pub primary_account_number: String,
    /// Two digits.
    pub pan_sequence_number: String,
    /// 16 hex digits.
    pub application_cryptogram: String,
    /// `ECB` or `CBC`.
    pub mode: String,
    /// `NO_PADDING` or `ISO_IEC_7816_4`.
    pub pin_block_padding_type: String,
    /// `NONE` or `FRONT_OF_PIN_BLOCK`.
    pub pin_block_length_position: String,
}

/// `VisaAttributes` and `AmexAttributes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VisaAmexPinChange {
    /// `EMV_OPTION_A` or `EMV_OPTION_B`.
    pub major_key_derivation_mode: String,
    /// The PAN.
    pub primary_account_number: String,
    /// Two digits.
    pub pan_sequence_number: String,
    /// 4 hex digits.
    pub application_transaction_counter: String,
    /// The issuer master key for application cryptograms (E0).
    pub authorization_request_key_identifier: String,
    /// The PIN now on the card, if the card binds it.
    pub current_pin_attributes: Option<CurrentPinAttributes>,
}

/// `CurrentPinAttributes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CurrentPinAttributes {
    /// The PEK of the current PIN block (P0).
    pub current_pin_pek_identifier: String,
    /// The current PIN block, in the request's format, 16 hex digits.
    pub current_encrypted_pin_block: String,
}

/// `Emv2000Attributes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AtcPinChange {
    /// `EMV_OPTION_A` or `EMV_OPTION_B`.
    pub major_key_derivation_mode: String,
    /// The PAN.
    pub primary_account_number: String,
    /// Two digits.
    pub pan_sequence_number: String,
    /// 4 hex digits.
    pub application_transaction_counter: String,
}

/// `MasterCardAttributes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CryptogramPinChange {
    /// `EMV_OPTION_A` or `EMV_OPTION_B`.
    pub major_key_derivation_mode: String,
    /// The PAN.
    pub primary_account_number: String,
    /// Two digits.
    pub pan_sequence_number: String,
    /// 16 hex digits.
    pub application_cryptogram: String,
}

/// The parsed derivation method, before any key is loaded.
enum Method<'a> {
    EmvCommon {
        cryptogram: [u8; 8],
        mode: EmvEncryptionMode,
        padding: PinBlockPadding,
        length_position: PinBlockLengthPosition,
    },
    VisaAmex {
        visa: bool,
        atc: [u8; 2],
        ac_key: &'a str,
        current: Option<(&'a str, EncryptedPinBlock)>,
    },
    Emv2000 {
        atc: [u8; 2],
    },
    Mastercard {
        cryptogram: [u8; 8],
    },
}

const DMA: &str = "DerivationMethodAttributes";

impl DerivationMethodAttributes {
    fn parse(&self) -> Result<(CardData, Method<'_>), Error> {
        let (member, option, pan, psn) = match self {
            Self::EmvCommon(a) => (
                "EmvCommon",
                &a.major_key_derivation_mode,
                &a.primary_account_number,
                &a.pan_sequence_number,
            ),
            Self::Amex(a) => (
                "Amex",
                &a.major_key_derivation_mode,
                &a.primary_account_number,
                &a.pan_sequence_number,
            ),
            Self::Visa(a) => (
                "Visa",
                &a.major_key_derivation_mode,
                &a.primary_account_number,
                &a.pan_sequence_number,
            ),
            Self::Emv2000(a) => (
                "Emv2000",
                &a.major_key_derivation_mode,
                &a.primary_account_number,
                &a.pan_sequence_number,
            ),
            Self::Mastercard(a) => (
                "Mastercard",
                &a.major_key_derivation_mode,
                &a.primary_account_number,
                &a.pan_sequence_number,
            ),
        };
        let base = format!("{DMA}.{member}");
        let p = |f: &str| format!("{base}.{f}");
        let card = CardData::parse(&base, pan, psn, option)?;
        let method = match self {
            Self::EmvCommon(a) => Method::EmvCommon {
                cryptogram: fixed::<8>(&p("ApplicationCryptogram"), &a.application_cryptogram)?,
                mode: EmvEncryptionMode::from_name(&a.mode)
                    .map_err(|e| core_error(&p("Mode"), e))?,
                padding: PinBlockPadding::from_name(&a.pin_block_padding_type)
                    .map_err(|e| core_error(&p("PinBlockPaddingType"), e))?,
                length_position: PinBlockLengthPosition::from_name(&a.pin_block_length_position)
                    .map_err(|e| core_error(&p("PinBlockLengthPosition"), e))?,
            },
            Self::Amex(a) | Self::Visa(a) => Method::VisaAmex {
                visa: matches!(self, Self::Visa(_)),
                atc: fixed::<2>(
                    &p("ApplicationTransactionCounter"),
                    &a.application_transaction_counter,
                )?,
                ac_key: &a.authorization_request_key_identifier,
                current: a
                    .current_pin_attributes
                    .as_ref()
                    .map(|c| {
                        encrypted_pin_block(
                            &p("CurrentPinAttributes.CurrentEncryptedPinBlock"),
                            &c.current_encrypted_pin_block,
                        )
                        .map(|b| (c.current_pin_pek_identifier.as_str(), b))
                    })
                    .transpose()?,
            },
            Self::Emv2000(a) => Method::Emv2000 {
                atc: fixed::<2>(
                    &p("ApplicationTransactionCounter"),
                    &a.application_transaction_counter,
                )?,
            },
            Self::Mastercard(a) => Method::Mastercard {
                cryptogram: fixed::<8>(&p("ApplicationCryptogram"), &a.application_cryptogram)?,
            },
        };
        Ok((card, method))
    }
}

/// What `GenerateMacEmvPinChange` returns: the new PIN block under the card's keys and the
/// script's MAC.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateMacEmvPinChangeOutput {
    /// The ARN of the PEK the new PIN came under.
    pub new_pin_pek_arn: String,
    /// The ARN of the issuer master key for secure messaging integrity.
    pub secure_messaging_integrity_key_arn: String,
    /// The ARN of the issuer master key for secure messaging confidentiality.
    pub secure_messaging_confidentiality_key_arn: String,
    /// The MAC over the issuer script (hex).
    pub mac: String,
    /// The new PIN block, encrypted for the card (hex).
    pub encrypted_pin_block: String,
    /// The PEK's check value.
    pub new_pin_pek_key_check_value: String,
    /// The integrity key's check value.
    pub secure_messaging_integrity_key_check_value: String,
    /// The confidentiality key's check value.
    pub secure_messaging_confidentiality_key_check_value: String,
    /// The keys of the Visa and Amex derivation, when it was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visa_amex_derivation_outputs: Option<VisaAmexDerivationOutputs>,
}

/// The keys a Visa or Amex PIN change used.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VisaAmexDerivationOutputs {
    /// The ARN of the issuer master key for the ARQC.
    pub authorization_request_key_arn: String,
    /// Its check value.
    pub authorization_request_key_check_value: String,
    /// The ARN of the PEK of the current PIN, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_pin_pek_arn: Option<String>,
    /// Its check value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_pin_pek_key_check_value: Option<String>,
}

impl<S: Store> Hsm<S> {
    /// `GenerateMacEmvPinChange`.
    pub fn generate_mac_emv_pin_change(
        &self,
        input: GenerateMacEmvPinChangeInput,
    ) -> Result<GenerateMacEmvPinChangeOutput, Error> {
        let params = || {
            json!({
                "newPinPekIdentifier": input.new_pin_pek_identifier,
                "secureMessagingIntegrityKeyIdentifier": input.secure_messaging_integrity_key_identifier,
                "secureMessagingConfidentialityKeyIdentifier": input.secure_messaging_confidentiality_key_identifier,
                "pinBlockFormat": input.pin_block_format,
            })
        };
        self.run(
            "GenerateMacEmvPinChange",
            Audit::FailuresOnly,
            params,
            || {
                // Every value first, then every key's role, then the cryptography.
                let format = pin_block_format(&input.pin_block_format)?;
                let new_block =
                    encrypted_pin_block("NewEncryptedPinBlock", &input.new_encrypted_pin_block)?;
                let message = hex_field("MessageData", &input.message_data, 16, 1024)?;
                let (card, method) = input.derivation_method_attributes.parse()?;
                let (pek_record, pek) = self.use_key(
                    &input.new_pin_pek_identifier,
                    "NewPinPekIdentifier",
                    &roles::PIN_CHANGE_PEK,
                )?;
                let (smi_record, smi) = self.use_key(
                    &input.secure_messaging_integrity_key_identifier,
                    "SecureMessagingIntegrityKeyIdentifier",
                    &roles::PIN_CHANGE_SMI,
                )?;
                let (smc_record, smc) = self.use_key(
                    &input.secure_messaging_confidentiality_key_identifier,
                    "SecureMessagingConfidentialityKeyIdentifier",
                    &roles::PIN_CHANGE_SMC,
                )?;
                let visa_amex = match &method {
                    Method::VisaAmex {
                        visa,
                        ac_key,
                        current,
                        ..
                    } => {
                        let member = if *visa { "Visa" } else { "Amex" };
                        let path = |f: &str| format!("{DMA}.{member}.{f}");
                        let ac = self.use_key(
                            ac_key,
                            &path("AuthorizationRequestKeyIdentifier"),
                            &roles::PIN_CHANGE_AC,
                        )?;
                        let current = current
                            .as_ref()
                            .map(|(pek, block)| {
                                self.use_key(
                                    pek,
                                    &path("CurrentPinAttributes.CurrentPinPekIdentifier"),
                                    &roles::PIN_CHANGE_PEK,
                                )
                                .map(|k| (k, block))
                            })
                            .transpose()?;
                        Some((ac, current))
                    }
                    _ => None,
                };
                let core_method = match &method {
                    Method::EmvCommon {
                        cryptogram,
                        mode,
                        padding,
                        length_position,
                    } => PinChangeMethod::EmvCommon {
                        application_cryptogram: *cryptogram,
                        mode: *mode,
                        padding: *padding,
                        length_position: *length_position,
                    },
                    Method::VisaAmex { visa, atc, .. } => {
                        let ((_, ac), current) = visa_amex.as_ref().ok_or_else(|| {
                            Error::internal("the Visa and Amex keys were not loaded")
                        })?;
                        let attributes = VisaAmexAttributes {
                            atc: *atc,
                            ac_imk: &**ac,
                            current_pin: current.as_ref().map(|((_, pek), block)| CurrentPin {
                                pek: &**pek,
                                pin_block: block,
                            }),
                        };
                        if *visa {
                            PinChangeMethod::Visa(attributes)
                        } else {
                            PinChangeMethod::Amex(attributes)
                        }
                    }
                    Method::Emv2000 { atc } => PinChangeMethod::Emv2000 { atc: *atc },
                    Method::Mastercard { cryptogram } => PinChangeMethod::Mastercard {
                        application_cryptogram: *cryptogram,
                    },
                };
                let out = pin_change::generate_mac_emv_pin_change(&PinChangeRequest {
                    new_pin_pek: &*pek,
                    new_pin_block: &new_block,
                    pin_block_format: format,
                    smi_imk: &*smi,
                    smc_imk: &*smc,
                    card: card.card(),
                    message_data: &message,
                    method: core_method,
                    mac_len: None,
                })
                .map_err(|e| core_error(DMA, e))?;
                let mut response = GenerateMacEmvPinChangeOutput {
                    new_pin_pek_arn: self.arn_text(&pek_record)?,
                    secure_messaging_integrity_key_arn: self.arn_text(&smi_record)?,
                    secure_messaging_confidentiality_key_arn: self.arn_text(&smc_record)?,
                    mac: payhsm_core::hex::encode(out.mac.as_bytes()),
                    encrypted_pin_block: out.encrypted_pin_block.to_string(),
                    new_pin_pek_key_check_value: pek_record.key_check_value.clone(),
                    secure_messaging_integrity_key_check_value: smi_record.key_check_value.clone(),
                    secure_messaging_confidentiality_key_check_value: smc_record
                        .key_check_value
                        .clone(),
                    visa_amex_derivation_outputs: None,
                };
                if let Some(((ac_record, _), current)) = &visa_amex {
                    let mut outputs = VisaAmexDerivationOutputs {
                        authorization_request_key_arn: self.arn_text(ac_record)?,
                        authorization_request_key_check_value: ac_record.key_check_value.clone(),
                        current_pin_pek_arn: None,
                        current_pin_pek_key_check_value: None,
                    };
                    if let Some(((current_record, _), _)) = current {
                        outputs.current_pin_pek_arn = Some(self.arn_text(current_record)?);
                        outputs.current_pin_pek_key_check_value =
                            Some(current_record.key_check_value.clone());
                    }
                    response.visa_amex_derivation_outputs = Some(outputs);
                }
                Ok((response, Vec::new()))
            },
        )
    }
}
