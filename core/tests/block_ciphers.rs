//! The block ciphers behind software key handles, checked against NIST's published known
//! answers and, on random inputs, against the RustCrypto `des` and `cmac` crates.
//!
//! The `.rsp` files in `data/` are NIST CAVP response files (CAVS 11.1), unchanged: the TDES
//! known-answer tables of SP 800-20 (`TECB*`), the TDES multi-block message tests for ECB and
//! CBC (`TECBMMT*`, `TCBCMMT*`) and the AES CBC multi-block message tests (`CBCMMT*`); see
//! `data/README.md` for where they come from.

use cipher::{BlockCipherEncrypt, KeyInit, consts::U8};
use cmac::{Cmac, Mac};
use des::{Des, TdesEde2, TdesEde3};
use payhsm_core::{
    crypto::{SoftwareKey, SymmetricKey},
    hex,
    key::KeyAlgorithm,
};
use proptest::prelude::*;

/// One record of a CAVP response file.
#[derive(Debug, Default)]
struct Record {
    encrypt: bool,
    fields: Vec<(String, String)>,
}

impl Record {
    fn get(&self, name: &str) -> Option<Vec<u8>> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| hex::decode("vector", v).unwrap())
    }

    fn bytes(&self, name: &str) -> Vec<u8> {
        self.get(name)
            .unwrap_or_else(|| panic!("no {name} in {self:?}"))
    }
}

/// The records of a response file, each with the section (`[ENCRYPT]`, `[DECRYPT]`) it is in.
fn records(text: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut encrypt = true;
    let mut current = Record::default();
    for line in text.lines().map(str::trim) {
        match line {
            "[ENCRYPT]" => encrypt = true,
            "[DECRYPT]" => encrypt = false,
            "" => {
                if !current.fields.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            _ if line.starts_with('#') => {}
            _ => {
                let (name, value) = line.split_once(" = ").expect("NAME = value");
                if name != "COUNT" {
                    current.encrypt = encrypt;
                    current.fields.push((name.to_owned(), value.to_owned()));
                }
            }
        }
    }
    if !current.fields.is_empty() {
        out.push(current);
    }
    out
}

/// The TDES keys a record names: `KEYs` (one key for all three parts) or `KEY1..3`, as a
/// three-key key and, when `K3 = K1`, also as a two-key key.
fn tdes_keys(r: &Record) -> Vec<SoftwareKey> {
    let (k1, k2, k3) = match r.get("KEYs") {
        Some(k) => (k.clone(), k.clone(), k),
        None => (r.bytes("KEY1"), r.bytes("KEY2"), r.bytes("KEY3")),
    };
    let mut keys = vec![
        SoftwareKey::from_hex(
            KeyAlgorithm::Tdes3Key,
            &hex::encode(&[&k1[..], &k2, &k3].concat()),
        )
        .unwrap(),
    ];
    if k3 == k1 {
        keys.push(
            SoftwareKey::from_hex(
                KeyAlgorithm::Tdes2Key,
                &hex::encode(&[&k1[..], &k2].concat()),
            )
            .unwrap(),
        );
    }
    keys
}

fn aes_key(r: &Record) -> SoftwareKey {
    let key = r.bytes("KEY");
    let algorithm = match key.len() {
        16 => KeyAlgorithm::Aes128,
        24 => KeyAlgorithm::Aes192,
        _ => KeyAlgorithm::Aes256,
    };
    SoftwareKey::from_hex(algorithm, &hex::encode(&key)).unwrap()
}

/// Runs every record of `file` through `keys`, in ECB or (with an `IV`) CBC mode, in the
/// record's direction; returns how many key × record checks ran.
fn run(file: &str, text: &str, keys: fn(&Record) -> Vec<SoftwareKey>) -> usize {
    let mut checks = 0;
    for r in records(text) {
        let (input, expected) = if r.encrypt {
            (r.bytes("PLAINTEXT"), r.bytes("CIPHERTEXT"))
        } else {
            (r.bytes("CIPHERTEXT"), r.bytes("PLAINTEXT"))
        };
        for key in keys(&r) {
            let mut data = input.clone();
            match (r.get("IV"), r.encrypt) {
                (None, true) => key.encrypt_ecb(&mut data),
                (None, false) => key.decrypt_ecb(&mut data),
                (Some(iv), true) => key.encrypt_cbc(&iv, &mut data),
                (Some(iv), false) => key.decrypt_cbc(&iv, &mut data),
            }
            .unwrap();
            assert_eq!(hex::encode(&data), hex::encode(&expected), "{file}: {r:?}");
            checks += 1;
        }
    }
    checks
}

macro_rules! cavp {
    ($dir:literal, $($file:literal),*) => {
        [$(($file, include_str!(concat!("data/", $dir, "/", $file)))),*]
    };
}

#[test]
fn tdes_matches_the_nist_known_answers() {
    let files = cavp!(
        "cavp-tdes",
        "TECBvartext.rsp",
        "TECBinvperm.rsp",
        "TECBvarkey.rsp",
        "TECBpermop.rsp",
        "TECBsubtab.rsp",
        "TECBMMT1.rsp",
        "TECBMMT2.rsp",
        "TECBMMT3.rsp",
        "TCBCMMT1.rsp",
        "TCBCMMT2.rsp",
        "TCBCMMT3.rsp"
    );
    let checks: usize = files
        .iter()
        .map(|(file, text)| run(file, text, tdes_keys))
        .sum();
    // 470 single-DES known answers (each also as a two-key key), 6 × 20 message tests.
    assert!(checks >= 2 * 470 + 6 * 20, "{checks} checks");
}

#[test]
fn aes_cbc_matches_the_nist_message_tests() {
    let files = cavp!(
        "cavp-aes",
        "CBCMMT128.rsp",
        "CBCMMT192.rsp",
        "CBCMMT256.rsp"
    );
    let checks: usize = files
        .iter()
        .map(|(file, text)| run(file, text, |r| vec![aes_key(r)]))
        .sum();
    assert_eq!(checks, 3 * 20);
}

/// NIST SP 800-67 Rev. 2, Appendix B: the three-key TDEA example.
#[test]
fn tdes_matches_the_sp800_67_example() {
    let key = SoftwareKey::from_hex(
        KeyAlgorithm::Tdes3Key,
        "0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123",
    )
    .unwrap();
    let mut data = b"The qufck brown fox jump".to_vec();
    key.encrypt_ecb(&mut data).unwrap();
    assert_eq!(
        hex::encode(&data),
        "A826FD8CE53B855FCCE21C8112256FE668D5C05DD9B6B900"
    );
    key.decrypt_ecb(&mut data).unwrap();
    assert_eq!(data, b"The qufck brown fox jump");
}

/// ISO 9797-1 MAC algorithm 3 built from the `des` crate: CBC under K1, the last block under
/// the whole key.
fn reference_retail_mac<C: BlockCipherEncrypt<BlockSize = U8>>(
    full: &C,
    k1: &Des,
    message: &[u8],
) -> [u8; 8] {
    let mut chain = [0u8; 8];
    let blocks: Vec<&[u8]> = message.chunks(8).collect();
    for (i, block) in blocks.iter().enumerate() {
        chain.iter_mut().zip(*block).for_each(|(c, m)| *c ^= m);
        let b = (&mut chain).into();
        if i + 1 == blocks.len() {
            full.encrypt_block(b);
        } else {
            k1.encrypt_block(b);
        }
    }
    chain
}

fn check_against_des_crate<C>(
    algorithm: KeyAlgorithm,
    key: &[u8],
    data: &[u8],
    iv: [u8; 8],
    reference_cmac: fn(&[u8], &[u8]) -> Vec<u8>,
) -> Result<(), TestCaseError>
where
    C: KeyInit + BlockCipherEncrypt<BlockSize = U8>,
{
    let ours = SoftwareKey::from_hex(algorithm, &hex::encode(key)).unwrap();
    let theirs = C::new_from_slice(key).unwrap();

    let mut a = data.to_vec();
    let mut b = data.to_vec();
    ours.encrypt_ecb(&mut a).unwrap();
    b.chunks_exact_mut(8)
        .for_each(|blk| theirs.encrypt_block(blk.try_into().unwrap()));
    prop_assert_eq!(&a, &b, "ECB encryption");
    ours.decrypt_ecb(&mut a).unwrap();
    prop_assert_eq!(&a, data, "ECB decryption");

    let mut cbc = data.to_vec();
    ours.encrypt_cbc(&iv, &mut cbc).unwrap();
    let mut chain = iv;
    for (c, p) in cbc.chunks_exact(8).zip(data.chunks_exact(8)) {
        chain.iter_mut().zip(p).for_each(|(x, m)| *x ^= m);
        theirs.encrypt_block((&mut chain).into());
        prop_assert_eq!(c, &chain[..], "CBC encryption");
    }
    ours.decrypt_cbc(&iv, &mut cbc).unwrap();
    prop_assert_eq!(&cbc, data, "CBC decryption");

    for n in 0..=data.len() {
        prop_assert_eq!(
            ours.cmac(&data[..n]).unwrap().as_bytes().to_vec(),
            reference_cmac(key, &data[..n]),
            "CMAC of {} bytes",
            n
        );
    }

    let k1 = Des::new_from_slice(&key[..8]).unwrap();
    let expected = reference_retail_mac(&theirs, &k1, data).to_vec();
    // In one part, and split anywhere into three.
    prop_assert_eq!(
        ours.retail_mac(&[data]).unwrap().as_bytes().to_vec(),
        expected.clone(),
        "retail MAC"
    );
    for (a, b) in [(0, 0), (1, 3), (3, 11), (7, 9), (8, 16)] {
        let (a, b) = (a.min(data.len()), b.min(data.len()));
        let parts = [&data[..a], &data[a..b], &data[b..]];
        prop_assert_eq!(
            ours.retail_mac(&parts).unwrap().as_bytes().to_vec(),
            expected.clone(),
            "retail MAC in parts split at {} and {}",
            a,
            b
        );
    }
    Ok(())
}

fn cmac_of<C: KeyInit + cmac::block_api::CmacCipher>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <Cmac<C> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// AES ECB and CBC through the handle against the `aes` crate one block at a time, over
/// lengths that fill the backends' parallel groups (8 blocks for AES-NI, 30 for VAES) and
/// leave tails.
fn check_against_aes_crate(key: &[u8], data: &[u8], iv: [u8; 16]) -> Result<(), TestCaseError> {
    let algorithm = match key.len() {
        16 => KeyAlgorithm::Aes128,
        24 => KeyAlgorithm::Aes192,
        _ => KeyAlgorithm::Aes256,
    };
    let ours = SoftwareKey::from_hex(algorithm, &hex::encode(key)).unwrap();
    let encrypt_block = |block: &mut [u8]| match key.len() {
        16 => aes::Aes128::new_from_slice(key)
            .unwrap()
            .encrypt_block(block.try_into().unwrap()),
        24 => aes::Aes192::new_from_slice(key)
            .unwrap()
            .encrypt_block(block.try_into().unwrap()),
        _ => aes::Aes256::new_from_slice(key)
            .unwrap()
            .encrypt_block(block.try_into().unwrap()),
    };
    let mut ecb = data.to_vec();
    ours.encrypt_ecb(&mut ecb).unwrap();
    let mut expected = data.to_vec();
    expected.chunks_exact_mut(16).for_each(encrypt_block);
    prop_assert_eq!(&ecb, &expected, "ECB encryption");
    ours.decrypt_ecb(&mut ecb).unwrap();
    prop_assert_eq!(&ecb, data, "ECB decryption");

    let mut cbc = data.to_vec();
    ours.encrypt_cbc(&iv, &mut cbc).unwrap();
    let mut chain = iv;
    for (c, p) in cbc.chunks_exact(16).zip(data.chunks_exact(16)) {
        chain.iter_mut().zip(p).for_each(|(x, m)| *x ^= m);
        encrypt_block(&mut chain);
        prop_assert_eq!(c, &chain[..], "CBC encryption");
    }
    ours.decrypt_cbc(&iv, &mut cbc).unwrap();
    prop_assert_eq!(&cbc, data, "CBC decryption");
    Ok(())
}

/// AES-CMAC through the handle against the `cmac` crate, on every message length up to
/// `message.len()` (empty, partial and complete last blocks).
fn check_aes_cmac(key: &[u8], message: &[u8]) -> Result<(), TestCaseError> {
    type Reference = fn(&[u8], &[u8]) -> Vec<u8>;
    let (algorithm, reference): (_, Reference) = match key.len() {
        16 => (KeyAlgorithm::Aes128, cmac_of::<aes::Aes128>),
        24 => (KeyAlgorithm::Aes192, cmac_of::<aes::Aes192>),
        _ => (KeyAlgorithm::Aes256, cmac_of::<aes::Aes256>),
    };
    let ours = SoftwareKey::from_hex(algorithm, &hex::encode(key)).unwrap();
    for n in 0..=message.len() {
        prop_assert_eq!(
            ours.cmac(&message[..n]).unwrap().as_bytes().to_vec(),
            reference(key, &message[..n]),
            "CMAC of {} bytes",
            n
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn aes_modes_agree_with_the_aes_crate(
        key in prop::sample::select(vec![16usize, 24, 32])
            .prop_flat_map(|n| prop::collection::vec(any::<u8>(), n)),
        blocks in prop::collection::vec(prop::array::uniform16(any::<u8>()), 1..70),
        iv in prop::array::uniform16(any::<u8>()),
    ) {
        check_against_aes_crate(&key, &blocks.concat(), iv)?;
    }

    #[test]
    fn aes_cmac_agrees_with_the_cmac_crate(
        key in prop::sample::select(vec![16usize, 24, 32])
            .prop_flat_map(|n| prop::collection::vec(any::<u8>(), n)),
        message in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        check_aes_cmac(&key, &message)?;
    }

    #[test]
    fn two_key_tdes_agrees_with_the_des_crate(
        key in prop::array::uniform16(any::<u8>()),
        blocks in prop::collection::vec(prop::array::uniform8(any::<u8>()), 1..8),
        iv in prop::array::uniform8(any::<u8>()),
    ) {
        check_against_des_crate::<TdesEde2>(
            KeyAlgorithm::Tdes2Key, &key, &blocks.concat(), iv, cmac_of::<TdesEde2>,
        )?;
    }

    #[test]
    fn three_key_tdes_agrees_with_the_des_crate(
        key in prop::array::uniform24(any::<u8>()),
        blocks in prop::collection::vec(prop::array::uniform8(any::<u8>()), 1..8),
        iv in prop::array::uniform8(any::<u8>()),
    ) {
        check_against_des_crate::<TdesEde3>(
            KeyAlgorithm::Tdes3Key, &key, &blocks.concat(), iv, cmac_of::<TdesEde3>,
        )?;
    }
}
