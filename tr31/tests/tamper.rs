//! T-KB-1, T-KB-2, T-KB-5: tampering with an authentic block fails, and every failure that
//! reaches the cryptography is the one uniform error.

mod common;

use common::{Vector, clear, permissive_unwrap, replace_at, vector};
use payhsm_core::hex::encode;
use payhsm_tr31::{Error, KeyBlock, unwrap};

/// One published block per version, plus a masked D block.
const BLOCKS: [&str; 5] = [
    "TR31-2018-A.7.2.1-verA-TDES2",
    "TR31-2018-A.7.2.2-verB-TDES2",
    "TR31-2018-A.7.3.1-verC-TDES2-optKS",
    "TR31-2018-A.7.4-verD-AES256",
    "X9.143-2021-8.1-verD-AES256-masked-length",
];

fn unwrap_vector(v: &Vector, block: &str) -> Result<(), Error> {
    let kbpk = v.kbpk_material();
    unwrap(
        clear(v.kbpk_algorithm(), &kbpk),
        block,
        &permissive_unwrap(),
    )
    .map(drop)
}

/// Rewrites the block with its encrypted key data and MAC (as bytes) changed by `edit`.
fn with_binary(block: &str, edit: impl FnOnce(&mut Vec<u8>)) -> String {
    let kb = KeyBlock::parse(block).unwrap();
    let mut bytes = [kb.encrypted_key_data(), kb.mac()].concat();
    edit(&mut bytes);
    format!("{}{}", kb.header_text(), encode(&bytes))
}

#[test]
fn t_kb_1_every_bit_flip_in_ciphertext_and_mac_fails_uniformly() {
    for id in BLOCKS {
        let v = vector(id);
        unwrap_vector(&v, &v.key_block).unwrap();
        let kb = KeyBlock::parse(&v.key_block).unwrap();
        let bits = 8 * (kb.encrypted_key_data().len() + kb.mac().len());
        for bit in 0..bits {
            let flipped = with_binary(&v.key_block, |b| b[bit / 8] ^= 1 << (bit % 8));
            let err = unwrap_vector(&v, &flipped).unwrap_err();
            assert_eq!(err, Error::AuthenticationFailed, "{id} bit {bit}");
            assert_eq!(err.to_string(), "key block authentication failed");
        }
    }
}

#[test]
fn t_kb_1_every_bit_flip_in_the_header_fails() {
    for id in BLOCKS {
        let v = vector(id);
        let header_len = KeyBlock::parse(&v.key_block).unwrap().header_text().len();
        let mut authenticated = 0;
        for at in 0..header_len {
            for bit in 0..8 {
                let mut bytes = v.key_block.clone().into_bytes();
                bytes[at] ^= 1 << bit;
                let Ok(text) = String::from_utf8(bytes) else {
                    continue; // Not text: cannot even be passed in.
                };
                match unwrap_vector(&v, &text).unwrap_err() {
                    // The header is public: a flip that breaks its structure is refused
                    // before any cryptography, with the field named.
                    Error::Malformed { .. } => {}
                    e => {
                        assert_eq!(e, Error::AuthenticationFailed, "{id} byte {at} bit {bit}");
                        authenticated += 1;
                    }
                }
            }
        }
        // Many flips keep a well-formed header (another letter, another digit): those reach
        // the MAC and fail there.
        assert!(authenticated >= header_len, "{id}: {authenticated}");
    }
}

#[test]
fn t_kb_2_header_changes_keeping_the_mac_fail() {
    let v = vector("TR31-2018-A.7.2.2-verB-TDES2"); // B0080P0TE00E0000
    for (at, with) in [
        (5, 'D'),
        (8, 'B'),
        (11, 'N'),
        (10, '1'),
        (9, 'c'),
        (6, '1'),
        (7, 'A'),
    ] {
        let changed = replace_at(&v.key_block, at, with);
        assert_ne!(changed, v.key_block);
        assert_eq!(
            unwrap_vector(&v, &changed),
            Err(Error::AuthenticationFailed),
            "{changed}"
        );
    }
    let d = vector("TR31-2018-A.7.4-verD-AES256"); // D0112P0AE00E0000
    for (at, with) in [(5, 'D'), (8, 'B'), (11, 'N'), (11, 'S')] {
        let changed = replace_at(&d.key_block, at, with);
        assert_eq!(
            unwrap_vector(&d, &changed),
            Err(Error::AuthenticationFailed),
            "{changed}"
        );
    }
}

#[test]
fn t_kb_5_no_padding_or_length_oracle() {
    for id in [
        "TR31-2018-A.7.2.2-verB-TDES2",
        "TR31-2018-A.7.4-verD-AES256",
        "X9.143-2021-8.1-verD-AES256-masked-length",
    ] {
        let v = vector(id);
        let kb = KeyBlock::parse(&v.key_block).unwrap();
        let data_len = kb.encrypted_key_data().len();
        let block_len = kb.version().block_len();
        let mut errors = Vec::new();
        // Corrupt the first block (which decrypts to the key length field), the last block
        // (padding), a middle byte and the MAC; and replace whole blocks with zeros.
        for at in [
            0,
            1,
            block_len - 1,
            data_len / 2,
            data_len - 1,
            data_len,
            data_len + kb.mac().len() - 1,
        ] {
            errors.push(unwrap_vector(
                &v,
                &with_binary(&v.key_block, |b| b[at] ^= 0x80),
            ));
        }
        errors.push(unwrap_vector(
            &v,
            &with_binary(&v.key_block, |b| b[..block_len].fill(0)),
        ));
        errors.push(unwrap_vector(
            &v,
            &with_binary(&v.key_block, |b| b[data_len - block_len..data_len].fill(0)),
        ));
        // Swap the two last cipher blocks.
        errors.push(unwrap_vector(
            &v,
            &with_binary(&v.key_block, |b| {
                let (first, second) = b[data_len - 2 * block_len..data_len].split_at_mut(block_len);
                first.swap_with_slice(second);
            }),
        ));
        for e in &errors {
            assert_eq!(e, &Err(Error::AuthenticationFailed), "{id}");
        }
    }
}

#[test]
fn t_kb_5_wrong_kbpk_is_the_same_error() {
    let v = vector("TR31-2018-A.7.4-verD-AES256");
    let mut kbpk = v.kbpk.clone();
    kbpk[0] ^= 1;
    let kbpk = payhsm_core::secret::KeyMaterial::from_slice("kbpk", &kbpk).unwrap();
    assert_eq!(
        unwrap(
            clear(v.kbpk_algorithm(), &kbpk),
            &v.key_block,
            &permissive_unwrap()
        )
        .unwrap_err(),
        Error::AuthenticationFailed
    );
}
