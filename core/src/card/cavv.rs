//! The Visa cardholder authentication verification value (CAVV) of 3-D Secure, in its
//! CVV-based form.
//!
//! The [CVV algorithm](super::cvv) runs under the CAVV key over the PAN, the 4-digit
//! unpredictable number (in the place of the expiry date), the authentication results code
//! (1 digit) and the second-factor authentication code (2 digits, in the place of the service
//! code). The layout follows jPOS `JCESecurityModule.calculateCAVVImpl`; Visa does not
//! publish the specification.
//!
//! AWS Payment Cryptography's `CardHolderVerificationValue` (unpredictable number, PAN
//! sequence number and ATC under a derived key) is a different construction and is not this.

use super::{check_presented, cvv::cvv_algorithm};
use crate::{
    Error,
    crypto::SymmetricKey,
    fields::{Pan, SecretDigits, check_digits},
};

/// The CAVV inputs besides PAN and key.
#[derive(Clone, Copy, Debug)]
pub struct CavvData {
    un: [u8; 4],
    codes: [u8; 3],
}

impl CavvData {
    /// Checks the unpredictable number (4 digits), the authentication results code (1 digit)
    /// and the second-factor authentication code (2 digits).
    pub fn new(
        unpredictable_number: &str,
        authentication_results_code: &str,
        second_factor_code: &str,
    ) -> Result<Self, Error> {
        check_digits(
            "unpredictable number",
            unpredictable_number,
            4,
            4,
            "4 digits",
        )?;
        check_digits(
            "authentication results code",
            authentication_results_code,
            1,
            1,
            "1 digit",
        )?;
        check_digits(
            "second factor authentication code",
            second_factor_code,
            2,
            2,
            "2 digits",
        )?;
        let mut un = [0u8; 4];
        un.copy_from_slice(unpredictable_number.as_bytes());
        let mut codes = [0u8; 3];
        codes[0] = authentication_results_code.as_bytes()[0];
        codes[1..].copy_from_slice(second_factor_code.as_bytes());
        Ok(Self { un, codes })
    }
}

/// The 3-digit CAVV.
pub fn generate(
    key: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    data: &CavvData,
) -> Result<SecretDigits, Error> {
    cvv_algorithm(key, &[pan.as_bytes(), &data.un, &data.codes], 3)
}

/// Verifies a presented CAVV in constant time.
pub fn verify(
    key: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    data: &CavvData,
    presented: &str,
) -> Result<(), Error> {
    check_presented(presented, 3, 3, "3 digits")?;
    generate(key, pan, data)?.verify(presented)
}
