//! T-KB-3, T-KB-4, T-KB-9: malformed blocks are refused with the field and position named,
//! before any cryptography (a counting KBPK handle shows it was never used).

mod common;

use common::{Watched, replace_at, vector, with_length_field};
use payhsm_core::{key::*, rng::OsRandom};
use payhsm_tr31::{
    BlockId, Error, Header, Kbpk, OptionalBlock, UnwrapOptions, Version, WrapOptions, unwrap, wrap,
};

const B_KBPK: &str = "DD7515F2BFC17F85CE48F3CA25CB21F6";
const D_KBPK: &str = "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6";

/// Unwraps `block` under the B or D vectors' KBPK (by version byte); asserts the KBPK was never
/// used and returns the error.
fn refused_before_crypto(block: &str) -> Error {
    let kbpk = match block.as_bytes().first() {
        Some(b'D') => Watched::new(KeyAlgorithm::Aes256, D_KBPK),
        _ => Watched::new(KeyAlgorithm::Tdes2Key, B_KBPK),
    };
    let options = UnwrapOptions {
        allow_legacy_versions: true,
        ..UnwrapOptions::default()
    };
    let err = unwrap(Kbpk::from(&kbpk), block, &options).unwrap_err();
    assert_eq!(
        kbpk.uses(),
        0,
        "{block}: the KBPK was used before the refusal ({err})"
    );
    err
}

fn malformed(field: &'static str, position: usize, problem: &'static str) -> Error {
    Error::Malformed {
        field,
        position,
        problem,
    }
}

const LENGTH_MISMATCH: &str = "does not match the key block's length";
const NOT_WHOLE_BLOCKS: &str = "not a whole number of cipher blocks";

#[test]
fn t_kb_3_length_field_off_by_one_eight_sixteen() {
    for id in [
        "TR31-2018-A.7.2.2-verB-TDES2",
        "TR31-2018-A.7.4-verD-AES256",
    ] {
        let block = vector(id).key_block;
        for delta in [-16i64, -8, -1, 1, 8, 16] {
            let length = usize::try_from(block.len() as i64 + delta).unwrap();
            let changed = with_length_field(&block, length);
            assert_eq!(
                refused_before_crypto(&changed),
                malformed("length field", 1, LENGTH_MISMATCH)
            );
        }
    }
}

#[test]
fn t_kb_3_length_field_not_decimal() {
    let block = vector("TR31-2018-A.7.2.2-verB-TDES2").key_block; // B0080…
    for (at, c) in [(1, 'A'), (2, ' '), (4, 'x'), (3, '-')] {
        assert_eq!(
            refused_before_crypto(&replace_at(&block, at, c)),
            malformed("length field", at, "not a decimal digit")
        );
    }
}

#[test]
fn t_kb_3_truncated_and_extended_bodies() {
    let block = vector("TR31-2018-A.7.4-verD-AES256").key_block;
    // Cut or extended, the length field no longer matches.
    for text in [
        &block[..block.len() - 2],
        &block[..block.len() - 32],
        &format!("{block}00"),
        &format!("{block}{}", &block[16..48]),
    ] {
        assert_eq!(
            refused_before_crypto(text),
            malformed("length field", 1, LENGTH_MISMATCH)
        );
    }
    // Cut by a few characters with the length field adjusted: the key data is no longer whole
    // AES blocks.
    for cut in [2, 8, 16, 30] {
        let text = with_length_field(&block[..block.len() - cut], block.len() - cut);
        assert_eq!(
            refused_before_crypto(&text),
            malformed("encrypted key data", 16, NOT_WHOLE_BLOCKS)
        );
    }
    // Cut to less than a header.
    for len in [0, 1, 4, 5, 10, 16, 40] {
        let text = &block[..len];
        assert!(
            matches!(refused_before_crypto(text), Error::Malformed { .. }),
            "{text}"
        );
    }
    assert_eq!(
        refused_before_crypto("D0016P0AE00E0000"),
        malformed(
            "key block",
            16,
            "too short for a header, one cipher block and the MAC"
        )
    );
}

#[test]
fn t_kb_4_mac_of_the_wrong_length() {
    // D cut to an 8-byte MAC, length adjusted.
    let d = vector("TR31-2018-A.7.4-verD-AES256").key_block;
    let cut = with_length_field(&d[..d.len() - 16], d.len() - 16);
    assert_eq!(
        refused_before_crypto(&cut),
        malformed("encrypted key data", 16, NOT_WHOLE_BLOCKS)
    );
    // A 4-byte MAC on B, a 16-byte MAC on B, an 8-byte MAC on A and on C.
    let b = vector("TR31-2018-A.7.2.2-verB-TDES2").key_block;
    let b4 = with_length_field(&b[..b.len() - 8], b.len() - 8);
    assert_eq!(
        refused_before_crypto(&b4),
        malformed("encrypted key data", 16, NOT_WHOLE_BLOCKS)
    );
    // Eight more bytes are a whole TDES block: structurally a longer payload, so the refusal
    // comes from the MAC.
    let b16 = with_length_field(&format!("{b}0123456789ABCDEF"), b.len() + 16);
    let kbpk = Watched::new(KeyAlgorithm::Tdes2Key, B_KBPK);
    assert_eq!(
        unwrap(Kbpk::from(&kbpk), &b16, &UnwrapOptions::default()).unwrap_err(),
        Error::AuthenticationFailed
    );
    for id in ["TR31-2018-A.7.2.1-verA-TDES2", "payShield-verC-TDES2"] {
        let a = vector(id).key_block;
        let a8 = with_length_field(&format!("{a}01234567"), a.len() + 8);
        assert_eq!(
            refused_before_crypto(&a8),
            malformed("encrypted key data", 16, NOT_WHOLE_BLOCKS)
        );
    }
    // Lower-case hex is another spelling of the same MAC: refused, so one block has one form.
    let lower = format!("{}{}", &b[..b.len() - 16], b[b.len() - 16..].to_lowercase());
    assert!(matches!(
        refused_before_crypto(&lower),
        Error::Malformed { field: "MAC", .. }
    ));
}

/// A B block with optional blocks LB, KS and PB, authentic under the B vectors' KBPK.
fn block_with_optional_blocks(extra: Option<OptionalBlock>) -> String {
    let mut header = Header::new(
        Version::B,
        KeyUsage::P0,
        Algorithm::TDES,
        ModeOfUse::ENCRYPT,
        "00",
        Exportability::EXPORTABLE,
    )
    .unwrap()
    .with_optional_block(OptionalBlock::new(BlockId::LB, "LABEL").unwrap())
    .unwrap()
    .with_optional_block(OptionalBlock::new(BlockId::KS, "00604B120F9292800000").unwrap())
    .unwrap();
    if let Some(block) = extra {
        header = header.with_optional_block(block).unwrap();
    }
    let kbpk = Watched::new(KeyAlgorithm::Tdes2Key, B_KBPK);
    wrap(
        Kbpk::from(&kbpk),
        &header,
        &[0x11; 16],
        &WrapOptions::default(),
        &mut OsRandom,
    )
    .unwrap()
}

#[test]
fn t_kb_9_optional_block_abuse() {
    let good = block_with_optional_blocks(None);
    // B0xxxP0TE00E0300 LB09LABEL KS1800604B120F9292800000 PB0B0000000
    assert_eq!(&good[12..14], "03");
    assert_eq!(&good[16..25], "LB09LABEL");
    assert_eq!(&good[25..27], "KS");
    assert_eq!(&good[49..51], "PB");
    let kbpk = Watched::new(KeyAlgorithm::Tdes2Key, B_KBPK);
    unwrap(Kbpk::from(&kbpk), &good, &UnwrapOptions::default()).unwrap();

    let cases = [
        // Duplicate ID: KS renamed LB.
        (
            replace_at(&replace_at(&good, 25, 'L'), 26, 'B'),
            malformed("optional block id", 25, "duplicate"),
        ),
        // Count higher than the blocks: the key data is read as a fourth block, after PB.
        (
            replace_at(&good, 13, '4'),
            malformed(
                "optional block id",
                56,
                "follows the padding block PB, which must be last",
            ),
        ),
        // Count lower: the header ends before the PB block, off the cipher block boundary.
        (
            replace_at(&good, 13, '2'),
            malformed("header", 49, NOT_WHOLE_BLOCKS),
        ),
        // A length that runs past the header.
        (
            replace_at(&replace_at(&good, 18, 'F'), 19, 'F'),
            malformed("label", 20, "runs past the end"),
        ),
        // Non-printable data.
        (
            replace_at(&good, 21, '\u{7}'),
            malformed("label", 21, "not printable ASCII"),
        ),
        // PB not last: PB and KS swap IDs.
        (
            replace_at(
                &replace_at(&replace_at(&replace_at(&good, 25, 'P'), 26, 'B'), 49, 'K'),
                50,
                'S',
            ),
            malformed(
                "optional block id",
                49,
                "follows the padding block PB, which must be last",
            ),
        ),
        // An optional block length shorter than its own ID and length.
        (
            replace_at(&good, 19, '3'),
            malformed(
                "optional block length",
                18,
                "shorter than the block's own ID and length",
            ),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(text.len(), good.len());
        assert_eq!(refused_before_crypto(&text), expected, "{text}");
    }
}

#[test]
fn t_kb_9_proprietary_and_odd_blocks_only_on_lenient_import() {
    let strict = UnwrapOptions {
        strict_optional_blocks: true,
        ..UnwrapOptions::default()
    };
    // The extra block follows LB (9) and KS (24): its ID at byte 49, its data at 53.
    for (extra, position) in [
        (
            OptionalBlock::new(BlockId::new("9X").unwrap(), "PROPRIETARY").unwrap(),
            49,
        ),
        (
            OptionalBlock::new(BlockId::new("ZZ").unwrap(), "UNDEFINED").unwrap(),
            49,
        ),
        (OptionalBlock::new(BlockId::HM, "215").unwrap(), 53),
        (
            OptionalBlock::new(BlockId::TS, "2020-13-01T00:00:00Z").unwrap(),
            53,
        ),
        (OptionalBlock::new(BlockId::KC, "01ABC").unwrap(), 53),
    ] {
        let block = block_with_optional_blocks(Some(extra.clone()));
        let kbpk = Watched::new(KeyAlgorithm::Tdes2Key, B_KBPK);
        // Lenient: kept verbatim and authenticated.
        let out = unwrap(Kbpk::from(&kbpk), &block, &UnwrapOptions::default()).unwrap();
        assert_eq!(out.header.optional_block(extra.block_id()), Some(&extra));
        // Strict: refused before any cryptography.
        let kbpk = Watched::new(KeyAlgorithm::Tdes2Key, B_KBPK);
        let err = unwrap(Kbpk::from(&kbpk), &block, &strict).unwrap_err();
        assert!(
            matches!(err, Error::Malformed { position: p, .. } if p == position),
            "{err}"
        );
        assert_eq!(kbpk.uses(), 0);
    }
    // Defined blocks in their defined formats pass strict import.
    let kbpk = Watched::new(KeyAlgorithm::Tdes2Key, B_KBPK);
    unwrap(
        Kbpk::from(&kbpk),
        &block_with_optional_blocks(None),
        &strict,
    )
    .unwrap();
}
