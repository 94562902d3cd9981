//! Card validation data: Visa CVV, CVV2 and iCVV (and Mastercard CVC/CVC2, the same
//! algorithm), Amex CSC versions 1 and 2, Visa dCVV, Mastercard CVC3 and the Visa CAVV.
//!
//! Every value is a [`SecretDigits`](crate::fields::SecretDigits): generated on a key handle,
//! verified in constant time with the one opaque
//! [`Error::VerificationFailed`](crate::Error::VerificationFailed).

pub mod cavv;
pub mod csc;
pub mod cvc3;
pub mod cvv;
pub mod dcvv;
pub mod icc;

use crate::{Error, fields::check_digits};

/// Checks a requested validation-data length against `min..=max`.
pub(crate) fn check_len(
    len: usize,
    min: usize,
    max: usize,
    expected: &'static str,
) -> Result<(), Error> {
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(Error::InvalidLength {
            field: "validation data length",
            expected,
            actual: len,
        })
    }
}

/// Checks presented validation data: decimal digits, `min..=max` of them.
pub(crate) fn check_presented(
    text: &str,
    min: usize,
    max: usize,
    expected: &'static str,
) -> Result<(), Error> {
    check_digits("validation data", text, min, max, expected)
}
