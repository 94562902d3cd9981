//! ICC master key derivation, EMV Book 2 Annex A1.4.1 (option A), for the card-level keys of
//! dCVV and CVC3.
//!
//! `Y` is the rightmost 16 digits of PAN ‖ PAN sequence number (left-padded with zeros); the
//! card key is `TDES(IMK, Y) ‖ TDES(IMK, Y ⊕ FF…FF)` with odd parity.

use zeroize::Zeroize;

use crate::{
    Error,
    crypto::{SoftwareKey, SymmetricKey, tdes::set_odd_parity},
    fields::{Pan, check_digits, pack_nibbles},
    key::KeyAlgorithm,
    secret::KeyMaterial,
};

/// A PAN sequence number: two digits (`00` when the card has none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PanSequenceNumber([u8; 2]);

impl PanSequenceNumber {
    /// `00`.
    pub const ZERO: Self = Self(*b"00");

    /// A PAN sequence number from two digits.
    pub fn new(text: &str) -> Result<Self, Error> {
        check_digits("pan sequence number", text, 2, 2, "2 digits")?;
        Ok(Self([text.as_bytes()[0], text.as_bytes()[1]]))
    }

    /// The two ASCII digits.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// EMV master key derivation (options A and B) is defined for TDES issuer master keys only.
pub(crate) fn require_tdes_imk(imk: &(impl SymmetricKey + ?Sized)) -> Result<(), Error> {
    if matches!(
        imk.key_algorithm(),
        KeyAlgorithm::Tdes2Key | KeyAlgorithm::Tdes3Key
    ) {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            field: "issuer master key",
            reason: "EMV master key derivation (options A and B) uses a TDES key",
        })
    }
}

/// Derives the ICC master key (option A) from the issuer master key `imk`, a TDES key.
pub fn derive_option_a(
    imk: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    psn: &PanSequenceNumber,
) -> Result<KeyMaterial, Error> {
    require_tdes_imk(imk)?;
    let mut text = [b'0'; 21];
    let n = pan.len() + 2;
    text[21 - n..21 - 2].copy_from_slice(pan.as_bytes());
    text[19..].copy_from_slice(psn.as_bytes());
    let mut out = KeyMaterial::zeroed("ICC master key", 16)?;
    let k = out.expose_secret_mut();
    pack_nibbles(&text[5..], 0, &mut k[..8]);
    text.zeroize();
    let (left, right) = k.split_at_mut(8);
    right.copy_from_slice(left);
    right.iter_mut().for_each(|b| *b ^= 0xFF);
    imk.encrypt_ecb(left)?;
    imk.encrypt_ecb(right)?;
    set_odd_parity(k);
    Ok(out)
}

/// Derives the ICC master key and expands it as a software key.
pub fn derive_software_key(
    imk: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    psn: &PanSequenceNumber,
) -> Result<SoftwareKey, Error> {
    SoftwareKey::new(KeyAlgorithm::Tdes2Key, &derive_option_a(imk, pan, psn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    // pyemv 1.5.0 `kd.derive_icc_mk_a` docstring example (EMV 4.3 Book 2 A1.4.1).
    #[test]
    fn option_a_example() {
        let imk = SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "0123456789ABCDEFFEDCBA9876543210")
            .unwrap();
        let k = derive_option_a(
            &imk,
            &Pan::new("12345678901234567").unwrap(),
            &PanSequenceNumber::new("01").unwrap(),
        )
        .unwrap();
        assert_eq!(
            crate::hex::encode(k.expose_secret()),
            "73AD54688CEF2934B0979857E3C719F1"
        );
        assert!(PanSequenceNumber::new("1").is_err());
        let aes = SoftwareKey::from_hex(KeyAlgorithm::Aes128, "0123456789ABCDEFFEDCBA9876543210")
            .unwrap();
        assert!(
            derive_option_a(
                &aes,
                &Pan::new("123456789012").unwrap(),
                &PanSequenceNumber::ZERO
            )
            .is_err()
        );
    }
}
