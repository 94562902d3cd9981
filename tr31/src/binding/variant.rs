//! Key variant binding (versions A and C): KBEK and KBAK are XOR variants of the KBPK.

use payhsm_core::{
    crypto::{SoftwareKey, SymmetricKey},
    secret::KeyMaterial,
};

use crate::Error;

/// The byte XORed into every KBPK byte to form the KBEK ('E').
pub(crate) const ENCRYPTION_MASK: u8 = 0x45;
/// The byte XORed into every KBPK byte to form the KBAK ('M').
pub(crate) const AUTHENTICATION_MASK: u8 = 0x4D;

/// The KBPK XOR `mask` in every byte.
pub(crate) fn variant(kbpk: &KeyMaterial, mask: u8) -> KeyMaterial {
    let mut key = kbpk.duplicate();
    key.expose_secret_mut().iter_mut().for_each(|b| *b ^= mask);
    key
}

/// The CBC IV: the first 8 bytes of the header.
pub(crate) fn iv(header: &[u8]) -> Result<&[u8], Error> {
    header
        .get(..8)
        .ok_or(Error::invalid("header", "shorter than one TDES block"))
}

/// TDES CBC-MAC (ISO 9797-1 algorithm 1, no padding: the input is whole blocks) of
/// header ‖ ciphertext: the last cipher block.
pub(crate) fn mac(kbak: &SoftwareKey, header_and_ciphertext: &[u8]) -> Result<[u8; 8], Error> {
    let mut chain = [0u8; 8];
    for block in header_and_ciphertext.chunks(8) {
        chain.iter_mut().zip(block).for_each(|(c, b)| *c ^= b);
        kbak.encrypt_ecb(&mut chain)?;
    }
    Ok(chain)
}
