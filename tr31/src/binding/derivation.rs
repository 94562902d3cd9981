//! Key derivation binding (versions B and D): one counter-mode CMAC KDF (NIST SP 800-108) for
//! TDES and AES KBPKs.
//!
//! Each CMAC input is 8 bytes: counter (from 1), key usage indicator (`0000` encryption,
//! `0001` MAC), separator `00`, algorithm indicator (`0000` TDES 2-key, `0001` TDES 3-key,
//! `0002` AES-128, `0003` AES-192, `0004` AES-256) and the derived key's length in bits. The
//! outputs are concatenated and cut to the KBPK's length: KBEK and KBAK have the KBPK's
//! algorithm.

use payhsm_core::{crypto::SymmetricKey, key::KeyAlgorithm, secret::KeyMaterial};

use crate::Error;

/// What a derived key is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    Encryption = 0x00,
    Authentication = 0x01,
}

/// The derived key's bytes.
pub(crate) fn derive(kbpk: &dyn SymmetricKey, purpose: Purpose) -> Result<KeyMaterial, Error> {
    let algorithm = kbpk.key_algorithm();
    let indicator: u8 = match algorithm {
        KeyAlgorithm::Tdes2Key => 0,
        KeyAlgorithm::Tdes3Key => 1,
        KeyAlgorithm::Aes128 => 2,
        KeyAlgorithm::Aes192 => 3,
        KeyAlgorithm::Aes256 => 4,
        _ => return Err(Error::invalid("kbpk", "not a TDES or AES key")),
    };
    let len = algorithm
        .key_len()
        .ok_or(Error::invalid("kbpk", "not a TDES or AES key"))?;
    let bits = u16::try_from(8 * len).map_err(|_| Error::invalid("kbpk", "too long"))?;
    let block_len = kbpk.block_cipher()?.block_len();
    let mut key = KeyMaterial::zeroed("derived key", len)?;
    for (counter, chunk) in (1u8..).zip(key.expose_secret_mut().chunks_mut(block_len)) {
        let [bits_hi, bits_lo] = bits.to_be_bytes();
        let input = [counter, 0, purpose as u8, 0, 0, indicator, bits_hi, bits_lo];
        let tag = kbpk.cmac(&input)?;
        let out = tag
            .as_bytes()
            .get(..chunk.len())
            .ok_or(Error::invalid("kbpk", "CMAC shorter than a cipher block"))?;
        chunk.copy_from_slice(out);
    }
    Ok(key)
}
