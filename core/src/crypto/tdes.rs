//! TDES key hygiene: odd parity and keys that collapse to single DES.

use crate::Error;

/// Sets each byte's lowest bit so that the byte has an odd number of one bits.
pub fn set_odd_parity(key: &mut [u8]) {
    for b in key {
        let high = *b & 0xFE;
        *b = high | u8::from(high.count_ones() % 2 == 0);
    }
}

/// Whether every byte has odd parity.
pub fn has_odd_parity(key: &[u8]) -> bool {
    key.iter().all(|b| b.count_ones() % 2 == 1)
}

/// The DES weak and semi-weak keys (FIPS 74), with odd parity.
const WEAK_KEYS: [[u8; 8]; 16] = [
    [0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01],
    [0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE, 0xFE],
    [0xE0, 0xE0, 0xE0, 0xE0, 0xF1, 0xF1, 0xF1, 0xF1],
    [0x1F, 0x1F, 0x1F, 0x1F, 0x0E, 0x0E, 0x0E, 0x0E],
    [0x01, 0xFE, 0x01, 0xFE, 0x01, 0xFE, 0x01, 0xFE],
    [0xFE, 0x01, 0xFE, 0x01, 0xFE, 0x01, 0xFE, 0x01],
    [0x1F, 0xE0, 0x1F, 0xE0, 0x0E, 0xF1, 0x0E, 0xF1],
    [0xE0, 0x1F, 0xE0, 0x1F, 0xF1, 0x0E, 0xF1, 0x0E],
    [0x01, 0xE0, 0x01, 0xE0, 0x01, 0xF1, 0x01, 0xF1],
    [0xE0, 0x01, 0xE0, 0x01, 0xF1, 0x01, 0xF1, 0x01],
    [0x1F, 0xFE, 0x1F, 0xFE, 0x0E, 0xFE, 0x0E, 0xFE],
    [0xFE, 0x1F, 0xFE, 0x1F, 0xFE, 0x0E, 0xFE, 0x0E],
    [0x01, 0x1F, 0x01, 0x1F, 0x01, 0x0E, 0x01, 0x0E],
    [0x1F, 0x01, 0x1F, 0x01, 0x0E, 0x01, 0x0E, 0x01],
    [0xE0, 0xFE, 0xE0, 0xFE, 0xF1, 0xFE, 0xF1, 0xFE],
    [0xFE, 0xE0, 0xFE, 0xE0, 0xFE, 0xF1, 0xFE, 0xF1],
];

/// Refuses TDES keys that give less than their nominal strength: a part that is a DES weak or
/// semi-weak key, K1 = K2, or (three-key) K2 = K3 — each reduces TDES to single DES. Parity
/// bits are ignored. Policy applies this to generated, imported and combined keys; the
/// primitives accept any key so that published vectors with patterned keys still run.
pub fn check_strength(key: &[u8]) -> Result<(), Error> {
    if key.len() != 16 && key.len() != 24 {
        return Err(Error::InvalidLength {
            field: "TDES key",
            expected: "16 or 24 bytes",
            actual: key.len(),
        });
    }
    let part = |i: usize| -> [u8; 8] {
        let mut p = [0u8; 8];
        p.iter_mut()
            .zip(&key[8 * i..8 * i + 8])
            .for_each(|(d, s)| *d = s & 0xFE);
        p
    };
    let parts = key.len() / 8;
    for i in 0..parts {
        let p = part(i);
        if WEAK_KEYS.iter().any(|w| w.map(|b| b & 0xFE) == p) {
            return Err(Error::WeakKey {
                reason: "a key part is a DES weak or semi-weak key",
            });
        }
    }
    if part(0) == part(1) {
        return Err(Error::WeakKey {
            reason: "K1 equals K2, which reduces TDES to single DES",
        });
    }
    if parts == 3 && part(1) == part(2) {
        return Err(Error::WeakKey {
            reason: "K2 equals K3, which reduces TDES to single DES",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parity_is_set_and_checked() {
        let mut k = [0x00, 0x01, 0x02, 0xFF, 0xFE, 0x7F];
        assert!(!has_odd_parity(&k));
        set_odd_parity(&mut k);
        assert_eq!(k, [0x01, 0x01, 0x02, 0xFE, 0xFE, 0x7F]);
        assert!(has_odd_parity(&k));
    }

    #[test]
    fn every_byte_gets_odd_parity_keeping_high_bits() {
        for b in 0..=255u8 {
            let mut k = [b];
            set_odd_parity(&mut k);
            assert!(has_odd_parity(&k), "{b:02X}");
            assert_eq!(k[0] & 0xFE, b & 0xFE);
        }
    }

    #[test]
    fn degenerate_keys_are_weak() {
        let k1k1 = [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB,
            0xCD, 0xEF,
        ];
        assert!(check_strength(&k1k1).is_err());
        // Same after a parity flip of one byte.
        let mut flipped = k1k1;
        flipped[15] ^= 1;
        assert!(check_strength(&flipped).is_err());
        let mut weak_half = [0x01u8; 16];
        weak_half[8..].copy_from_slice(&[0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x01]);
        assert!(check_strength(&weak_half).is_err());
        let mut k2k3 = [0u8; 24];
        k2k3[..8].copy_from_slice(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]);
        k2k3[8..16].copy_from_slice(&[0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10]);
        k2k3[16..].copy_from_slice(&[0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10]);
        assert!(check_strength(&k2k3).is_err());
        let good = [
            0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54,
            0x32, 0x10,
        ];
        check_strength(&good).unwrap();
        assert!(check_strength(&good[..8]).is_err());
    }
}
