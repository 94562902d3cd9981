//! The card data that PIN and card-validation algorithms take: PAN, expiry date, service code,
//! and the secret digit strings they produce.
//!
//! Every constructor validates its input and names the field in its error, so bad input never
//! reaches an algorithm. The digit strings derived from keys (CVVs, PVVs, PIN offsets) are
//! [`SecretDigits`]: zeroized on drop, redacted in `Debug`, compared in constant time.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::{Error, secret::SecretBuf};

/// Checks that `text` is `min..=max` decimal digits.
pub(crate) fn check_digits(
    field: &'static str,
    text: &str,
    min: usize,
    max: usize,
    expected: &'static str,
) -> Result<(), Error> {
    if text.len() < min || text.len() > max {
        return Err(Error::InvalidLength {
            field,
            expected,
            actual: text.len(),
        });
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidValue {
            field,
            reason: "expected decimal digits only",
        });
    }
    Ok(())
}

/// Packs hex-digit text (two digits a byte) into `out`, right-padding with `pad` nibbles.
/// The caller has validated the characters.
pub(crate) fn pack_nibbles(text: &[u8], pad: u8, out: &mut [u8]) {
    for (i, byte) in out.iter_mut().enumerate() {
        let nib = |j: usize| text.get(j).map_or(pad, |&c| nibble_of(c));
        *byte = (nib(2 * i) << 4) | nib(2 * i + 1);
    }
}

/// The value of one hex digit character (the caller has validated it).
pub(crate) fn nibble_of(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c.wrapping_sub(b'A').wrapping_add(10) & 0x0F,
    }
}

/// The hex character of a nibble (upper case).
pub(crate) fn hex_char(n: u8) -> u8 {
    b"0123456789ABCDEF"[usize::from(n & 0x0F)]
}

/// The Visa decimalisation of a cipher block, as CVV and PVV use it: first every nibble that is
/// a decimal digit, left to right; then every nibble A–F minus 10, left to right ("two-pass";
/// single-pass is a known interoperability bug). Writes 2 × `block.len()` ASCII digits.
pub(crate) fn visa_decimalise(block: &[u8], out: &mut [u8]) {
    let nibbles = || block.iter().flat_map(|b| [b >> 4, b & 0x0F]);
    let mut k = 0;
    for n in nibbles().filter(|&n| n < 10) {
        if let Some(slot) = out.get_mut(k) {
            *slot = b'0' + n;
        }
        k += 1;
    }
    for n in nibbles().filter(|&n| n >= 10) {
        if let Some(slot) = out.get_mut(k) {
            *slot = b'0' + (n - 10);
        }
        k += 1;
    }
}

/// A primary account number: 12 to 19 decimal digits.
///
/// A PAN is cardholder data, not a key-derived secret, so it has ordinary `Debug` that masks
/// all but the first six and last four digits, as PCI DSS allows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Pan {
    digits: [u8; 19],
    len: usize,
}

impl Pan {
    /// The shortest PAN accepted (ISO/IEC 7812 allows 8, payment networks use 12 and up).
    pub const MIN_LEN: usize = 12;
    /// The longest PAN (ISO/IEC 7812).
    pub const MAX_LEN: usize = 19;

    /// A PAN from its digits.
    pub fn new(text: &str) -> Result<Self, Error> {
        check_digits("pan", text, Self::MIN_LEN, Self::MAX_LEN, "12 to 19 digits")?;
        let mut digits = [0u8; 19];
        digits[..text.len()].copy_from_slice(text.as_bytes());
        Ok(Self {
            digits,
            len: text.len(),
        })
    }

    /// The PAN as ASCII digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        core::str::from_utf8(&self.digits[..self.len]).unwrap_or("")
    }

    /// The PAN as ASCII digit bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.digits[..self.len]
    }

    /// The number of digits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a PAN has at least 12 digits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digits without the check digit (the last one).
    pub fn without_check_digit(&self) -> &[u8] {
        &self.digits[..self.len - 1]
    }

    /// The `n` rightmost digits excluding the check digit (ISO 9564 formats 0 and 3 use 12,
    /// Visa PVV uses 11).
    pub fn rightmost_excluding_check(&self, n: usize) -> &[u8] {
        let body = self.without_check_digit();
        &body[body.len().saturating_sub(n)..]
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.as_str();
        write!(f, "Pan({}…{})", &s[..6], &s[s.len() - 4..])
    }
}

/// A card expiry date: four digits, YYMM by convention.
///
/// The month is not range-checked: issuers feed CVV algorithms with MMYY as well, and the
/// published vectors use dates such as `3333`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expiry([u8; 4]);

impl Expiry {
    /// An expiry date from four digits.
    pub fn new(text: &str) -> Result<Self, Error> {
        check_digits("expiry", text, 4, 4, "4 digits (YYMM)")?;
        let mut d = [0u8; 4];
        d.copy_from_slice(text.as_bytes());
        Ok(Self(d))
    }

    /// The four ASCII digits.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A three-digit service code (ISO/IEC 7813). `000` gives CVV2/CVC2, `999` gives iCVV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceCode([u8; 3]);

impl ServiceCode {
    /// The service code Visa CVV2 and Mastercard CVC2 are computed with.
    pub const CVV2: Self = Self(*b"000");
    /// The service code Visa iCVV (chip track-2 equivalent data) is computed with.
    pub const ICVV: Self = Self(*b"999");

    /// A service code from three digits.
    pub fn new(text: &str) -> Result<Self, Error> {
        check_digits("service code", text, 3, 3, "3 digits")?;
        let mut d = [0u8; 3];
        d.copy_from_slice(text.as_bytes());
        Ok(Self(d))
    }

    /// The three ASCII digits.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A secret string of up to 16 decimal digits derived from a key: a CVV, PVV, PIN offset,
/// CSC, dCVV, CVC3 or CAVV.
///
/// Zeroized on drop, redacted in `Debug`, no `Clone`; [`SecretDigits::verify`] compares in
/// constant time.
pub struct SecretDigits(SecretBuf<16>);

impl SecretDigits {
    /// Wraps ASCII decimal digits (1 to 16), checking them.
    pub fn new(field: &'static str, text: &str) -> Result<Self, Error> {
        check_digits(field, text, 1, 16, "1 to 16 digits")?;
        Ok(Self(SecretBuf::from_slice(field, text.as_bytes())?))
    }

    /// Takes ownership of already validated ASCII digits.
    pub(crate) fn from_ascii(digits: &[u8]) -> Result<Self, Error> {
        Ok(Self(SecretBuf::from_slice("digits", digits)?))
    }

    /// The digits. Every call site is a place where the secret leaves its type.
    pub fn expose_secret(&self) -> &str {
        core::str::from_utf8(self.0.expose_secret()).unwrap_or("")
    }

    /// The number of digits.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no digits.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares with `presented` in constant time (the length is public). Any difference,
    /// including the length, is the one opaque [`Error::VerificationFailed`].
    pub fn verify(&self, presented: &str) -> Result<(), Error> {
        if bool::from(self.0.expose_secret().ct_eq(presented.as_bytes())) {
            Ok(())
        } else {
            Err(Error::VerificationFailed)
        }
    }
}

// The inner `SecretBuf` zeroizes on drop.
impl zeroize::ZeroizeOnDrop for SecretDigits {}

impl fmt::Debug for SecretDigits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretDigits([REDACTED; {} digits])", self.0.len())
    }
}

/// Decimalises `block` (at most 16 bytes) the Visa way — decimal nibbles first, then A–F as
/// 0–5 — and keeps the first `n` digits as a secret.
pub fn visa_digits(block: &[u8], n: usize) -> Result<SecretDigits, Error> {
    let mut all = [0u8; 32];
    let len = 2 * block.len();
    if block.len() > 16 || n > len {
        return Err(Error::InvalidLength {
            field: "digits",
            expected: "no more digits than the block has nibbles",
            actual: n,
        });
    }
    visa_decimalise(block, &mut all[..len]);
    let out = SecretDigits::from_ascii(&all[..n]);
    all.zeroize();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn pan_rules() {
        assert!(Pan::new("12345678901").is_err());
        assert!(Pan::new("12345678901234567890").is_err());
        assert!(Pan::new("1234567890ab").is_err());
        let p = Pan::new("4012345678909").unwrap();
        assert_eq!(p.rightmost_excluding_check(12), b"401234567890");
        assert_eq!(p.rightmost_excluding_check(11), b"01234567890");
        assert_eq!(format!("{p:?}"), "Pan(401234…8909)");
    }

    #[test]
    fn expiry_and_service_code_rules() {
        assert!(Expiry::new("123").is_err());
        assert!(Expiry::new("12a4").is_err());
        assert!(ServiceCode::new("1010").is_err());
        assert_eq!(ServiceCode::new("101").unwrap().as_bytes(), b"101");
    }

    #[test]
    fn two_pass_decimalisation() {
        // Worked example of the shared CVV vectors: 24E1A05574051BBF -> 2410557405140115.
        let block = [0x24, 0xE1, 0xA0, 0x55, 0x74, 0x05, 0x1B, 0xBF];
        let mut out = [0u8; 16];
        visa_decimalise(&block, &mut out);
        assert_eq!(&out, b"2410557405140115");
    }

    #[test]
    fn secret_digits_redact_and_compare() {
        let d = SecretDigits::new("cvv", "123").unwrap();
        assert_eq!(format!("{d:?}"), "SecretDigits([REDACTED; 3 digits])");
        d.verify("123").unwrap();
        assert_eq!(d.verify("124"), Err(Error::VerificationFailed));
        assert_eq!(d.verify("12"), Err(Error::VerificationFailed));
        assert!(SecretDigits::new("cvv", "12a").is_err());
    }
}
