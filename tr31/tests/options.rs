//! T-KB-6 (key length masking), T-KB-7 (version/KBPK mismatch), T-KB-8 (version A export and
//! legacy import).

mod common;

use common::{Watched, clear, permissive_unwrap, vector};
use payhsm_core::{key::*, rng::OsRandom, secret::KeyMaterial};
use payhsm_tr31::{
    Error, Header, Kbpk, KeyBlock, UnwrapOptions, Version, WrapOptions, kbpk_algorithm, unwrap,
    wrap,
};

const TDES_KBPK: &str = "DD7515F2BFC17F85CE48F3CA25CB21F6";
const AES_KBPK: &str = "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6";

fn header(version: Version, algorithm: Algorithm) -> Header {
    Header::new(
        version,
        KeyUsage::D0,
        algorithm,
        ModeOfUse::ENCRYPT_DECRYPT,
        "00",
        Exportability::EXPORTABLE,
    )
    .unwrap()
}

fn wrapped_len(
    version: Version,
    algorithm: Algorithm,
    key_len: usize,
    options: &WrapOptions,
) -> usize {
    let kbpk = match version {
        Version::D => Watched::new(KeyAlgorithm::Aes256, AES_KBPK),
        _ => Watched::new(KeyAlgorithm::Tdes2Key, TDES_KBPK),
    };
    let key = vec![0x5A; key_len];
    let block = wrap(
        Kbpk::from(&kbpk),
        &header(version, algorithm),
        &key,
        options,
        &mut OsRandom,
    )
    .unwrap();
    KeyBlock::parse(&block).unwrap().encrypted_key_data().len()
}

#[test]
fn t_kb_6_masking_hides_the_key_length() {
    let masked = WrapOptions::default();
    for version in [Version::B, Version::D] {
        assert_eq!(
            wrapped_len(version, Algorithm::TDES, 16, &masked),
            wrapped_len(version, Algorithm::TDES, 24, &masked),
            "{version}"
        );
    }
    assert_eq!(
        wrapped_len(Version::D, Algorithm::AES, 16, &masked),
        wrapped_len(Version::D, Algorithm::AES, 32, &masked)
    );
    assert_eq!(
        wrapped_len(Version::D, Algorithm::AES, 24, &masked),
        wrapped_len(Version::D, Algorithm::AES, 32, &masked)
    );
    // Without masking the lengths show: the comparison above can fail.
    let unmasked = WrapOptions {
        mask_key_length: false,
        ..WrapOptions::default()
    };
    assert_ne!(
        wrapped_len(Version::B, Algorithm::TDES, 16, &unmasked),
        wrapped_len(Version::B, Algorithm::TDES, 24, &unmasked)
    );
    assert_ne!(
        wrapped_len(Version::D, Algorithm::AES, 16, &unmasked),
        wrapped_len(Version::D, Algorithm::AES, 32, &unmasked)
    );
}

#[test]
fn t_kb_6_short_padded_blocks_need_the_flag() {
    // TR-31:2018 A.7.4 wraps an AES-128 key without masking: 32 payload bytes, not the 48
    // that masking gives AES. Refused by default, before the KBPK is used; accepted with the
    // flag.
    let v = vector("TR31-2018-A.7.4-verD-AES256");
    let handle = Watched::new(v.kbpk_algorithm(), &payhsm_core::hex::encode(&v.kbpk));
    assert_eq!(
        unwrap(Kbpk::from(&handle), &v.key_block, &UnwrapOptions::default()).unwrap_err(),
        Error::ShortPadding {
            payload: 32,
            masked: 48
        }
    );
    assert_eq!(handle.uses(), 0);
    let short = UnwrapOptions {
        allow_short_padding: true,
        ..UnwrapOptions::default()
    };
    let out = unwrap(Kbpk::from(&handle), &v.key_block, &short).unwrap();
    assert_eq!(out.key.expose_secret(), v.key);
    // TDES under B: 24 payload bytes (a 16-byte key), masked would be 32.
    let b = vector("TR31-2018-A.7.2.2-verB-TDES2");
    let kbpk = b.kbpk_material();
    assert_eq!(
        unwrap(
            clear(b.kbpk_algorithm(), &kbpk),
            &b.key_block,
            &UnwrapOptions::default()
        )
        .unwrap_err(),
        Error::ShortPadding {
            payload: 24,
            masked: 32
        }
    );
    // A masked block from X9.143 imports by default, and so does every block payhsm wraps,
    // for every key length of each algorithm.
    let masked = vector("X9.143-2021-8.1-verD-AES256-masked-length");
    let kbpk = masked.kbpk_material();
    unwrap(
        clear(masked.kbpk_algorithm(), &kbpk),
        &masked.key_block,
        &UnwrapOptions::default(),
    )
    .unwrap();
    for (version, algorithm, lengths) in [
        (Version::B, Algorithm::TDES, &[16usize, 24][..]),
        (Version::D, Algorithm::TDES, &[16, 24]),
        (Version::D, Algorithm::AES, &[16, 24, 32]),
    ] {
        for &n in lengths {
            let kbpk = match version {
                Version::D => Watched::new(KeyAlgorithm::Aes256, AES_KBPK),
                _ => Watched::new(KeyAlgorithm::Tdes2Key, TDES_KBPK),
            };
            let header = header(version, algorithm);
            let key = vec![0x5A; n];
            let options = WrapOptions::default();
            let block = wrap(Kbpk::from(&kbpk), &header, &key, &options, &mut OsRandom).unwrap();
            let out = unwrap(Kbpk::from(&kbpk), &block, &UnwrapOptions::default()).unwrap();
            assert_eq!(
                out.key.expose_secret(),
                &key[..],
                "{version} {algorithm} {n}"
            );
        }
    }
    assert!(
        Error::ShortPadding {
            payload: 32,
            masked: 48
        }
        .to_string()
        .contains("short padding")
    );
}

#[test]
fn t_kb_7_version_and_kbpk_must_match() {
    let d = vector("TR31-2018-A.7.4-verD-AES256").key_block;
    let b = vector("TR31-2018-A.7.2.2-verB-TDES2").key_block;
    let c = vector("payShield-verC-TDES2").key_block;
    let legacy = permissive_unwrap();
    let mismatch = |version: Version| Error::KbpkMismatch {
        version,
        expected: version.kbpk_description(),
    };
    // Through handles: refused before the KBPK is used.
    let tdes = Watched::new(
        KeyAlgorithm::Tdes3Key,
        "DD7515F2BFC17F85CE48F3CA25CB21F6DD7515F2BFC17F85",
    );
    let aes = Watched::new(KeyAlgorithm::Aes128, TDES_KBPK);
    assert_eq!(
        unwrap(Kbpk::from(&tdes), &d, &legacy).unwrap_err(),
        mismatch(Version::D)
    );
    assert_eq!(
        unwrap(Kbpk::from(&aes), &b, &legacy).unwrap_err(),
        mismatch(Version::B)
    );
    assert_eq!(tdes.uses() + aes.uses(), 0);
    // As clear material: the same 16 bytes are a TDES key for B and C, an AES key for D.
    let bytes = KeyMaterial::from_hex("kbpk", TDES_KBPK).unwrap();
    assert_eq!(
        unwrap(clear(KeyAlgorithm::Aes128, &bytes), &c, &legacy).unwrap_err(),
        mismatch(Version::C)
    );
    assert_eq!(
        unwrap(clear(KeyAlgorithm::Tdes2Key, &bytes), &d, &legacy).unwrap_err(),
        mismatch(Version::D)
    );
    assert_eq!(
        kbpk_algorithm(Version::D, 16).unwrap(),
        KeyAlgorithm::Aes128
    );
    assert_eq!(
        kbpk_algorithm(Version::B, 32).unwrap_err(),
        mismatch(Version::B)
    );
    // Wrapping too.
    let wrap_with = |kbpk: Kbpk<'_>, version| {
        wrap(
            kbpk,
            &header(version, Algorithm::TDES),
            &[1; 16],
            &WrapOptions::default(),
            &mut OsRandom,
        )
    };
    assert_eq!(
        wrap_with(Kbpk::from(&tdes), Version::D).unwrap_err(),
        mismatch(Version::D)
    );
    assert_eq!(
        wrap_with(Kbpk::from(&aes), Version::B).unwrap_err(),
        mismatch(Version::B)
    );
    assert_eq!(tdes.uses() + aes.uses(), 0);
    assert!(wrap_with(Kbpk::from(&aes), Version::D).is_ok());
    // Other algorithms never protect key blocks.
    let hmac = Watched::new(KeyAlgorithm::HmacSha256, AES_KBPK);
    assert_eq!(
        unwrap(Kbpk::from(&hmac), &d, &legacy).unwrap_err(),
        mismatch(Version::D)
    );
}

#[test]
fn t_kb_8_version_a_export_is_refused_unless_allowed() {
    let kbpk = KeyMaterial::from_hex("kbpk", TDES_KBPK).unwrap();
    let kbpk = clear(KeyAlgorithm::Tdes2Key, &kbpk);
    for version in [Version::A, Version::C] {
        let h = header(version, Algorithm::TDES);
        assert_eq!(
            wrap(kbpk, &h, &[1; 16], &WrapOptions::default(), &mut OsRandom).unwrap_err(),
            Error::VersionNotAllowed(version)
        );
    }
    let allow = WrapOptions {
        allow_version_a: true,
        allow_version_c: true,
        ..WrapOptions::default()
    };
    for version in [Version::A, Version::C] {
        wrap(
            kbpk,
            &header(version, Algorithm::TDES),
            &[1; 16],
            &allow,
            &mut OsRandom,
        )
        .unwrap();
    }
    // Allowing A does not allow C, and the other way round.
    let only_a = WrapOptions {
        allow_version_a: true,
        ..WrapOptions::default()
    };
    assert!(
        wrap(
            kbpk,
            &header(Version::A, Algorithm::TDES),
            &[1; 16],
            &only_a,
            &mut OsRandom
        )
        .is_ok()
    );
    assert!(
        wrap(
            kbpk,
            &header(Version::C, Algorithm::TDES),
            &[1; 16],
            &only_a,
            &mut OsRandom
        )
        .is_err()
    );
}

#[test]
fn t_kb_8_legacy_import_needs_the_flag() {
    let legacy = permissive_unwrap();
    for id in [
        "TR31-2018-A.7.2.1-verA-TDES2",
        "TR31-2018-A.7.3.1-verC-TDES2-optKS",
        "psec-verA-TDES3-KBPK",
        "psec-verC-TDES3-KBPK",
    ] {
        let v = vector(id);
        let kbpk = v.kbpk_material();
        let kbpk = clear(v.kbpk_algorithm(), &kbpk);
        assert_eq!(
            unwrap(kbpk, &v.key_block, &UnwrapOptions::default()).unwrap_err(),
            Error::VersionNotAllowed(v.version()),
            "{id}"
        );
        assert_eq!(
            unwrap(kbpk, &v.key_block, &legacy)
                .unwrap()
                .key
                .expose_secret(),
            v.key
        );
    }
    // The refusal comes before any cryptography, even through a handle.
    let handle = Watched::new(KeyAlgorithm::Tdes2Key, TDES_KBPK);
    let a = vector("payShield-verA-TDES2").key_block;
    assert_eq!(
        unwrap(Kbpk::from(&handle), &a, &UnwrapOptions::default()).unwrap_err(),
        Error::VersionNotAllowed(Version::A)
    );
    assert_eq!(handle.uses(), 0);
    assert_eq!(
        Error::VersionNotAllowed(Version::A).to_string(),
        "key block version A is not allowed"
    );
}

#[test]
fn variant_versions_need_clear_kbpk_material() {
    let handle = Watched::new(KeyAlgorithm::Tdes2Key, TDES_KBPK);
    let legacy = permissive_unwrap();
    let a = vector("payShield-verA-TDES2").key_block;
    assert!(matches!(
        unwrap(Kbpk::from(&handle), &a, &legacy).unwrap_err(),
        Error::InvalidArgument {
            argument: "kbpk",
            ..
        }
    ));
}
