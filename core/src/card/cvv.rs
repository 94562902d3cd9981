//! The Visa card verification value (CVV), also Mastercard's CVC: CVV2/CVC2 use service code
//! `000`, iCVV uses `999`.
//!
//! The PAN, expiry date and service code are concatenated and zero-padded to 32 digits (two
//! blocks); the blocks are MACed with ISO 9797-1 algorithm 3 under the two-key CVK (block 1
//! under CVK-A, XOR block 2, then TDES), and the result is decimalised the Visa way (digits,
//! then A–F as 0–5). The leftmost digits are the CVV.

use zeroize::Zeroize;

use super::{check_len, check_presented};
use crate::{
    Error,
    crypto::SymmetricKey,
    fields::{Expiry, Pan, SecretDigits, ServiceCode, pack_nibbles, visa_digits},
    key::KeyAlgorithm,
};

/// The CVV algorithm over up to 32 hex digits of data (zero-padded), shared by CVV, dCVV and
/// CAVV: retail MAC of the two blocks, Visa decimalisation, `len` digits.
pub(crate) fn cvv_algorithm(
    key: &(impl SymmetricKey + ?Sized),
    parts: &[&[u8]],
    len: usize,
) -> Result<SecretDigits, Error> {
    if key.key_algorithm() != KeyAlgorithm::Tdes2Key {
        return Err(Error::InvalidValue {
            field: "card verification key",
            reason: "the CVV algorithm uses a two-key TDES key (CVK-A || CVK-B)",
        });
    }
    let mut text = [b'0'; 32];
    let mut at = 0;
    for p in parts {
        if at + p.len() > 32 {
            return Err(Error::InvalidLength {
                field: "card data",
                expected: "at most 32 digits in all",
                actual: at + p.len(),
            });
        }
        text[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    let mut block = [0u8; 16];
    pack_nibbles(&text, 0, &mut block);
    let tag = key.retail_mac(&[&block]);
    block.zeroize();
    text.zeroize();
    visa_digits(tag?.as_bytes(), len)
}

/// The CVV (or CVC) of `len` digits (3 to 5; cards carry 3).
pub fn generate(
    key: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    expiry: &Expiry,
    service_code: &ServiceCode,
    len: usize,
) -> Result<SecretDigits, Error> {
    check_len(len, 3, 5, "3 to 5 digits")?;
    cvv_algorithm(
        key,
        &[pan.as_bytes(), expiry.as_bytes(), service_code.as_bytes()],
        len,
    )
}

/// The CVV2 / CVC2: the CVV with service code `000`.
pub fn generate_cvv2(
    key: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    expiry: &Expiry,
) -> Result<SecretDigits, Error> {
    generate(key, pan, expiry, &ServiceCode::CVV2, 3)
}

/// The iCVV: the CVV with service code `999`.
pub fn generate_icvv(
    key: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    expiry: &Expiry,
) -> Result<SecretDigits, Error> {
    generate(key, pan, expiry, &ServiceCode::ICVV, 3)
}

/// Verifies a presented CVV (3 to 5 digits) in constant time.
pub fn verify(
    key: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    expiry: &Expiry,
    service_code: &ServiceCode,
    presented: &str,
) -> Result<(), Error> {
    check_presented(presented, 3, 5, "3 to 5 digits")?;
    generate(key, pan, expiry, service_code, presented.len())?.verify(presented)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SoftwareKey;

    fn cvv(k: &str, pan: &str, exp: &str, sc: &str) -> alloc::string::String {
        let key = SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, k).unwrap();
        let v = generate(
            &key,
            &Pan::new(pan).unwrap(),
            &Expiry::new(exp).unwrap(),
            &ServiceCode::new(sc).unwrap(),
            3,
        )
        .unwrap();
        v.expose_secret().into()
    }

    // cvv.json.
    #[test]
    fn cvv_vectors() {
        let k = "0123456789ABCDEFFEDCBA9876543210";
        assert_eq!(cvv(k, "4123456789012345", "8701", "101"), "561");
        assert_eq!(cvv(k, "4123456789012349", "2511", "201"), "526");
        assert_eq!(cvv(k, "4123456789012345", "8701", "999"), "651");
        assert_eq!(cvv(k, "4123456789012345", "8701", "000"), "636");
        assert_eq!(
            cvv(
                "99999999999999998888888888888888",
                "2222222222222222",
                "3333",
                "111"
            ),
            "361"
        );
        assert_eq!(
            cvv(
                "12345678123456788765432187654321",
                "123456789012",
                "1108",
                "000"
            ),
            "453"
        );
        assert_eq!(
            cvv(
                "D676DCF3AFB7350532EAF00EA253D875",
                "4123450990122129",
                "0721",
                "202"
            ),
            "241"
        );
    }

    #[test]
    fn cvv_rules() {
        let k = SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "0123456789ABCDEFFEDCBA9876543210")
            .unwrap();
        let pan = Pan::new("4123456789012345").unwrap();
        let exp = Expiry::new("8701").unwrap();
        assert_eq!(
            generate_cvv2(&k, &pan, &exp).unwrap().expose_secret(),
            "636"
        );
        assert_eq!(
            generate_icvv(&k, &pan, &exp).unwrap().expose_secret(),
            "651"
        );
        let sc = ServiceCode::new("101").unwrap();
        verify(&k, &pan, &exp, &sc, "561").unwrap();
        assert_eq!(generate(&k, &pan, &exp, &sc, 4).unwrap().len(), 4);
        for bad in ["562", "661"] {
            assert_eq!(
                verify(&k, &pan, &exp, &sc, bad),
                Err(Error::VerificationFailed)
            );
        }
        assert!(matches!(
            verify(&k, &pan, &exp, &sc, "56"),
            Err(Error::InvalidLength { .. })
        ));
        assert!(generate(&k, &pan, &exp, &sc, 2).is_err());
        // Swapping the key halves changes the CVV (the published keys with equal halves cannot
        // show a swap).
        let swapped =
            SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "FEDCBA98765432100123456789ABCDEF")
                .unwrap();
        assert_ne!(
            generate(&swapped, &pan, &exp, &sc, 3)
                .unwrap()
                .expose_secret(),
            "561"
        );
        let k3 =
            SoftwareKey::from_hex(KeyAlgorithm::Tdes3Key, &"0123456789ABCDEF".repeat(3)).unwrap();
        assert!(generate(&k3, &pan, &exp, &sc, 3).is_err());
    }
}
