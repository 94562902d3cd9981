//! `payhsm import-key-components`: a working key formed in a key ceremony from components,
//! the only way clear key material enters the HSM.

use payhsm_core::{crypto::SoftwareKey, kcv, secret::SecretVec};
use payhsm_keystore::CeremonyKey;
use serde_json::Value;

use super::{Home, custodians::read_key_components, shorthand};
use crate::error::CliError;

/// Reads `components` components and their KCVs, combines them by XOR, and imports the key
/// with `key_attributes` once its KCV equals `check_value` (the ceremony's record).
pub(crate) fn import(
    home: Home,
    components: usize,
    key_attributes: &str,
    exportable: bool,
    check_value: &str,
) -> Result<Value, CliError> {
    let attributes = super::key_attributes(
        shorthand::parse(key_attributes).map_err(|e| CliError::invalid("--key-attributes", e))?,
    )?;
    let algorithm = attributes.key_algorithm;
    let len = algorithm.key_len().ok_or_else(|| {
        CliError::invalid("--key-attributes", "components form symmetric keys only")
    })?;
    let hsm = home.open()?;
    let log = home.audit_log()?;
    let evidence = home.evidence(&log, "ImportKey");
    let parts = read_key_components(components, "Key component", len, &evidence, |m| {
        let key = SoftwareKey::new(algorithm, m).map_err(|e| CliError::invalid("component", e))?;
        Ok(kcv::default_kcv(&key)?.to_string())
    })?;
    let mut material = SecretVec::zeroed(len);
    for part in &parts {
        material
            .expose_secret_mut()
            .iter_mut()
            .zip(part.material.expose_secret())
            .for_each(|(a, b)| *a ^= b);
    }
    Ok(hsm.import_clear_key(CeremonyKey {
        attributes,
        exportable,
        material,
        expected_check_value: check_value.to_owned(),
    })?)
}
