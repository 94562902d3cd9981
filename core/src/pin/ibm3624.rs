//! IBM 3624 PINs: natural PIN, PIN offset, PIN from offset and verification.
//!
//! The validation data (4–16 digits, usually taken from the PAN) is right-padded with the pad
//! character to 16 hex digits and enciphered under the PIN verification key (TDES). Each hex
//! digit of the result goes through the [decimalisation table](super::decimalization); the
//! leftmost *n* digits are the natural PIN. The offset is the digit-wise difference, modulo 10,
//! between the customer's PIN and the natural PIN; its length is the check length, which may
//! be shorter than the PIN (only the leftmost check-length digits are verified).

use zeroize::Zeroize;

use super::{
    Pin,
    decimalization::{DecimalizationPolicy, DecimalizationTable},
};
use crate::{
    Error,
    crypto::{BlockCipher, SymmetricKey},
    fields::{SecretDigits, check_digits, nibble_of},
    rng::RandomSource,
};

/// The inputs of IBM 3624 besides the key: table, validation data and pad character.
#[derive(Clone, Copy, Debug)]
pub struct Ibm3624Params {
    table: DecimalizationTable,
    block: [u8; 8],
}

impl Ibm3624Params {
    /// Checks the validation data (4 to 16 decimal digits) and the pad character (one hex
    /// digit) and forms the 16-digit validation block.
    pub fn new(
        table: DecimalizationTable,
        validation_data: &str,
        pad_character: &str,
    ) -> Result<Self, Error> {
        check_digits(
            "pin validation data",
            validation_data,
            4,
            16,
            "4 to 16 decimal digits",
        )?;
        let pad = match pad_character.as_bytes() {
            [c] if c.is_ascii_hexdigit() => nibble_of(*c),
            [_] => {
                return Err(Error::InvalidValue {
                    field: "pad character",
                    reason: "expected one hex digit 0-9 or A-F",
                });
            }
            other => {
                return Err(Error::InvalidLength {
                    field: "pad character",
                    expected: "one hex digit",
                    actual: other.len(),
                });
            }
        };
        let mut block = [0u8; 8];
        crate::fields::pack_nibbles(validation_data.as_bytes(), pad, &mut block);
        Ok(Self { table, block })
    }

    /// The decimalisation table.
    pub fn table(&self) -> &DecimalizationTable {
        &self.table
    }
}

/// The 16 decimalised digits of the enciphered validation block, as values 0–9.
fn intermediate(
    key: &(impl SymmetricKey + ?Sized),
    params: &Ibm3624Params,
) -> Result<[u8; 16], Error> {
    if key.block_cipher()? != BlockCipher::Tdes {
        return Err(Error::InvalidValue {
            field: "PIN verification key",
            reason: "IBM 3624 uses a TDES key",
        });
    }
    let mut block = params.block;
    key.encrypt_ecb(&mut block)?;
    let mut digits = [0u8; 16];
    for (i, b) in block.iter().enumerate() {
        digits[2 * i] = params.table.map(b >> 4);
        digits[2 * i + 1] = params.table.map(b & 0x0F);
    }
    block.zeroize();
    Ok(digits)
}

fn check_pin_len(len: usize) -> Result<(), Error> {
    if (Pin::MIN_LEN..=Pin::MAX_LEN).contains(&len) {
        Ok(())
    } else {
        Err(Error::InvalidLength {
            field: "pin length",
            expected: "4 to 12",
            actual: len,
        })
    }
}

fn check_offset(offset: &str) -> Result<(), Error> {
    check_digits("pin offset", offset, 4, 12, "4 to 12 decimal digits")
}

/// The natural PIN of `pin_len` digits (4 to 12).
pub fn natural_pin(
    key: &(impl SymmetricKey + ?Sized),
    params: &Ibm3624Params,
    pin_len: usize,
) -> Result<Pin, Error> {
    check_pin_len(pin_len)?;
    let mut digits = intermediate(key, params)?;
    let pin = Pin::from_nibbles(&digits[..pin_len]);
    digits.zeroize();
    pin
}

/// The offset for a customer-selected `pin`; it has as many digits as the PIN.
pub fn offset(
    key: &(impl SymmetricKey + ?Sized),
    params: &Ibm3624Params,
    pin: &Pin,
) -> Result<SecretDigits, Error> {
    if !pin.is_decimal() {
        return Err(Error::InvalidValue {
            field: "pin",
            reason: "expected decimal digits only",
        });
    }
    let mut natural = intermediate(key, params)?;
    let mut out = [0u8; 12];
    for (i, o) in out.iter_mut().enumerate().take(pin.len()) {
        *o = b'0' + (pin.nibble(i) + 10 - natural[i]) % 10;
    }
    let result = SecretDigits::from_ascii(&out[..pin.len()]);
    natural.zeroize();
    out.zeroize();
    result
}

/// The PIN that an `offset` (4 to 12 digits) gives: natural PIN plus offset, digit by digit,
/// as long as the offset.
pub fn pin_from_offset(
    key: &(impl SymmetricKey + ?Sized),
    params: &Ibm3624Params,
    offset: &str,
) -> Result<Pin, Error> {
    check_offset(offset)?;
    let mut natural = intermediate(key, params)?;
    let mut digits = [0u8; 12];
    for (i, c) in offset.bytes().enumerate() {
        digits[i] = (natural[i] + (c - b'0')) % 10;
    }
    let pin = Pin::from_nibbles(&digits[..offset.len()]);
    natural.zeroize();
    digits.zeroize();
    pin
}

/// A random PIN of `pin_len` digits and its offset.
pub fn random_pin(
    key: &(impl SymmetricKey + ?Sized),
    params: &Ibm3624Params,
    pin_len: usize,
    rng: &mut dyn RandomSource,
) -> Result<(Pin, SecretDigits), Error> {
    let pin = Pin::random(pin_len, rng)?;
    let off = offset(key, params, &pin)?;
    Ok((pin, off))
}

/// Verifies `pin` against `offset`: the leftmost offset-length digits of the PIN must equal
/// natural PIN plus offset. The table is checked against `policy` first, before any
/// cryptography, so a refused table reveals nothing; the comparison is constant-time and a
/// mismatch is the one opaque [`Error::VerificationFailed`].
pub fn verify(
    key: &(impl SymmetricKey + ?Sized),
    params: &Ibm3624Params,
    policy: &DecimalizationPolicy<'_>,
    pin: &Pin,
    offset: &str,
) -> Result<(), Error> {
    policy.check(&params.table)?;
    check_offset(offset)?;
    if offset.len() > pin.len() {
        return Err(Error::InvalidLength {
            field: "pin offset",
            expected: "no longer than the PIN (the check length is at most the PIN length)",
            actual: offset.len(),
        });
    }
    let mut natural = intermediate(key, params)?;
    let mut expected = [0u8; 12];
    for (i, c) in offset.bytes().enumerate() {
        expected[i] = crate::fields::hex_char((natural[i] + (c - b'0')) % 10);
    }
    let ok = pin.ct_eq_prefix(&expected, offset.len());
    natural.zeroize();
    expected.zeroize();
    if bool::from(ok) {
        Ok(())
    } else {
        Err(Error::VerificationFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Refusal, crypto::SoftwareKey, key::KeyAlgorithm, rng::Replay};

    fn pvk() -> SoftwareKey {
        SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "0123456789ABCDEFFEDCBA9876543210").unwrap()
    }

    fn params(table: &str, data: &str, pad: &str) -> Ibm3624Params {
        Ibm3624Params::new(DecimalizationTable::new(table).unwrap(), data, pad).unwrap()
    }

    // pvv_ibm3624.json: psec natural PINs (validation data given with its pad characters).
    #[test]
    fn natural_pin_vectors() {
        for (data, pad, pin) in [
            ("1122334455667788", "F", "4524"),
            ("11223344556677", "F", "5518"),
            ("1223344556677811", "1", "3675"),
            ("2233445566778811", "1", "5550"),
        ] {
            let p = params("1234567890123456", data, pad);
            assert_eq!(natural_pin(&pvk(), &p, 4).unwrap().expose_secret(), pin);
        }
    }

    // pvv_ibm3624.json: psec offsets and the Atalla simulator's.
    #[test]
    fn offset_vectors() {
        let p = params("1234567890123456", "1122334455667788", "F");
        for (pin, off) in [("1234", "7710"), ("0000", "6586"), ("1111", "7697")] {
            let pin = Pin::new(pin).unwrap();
            assert_eq!(offset(&pvk(), &p, &pin).unwrap().expose_secret(), off);
            assert_eq!(
                pin_from_offset(&pvk(), &p, off).unwrap().expose_secret(),
                pin.expose_secret()
            );
            verify(&pvk(), &p, &DecimalizationPolicy::AnyTable, &pin, off).unwrap();
        }
        let k = SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "33333333333333334444444444444444")
            .unwrap();
        let p = params("0123456789012345", "345678901234", "F");
        assert_eq!(natural_pin(&k, &p, 4).unwrap().expose_secret(), "0200");
        assert_eq!(
            offset(&k, &p, &Pin::new("4321").unwrap())
                .unwrap()
                .expose_secret(),
            "4121"
        );
    }

    #[test]
    fn verification_rules() {
        let p = params("1234567890123456", "1122334455667788", "F");
        let any = DecimalizationPolicy::AnyTable;
        // Wrong PIN, wrong offset: the one opaque error.
        assert_eq!(
            verify(&pvk(), &p, &any, &Pin::new("1235").unwrap(), "7710"),
            Err(Error::VerificationFailed)
        );
        assert_eq!(
            verify(&pvk(), &p, &any, &Pin::new("1234").unwrap(), "7711"),
            Err(Error::VerificationFailed)
        );
        // T-PIN-9: a check length shorter than the PIN checks the leftmost digits only; a
        // longer one is refused.
        let long = Pin::new("123456").unwrap();
        verify(&pvk(), &p, &any, &long, "7710").unwrap();
        assert!(matches!(
            verify(&pvk(), &p, &any, &Pin::new("1234").unwrap(), "771000"),
            Err(Error::InvalidLength { .. })
        ));
        // T-PIN-10: with stored tables on, an attack table is refused before comparison,
        // whether or not the PIN would have matched.
        let stored = [DecimalizationTable::new("1234567890123456").unwrap()];
        let policy = DecimalizationPolicy::StoredOnly(&stored);
        let attack = params("0000000100000000", "1122334455667788", "F");
        for pin in ["0000", "1234", "9999"] {
            assert_eq!(
                verify(&pvk(), &attack, &policy, &Pin::new(pin).unwrap(), "0000"),
                Err(Error::NotPermitted(Refusal::DecimalizationTableNotAllowed))
            );
        }
        verify(&pvk(), &p, &policy, &Pin::new("1234").unwrap(), "7710").unwrap();
    }

    // T-PIN-8: malformed inputs are validation errors.
    #[test]
    fn input_validation() {
        let t = DecimalizationTable::STANDARD;
        assert!(Ibm3624Params::new(t, "123", "F").is_err());
        assert!(Ibm3624Params::new(t, "12345678901234567", "F").is_err());
        assert!(Ibm3624Params::new(t, "1234A", "F").is_err());
        assert!(Ibm3624Params::new(t, "1234", "G").is_err());
        assert!(Ibm3624Params::new(t, "1234", "FF").is_err());
        let p = params("0123456789012345", "1234", "F");
        assert!(pin_from_offset(&pvk(), &p, "123").is_err());
        assert!(pin_from_offset(&pvk(), &p, "12a4").is_err());
        assert!(natural_pin(&pvk(), &p, 3).is_err());
        assert!(natural_pin(&pvk(), &p, 13).is_err());
        let aes = SoftwareKey::from_hex(KeyAlgorithm::Aes128, "00112233445566778899AABBCCDDEEFF")
            .unwrap();
        assert!(natural_pin(&aes, &p, 4).is_err());
    }

    #[test]
    fn random_pin_has_matching_offset() {
        let p = params("0123456789012345", "4000001234", "F");
        let bytes = [7u8; 16];
        let (pin, off) = random_pin(&pvk(), &p, 6, &mut Replay::new(&bytes)).unwrap();
        assert_eq!(pin.expose_secret(), "777777");
        verify(
            &pvk(),
            &p,
            &DecimalizationPolicy::AnyTable,
            &pin,
            off.expose_secret(),
        )
        .unwrap();
    }
}
