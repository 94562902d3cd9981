//! `GenerateCardValidationData` and `VerifyCardValidationData`.

use payhsm_core::{
    card::{
        csc::{self, CscVersion},
        cvc3, cvv, dcvv,
        icc::PanSequenceNumber,
    },
    fields::{Expiry, Pan, SecretDigits, ServiceCode},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{hex_field, lenient_int, pan, verified};
use crate::{
    Error, VerificationFailedReason,
    error::core_error,
    hsm::{Audit, Hsm},
    policy::{KeyRole, roles},
    store::Store,
    wire::SecretText,
};

/// `GenerateCardValidationData`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GenerateCardValidationDataInput {
    /// The CVK or issuer master key.
    pub key_identifier: String,
    /// The PAN.
    pub primary_account_number: String,
    /// Which value to generate.
    pub generation_attributes: CardAttributes,
    /// 3 to 5 digits, default 3.
    #[serde(default, deserialize_with = "lenient_int")]
    pub validation_data_length: Option<usize>,
}

/// `VerifyCardValidationData`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VerifyCardValidationDataInput {
    /// The CVK or issuer master key.
    pub key_identifier: String,
    /// The PAN.
    pub primary_account_number: String,
    /// Which value to verify.
    pub verification_attributes: CardAttributes,
    /// The presented value (3 to 5 digits).
    pub validation_data: String,
}

/// What `GenerateCardValidationData` returns.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateCardValidationDataOutput {
    /// The ARN of the key used.
    pub key_arn: String,
    /// The key's check value.
    pub key_check_value: String,
    /// The value generated (a CVV, CSC, CVC3, dCVV): secret.
    pub validation_data: SecretText,
}

/// What `VerifyCardValidationData` returns (a mismatch is an error, not an output).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyCardValidationDataOutput {
    /// The ARN of the key used.
    pub key_arn: String,
    /// The key's check value.
    pub key_check_value: String,
}

/// `CardGenerationAttributes` / `CardVerificationAttributes`: exactly one member.
#[derive(Debug, Deserialize)]
pub enum CardAttributes {
    /// Amex CSC version 1.
    AmexCardSecurityCodeVersion1(ExpiryOnly),
    /// Amex CSC version 2.
    AmexCardSecurityCodeVersion2(ExpiryAndServiceCode),
    /// CVV / CVC (iCVV is service code 999).
    CardVerificationValue1(ExpiryAndServiceCode),
    /// CVV2 / CVC2.
    CardVerificationValue2(ExpiryOnly),
    /// The service's cardholder authentication verification value (not offered: unpublished).
    CardHolderVerificationValue(Value),
    /// Mastercard dynamic CVC3.
    DynamicCardVerificationCode(DynamicCode),
    /// Visa dCVV.
    DynamicCardVerificationValue(DynamicValue),
    /// Discover dynamic CVC (not offered: unpublished).
    DiscoverDynamicCardVerificationCode(Value),
}

/// `CardExpiryDate` alone.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ExpiryOnly {
    /// 4 digits.
    pub card_expiry_date: String,
}

/// `CardExpiryDate` and `ServiceCode`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ExpiryAndServiceCode {
    /// 4 digits.
    pub card_expiry_date: String,
    /// 3 digits.
    pub service_code: String,
}

/// `DynamicCardVerificationCode`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DynamicCode {
    /// 2 to 8 hex digits.
    pub unpredictable_number: String,
    /// 2 digits.
    pub pan_sequence_number: String,
    /// 2 to 4 hex digits.
    pub application_transaction_counter: String,
    /// 2 to 160 hex digits.
    pub track_data: String,
}

/// `DynamicCardVerificationValue`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DynamicValue {
    /// 2 digits.
    pub pan_sequence_number: String,
    /// 4 digits.
    pub card_expiry_date: String,
    /// 3 digits.
    pub service_code: String,
    /// 2 to 4 hex digits.
    pub application_transaction_counter: String,
}

const GEN: &str = "GenerationAttributes";
const VER: &str = "VerificationAttributes";

fn expiry(base: &str, member: &str, text: &str) -> Result<Expiry, Error> {
    Expiry::new(text).map_err(|e| core_error(&format!("{base}.{member}.CardExpiryDate"), e))
}

fn service_code(base: &str, member: &str, text: &str) -> Result<ServiceCode, Error> {
    ServiceCode::new(text).map_err(|e| core_error(&format!("{base}.{member}.ServiceCode"), e))
}

/// The service's two methods whose algorithms are the card schemes' own and unpublished: the
/// service documents their inputs and keys (E6 for the cardholder authentication value), not
/// how the value is computed, and no published vector or independent implementation (pyemv,
/// psec) has them, so this HSM cannot compute them and says so.
fn not_offered(base: &str, member: &str) -> Error {
    Error::validation(
        &format!("{base}.{member}"),
        "this card validation method is not offered by this HSM: its algorithm is the card \
         scheme's own and not published, so it cannot be computed or checked here",
    )
}

impl CardAttributes {
    /// The roles the key plays for generation and verification.
    fn roles(&self, base: &str) -> Result<(KeyRole, KeyRole), Error> {
        Ok(match self {
            Self::AmexCardSecurityCodeVersion1(_) | Self::AmexCardSecurityCodeVersion2(_) => {
                (roles::CSC_GENERATE, roles::CSC_VERIFY)
            }
            Self::CardVerificationValue1(_) | Self::CardVerificationValue2(_) => {
                (roles::CVV_GENERATE, roles::CVV_VERIFY)
            }
            Self::DynamicCardVerificationCode(_) => (roles::CVC3, roles::CVC3),
            Self::DynamicCardVerificationValue(_) => (roles::DCVV, roles::DCVV),
            Self::CardHolderVerificationValue(_) => {
                return Err(not_offered(base, "CardHolderVerificationValue"));
            }
            Self::DiscoverDynamicCardVerificationCode(_) => {
                return Err(not_offered(base, "DiscoverDynamicCardVerificationCode"));
            }
        })
    }

    /// The value of `len` digits under `key`.
    fn compute(
        &self,
        key: &(impl payhsm_core::crypto::SymmetricKey + ?Sized),
        pan: &Pan,
        len: usize,
        base: &str,
    ) -> Result<SecretDigits, Error> {
        let length_path = "ValidationDataLength";
        let r = match self {
            Self::AmexCardSecurityCodeVersion1(a) => {
                let m = "AmexCardSecurityCodeVersion1";
                let e = expiry(base, m, &a.card_expiry_date)?;
                csc::generate(key, CscVersion::V1, pan, &e, None, len)
            }
            Self::AmexCardSecurityCodeVersion2(a) => {
                let m = "AmexCardSecurityCodeVersion2";
                let e = expiry(base, m, &a.card_expiry_date)?;
                let sc = service_code(base, m, &a.service_code)?;
                csc::generate(key, CscVersion::V2, pan, &e, Some(&sc), len)
            }
            Self::CardVerificationValue1(a) => {
                let m = "CardVerificationValue1";
                let e = expiry(base, m, &a.card_expiry_date)?;
                let sc = service_code(base, m, &a.service_code)?;
                cvv::generate(key, pan, &e, &sc, len)
            }
            Self::CardVerificationValue2(a) => {
                let e = expiry(base, "CardVerificationValue2", &a.card_expiry_date)?;
                cvv::generate(key, pan, &e, &ServiceCode::CVV2, len)
            }
            Self::DynamicCardVerificationCode(a) => {
                let m = format!("{base}.DynamicCardVerificationCode");
                let un = cvc3::UnpredictableNumber::new(&a.unpredictable_number)
                    .map_err(|e| core_error(&format!("{m}.UnpredictableNumber"), e))?;
                let psn = PanSequenceNumber::new(&a.pan_sequence_number)
                    .map_err(|e| core_error(&format!("{m}.PanSequenceNumber"), e))?;
                let atc = dcvv::Atc::new(&a.application_transaction_counter)
                    .map_err(|e| core_error(&format!("{m}.ApplicationTransactionCounter"), e))?;
                let track = hex_field(&format!("{m}.TrackData"), &a.track_data, 2, 160)?;
                if !(3..=5).contains(&len) {
                    return Err(Error::validation(length_path, "expected 3 to 5"));
                }
                cvc3::generate(key, pan, &psn, &track, &un, &atc).and_then(|full| {
                    let digits = full.expose_secret();
                    SecretDigits::new("CVC3", &digits[digits.len() - len..])
                })
            }
            Self::DynamicCardVerificationValue(a) => {
                let m = "DynamicCardVerificationValue";
                let p = format!("{base}.{m}");
                let psn = PanSequenceNumber::new(&a.pan_sequence_number)
                    .map_err(|e| core_error(&format!("{p}.PanSequenceNumber"), e))?;
                let e = expiry(base, m, &a.card_expiry_date)?;
                let sc = service_code(base, m, &a.service_code)?;
                let atc = dcvv::Atc::new(&a.application_transaction_counter)
                    .map_err(|e| core_error(&format!("{p}.ApplicationTransactionCounter"), e))?;
                if len != 3 {
                    return Err(Error::validation(length_path, "a dCVV has 3 digits"));
                }
                dcvv::generate(key, pan, &psn, &e, &sc, &atc)
            }
            Self::CardHolderVerificationValue(_) | Self::DiscoverDynamicCardVerificationCode(_) => {
                return Err(Error::internal("unreachable: refused by roles()"));
            }
        };
        r.map_err(|e| core_error(base, e))
    }
}

impl<S: Store> Hsm<S> {
    /// `GenerateCardValidationData`.
    pub fn generate_card_validation_data(
        &self,
        input: GenerateCardValidationDataInput,
    ) -> Result<GenerateCardValidationDataOutput, Error> {
        let params = || json!({ "keyIdentifier": input.key_identifier });
        self.run(
            "GenerateCardValidationData",
            Audit::FailuresOnly,
            params,
            || {
                let (role, _) = input.generation_attributes.roles(GEN)?;
                let len = input.validation_data_length.unwrap_or(3);
                if !(3..=5).contains(&len) {
                    return Err(Error::validation("ValidationDataLength", "expected 3 to 5"));
                }
                let pan = pan("PrimaryAccountNumber", &input.primary_account_number)?;
                let (record, key) = self.use_key(&input.key_identifier, "KeyIdentifier", &role)?;
                let value = input.generation_attributes.compute(&*key, &pan, len, GEN)?;
                Ok((
                    GenerateCardValidationDataOutput {
                        key_arn: self.arn_text(&record)?,
                        key_check_value: record.key_check_value.clone(),
                        validation_data: SecretText::new(value.expose_secret()),
                    },
                    Vec::new(),
                ))
            },
        )
    }

    /// `VerifyCardValidationData`: the one `INVALID_VALIDATION_DATA` on any mismatch.
    pub fn verify_card_validation_data(
        &self,
        input: VerifyCardValidationDataInput,
    ) -> Result<VerifyCardValidationDataOutput, Error> {
        let params = || json!({ "keyIdentifier": input.key_identifier });
        self.run(
            "VerifyCardValidationData",
            Audit::FailuresOnly,
            params,
            || {
                let (_, role) = input.verification_attributes.roles(VER)?;
                let presented = &input.validation_data;
                if !(3..=5).contains(&presented.len())
                    || !presented.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(Error::validation(
                        "ValidationData",
                        "expected 3 to 5 digits",
                    ));
                }
                let pan = pan("PrimaryAccountNumber", &input.primary_account_number)?;
                let (record, key) = self.use_key(&input.key_identifier, "KeyIdentifier", &role)?;
                let expected =
                    input
                        .verification_attributes
                        .compute(&*key, &pan, presented.len(), VER)?;
                verified(
                    expected.verify(presented),
                    VerificationFailedReason::InvalidValidationData,
                    "ValidationData",
                )?;
                Ok((
                    VerifyCardValidationDataOutput {
                        key_arn: self.arn_text(&record)?,
                        key_check_value: record.key_check_value.clone(),
                    },
                    Vec::new(),
                ))
            },
        )
    }
}
