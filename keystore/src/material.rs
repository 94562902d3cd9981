//! Key material: new random keys, checks on imported ones, and the KCV method a key gets.

use payhsm_core::{
    kcv::KcvMethod,
    key::{Algorithm, KeyAlgorithm, KeyAttributes},
    rng::{OsRandom, RandomSource},
    secret::SecretVec,
};
use payhsm_tr34::rsa::{RsaKeySize, SoftwareRsaKey};

use crate::{
    Error, Rule,
    ecc::{Curve, SoftwareEcKey},
};

/// The KCV method: the requested one if it fits the algorithm, else the algorithm's default.
pub(crate) fn kcv_method(requested: Option<&str>, a: &KeyAttributes) -> Result<KcvMethod, Error> {
    let default = KcvMethod::default_for(a.key_algorithm)
        .map_err(|e| Error::validation("KeyAttributes.KeyAlgorithm", e.to_string()))?;
    let Some(name) = requested else {
        return Ok(default);
    };
    let m = KcvMethod::from_name(name)
        .map_err(|e| Error::validation("KeyCheckValueAlgorithm", e.to_string()))?;
    let fits = match a.key_algorithm.tr31_algorithm() {
        Algorithm::TDES => matches!(m, KcvMethod::AnsiX924 | KcvMethod::Cmac),
        Algorithm::AES => m == KcvMethod::Cmac,
        Algorithm::HMAC => m == KcvMethod::Hmac,
        _ => m == KcvMethod::Sha1,
    };
    if fits {
        Ok(m)
    } else {
        Err(Error::validation(
            "KeyCheckValueAlgorithm",
            format!("{} does not fit a {} key", m.name(), a.key_algorithm),
        ))
    }
}

/// New random key material for `algorithm`: TDES keys get odd parity and are redrawn until
/// no part is weak and no two parts are equal; an RSA key pair is its PKCS #1 private key, an
/// ECC key pair its SEC 1 `ECPrivateKey`.
pub(crate) fn generate_material(algorithm: KeyAlgorithm) -> Result<SecretVec, Error> {
    if let Some(size) = rsa_size(algorithm) {
        return SoftwareRsaKey::generate(size)
            .and_then(|k| k.to_pkcs1_der())
            .map_err(|e| Error::internal(format!("RSA key generation: {e}")));
    }
    if let Some(curve) = Curve::of(algorithm) {
        return SoftwareEcKey::generate(curve)?.to_sec1_der();
    }
    let len = algorithm.key_len().ok_or_else(|| {
        Error::policy(
            Rule::KeyAttributes,
            "this HSM generates TDES, AES, HMAC, RSA and ECC keys",
        )
    })?;
    loop {
        let mut m = SecretVec::zeroed(len);
        OsRandom
            .fill(m.expose_secret_mut())
            .map_err(|_| Error::internal("the random source failed"))?;
        if algorithm.tr31_algorithm() == Algorithm::TDES {
            payhsm_core::crypto::tdes::set_odd_parity(m.expose_secret_mut());
            if payhsm_core::crypto::tdes::check_strength(m.expose_secret()).is_err() {
                continue;
            }
        }
        return Ok(m);
    }
}

/// Checks imported key material: its length fits the algorithm, and a TDES key is not weak.
pub(crate) fn check_material(algorithm: KeyAlgorithm, material: &[u8]) -> Result<(), Error> {
    if algorithm.key_len() != Some(material.len()) {
        return Err(Error::validation(
            "KeyMaterial",
            format!("a {algorithm} key is {:?} bytes", algorithm.key_len()),
        ));
    }
    if algorithm.tr31_algorithm() == Algorithm::TDES {
        payhsm_core::crypto::tdes::check_strength(material)
            .map_err(|e| crate::error::core_error("KeyMaterial", e))?;
    }
    Ok(())
}

/// The RSA key size of an algorithm, if it is an RSA one.
pub(crate) fn rsa_size(algorithm: KeyAlgorithm) -> Option<RsaKeySize> {
    [
        RsaKeySize::Rsa2048,
        RsaKeySize::Rsa3072,
        RsaKeySize::Rsa4096,
    ]
    .into_iter()
    .find(|s| s.key_algorithm() == algorithm)
}
