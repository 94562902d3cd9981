//! American Express card security codes (CSC), versions 1 and 2, as 5-, 4- and 3-digit values.
//!
//! American Express does not publish the algorithm, and no public known-answer vector with a
//! clear key exists. payhsm follows the one public implementation we could read, the ThalesSim
//! payShield simulator's `RY` command (nickntg/thalessimulatorlibrary,
//! `ThalesCore/HostCommands/AHostCommand.vb`, `GenerateCSC`, commit 8829ec7): **treat the
//! values as unconfirmed until checked against an HSM.**
//!
//! - Data block (16 digits): for a PAN starting `37`, the expiry date (YYMM) then PAN digits
//!   3–14; for a PAN starting `34`, PAN digits 3–14 then the expiry date.
//! - Version 1: the block is enciphered under the two-key CSC key.
//! - Version 2: the block and a second block (service code, zero-padded) are chained
//!   (TDES CBC-MAC). ThalesSim enciphers the second block on its own (ECB), which would make
//!   the value depend on the service code alone; payhsm chains instead, so the card data
//!   counts.
//! - Decimalisation of the 16 result digits: the decimal digits, left to right; then each
//!   hex digit A–F at position *i* as A=1 … F=6, plus 5 modulo 10 when *i* ≥ 5. Of the first
//!   12 digits, 1–5 are the 5-digit CSC, 6–9 the 4-digit CSC and 10–12 the 3-digit CSC.

use zeroize::Zeroize;

use super::{check_len, check_presented};
use crate::{
    Error,
    crypto::SymmetricKey,
    fields::{Expiry, Pan, SecretDigits, ServiceCode, pack_nibbles},
    key::KeyAlgorithm,
};

/// The CSC algorithm version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CscVersion {
    /// Version 1 ("classic"): PAN and expiry date.
    V1,
    /// Version 2: PAN, expiry date and service code.
    V2,
}

/// The 12 CSC digits (5 ‖ 4 ‖ 3) as ASCII.
fn csc_digits(
    key: &(impl SymmetricKey + ?Sized),
    version: CscVersion,
    pan: &Pan,
    expiry: &Expiry,
    service_code: Option<&ServiceCode>,
) -> Result<[u8; 12], Error> {
    if key.key_algorithm() != KeyAlgorithm::Tdes2Key {
        return Err(Error::InvalidValue {
            field: "card security code key",
            reason: "the Amex CSC uses a two-key TDES key",
        });
    }
    let digits = pan.as_bytes();
    if digits.len() != 15 || !(digits.starts_with(b"34") || digits.starts_with(b"37")) {
        return Err(Error::InvalidValue {
            field: "pan",
            reason: "an American Express PAN has 15 digits and starts with 34 or 37",
        });
    }
    let mut text = [b'0'; 32];
    if digits.starts_with(b"37") {
        text[..4].copy_from_slice(expiry.as_bytes());
        text[4..16].copy_from_slice(&digits[2..14]);
    } else {
        text[..12].copy_from_slice(&digits[2..14]);
        text[12..16].copy_from_slice(expiry.as_bytes());
    }
    let mut block = [0u8; 16];
    let n = match (version, service_code) {
        (CscVersion::V1, _) => 8,
        (CscVersion::V2, Some(sc)) => {
            text[16..19].copy_from_slice(sc.as_bytes());
            16
        }
        (CscVersion::V2, None) => {
            return Err(Error::InvalidValue {
                field: "service code",
                reason: "CSC version 2 needs the service code",
            });
        }
    };
    pack_nibbles(&text[..2 * n], 0, &mut block[..n]);
    text.zeroize();
    // One block: plain TDES; two blocks: CBC, keeping the last.
    let (first, rest) = block.split_at_mut(8);
    key.encrypt_ecb(first)?;
    let mut result = [0u8; 8];
    result.copy_from_slice(first);
    if n == 16 {
        result.iter_mut().zip(&rest[..8]).for_each(|(r, b)| *r ^= b);
        key.encrypt_ecb(&mut result)?;
    }
    block.zeroize();
    let mut hex = [0u8; 16];
    for (i, b) in result.iter().enumerate() {
        hex[2 * i] = b >> 4;
        hex[2 * i + 1] = b & 0x0F;
    }
    result.zeroize();
    let mut out = [0u8; 12];
    let mut k = 0;
    for &h in hex.iter().filter(|&&h| h < 10) {
        if k < 12 {
            out[k] = b'0' + h;
            k += 1;
        }
    }
    for (i, &h) in hex.iter().enumerate() {
        if k < 12 && h >= 10 {
            let conv = h - 9; // A=1 … F=6
            out[k] = b'0' + if i >= 5 { (conv + 5) % 10 } else { conv };
            k += 1;
        }
    }
    hex.zeroize();
    Ok(out)
}

/// The CSC of `len` digits (5, 4 or 3). Version 2 needs the service code.
pub fn generate(
    key: &(impl SymmetricKey + ?Sized),
    version: CscVersion,
    pan: &Pan,
    expiry: &Expiry,
    service_code: Option<&ServiceCode>,
    len: usize,
) -> Result<SecretDigits, Error> {
    check_len(len, 3, 5, "3, 4 or 5 digits")?;
    let mut all = csc_digits(key, version, pan, expiry, service_code)?;
    let range = match len {
        5 => 0..5,
        4 => 5..9,
        _ => 9..12,
    };
    let out = SecretDigits::from_ascii(&all[range]);
    all.zeroize();
    out
}

/// Verifies a presented 3-, 4- or 5-digit CSC in constant time.
pub fn verify(
    key: &(impl SymmetricKey + ?Sized),
    version: CscVersion,
    pan: &Pan,
    expiry: &Expiry,
    service_code: Option<&ServiceCode>,
    presented: &str,
) -> Result<(), Error> {
    check_presented(presented, 3, 5, "3, 4 or 5 digits")?;
    generate(key, version, pan, expiry, service_code, presented.len())?.verify(presented)
}
