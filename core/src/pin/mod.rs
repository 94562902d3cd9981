//! PINs: ISO 9564-1 PIN blocks (formats 0–4), their encryption and translation under PCI PIN
//! requirement 3-3, IBM 3624 PIN generation and verification, and the Visa PVV.
//!
//! A clear PIN is a [`Pin`]: zeroized on drop, redacted in `Debug`, never `Clone`. The HSM
//! surface must not return one (security test T-PIN-6); the functions that do
//! ([`block::decrypt`]) exist for the clear-key workbench and for the HSM's own verification.

pub mod block;
pub mod decimalization;
pub mod ibm3624;
pub mod pvv;
pub mod translate;

use core::fmt;

use subtle::ConstantTimeEq;

use crate::{Error, fields::hex_char, rng::RandomSource, secret::SecretBuf};

/// A clear PIN of 4 to 12 digits.
///
/// A PIN entered by a person is decimal ([`Pin::new`]). A PIN taken out of a PIN block is
/// *not* checked for decimal digits (ISO 9564-1, PCI HSM v4): a check there would tell an
/// attacker who replays a block with a changed PAN which digits came out non-decimal (the
/// Clulow oracle, security test T-PIN-3). Such a PIN simply fails every verification.
pub struct Pin(SecretBuf<12>);

impl Pin {
    /// The shortest PIN (ISO 9564-1).
    pub const MIN_LEN: usize = 4;
    /// The longest PIN (ISO 9564-1).
    pub const MAX_LEN: usize = 12;

    /// A PIN from 4 to 12 decimal digits.
    pub fn new(text: &str) -> Result<Self, Error> {
        crate::fields::check_digits("pin", text, Self::MIN_LEN, Self::MAX_LEN, "4 to 12 digits")?;
        Ok(Self(SecretBuf::from_slice("pin", text.as_bytes())?))
    }

    /// A uniformly random decimal PIN of `len` digits from `rng`.
    pub fn random(len: usize, rng: &mut dyn RandomSource) -> Result<Self, Error> {
        check_len(len)?;
        let mut s = SecretBuf::<12>::zeroed("pin", len)?;
        random_digits(rng, s.expose_secret_mut(), 10, b'0')?;
        Ok(Self(s))
    }

    /// A PIN from nibble values as a PIN block carries them (not checked for decimal digits).
    pub(crate) fn from_nibbles(nibbles: &[u8]) -> Result<Self, Error> {
        check_len(nibbles.len())?;
        let mut s = SecretBuf::<12>::zeroed("pin", nibbles.len())?;
        s.expose_secret_mut()
            .iter_mut()
            .zip(nibbles)
            .for_each(|(d, &n)| *d = hex_char(n));
        Ok(Self(s))
    }

    /// The PIN digits as text. Every call site is a place where the PIN leaves its type.
    pub fn expose_secret(&self) -> &str {
        core::str::from_utf8(self.0.expose_secret()).unwrap_or("")
    }

    /// The number of digits.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a PIN has at least 4 digits.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Digit `i` as a nibble value (0–15; only 0–9 for a PIN a person entered).
    pub(crate) fn nibble(&self, i: usize) -> u8 {
        crate::fields::nibble_of(self.0.expose_secret()[i])
    }

    /// Whether every digit is decimal.
    pub fn is_decimal(&self) -> bool {
        self.0.expose_secret().iter().all(u8::is_ascii_digit)
    }

    /// Constant-time equality of the leftmost `n` digits with `other`'s (`n` is public).
    pub(crate) fn ct_eq_prefix(&self, other: &[u8], n: usize) -> subtle::Choice {
        let mine = self.0.expose_secret();
        if mine.len() < n || other.len() < n {
            return subtle::Choice::from(0);
        }
        mine[..n].ct_eq(&other[..n])
    }
}

// The inner `SecretBuf` zeroizes when the PIN is dropped.
impl zeroize::ZeroizeOnDrop for Pin {}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin([REDACTED])")
    }
}

fn check_len(len: usize) -> Result<(), Error> {
    if (Pin::MIN_LEN..=Pin::MAX_LEN).contains(&len) {
        Ok(())
    } else {
        Err(Error::InvalidLength {
            field: "PIN length",
            expected: "4 to 12 digits",
            actual: len,
        })
    }
}

/// Fills `out` with uniformly random symbols `base + 0..radix` (radix ≤ 16), by rejection
/// sampling so that no symbol is more likely than another.
pub(crate) fn random_digits(
    rng: &mut dyn RandomSource,
    out: &mut [u8],
    radix: u8,
    base: u8,
) -> Result<(), Error> {
    // The largest multiple of radix that fits a byte; bytes at or above it are redrawn.
    let limit = 256 - (256 % u16::from(radix));
    let mut pool = [0u8; 16];
    let mut used = pool.len();
    for slot in out.iter_mut() {
        loop {
            if used == pool.len() {
                rng.fill(&mut pool)?;
                used = 0;
            }
            let b = pool[used];
            used += 1;
            if u16::from(b) < limit {
                *slot = base + b % radix;
                break;
            }
        }
    }
    zeroize::Zeroize::zeroize(&mut pool);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Replay;
    use alloc::format;

    #[test]
    fn pin_rules_and_redaction() {
        assert!(Pin::new("123").is_err());
        assert!(Pin::new("1234567890123").is_err());
        assert!(Pin::new("12a4").is_err());
        let p = Pin::new("1234").unwrap();
        assert_eq!(format!("{p:?}"), "Pin([REDACTED])");
        assert!(!format!("{p:?}").contains("1234"));
        assert!(p.is_decimal());
    }

    #[test]
    fn random_pin_rejects_biased_bytes() {
        // 255 and 250 are at or above 250 (the largest multiple of 10 under 256): skipped.
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&[255, 250, 3, 14, 249, 100]);
        let mut rng = Replay::new(&bytes);
        let p = Pin::random(4, &mut rng).unwrap();
        assert_eq!(p.expose_secret(), "3490");
        assert!(Pin::random(3, &mut Replay::new(&bytes)).is_err());
    }

    #[cfg(feature = "std")]
    #[test]
    fn random_pins_are_decimal_and_spread() {
        let mut rng = crate::rng::OsRandom;
        let mut seen = [0u32; 10];
        for _ in 0..200 {
            let p = Pin::random(12, &mut rng).unwrap();
            assert!(p.is_decimal());
            for c in p.expose_secret().bytes() {
                seen[usize::from(c - b'0')] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n > 150), "{seen:?}");
    }
}
