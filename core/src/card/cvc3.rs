//! Mastercard CVC3 (dynamic CVC) of contactless magnetic-stripe transactions.
//!
//! The card's CVC3 key comes from the issuer's CVC3 master key by EMV option A
//! ([`super::icc`]). `IVCVC3` is the last two bytes of the retail MAC (ISO 9797-1 algorithm 3,
//! padding method 2) of the track template; the CVC3 is the last two bytes of
//! `TDES(card key, IVCVC3 ‖ UN ‖ ATC)` read as a number, five decimal digits. A terminal
//! receives only the rightmost 3 to 5 of them.

use super::{check_presented, dcvv::Atc, icc};
use crate::{
    Error,
    crypto::SymmetricKey,
    fields::{Pan, SecretDigits},
    mac::{Padding, iso9797_1_algorithm3},
};

/// An unpredictable number: 2 to 8 hex digits, left-padded to 4 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnpredictableNumber([u8; 4]);

impl UnpredictableNumber {
    /// An unpredictable number from 2 to 8 hex digits (an even number of them).
    pub fn new(text: &str) -> Result<Self, Error> {
        if !(2..=8).contains(&text.len()) || !text.len().is_multiple_of(2) {
            return Err(Error::InvalidLength {
                field: "unpredictable number",
                expected: "2, 4, 6 or 8 hex digits",
                actual: text.len(),
            });
        }
        let mut b = [0u8; 4];
        crate::hex::decode_into(
            "unpredictable number",
            text.as_bytes(),
            &mut b[4 - text.len() / 2..],
        )?;
        Ok(Self(b))
    }

    /// The four bytes.
    pub fn as_bytes(&self) -> &[u8; 4] {
        &self.0
    }
}

/// The five-digit CVC3 under the card's CVC3 key.
pub fn generate_with_card_key(
    card_key: &(impl SymmetricKey + ?Sized),
    track_data: &[u8],
    un: &UnpredictableNumber,
    atc: &Atc,
) -> Result<SecretDigits, Error> {
    if track_data.is_empty() {
        return Err(Error::InvalidLength {
            field: "track data",
            expected: "at least one byte",
            actual: 0,
        });
    }
    let iv = iso9797_1_algorithm3(card_key, track_data, Padding::Method2)?;
    let mut block = [0u8; 8];
    block[..2].copy_from_slice(&iv.as_bytes()[6..8]);
    block[2..6].copy_from_slice(un.as_bytes());
    block[6..].copy_from_slice(&atc.to_bytes());
    card_key.encrypt_ecb(&mut block)?;
    let value = u16::from_be_bytes([block[6], block[7]]);
    zeroize::Zeroize::zeroize(&mut block);
    let mut digits = [0u8; 5];
    let mut v = value;
    for d in digits.iter_mut().rev() {
        *d = b'0' + u8::try_from(v % 10).unwrap_or(0);
        v /= 10;
    }
    SecretDigits::from_ascii(&digits)
}

/// The CVC3 under the issuer's CVC3 master key (derives the card key by option A).
pub fn generate(
    imk: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    psn: &icc::PanSequenceNumber,
    track_data: &[u8],
    un: &UnpredictableNumber,
    atc: &Atc,
) -> Result<SecretDigits, Error> {
    let card = icc::derive_software_key(imk, pan, psn)?;
    generate_with_card_key(&card, track_data, un, atc)
}

/// Verifies the rightmost 3 to 5 digits of a CVC3 in constant time.
pub fn verify(
    imk: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    psn: &icc::PanSequenceNumber,
    track_data: &[u8],
    un: &UnpredictableNumber,
    atc: &Atc,
    presented: &str,
) -> Result<(), Error> {
    check_presented(presented, 3, 5, "3 to 5 digits")?;
    let full = generate(imk, pan, psn, track_data, un, atc)?;
    let tail = SecretDigits::from_ascii(&full.expose_secret().as_bytes()[5 - presented.len()..])?;
    tail.verify(presented)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{crypto::SoftwareKey, hex, key::KeyAlgorithm};

    // pyemv 1.5.0 `cvv.generate_cvc3` docstring example.
    #[test]
    fn cvc3_example() {
        let imk = SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "01234567899876543210012345678998")
            .unwrap();
        let pan = Pan::new("5123456789012345").unwrap();
        let track = hex::decode("t", "5123456789012345D35121010000000000000F").unwrap();
        let un = UnpredictableNumber::new("00000899").unwrap();
        let atc = Atc::new("005E").unwrap();
        let psn = icc::PanSequenceNumber::ZERO;
        let v = generate(&imk, &pan, &psn, &track, &un, &atc).unwrap();
        assert_eq!(v.expose_secret(), "29488");
        verify(&imk, &pan, &psn, &track, &un, &atc, "488").unwrap();
        verify(&imk, &pan, &psn, &track, &un, &atc, "29488").unwrap();
        assert_eq!(
            verify(&imk, &pan, &psn, &track, &un, &atc, "489"),
            Err(Error::VerificationFailed)
        );
        assert!(UnpredictableNumber::new("123").is_err());
        assert!(Atc::new("12345").is_err());
        assert!(Atc::new("0G").is_err());
    }
}
