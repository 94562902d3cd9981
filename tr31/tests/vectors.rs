//! Every tr31.json key block: deterministic wrap byte for byte, unwrap to key and header, and
//! every published intermediate (ciphertext, MAC, length field, check values).

mod common;

use common::{clear, permissive_unwrap, permissive_wrap, vectors};
use payhsm_core::{
    crypto::SoftwareKey,
    hex::encode,
    kcv::{self, KcvMethod},
    key::{Algorithm, KeyAlgorithm},
    secret::KeyMaterial,
};
use payhsm_tr31::{
    Header, Kbpk, KeyBlock, UnwrapOptions, Version, WrapOptions, unwrap, wrap_with_padding,
};

#[test]
fn every_published_block_wraps_byte_for_byte() {
    for v in vectors() {
        let kbpk = v.kbpk_material();
        let header = Header::parse(&v.header).unwrap();
        let block = wrap_with_padding(
            clear(v.kbpk_algorithm(), &kbpk),
            &header,
            &v.key,
            &v.padding,
            &permissive_wrap(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", v.id));
        assert_eq!(block, v.key_block, "{}", v.id);
    }
}

#[test]
fn every_published_block_unwraps_to_its_key_and_header() {
    for v in vectors() {
        let kbpk = v.kbpk_material();
        let out = unwrap(
            clear(v.kbpk_algorithm(), &kbpk),
            &v.key_block,
            &permissive_unwrap(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", v.id));
        assert_eq!(out.key.expose_secret(), v.key, "{}", v.id);
        let header_text = &v.key_block[..out.header.header_length()];
        assert_eq!(out.header.to_string(), header_text, "{}", v.id);
        assert_eq!(out.header, Header::parse(&v.key_block).unwrap(), "{}", v.id);
        // The input header differs only in its length field.
        assert_eq!(&v.header[5..], &header_text[5..v.header.len()], "{}", v.id);
    }
}

#[test]
fn derivation_versions_unwrap_through_a_key_handle() {
    let mut count = 0;
    for v in vectors().into_iter().filter(|v| !v.version().is_legacy()) {
        let handle = SoftwareKey::new(v.kbpk_algorithm(), &v.kbpk_material()).unwrap();
        let out = unwrap(Kbpk::from(&handle), &v.key_block, &permissive_unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", v.id));
        assert_eq!(out.key.expose_secret(), v.key, "{}", v.id);
        count += 1;
    }
    assert_eq!(count, 18);
}

#[test]
fn parsed_parts_match_the_published_ciphertext_mac_and_length_field() {
    for v in vectors() {
        let kb = KeyBlock::parse(&v.key_block).unwrap();
        assert_eq!(kb.encrypted_key_data(), v.encrypted_key_data, "{}", v.id);
        assert_eq!(kb.mac(), v.mac, "{}", v.id);
        assert_eq!(kb.mac().len(), kb.version().mac_len(), "{}", v.id);
        assert_eq!(
            v.key_length_field,
            format!("{:04X}", v.key.len() * 8),
            "{}",
            v.id
        );
    }
}

/// TDES keys: encrypt a zero block, 3 bytes; AES keys: CMAC, 5 bytes (X9.24-1 Annex A). An
/// 8-byte DES key is checked as the equivalent K‖K TDES key.
fn kcv_hex(algorithm: KeyAlgorithm, key: &[u8]) -> String {
    let key = KeyMaterial::from_slice("key", key).unwrap();
    let handle = SoftwareKey::new(algorithm, &key).unwrap();
    let (method, len) = match algorithm {
        KeyAlgorithm::Tdes2Key | KeyAlgorithm::Tdes3Key => (KcvMethod::AnsiX924, 3),
        _ => (KcvMethod::Cmac, 5),
    };
    encode(kcv::compute(&handle, method, len).unwrap().as_bytes())
}

#[test]
fn check_values_of_kbpks_keys_and_kp_blocks() {
    for v in vectors() {
        assert_eq!(kcv_hex(v.kbpk_algorithm(), &v.kbpk), v.kbpk_kcv, "{}", v.id);
        if let Some(expected) = &v.key_kcv {
            let header = Header::parse(&v.key_block).unwrap();
            let key = if v.key.len() == 8 {
                [&v.key[..], &v.key[..]].concat()
            } else {
                v.key.clone()
            };
            let algorithm = KeyAlgorithm::from_block_cipher(header.algorithm(), key.len()).unwrap();
            assert_eq!(&kcv_hex(algorithm, &key), expected, "{}", v.id);
        }
        if let Some(expected) = &v.kbpk_kcv_in_kp_block {
            let kp = Header::parse(&v.key_block)
                .unwrap()
                .kbpk_check_value()
                .unwrap()
                .unwrap();
            assert_eq!(kp.method(), KcvMethod::Cmac);
            assert_eq!(&encode(kp.as_bytes()), expected, "{}", v.id);
        }
    }
}

#[test]
fn masked_vectors_need_no_option_and_unmasked_ones_are_refused_by_default() {
    let strict_export = WrapOptions {
        allow_version_a: true,
        allow_version_c: true,
        ..WrapOptions::default()
    };
    let mut masked = 0;
    for v in vectors() {
        let kbpk = v.kbpk_material();
        let header = Header::parse(&v.header).unwrap();
        let result = wrap_with_padding(
            clear(v.kbpk_algorithm(), &kbpk),
            &header,
            &v.key,
            &v.padding,
            &strict_export,
        );
        if v.id.contains("masked-length") {
            masked += 1;
            assert_eq!(result.as_deref(), Ok(v.key_block.as_str()), "{}", v.id);
        }
        if v.id.starts_with("TR31-2018-A.7") {
            // TR-31:2018 predates masking: its blocks are shorter than X9.143 export allows.
            assert!(result.is_err(), "{}", v.id);
        }
    }
    assert_eq!(masked, 3);
}

#[test]
fn private_key_payloads_unwrap() {
    let private: Vec<_> = vectors()
        .into_iter()
        .filter(|v| v.id.contains("private-key"))
        .collect();
    assert_eq!(private.len(), 2);
    for v in private {
        let kbpk = v.kbpk_material();
        let out = unwrap(
            clear(v.kbpk_algorithm(), &kbpk),
            &v.key_block,
            &UnwrapOptions::default(),
        )
        .unwrap();
        // A DER SEQUENCE, the length the length field states.
        assert_eq!(out.key.expose_secret()[0], 0x30, "{}", v.id);
        assert_eq!(out.key.len(), v.key.len());
        assert!(matches!(
            out.header.algorithm(),
            Algorithm::RSA | Algorithm::EC
        ));
        // The certificate block uses the extended length form, written back the same way.
        let ct = out.header.optional_block(payhsm_tr31::BlockId::CT).unwrap();
        assert!(ct.encoded_len() > 255);
        assert!(v.key_block.contains(&ct.to_string()));
        assert_eq!(out.header.version(), Version::D);
    }
}
