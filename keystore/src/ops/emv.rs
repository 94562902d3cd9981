//! `GenerateAuthRequestCryptogram` and `VerifyAuthRequestCryptogram` (EMV ARQC and ARPC)
//! under an issuer master key (E0).
//!
//! The ICC master key comes from the IMK by `MajorKeyDerivationMode` (option A or B), the
//! session key by the `SessionKeyDerivationAttributes` member, and the transaction data is
//! padded as the mode's cryptogram versions do (zeros for `Visa`, `80 00…` otherwise). The
//! ARPC is computed under the AC session key, which for the `Visa` and `Amex` modes is the ICC
//! master key itself.

use payhsm_core::{
    emv::{
        self, Card, PanSequenceNumber, ac,
        mkd::MasterKeyDerivation,
        session::{SessionKeyDerivation, SessionKeyMode},
    },
    fields::Pan,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{hex_field, pan, verified};
use crate::{
    Error, VerificationFailedReason,
    error::core_error,
    hsm::{Audit, Hsm},
    policy::roles,
    store::Store,
};

/// `GenerateAuthRequestCryptogram`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GenerateAuthRequestCryptogramInput {
    /// The issuer master key (E0).
    pub key_identifier: String,
    /// The transaction data, 2 to 1024 hex digits.
    pub transaction_data: String,
    /// `EMV_OPTION_A` or `EMV_OPTION_B`.
    pub major_key_derivation_mode: String,
    /// The session key derivation and its card data.
    pub session_key_derivation_attributes: SessionKeyDerivationAttributes,
}

/// `VerifyAuthRequestCryptogram`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct VerifyAuthRequestCryptogramInput {
    /// The issuer master key (E0).
    pub key_identifier: String,
    /// The transaction data, 2 to 1024 hex digits.
    pub transaction_data: String,
    /// The ARQC, 16 hex digits.
    pub auth_request_cryptogram: String,
    /// `EMV_OPTION_A` or `EMV_OPTION_B`.
    pub major_key_derivation_mode: String,
    /// The session key derivation and its card data.
    pub session_key_derivation_attributes: SessionKeyDerivationAttributes,
    /// The ARPC to compute once the ARQC verifies.
    pub auth_response_attributes: Option<AuthResponseAttributes>,
}

/// `SessionKeyDerivation`: exactly one member.
#[derive(Debug, Deserialize)]
pub enum SessionKeyDerivationAttributes {
    /// EMV common session key.
    EmvCommon(CardWithAtc),
    /// Mastercard session key.
    Mastercard(MastercardCard),
    /// EMV2000 session key.
    Emv2000(CardWithAtc),
    /// Amex (ICC master key).
    Amex(CardOnly),
    /// Visa (ICC master key).
    Visa(CardOnly),
    /// UnionPay session key.
    UnionPay(CardWithAtc),
}

/// PAN and PAN sequence number.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CardOnly {
    /// The PAN.
    pub primary_account_number: String,
    /// Two digits.
    pub pan_sequence_number: String,
}

/// PAN, PAN sequence number and ATC.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CardWithAtc {
    /// The PAN.
    pub primary_account_number: String,
    /// Two digits.
    pub pan_sequence_number: String,
    /// Four hex digits.
    pub application_transaction_counter: String,
}

/// The Mastercard member: PAN, PSN, ATC and unpredictable number.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MastercardCard {
    /// The PAN.
    pub primary_account_number: String,
    /// Two digits.
    pub pan_sequence_number: String,
    /// Four hex digits.
    pub application_transaction_counter: String,
    /// Eight hex digits.
    pub unpredictable_number: String,
}

/// `CryptogramAuthResponse`: exactly one member.
#[derive(Debug, Deserialize)]
pub enum AuthResponseAttributes {
    /// ARPC method 1.
    ArpcMethod1(ArpcMethod1),
    /// ARPC method 2.
    ArpcMethod2(ArpcMethod2),
}

/// `CryptogramVerificationArpcMethod1`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ArpcMethod1 {
    /// Four hex digits.
    pub auth_response_code: String,
}

/// `CryptogramVerificationArpcMethod2`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ArpcMethod2 {
    /// Eight hex digits.
    pub card_status_update: String,
    /// Up to 16 hex digits.
    pub proprietary_authentication_data: Option<String>,
}

const SKD: &str = "SessionKeyDerivationAttributes";

/// Exactly `N` bytes of hex.
pub(super) fn fixed<const N: usize>(path: &str, text: &str) -> Result<[u8; N], Error> {
    let bytes = hex_field(path, text, 2 * N, 2 * N)?;
    bytes
        .try_into()
        .map_err(|_| Error::validation(path, format!("expected {} hex digits", 2 * N)))
}

impl SessionKeyDerivationAttributes {
    /// The PAN, PSN and derivation this member describes.
    fn parse(&self) -> Result<(Pan, PanSequenceNumber, SessionKeyDerivation), Error> {
        type Parts<'a> = (
            &'static str,
            SessionKeyMode,
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
        );
        let (member, mode, pan_text, psn, atc, un): Parts<'_> = match self {
            Self::EmvCommon(c) => (
                "EmvCommon",
                SessionKeyMode::EmvCommonSessionKey,
                &c.primary_account_number,
                &c.pan_sequence_number,
                Some(&c.application_transaction_counter),
                None,
            ),
            Self::Mastercard(c) => (
                "Mastercard",
                SessionKeyMode::MastercardSessionKey,
                &c.primary_account_number,
                &c.pan_sequence_number,
                Some(&c.application_transaction_counter),
                Some(&c.unpredictable_number),
            ),
            Self::Emv2000(c) => (
                "Emv2000",
                SessionKeyMode::Emv2000,
                &c.primary_account_number,
                &c.pan_sequence_number,
                Some(&c.application_transaction_counter),
                None,
            ),
            Self::Amex(c) => (
                "Amex",
                SessionKeyMode::Amex,
                &c.primary_account_number,
                &c.pan_sequence_number,
                None,
                None,
            ),
            Self::Visa(c) => (
                "Visa",
                SessionKeyMode::Visa,
                &c.primary_account_number,
                &c.pan_sequence_number,
                None,
                None,
            ),
            Self::UnionPay(c) => (
                "UnionPay",
                SessionKeyMode::UnionPay,
                &c.primary_account_number,
                &c.pan_sequence_number,
                Some(&c.application_transaction_counter),
                None,
            ),
        };
        let path = |f: &str| format!("{SKD}.{member}.{f}");
        let card_pan = pan(&path("PrimaryAccountNumber"), pan_text)?;
        let psn =
            PanSequenceNumber::new(psn).map_err(|e| core_error(&path("PanSequenceNumber"), e))?;
        let atc = atc
            .map(|a| fixed::<2>(&path("ApplicationTransactionCounter"), a))
            .transpose()?;
        let un = un
            .map(|u| fixed::<4>(&path("UnpredictableNumber"), u))
            .transpose()?;
        let derivation =
            SessionKeyDerivation::new(mode, atc, un).map_err(|e| core_error(&path(""), e))?;
        Ok((card_pan, psn, derivation))
    }
}

fn option(name: &str) -> Result<MasterKeyDerivation, Error> {
    option_at("MajorKeyDerivationMode", name)
}

/// `MajorKeyDerivationMode` at `path`.
fn option_at(path: &str, name: &str) -> Result<MasterKeyDerivation, Error> {
    match name {
        "EMV_OPTION_A" | "EMV_OPTION_B" => {
            MasterKeyDerivation::from_name(name).map_err(|e| core_error(path, e))
        }
        _ => Err(Error::validation(
            path,
            "expected EMV_OPTION_A or EMV_OPTION_B",
        )),
    }
}

/// The card of an EMV request whose members are under `base`: the PAN, the PAN sequence
/// number and the master key option. [`CardData::card`] borrows it as a core [`Card`].
pub(super) struct CardData {
    pan: Pan,
    psn: PanSequenceNumber,
    option: MasterKeyDerivation,
}

impl CardData {
    /// Reads `PrimaryAccountNumber`, `PanSequenceNumber` and `MajorKeyDerivationMode`.
    pub(super) fn parse(
        base: &str,
        pan_text: &str,
        psn: &str,
        option: &str,
    ) -> Result<Self, Error> {
        let path = |f: &str| format!("{base}.{f}");
        Ok(Self {
            pan: pan(&path("PrimaryAccountNumber"), pan_text)?,
            psn: PanSequenceNumber::new(psn)
                .map_err(|e| core_error(&path("PanSequenceNumber"), e))?,
            option: option_at(&path("MajorKeyDerivationMode"), option)?,
        })
    }

    /// The core card.
    pub(super) fn card(&self) -> Card<'_> {
        Card {
            pan: &self.pan,
            psn: self.psn,
            option: self.option,
        }
    }
}

/// What `GenerateAuthRequestCryptogram` returns.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateAuthRequestCryptogramOutput {
    /// The ARN of the key used.
    pub key_arn: String,
    /// The key's check value.
    pub key_check_value: String,
    /// The ARQC (hex).
    pub auth_request_cryptogram: String,
}

/// What `VerifyAuthRequestCryptogram` returns (a mismatch is an error, not an output).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyAuthRequestCryptogramOutput {
    /// The ARN of the key used.
    pub key_arn: String,
    /// The key's check value.
    pub key_check_value: String,
    /// The ARPC (hex), when `AuthResponseAttributes` asked for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_response_value: Option<String>,
}

impl<S: Store> Hsm<S> {
    /// `GenerateAuthRequestCryptogram`: the ARQC a card would compute (for tests of
    /// authorization systems).
    pub fn generate_auth_request_cryptogram(
        &self,
        input: GenerateAuthRequestCryptogramInput,
    ) -> Result<GenerateAuthRequestCryptogramOutput, Error> {
        let params = || json!({ "keyIdentifier": input.key_identifier, "majorKeyDerivationMode": input.major_key_derivation_mode });
        self.run(
            "GenerateAuthRequestCryptogram",
            Audit::FailuresOnly,
            params,
            || {
                let option = option(&input.major_key_derivation_mode)?;
                let (pan, psn, derivation) = input.session_key_derivation_attributes.parse()?;
                let data = hex_field("TransactionData", &input.transaction_data, 2, 1024)?;
                let (record, imk) =
                    self.use_key(&input.key_identifier, "KeyIdentifier", &roles::ARQC)?;
                let card = Card {
                    pan: &pan,
                    psn,
                    option,
                };
                let arqc = emv::generate_arqc(
                    &*imk,
                    &card,
                    &derivation,
                    &data,
                    emv::default_padding(derivation.mode()),
                )
                .map_err(|e| core_error(SKD, e))?;
                Ok((
                    GenerateAuthRequestCryptogramOutput {
                        key_arn: self.arn_text(&record)?,
                        key_check_value: record.key_check_value.clone(),
                        auth_request_cryptogram: payhsm_core::hex::encode(arqc.as_bytes()),
                    },
                    Vec::new(),
                ))
            },
        )
    }

    /// `VerifyAuthRequestCryptogram`: the one `INVALID_AUTH_REQUEST_CRYPTOGRAM` on a mismatch;
    /// with `AuthResponseAttributes`, the ARPC.
    pub fn verify_auth_request_cryptogram(
        &self,
        input: VerifyAuthRequestCryptogramInput,
    ) -> Result<VerifyAuthRequestCryptogramOutput, Error> {
        let params = || json!({ "keyIdentifier": input.key_identifier, "majorKeyDerivationMode": input.major_key_derivation_mode });
        self.run("VerifyAuthRequestCryptogram", Audit::FailuresOnly, params, || {
            let option = option(&input.major_key_derivation_mode)?;
            let (pan, psn, derivation) = input.session_key_derivation_attributes.parse()?;
            let data = hex_field("TransactionData", &input.transaction_data, 2, 1024)?;
            let arqc = hex_field("AuthRequestCryptogram", &input.auth_request_cryptogram, 16, 16)?;
            let response = match &input.auth_response_attributes {
                None => None,
                Some(AuthResponseAttributes::ArpcMethod1(m)) => Some((
                    1,
                    hex_field("AuthResponseAttributes.ArpcMethod1.AuthResponseCode", &m.auth_response_code, 4, 4)?,
                    Vec::new(),
                )),
                Some(AuthResponseAttributes::ArpcMethod2(m)) => Some((
                    2,
                    hex_field("AuthResponseAttributes.ArpcMethod2.CardStatusUpdate", &m.card_status_update, 8, 8)?,
                    m.proprietary_authentication_data
                        .as_deref()
                        .map(|p| hex_field("AuthResponseAttributes.ArpcMethod2.ProprietaryAuthenticationData", p, 2, 16))
                        .transpose()?
                        .unwrap_or_default(),
                )),
            };
            let (record, imk) = self.use_key(&input.key_identifier, "KeyIdentifier", &roles::ARQC)?;
            let card = Card { pan: &pan, psn, option };
            let session = card
                .session_key(&*imk, &derivation)
                .and_then(|k| k.handle())
                .map_err(|e| core_error(SKD, e))?;
            verified(
                ac::verify_ac(&session, &data, emv::default_padding(derivation.mode()), &arqc),
                VerificationFailedReason::InvalidAuthRequestCryptogram,
                "AuthRequestCryptogram",
            )?;
            let mut out = VerifyAuthRequestCryptogramOutput {
                key_arn: self.arn_text(&record)?,
                key_check_value: record.key_check_value.clone(),
                auth_response_value: None,
            };
            if let Some((method, a, b)) = response {
                let arpc = match method {
                    1 => ac::arpc_method1(&session, &arqc, &a),
                    _ => ac::arpc_method2(&session, &arqc, &a, &b),
                }
                .map_err(|e| core_error("AuthResponseAttributes", e))?;
                out.auth_response_value = Some(payhsm_core::hex::encode(arpc.as_bytes()));
            }
            Ok((out, Vec::new()))
        })
    }
}
