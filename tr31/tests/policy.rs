//! T-KB-10 (KBPK usage), T-KB-11 (export only narrows), T-KB-12 (wrapping strength).

use payhsm_core::key::*;
use payhsm_tr31::{
    Error, Header, Version,
    policy::{Direction, check_export, check_kbpk, check_wrapping_strength},
};

fn attributes(usage: KeyUsage, mode: ModeOfUse, algorithm: KeyAlgorithm) -> KeyAttributes {
    KeyAttributes::from_tr31(usage, mode, algorithm).unwrap()
}

#[test]
fn t_kb_10_only_key_block_protection_keys_protect_key_blocks() {
    for usage in [
        KeyUsage::D0,
        KeyUsage::P0,
        KeyUsage::B0,
        KeyUsage::M3,
        KeyUsage::C0,
    ] {
        let key = attributes(usage, ModeOfUse::ENCRYPT_DECRYPT, KeyAlgorithm::Aes256);
        for direction in [Direction::Wrap, Direction::Unwrap] {
            assert!(
                matches!(
                    check_kbpk(&key, Version::D, direction),
                    Err(Error::KeyUsageViolation { .. })
                ),
                "{usage}"
            );
        }
    }
    for usage in [KeyUsage::K0, KeyUsage::K1] {
        let key = attributes(usage, ModeOfUse::ENCRYPT_DECRYPT, KeyAlgorithm::Aes256);
        check_kbpk(&key, Version::D, Direction::Wrap).unwrap();
        check_kbpk(&key, Version::D, Direction::Unwrap).unwrap();
        let tdes = attributes(usage, ModeOfUse::NO_RESTRICTIONS, KeyAlgorithm::Tdes3Key);
        check_kbpk(&tdes, Version::B, Direction::Unwrap).unwrap();
    }
    // K4 (ISO 20038) protects AES key blocks only.
    let k4 = attributes(
        KeyUsage::K4,
        ModeOfUse::ENCRYPT_DECRYPT,
        KeyAlgorithm::Aes128,
    );
    check_kbpk(&k4, Version::D, Direction::Wrap).unwrap();
    let k4_tdes = attributes(
        KeyUsage::K4,
        ModeOfUse::ENCRYPT_DECRYPT,
        KeyAlgorithm::Tdes2Key,
    );
    assert!(check_kbpk(&k4_tdes, Version::B, Direction::Wrap).is_err());
}

#[test]
fn t_kb_10_modes_of_use_and_algorithm() {
    let wrap_only = attributes(KeyUsage::K0, ModeOfUse::ENCRYPT, KeyAlgorithm::Aes256);
    check_kbpk(&wrap_only, Version::D, Direction::Wrap).unwrap();
    assert!(matches!(
        check_kbpk(&wrap_only, Version::D, Direction::Unwrap),
        Err(Error::KeyUsageViolation { .. })
    ));
    let unwrap_only = attributes(KeyUsage::K1, ModeOfUse::DECRYPT, KeyAlgorithm::Aes256);
    check_kbpk(&unwrap_only, Version::D, Direction::Unwrap).unwrap();
    assert!(check_kbpk(&unwrap_only, Version::D, Direction::Wrap).is_err());
    let mac_mode = attributes(
        KeyUsage::K0,
        ModeOfUse::GENERATE_VERIFY,
        KeyAlgorithm::Aes256,
    );
    assert!(check_kbpk(&mac_mode, Version::D, Direction::Unwrap).is_err());
    // A K0 TDES key cannot protect a D block (T-KB-7 again, at the policy layer).
    let tdes = attributes(
        KeyUsage::K0,
        ModeOfUse::ENCRYPT_DECRYPT,
        KeyAlgorithm::Tdes2Key,
    );
    assert!(matches!(
        check_kbpk(&tdes, Version::D, Direction::Unwrap),
        Err(Error::KbpkMismatch { .. })
    ));
}

fn header(usage: KeyUsage, mode: ModeOfUse, exportability: Exportability) -> Header {
    Header::new(Version::D, usage, Algorithm::AES, mode, "00", exportability).unwrap()
}

#[test]
fn t_kb_11_export_only_narrows() {
    use Exportability as X;
    use ModeOfUse as M;
    let ok = |stored: &Header, export: &Header| check_export(stored, export).is_ok();
    let stored = header(KeyUsage::D0, M::ENCRYPT_DECRYPT, X::EXPORTABLE);
    // Narrowing the mode or the exportability is fine.
    assert!(ok(
        &stored,
        &header(KeyUsage::D0, M::ENCRYPT, X::EXPORTABLE)
    ));
    assert!(ok(
        &stored,
        &header(KeyUsage::D0, M::DECRYPT, X::NON_EXPORTABLE)
    ));
    assert!(ok(&stored, &stored));
    // Widening: E exported as B, B as N, E as S.
    let encrypt_only = header(KeyUsage::D0, M::ENCRYPT, X::EXPORTABLE);
    assert!(!ok(
        &encrypt_only,
        &header(KeyUsage::D0, M::ENCRYPT_DECRYPT, X::EXPORTABLE)
    ));
    assert!(!ok(
        &stored,
        &header(KeyUsage::D0, M::NO_RESTRICTIONS, X::EXPORTABLE)
    ));
    assert!(!ok(
        &stored,
        &header(KeyUsage::D0, M::ENCRYPT_DECRYPT, X::SENSITIVE)
    ));
    // X9.143: S allows export in forms outside X9.24, E only in X9.24 forms, so S→E narrows.
    let sensitive = header(KeyUsage::D0, M::ENCRYPT_DECRYPT, X::SENSITIVE);
    assert!(ok(
        &sensitive,
        &header(KeyUsage::D0, M::ENCRYPT_DECRYPT, X::EXPORTABLE)
    ));
    // N is never exported, even as N.
    let never = header(KeyUsage::D0, M::ENCRYPT_DECRYPT, X::NON_EXPORTABLE);
    assert_eq!(
        check_export(&never, &never),
        Err(Error::ExportNotPermitted {
            reason: "the key is non-exportable"
        })
    );
    // Usage and algorithm do not change.
    assert!(!ok(
        &stored,
        &header(KeyUsage::P0, M::ENCRYPT_DECRYPT, X::EXPORTABLE)
    ));
    let tdes = Header::new(
        Version::D,
        KeyUsage::D0,
        Algorithm::TDES,
        M::ENCRYPT_DECRYPT,
        "00",
        X::EXPORTABLE,
    )
    .unwrap();
    assert!(!ok(&stored, &tdes));
    // Generate/verify narrows to generate or verify, not to encrypt.
    let mac = header(KeyUsage::M6, M::GENERATE_VERIFY, X::EXPORTABLE);
    assert!(ok(&mac, &header(KeyUsage::M6, M::VERIFY, X::EXPORTABLE)));
    assert!(ok(&mac, &header(KeyUsage::M6, M::GENERATE, X::EXPORTABLE)));
    assert!(!ok(&mac, &header(KeyUsage::M6, M::ENCRYPT, X::EXPORTABLE)));
    // A mode the key model has no flags for must stay as it is.
    let variant = header(KeyUsage::B2, M::VARIANT, X::EXPORTABLE);
    assert!(ok(&variant, &variant));
    assert!(!ok(
        &variant,
        &header(KeyUsage::B2, M::DERIVE, X::EXPORTABLE)
    ));
}

#[test]
fn t_kb_12_wrapping_key_at_least_as_strong() {
    use KeyAlgorithm as A;
    for (wrapping, wrapped) in [
        (A::Tdes2Key, A::Tdes3Key),
        (A::Aes128, A::Aes256),
        (A::Rsa2048, A::Aes128),
        (A::Tdes3Key, A::Aes128),
    ] {
        assert!(
            matches!(
                check_wrapping_strength(wrapping, wrapped),
                Err(Error::ExportNotPermitted { .. })
            ),
            "{wrapped} under {wrapping}"
        );
    }
    for (wrapping, wrapped) in [
        (A::Tdes3Key, A::Tdes2Key),
        (A::Aes256, A::Aes256),
        (A::Aes128, A::Tdes3Key),
        (A::Aes256, A::EccNistP521),
    ] {
        check_wrapping_strength(wrapping, wrapped).unwrap();
    }
}
