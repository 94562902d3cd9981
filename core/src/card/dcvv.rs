//! The Visa dynamic CVV (dCVV) of contactless magnetic-stripe transactions.
//!
//! The card key is derived from the issuer's dCVV master key by EMV option A
//! ([`super::icc`]); the dCVV is then the [CVV algorithm](super::cvv) over the PAN whose first
//! four digits are replaced by the application transaction counter (4 hex digits), the expiry
//! date and the service code. This layout follows jPOS `JCESecurityModule.calculatedCVV` and
//! the payShield `PM` command description; Visa does not publish the specification.

use super::{check_len, check_presented, cvv::cvv_algorithm, icc};
use crate::{
    Error,
    crypto::SymmetricKey,
    fields::{Expiry, Pan, SecretDigits, ServiceCode},
};

/// An application transaction counter: 2 to 4 hex digits, left-padded to 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Atc([u8; 4]);

impl Atc {
    /// An ATC from 2 to 4 hex digits.
    pub fn new(text: &str) -> Result<Self, Error> {
        if !(2..=4).contains(&text.len()) {
            return Err(Error::InvalidLength {
                field: "application transaction counter",
                expected: "2 to 4 hex digits",
                actual: text.len(),
            });
        }
        if !text.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::InvalidValue {
                field: "application transaction counter",
                reason: "expected hex digits",
            });
        }
        let mut d = [b'0'; 4];
        d[4 - text.len()..].copy_from_slice(text.as_bytes());
        d.make_ascii_uppercase();
        Ok(Self(d))
    }

    /// The four hex digits.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The counter as two bytes.
    pub fn to_bytes(&self) -> [u8; 2] {
        let mut b = [0u8; 2];
        crate::fields::pack_nibbles(&self.0, 0, &mut b);
        b
    }
}

/// The dCVV (3 digits) under the card's dCVV key.
pub fn generate_with_card_key(
    card_key: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    expiry: &Expiry,
    service_code: &ServiceCode,
    atc: &Atc,
    len: usize,
) -> Result<SecretDigits, Error> {
    check_len(len, 3, 3, "3 digits")?;
    cvv_algorithm(
        card_key,
        &[
            atc.as_bytes(),
            &pan.as_bytes()[4..],
            expiry.as_bytes(),
            service_code.as_bytes(),
        ],
        len,
    )
}

/// The dCVV under the issuer's dCVV master key: derives the card key (option A), then
/// [`generate_with_card_key`].
pub fn generate(
    imk: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    psn: &icc::PanSequenceNumber,
    expiry: &Expiry,
    service_code: &ServiceCode,
    atc: &Atc,
) -> Result<SecretDigits, Error> {
    let card = icc::derive_software_key(imk, pan, psn)?;
    generate_with_card_key(&card, pan, expiry, service_code, atc, 3)
}

/// Verifies a presented dCVV in constant time.
pub fn verify(
    imk: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    psn: &icc::PanSequenceNumber,
    expiry: &Expiry,
    service_code: &ServiceCode,
    atc: &Atc,
    presented: &str,
) -> Result<(), Error> {
    check_presented(presented, 3, 3, "3 digits")?;
    generate(imk, pan, psn, expiry, service_code, atc)?.verify(presented)
}
