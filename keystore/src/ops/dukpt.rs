//! DUKPT by key id: the base derivation key (B0) is a stored key, and each request names the
//! device's transaction by its key serial number. Used by `TranslatePinData`
//! (`IncomingDukptAttributes`), `VerifyPinData` (`DukptAttributes`), `GenerateMac` and
//! `VerifyMac` (`DukptIso9797Algorithm1`, `DukptIso9797Algorithm3`, `DukptCmac`) and
//! `EncryptData` / `DecryptData` (`Dukpt`).
//!
//! AES BDKs are used through their handles. TDES DUKPT needs the BDK's bytes (its initial key
//! XORs a constant into them), so a TDES BDK is read from the store, after policy, for the
//! one derivation.

use std::sync::Arc;

use payhsm_core::{
    dukpt::{Bdk, KeyVariant, Ksn},
    key::KeyAlgorithm,
    secret::KeyMaterial,
};
use serde::Deserialize;

use crate::{Error, error::core_error, hsm::Hsm, model::KeyRecord, store::Store};

/// `DukptDerivationAttributes` (PIN translation) and `DukptAttributes` (PIN verification).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DukptPinAttributes {
    /// 16, 20 or 24 hex digits.
    pub key_serial_number: String,
    /// The working key's algorithm (`DukptKeyDerivationType`).
    pub dukpt_key_derivation_type: Option<String>,
    /// The working key's algorithm (`DukptDerivationType`, the verification shape's name).
    pub dukpt_derivation_type: Option<String>,
    /// The direction (PIN keys have one; accepted for the shape's sake).
    pub dukpt_key_variant: Option<String>,
}

/// `MacAlgorithmDukpt`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DukptMacAttributes {
    /// 16, 20 or 24 hex digits.
    pub key_serial_number: String,
    /// `BIDIRECTIONAL`, `REQUEST` or `RESPONSE`.
    pub dukpt_key_variant: String,
    /// The working key's algorithm.
    pub dukpt_derivation_type: Option<String>,
}

/// `DukptEncryptionAttributes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DukptEncryptionAttributes {
    /// 16, 20 or 24 hex digits.
    pub key_serial_number: String,
    /// `ECB` or `CBC` (default).
    pub mode: Option<String>,
    /// The working key's algorithm.
    pub dukpt_key_derivation_type: Option<String>,
    /// `BIDIRECTIONAL` (default), `REQUEST` or `RESPONSE`.
    pub dukpt_key_variant: Option<String>,
    /// The CBC IV, one cipher block in hex (zeros by default).
    pub initialization_vector: Option<String>,
}

/// A BDK ready for one derivation.
pub(crate) enum BdkKey<H> {
    /// A TDES BDK's bytes.
    Tdes(KeyMaterial),
    /// An AES BDK's handle.
    Aes(Arc<H>),
}

impl<H: payhsm_core::crypto::SymmetricKey> BdkKey<H> {
    pub(crate) fn bdk(&self) -> Bdk<'_> {
        match self {
            Self::Tdes(m) => Bdk::Tdes(m),
            Self::Aes(h) => Bdk::Aes(&**h),
        }
    }
}

impl<S: Store> Hsm<S> {
    /// The BDK of a stored key that policy has cleared for DUKPT.
    pub(crate) fn bdk(&self, record: &KeyRecord) -> Result<BdkKey<S::Handle>, Error> {
        match record.attributes.key_algorithm {
            KeyAlgorithm::Tdes2Key => {
                let bytes = self.store().reveal(record)?;
                Ok(BdkKey::Tdes(
                    KeyMaterial::from_slice("BDK", bytes.expose_secret())
                        .map_err(|e| Error::internal(e.to_string()))?,
                ))
            }
            _ => Ok(BdkKey::Aes(self.store().open(record)?)),
        }
    }
}

/// A KSN.
pub(crate) fn ksn(path: &str, text: &str) -> Result<Ksn, Error> {
    Ksn::from_hex(text).map_err(|e| core_error(path, e))
}

/// A key variant.
pub(crate) fn variant(path: &str, text: Option<&str>) -> Result<KeyVariant, Error> {
    text.map_or(Ok(KeyVariant::Bidirectional), |t| {
        KeyVariant::from_name(t).map_err(|e| core_error(path, e))
    })
}

/// A working-key algorithm no stronger than the BDK.
pub(crate) fn derivation_type(
    path: &str,
    text: Option<&str>,
    bdk: KeyAlgorithm,
) -> Result<Option<KeyAlgorithm>, Error> {
    let Some(name) = text else {
        return Ok(None);
    };
    let algorithm = match KeyAlgorithm::from_name(name) {
        Ok(
            a @ (KeyAlgorithm::Tdes2Key
            | KeyAlgorithm::Tdes3Key
            | KeyAlgorithm::Aes128
            | KeyAlgorithm::Aes192
            | KeyAlgorithm::Aes256),
        ) => a,
        _ => {
            return Err(Error::validation(
                path,
                "expected TDES_2KEY, TDES_3KEY, AES_128, AES_192 or AES_256",
            ));
        }
    };
    if algorithm.strength_bits() > bdk.strength_bits() {
        return Err(Error::validation(
            path,
            "the working key may not be stronger than the BDK",
        ));
    }
    Ok(Some(algorithm))
}
