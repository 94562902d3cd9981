//! T-KB-13: for random valid headers, keys and KBPKs, unwrap(wrap(k, h)) == (k, h); two wraps
//! differ; any single changed character fails.

mod common;

use common::{clear, permissive_unwrap};
use payhsm_core::{key::*, rng::OsRandom, secret::KeyMaterial};
use payhsm_tr31::{
    BlockId, Header, KeyBlock, OptionalBlock, Version, WrapOptions, optional_block::values::*,
    unwrap, wrap,
};
use proptest::prelude::*;

fn version() -> impl Strategy<Value = Version> {
    prop::sample::select(Version::ALL.to_vec())
}

/// A KBPK that fits the version.
fn kbpk(version: Version) -> impl Strategy<Value = (KeyAlgorithm, Vec<u8>)> {
    let algorithms = match version {
        Version::D => vec![
            KeyAlgorithm::Aes128,
            KeyAlgorithm::Aes192,
            KeyAlgorithm::Aes256,
        ],
        _ => vec![KeyAlgorithm::Tdes2Key, KeyAlgorithm::Tdes3Key],
    };
    prop::sample::select(algorithms).prop_flat_map(|a| {
        let len = a.key_len().unwrap();
        (Just(a), prop::collection::vec(any::<u8>(), len))
    })
}

/// A key and the header algorithm code it is stated as: TDES, AES, HMAC or a private-key blob.
fn key() -> impl Strategy<Value = (Algorithm, Vec<u8>)> {
    prop_oneof![
        prop::sample::select(vec![8usize, 16, 24])
            .prop_flat_map(|n| (Just(Algorithm::TDES), prop::collection::vec(any::<u8>(), n))),
        prop::sample::select(vec![16usize, 24, 32])
            .prop_flat_map(|n| (Just(Algorithm::AES), prop::collection::vec(any::<u8>(), n))),
        (
            Just(Algorithm::HMAC),
            prop::collection::vec(any::<u8>(), 14..=64)
        ),
        (
            prop::sample::select(vec![Algorithm::RSA, Algorithm::EC]),
            prop::collection::vec(any::<u8>(), 100..600)
        ),
    ]
}

fn printable(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(0x20u8..=0x7E, 0..=max).prop_map(|b| String::from_utf8(b).unwrap())
}

/// A subset of optional blocks, each ID at most once, PB never (wrap adds it when needed).
fn optional_blocks() -> impl Strategy<Value = Vec<OptionalBlock>> {
    let timestamp = (2000u16..2100, 1u8..=12, 1u8..=28, 0u8..24, 0u8..60, 0u8..60).prop_map(
        |(year, month, day, hour, minute, second)| Timestamp {
            year,
            month,
            day,
            hour,
            minute,
            second,
            hundredths: None,
        },
    );
    (
        prop::option::of(printable(40)),
        prop::option::of(prop::collection::vec(any::<u8>(), 10)),
        prop::option::of(timestamp),
        prop::option::of(prop::collection::vec(any::<u8>(), 1..=5)),
        prop::option::of(printable(300)),
    )
        .prop_map(|(label, ksn, ts, kcv, proprietary)| {
            let mut blocks = Vec::new();
            if let Some(l) = label {
                blocks.push(OptionalBlock::new(BlockId::LB, &l).unwrap());
            }
            if let Some(k) = ksn {
                blocks.push(OptionalBlock::from_value(BlockId::KS, &KeySerialNumber(k)).unwrap());
            }
            if let Some(t) = ts {
                blocks.push(OptionalBlock::from_value(BlockId::TS, &t).unwrap());
            }
            if let Some(k) = kcv {
                let kcv = CheckValue::new(payhsm_core::kcv::KcvMethod::Cmac, &k).unwrap();
                blocks.push(OptionalBlock::from_value(BlockId::KC, &kcv).unwrap());
            }
            if let Some(p) = proprietary {
                // Long enough, at times, for the extended length form.
                blocks.push(OptionalBlock::new(BlockId::new("9Z").unwrap(), &p).unwrap());
            }
            blocks
        })
}

prop_compose! {
    fn case()(version in version())(
        version in Just(version),
        (kbpk_algorithm, kbpk) in kbpk(version),
        (algorithm, key) in key(),
        usage in prop::sample::select(KeyUsage::known().collect::<Vec<_>>()),
        mode in prop::sample::select(ModeOfUse::known().collect::<Vec<_>>()),
        exportability in prop::sample::select(Exportability::known().collect::<Vec<_>>()),
        key_version in "[0-9A-Za-z]{2}",
        blocks in optional_blocks(),
        mask in any::<bool>(),
    ) -> (KeyAlgorithm, Vec<u8>, Header, Vec<u8>, WrapOptions) {
        let header = blocks.into_iter().fold(
            Header::new(version, usage, algorithm, mode, &key_version, exportability).unwrap(),
            |h, b| h.with_optional_block(b).unwrap(),
        );
        let options = WrapOptions { allow_version_a: true, allow_version_c: true, mask_key_length: mask };
        (kbpk_algorithm, kbpk, header, key, options)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn t_kb_13_round_trip_fresh_padding_and_tamper_evidence(
        (kbpk_algorithm, kbpk, header, key, options) in case(),
        position in any::<prop::sample::Index>(),
        replacement in 0x20u8..=0x7E,
    ) {
        let kbpk = KeyMaterial::from_slice("kbpk", &kbpk).unwrap();
        let kbpk = clear(kbpk_algorithm, &kbpk);
        let block = wrap(kbpk, &header, &key, &options, &mut OsRandom).unwrap();

        // unwrap(wrap(k, h)) == (k, h): the header as wrap authenticated it (h, padded, with
        // the block's length).
        let out = unwrap(kbpk, &block, &permissive_unwrap()).unwrap();
        prop_assert_eq!(out.key.expose_secret(), &key[..]);
        prop_assert_eq!(out.header.block_length(), block.len());
        let expected = header.padded().unwrap().to_string();
        prop_assert_eq!(&out.header.to_string()[5..], &expected[5..]);
        prop_assert_eq!(&out.header.optional_blocks()[..header.optional_blocks().len()], header.optional_blocks());

        // Two wraps differ wherever there is padding to randomise: with 8 bytes or more, two
        // equal paddings (probability 2^-64) do not happen (with one byte, one run in 256 would
        // see them).
        let parsed = KeyBlock::parse(&block).unwrap();
        let padding = parsed.encrypted_key_data().len() - 2 - key.len();
        if padding >= 8 {
            prop_assert_ne!(&wrap(kbpk, &header, &key, &options, &mut OsRandom).unwrap(), &block);
        }

        // Any single changed character fails.
        let at = position.index(block.len());
        prop_assume!(block.as_bytes()[at] != replacement);
        let mut changed = block.clone().into_bytes();
        changed[at] = replacement;
        let changed = String::from_utf8(changed).unwrap();
        prop_assert!(unwrap(kbpk, &changed, &permissive_unwrap()).is_err());
    }
}
