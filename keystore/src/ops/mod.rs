//! The data plane: operations by key id.
//!
//! Each operation resolves its key identifiers, checks each key against the role it plays
//! ([`crate::policy::check_key`]) and only then opens the key's handle and runs the `core`
//! algorithm on it. Failures are audited; successes are not (they are not key management).
//! Requests and responses have the service's shapes and member names.

mod asymmetric;
mod card;
mod data;
mod dukpt;
mod emv;
mod key_material;
mod mac;
mod pin;
mod pin_change;
mod wrapped_key;

pub use asymmetric::AsymmetricAttributes;
pub use card::{
    CardAttributes, ExpiryAndServiceCode, ExpiryOnly, GenerateCardValidationDataInput,
    GenerateCardValidationDataOutput, VerifyCardValidationDataInput,
    VerifyCardValidationDataOutput,
};
pub use data::{
    DecryptDataInput, DecryptDataOutput, EmvEncryptionAttributes, EncryptDataInput,
    EncryptDataOutput, EncryptionAttributes, ReEncryptDataInput, ReEncryptDataOutput,
    ReEncryptionAttributes, SymmetricAttributes,
};
pub use dukpt::{DukptEncryptionAttributes, DukptMacAttributes, DukptPinAttributes};
pub use emv::{
    AuthResponseAttributes, GenerateAuthRequestCryptogramInput,
    GenerateAuthRequestCryptogramOutput, SessionKeyDerivationAttributes,
    VerifyAuthRequestCryptogramInput, VerifyAuthRequestCryptogramOutput,
};
pub use key_material::{
    IncomingKeyMaterial, OutgoingKeyMaterial, OutgoingTr31KeyBlock, TranslateKeyMaterialInput,
    TranslateKeyMaterialOutput, WrappedWorkingKey,
};
pub use mac::{
    EmvMacAttributes, GenerateMacInput, GenerateMacOutput, MacAttributes,
    SessionKeyDerivationValueInput, VerifyMacInput, VerifyMacOutput,
};
pub use pin::{
    GeneratePinDataInput, GeneratePinDataOutput, Ibm3624Attributes, PinData,
    PinGenerationAttributes, PinVerificationAttributes, TranslatePinDataInput,
    TranslatePinDataOutput, TranslationIsoFormats, VerifyPinDataInput, VerifyPinDataOutput,
};
pub use pin_change::{
    AtcPinChange, CryptogramPinChange, CurrentPinAttributes, DerivationMethodAttributes,
    EmvCommonPinChange, GenerateMacEmvPinChangeInput, GenerateMacEmvPinChangeOutput,
    VisaAmexDerivationOutputs, VisaAmexPinChange,
};
pub use wrapped_key::{EcdhDerivationAttributes, WrappedKey, WrappedKeyMaterial};

use std::sync::Arc;

use payhsm_core::fields::Pan;
use serde::{Deserialize, Deserializer};

use crate::{
    Error, VerificationFailedReason,
    error::core_error,
    hsm::Hsm,
    model::KeyRecord,
    policy::{self, KeyRole},
    store::Store,
};

impl<S: Store> Hsm<S> {
    /// Resolves a key, checks it against `role`, and opens its handle.
    pub(crate) fn use_key(
        &self,
        identifier: &str,
        field: &str,
        role: &KeyRole,
    ) -> Result<(Arc<KeyRecord>, Arc<S::Handle>), Error> {
        let record = self.load_in_use(identifier, field)?;
        policy::check_key(role, &record)?;
        let handle = self.store().open(&record)?;
        Ok((record, handle))
    }

    /// The ARN of a stored key, as text.
    pub(crate) fn arn_text(&self, record: &KeyRecord) -> Result<String, Error> {
        self.arn(&record.key_id).map(|arn| arn.text())
    }
}

/// Hex text of `min..=max` characters, decoded (either case accepted).
pub(crate) fn hex_field(path: &str, text: &str, min: usize, max: usize) -> Result<Vec<u8>, Error> {
    if !(min..=max).contains(&text.len()) {
        return Err(Error::validation(
            path,
            format!("expected {min} to {max} hex characters"),
        ));
    }
    payhsm_core::hex::decode("hex", text)
        .map_err(|_| Error::validation(path, "expected an even number of hex digits 0-9, A-F"))
}

/// A PAN (12 to 19 digits).
pub(crate) fn pan(path: &str, text: &str) -> Result<Pan, Error> {
    Pan::new(text).map_err(|e| core_error(path, e))
}

/// Maps an algorithm's result: a verification failure becomes `VerificationFailedException`
/// with `reason`; any other failure names `path`.
pub(crate) fn verified<T>(
    result: Result<T, payhsm_core::Error>,
    reason: VerificationFailedReason,
    path: &str,
) -> Result<T, Error> {
    result.map_err(|e| match e {
        payhsm_core::Error::VerificationFailed => Error::VerificationFailed { reason },
        other => core_error(path, other),
    })
}

/// An integer given as a JSON number or as decimal text (the AWS CLI shorthand gives text).
pub(crate) fn lenient_int<'de, D: Deserializer<'de>, T: TryFrom<i64>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrText {
        Int(i64),
        Text(String),
    }
    let v: Option<IntOrText> = Option::deserialize(d)?;
    v.map(|v| {
        let n = match v {
            IntOrText::Int(n) => n,
            IntOrText::Text(t) => t
                .parse::<i64>()
                .map_err(|_| serde::de::Error::custom(format!("{t:?} is not an integer")))?,
        };
        T::try_from(n).map_err(|_| serde::de::Error::custom(format!("{n} is out of range")))
    })
    .transpose()
}

/// An empty union member (`IsoFormat1: {}`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}
