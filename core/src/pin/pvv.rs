//! The Visa PIN verification value (PVV).
//!
//! The transaction security parameter (TSP) is the 11 rightmost PAN digits excluding the check
//! digit, the PIN verification key index (PVKI) and the 4 leftmost PIN digits. It is enciphered
//! under the PIN verification key (TDES) and decimalised in two passes — first the decimal
//! digits of the result, then its hex digits A–F as 0–5 — and the first four digits are the
//! PVV. Single-pass decimalisation is a known interoperability bug (see `peers.md`).

use zeroize::Zeroize;

use super::Pin;
use crate::{
    Error,
    crypto::{BlockCipher, SymmetricKey},
    fields::{Pan, SecretDigits, visa_digits},
    rng::RandomSource,
};

/// A PIN verification key index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pvki(u8);

impl Pvki {
    /// A PVKI from 0 to 6, the range Visa defines. Values outside it are refused by policy
    /// (security test T-PIN-11; some HSMs accept 7–9 unchecked).
    pub fn new(index: u8) -> Result<Self, Error> {
        if index <= 6 {
            Ok(Self(index))
        } else {
            Err(Error::InvalidValue {
                field: "pin verification key index",
                reason: "expected 0 to 6",
            })
        }
    }

    /// A PVKI from 0 to 9, for reproducing values from systems that do not enforce Visa's
    /// range. The HSM's policy layer never calls this.
    pub fn new_unchecked_legacy(index: u8) -> Result<Self, Error> {
        if index <= 9 {
            Ok(Self(index))
        } else {
            Err(Error::InvalidValue {
                field: "pin verification key index",
                reason: "expected one decimal digit",
            })
        }
    }

    /// The index.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// The PVV of `pin` (its 4 leftmost digits) for `pan` under `pvki`: always 4 decimal digits.
pub fn generate(
    key: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    pin: &Pin,
    pvki: Pvki,
) -> Result<SecretDigits, Error> {
    if key.block_cipher()? != BlockCipher::Tdes {
        return Err(Error::InvalidValue {
            field: "PIN verification key",
            reason: "the Visa PVV uses a TDES key",
        });
    }
    let mut tsp = [0u8; 16];
    let pan11 = pan.rightmost_excluding_check(11);
    // A 12-digit PAN leaves exactly 11 digits; the slice is never shorter.
    for (slot, d) in tsp[11 - pan11.len()..11].iter_mut().zip(pan11) {
        *slot = d - b'0';
    }
    tsp[11] = pvki.0;
    for (i, slot) in tsp[12..].iter_mut().enumerate() {
        *slot = pin.nibble(i);
    }
    let mut block = [0u8; 8];
    for (i, b) in block.iter_mut().enumerate() {
        *b = (tsp[2 * i] << 4) | tsp[2 * i + 1];
    }
    tsp.zeroize();
    let result = key
        .encrypt_ecb(&mut block)
        .and_then(|()| visa_digits(&block, 4));
    block.zeroize();
    result
}

/// Verifies a presented PVV in constant time; a mismatch (or a PIN with non-decimal digits)
/// is the one opaque [`Error::VerificationFailed`].
pub fn verify(
    key: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    pin: &Pin,
    pvki: Pvki,
    pvv: &str,
) -> Result<(), Error> {
    crate::fields::check_digits("verification value", pvv, 4, 4, "4 digits")?;
    let computed = generate(key, pan, pin, pvki)?;
    let decimal = pin.is_decimal();
    match computed.verify(pvv) {
        Ok(()) if decimal => Ok(()),
        _ => Err(Error::VerificationFailed),
    }
}

/// A random PIN of `pin_len` digits and its PVV.
pub fn random_pin(
    key: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    pvki: Pvki,
    pin_len: usize,
    rng: &mut dyn RandomSource,
) -> Result<(Pin, SecretDigits), Error> {
    let pin = Pin::random(pin_len, rng)?;
    let pvv = generate(key, pan, &pin, pvki)?;
    Ok((pin, pvv))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{crypto::SoftwareKey, key::KeyAlgorithm, rng::Replay};

    fn key(k: &str) -> SoftwareKey {
        SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, k).unwrap()
    }

    fn pvv(k: &str, pan: &str, pin: &str, pvki: u8) -> String {
        let p = generate(
            &key(k),
            &Pan::new(pan).unwrap(),
            &Pin::new(pin).unwrap(),
            Pvki::new_unchecked_legacy(pvki).unwrap(),
        )
        .unwrap();
        p.expose_secret().into()
    }

    use alloc::string::String;

    // pvv_ibm3624.json and the peers.md reference value.
    #[test]
    fn pvv_vectors() {
        let k = "0123456789ABCDEFFEDCBA9876543210";
        assert_eq!(pvv(k, "1122334455667788", "4524", 1), "8523");
        assert_eq!(pvv(k, "1122334455667788", "1912", 2), "3244");
        assert_eq!(pvv(k, "1122334455667718", "0570", 1), "3144");
        assert_eq!(pvv(k, "1122334455667708", "8299", 1), "4422");
        assert_eq!(pvv(k, "5432101234567890", "1234", 1), "6776");
        assert_eq!(
            pvv(
                "12345678123456781234567812345678",
                "1234567890123",
                "1234",
                0
            ),
            "1226"
        );
        // Atalla simulator, PVKI 7 (outside Visa's range: only the legacy constructor), PAN
        // digits 45678901234 placed between a leading digit and a check digit.
        assert_eq!(
            pvv(
                "33333333333333334444444444444444",
                "0456789012340",
                "4321",
                7
            ),
            "8823"
        );
    }

    // T-PIN-11: PVKI outside 0..6 is refused; the PVV is always 4 digits.
    #[test]
    fn pvki_policy_and_verify() {
        assert!(Pvki::new(7).is_err());
        assert!(Pvki::new_unchecked_legacy(10).is_err());
        let k = key("0123456789ABCDEFFEDCBA9876543210");
        let pan = Pan::new("5432101234567890").unwrap();
        let pvki = Pvki::new(1).unwrap();
        verify(&k, &pan, &Pin::new("1234").unwrap(), pvki, "6776").unwrap();
        // Only the first 4 PIN digits enter the TSP.
        verify(&k, &pan, &Pin::new("123456").unwrap(), pvki, "6776").unwrap();
        for (pin, value) in [("1235", "6776"), ("1234", "6777"), ("1234", "0000")] {
            assert_eq!(
                verify(&k, &pan, &Pin::new(pin).unwrap(), pvki, value),
                Err(Error::VerificationFailed)
            );
        }
        assert!(matches!(
            verify(&k, &pan, &Pin::new("1234").unwrap(), pvki, "677"),
            Err(Error::InvalidLength { .. })
        ));
        let (pin, value) = random_pin(&k, &pan, pvki, 4, &mut Replay::new(&[1; 16])).unwrap();
        assert_eq!(pin.expose_secret(), "1111");
        assert_eq!(value.len(), 4);
        verify(&k, &pan, &pin, pvki, value.expose_secret()).unwrap();
    }
}
