use super::*;
use crate::{crypto::SoftwareKey, hex, key::KeyAlgorithm};
use alloc::vec::Vec;

fn h(s: &str) -> Vec<u8> {
    hex::decode("test", s).unwrap()
}

fn tdes(k: &str) -> SoftwareKey {
    let alg = if k.len() == 48 {
        KeyAlgorithm::Tdes3Key
    } else {
        KeyAlgorithm::Tdes2Key
    };
    SoftwareKey::from_hex(alg, k).unwrap()
}

/// Single DES as two-key TDES with equal halves.
fn des(k: &str) -> SoftwareKey {
    tdes(&alloc::format!("{k}{k}"))
}

const NOW_IS: &[u8] = b"Now is the time for all ";

// ISO/IEC 9797-1:2011 Annex B.4 (shared vectors, mac.json).
#[test]
fn retail_mac_annex_b4() {
    let k = tdes("0123456789ABCDEFFEDCBA9876543210");
    let t = iso9797_1_algorithm3(&k, NOW_IS, Padding::Method1).unwrap();
    assert_eq!(t.as_bytes(), h("A1C72E74EA3FA9B6"));
    let t = iso9797_1_algorithm3(&k, b"Now is the time for it", Padding::Method1).unwrap();
    assert_eq!(t.as_bytes(), h("2E2B1428CC78254F"));
}

// FIPS 113 DES CBC-MAC and the three padding methods over DES (mac.json).
#[test]
fn algorithm1_des_vectors() {
    let k = des("0123456789ABCDEF");
    let t = iso9797_1_algorithm1(&k, b"7654321 Now is the time for ", Padding::Method1).unwrap();
    assert_eq!(t.as_bytes(), h("F1D30F6849312CA4"));
    for (p, mac) in [
        (Padding::Method1, "70A30640CC76DD8B"),
        (Padding::Method2, "10E1F0F108341B6D"),
        (Padding::Method3, "2C58FB8FF12AAEAC"),
    ] {
        let t = iso9797_1_algorithm1(&k, NOW_IS, p).unwrap();
        assert_eq!(t.as_bytes(), h(mac), "{p:?}");
    }
}

// NIST SP 800-38B examples (mac.json).
#[test]
fn cmac_tdes_and_aes() {
    let k = tdes("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123");
    let t = compute(
        &k,
        MacAlgorithm::Cmac,
        &h("6BC1BEE22E409F96E93D7E117393172A"),
        Padding::Method1,
    )
    .unwrap();
    assert_eq!(t.as_bytes(), h("30239CF1F52E6609"));
    let k =
        SoftwareKey::from_hex(KeyAlgorithm::Aes128, "2B7E151628AED2A6ABF7158809CF4F3C").unwrap();
    let t = compute(&k, MacAlgorithm::Cmac, &[], Padding::Method1).unwrap();
    assert_eq!(t.as_bytes(), h("BB1D6929E95937287FA37D129B756746"));
}

// RFC 4231 test case 2 and truncation (test case 5).
#[test]
fn hmac_and_truncation() {
    let k = SoftwareKey::new(
        KeyAlgorithm::HmacSha256,
        &crate::secret::KeyMaterial::from_hex("k", "0C0C0C0C0C0C0C0C0C0C0C0C0C0C0C0C0C0C0C0C")
            .unwrap(),
    )
    .unwrap();
    let msg = b"Test With Truncation";
    let t = generate(
        &k,
        MacAlgorithm::HmacSha256,
        msg,
        Padding::Method1,
        Some(16),
    )
    .unwrap();
    assert_eq!(t.as_bytes(), h("A3B6167473100EE06E0C796C2955552B"));
    // The hash must match the key.
    assert!(compute(&k, MacAlgorithm::HmacSha512, msg, Padding::Method1).is_err());
    compute(&k, MacAlgorithm::Hmac, msg, Padding::Method1).unwrap();
}

// T-M-1: lengths below 4 bytes or above the output are refused on generate and verify.
#[test]
fn mac_length_policy() {
    let k = tdes("0123456789ABCDEFFEDCBA9876543210");
    for bad in [0, 3, 9] {
        assert!(matches!(
            generate(
                &k,
                MacAlgorithm::Iso9797Algorithm3,
                NOW_IS,
                Padding::Method1,
                Some(bad)
            ),
            Err(Error::InvalidLength { .. })
        ));
    }
    let t = generate(
        &k,
        MacAlgorithm::Iso9797Algorithm3,
        NOW_IS,
        Padding::Method1,
        Some(4),
    )
    .unwrap();
    assert_eq!(t.as_bytes(), h("A1C72E74"));
    assert!(
        verify(
            &k,
            MacAlgorithm::Iso9797Algorithm3,
            NOW_IS,
            Padding::Method1,
            &h("A1C7")
        )
        .is_err()
    );
    assert!(
        verify(
            &k,
            MacAlgorithm::Iso9797Algorithm3,
            NOW_IS,
            Padding::Method1,
            &[0; 9]
        )
        .is_err()
    );
}

// T-M-2: a wrong MAC in the first or last byte is the one opaque error.
#[test]
fn verify_is_opaque() {
    let k = tdes("0123456789ABCDEFFEDCBA9876543210");
    let good = h("A1C72E74EA3FA9B6");
    verify(
        &k,
        MacAlgorithm::Iso9797Algorithm3,
        NOW_IS,
        Padding::Method1,
        &good,
    )
    .unwrap();
    for i in [0, 7] {
        let mut bad = good.clone();
        bad[i] ^= 1;
        assert_eq!(
            verify(
                &k,
                MacAlgorithm::Iso9797Algorithm3,
                NOW_IS,
                Padding::Method1,
                &bad
            ),
            Err(Error::VerificationFailed)
        );
    }
}

// Algorithm 3 under a two-key key whose halves are equal is algorithm 1 under single DES,
// and swapping the key halves changes the MAC (the key-half-swap case).
#[test]
fn retail_mac_structure() {
    let k = des("0123456789ABCDEF");
    for p in [Padding::Method1, Padding::Method2, Padding::Method3] {
        assert_eq!(
            iso9797_1_algorithm3(&k, NOW_IS, p).unwrap().as_bytes(),
            iso9797_1_algorithm1(&k, NOW_IS, p).unwrap().as_bytes()
        );
    }
    let a = tdes("0123456789ABCDEFFEDCBA9876543210");
    let b = tdes("FEDCBA98765432100123456789ABCDEF");
    assert_ne!(
        iso9797_1_algorithm3(&a, NOW_IS, Padding::Method1)
            .unwrap()
            .as_bytes(),
        iso9797_1_algorithm3(&b, NOW_IS, Padding::Method1)
            .unwrap()
            .as_bytes()
    );
    // The retail MAC is TDES only.
    let aes =
        SoftwareKey::from_hex(KeyAlgorithm::Aes128, "2B7E151628AED2A6ABF7158809CF4F3C").unwrap();
    assert!(iso9797_1_algorithm3(&aes, NOW_IS, Padding::Method1).is_err());
    assert!(as2805_4_1(&aes, NOW_IS).is_err());
}

#[test]
fn padding_edges() {
    let k = des("0123456789ABCDEF");
    // Method 1: an empty message is one zero block; a whole block gets no padding.
    let empty = iso9797_1_algorithm1(&k, &[], Padding::Method1).unwrap();
    let zero = iso9797_1_algorithm1(&k, &[0; 8], Padding::Method1).unwrap();
    assert_eq!(empty.as_bytes(), zero.as_bytes());
    // Method 2 always adds a byte, so a whole block gains a block.
    let m2 = iso9797_1_algorithm1(&k, &[0; 8], Padding::Method2).unwrap();
    let manual =
        iso9797_1_algorithm1(&k, &h("00000000000000008000000000000000"), Padding::Method1).unwrap();
    assert_eq!(m2.as_bytes(), manual.as_bytes());
    // Method 3: the length block comes first.
    let m3 = iso9797_1_algorithm1(&k, &h("1234"), Padding::Method3).unwrap();
    let manual =
        iso9797_1_algorithm1(&k, &h("00000000000000101234000000000000"), Padding::Method1).unwrap();
    assert_eq!(m3.as_bytes(), manual.as_bytes());
    assert!(Padding::from_number(4).is_err());
    assert_eq!(
        MacAlgorithm::from_name("AS2805_4_1").unwrap(),
        MacAlgorithm::As2805_4_1
    );
    assert!(MacAlgorithm::from_name("CBC").is_err());
}
