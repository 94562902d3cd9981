//! What the card, PIN and MAC calculators share: parsing clear keys and turning a verification
//! result into the service's answer.

use payhsm_core::{
    Error,
    crypto::SoftwareKey,
    fields::{Expiry, Pan, ServiceCode},
    key::{Algorithm, KeyAlgorithm},
    secret::KeyMaterial,
};
use serde_json::{Value, json};

use crate::error::CliError;

/// A clear key for a block cipher: TDES when `cipher` says so or, by default, for 16- and
/// 24-byte keys; AES otherwise.
pub(crate) fn block_key(
    option: &str,
    hex: &str,
    cipher: Option<Algorithm>,
) -> Result<SoftwareKey, CliError> {
    let material = KeyMaterial::from_hex("key", hex).map_err(|e| CliError::invalid(option, e))?;
    let cipher = cipher.unwrap_or(match material.len() {
        16 | 24 => Algorithm::TDES,
        _ => Algorithm::AES,
    });
    let algorithm = KeyAlgorithm::from_block_cipher(cipher, material.len())
        .map_err(|e| CliError::invalid(option, e))?;
    SoftwareKey::new(algorithm, &material).map_err(|e| CliError::invalid(option, e))
}

/// A clear two-key TDES key (CVK, PVK, CSC key, issuer master key).
pub(crate) fn tdes2_key(option: &str, hex: &str) -> Result<SoftwareKey, CliError> {
    SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, hex).map_err(|e| CliError::invalid(option, e))
}

pub(crate) fn pan(option: &str, text: &str) -> Result<Pan, CliError> {
    Pan::new(text).map_err(|e| CliError::invalid(option, e))
}

pub(crate) fn expiry(text: &str) -> Result<Expiry, CliError> {
    Expiry::new(text).map_err(|e| CliError::invalid("--expiry", e))
}

pub(crate) fn service_code(text: &str) -> Result<ServiceCode, CliError> {
    ServiceCode::new(text).map_err(|e| CliError::invalid("--service-code", e))
}

/// `{"Verified": true}` on a match; the service's reason on a mismatch; other errors as they
/// are.
pub(crate) fn verified(result: Result<(), Error>, reason: &'static str) -> Result<Value, CliError> {
    match result {
        Ok(()) => Ok(json!({ "Verified": true })),
        Err(Error::VerificationFailed) => Err(CliError::Verification { reason }),
        Err(e) => Err(e.into()),
    }
}

/// The service's reasons (`VerificationFailedException.Reason`).
pub(crate) const INVALID_PIN: &str = "INVALID_PIN";
pub(crate) const INVALID_VALIDATION_DATA: &str = "INVALID_VALIDATION_DATA";
pub(crate) const INVALID_MAC: &str = "INVALID_MAC";
