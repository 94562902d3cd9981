//! The body of the `tr31_unwrap` fuzz target: no input may panic, and the parsers agree.

use payhsm_core::{key::KeyAlgorithm, secret::KeyMaterial};
use payhsm_tr31::{Header, Kbpk, KeyBlock, UnwrapOptions, unwrap};

/// The KBPKs of TR-31:2018 A.7.2.2 (TDES, version B) and A.7.4 (AES-256, version D), so that
/// seeds taken from those vectors get past the MAC and exercise the whole path.
const TDES_KBPK: [u8; 16] = [
    0xDD, 0x75, 0x15, 0xF2, 0xBF, 0xC1, 0x7F, 0x85, 0xCE, 0x48, 0xF3, 0xCA, 0x25, 0xCB, 0x21, 0xF6,
];
const AES_KBPK: [u8; 32] = [
    0x88, 0xE1, 0xAB, 0x2A, 0x2E, 0x3D, 0xD3, 0x8C, 0x1F, 0xA0, 0x39, 0xA5, 0x36, 0x50, 0x0C, 0xC8,
    0xA8, 0x7A, 0xB9, 0xD6, 0x2D, 0xC9, 0x2C, 0x01, 0x05, 0x8F, 0xA7, 0x9F, 0x44, 0x65, 0x7D, 0xE6,
];

/// Feeds `data` (as text, invalid UTF-8 replaced) to `Header::parse`, `KeyBlock::parse` and
/// `unwrap` under fixed KBPKs, leniently and strictly.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(header) = Header::parse(&text) {
        // A parsed header prints in the canonical form, which parses to the same header.
        assert_eq!(Header::parse(&header.to_string()).as_ref(), Ok(&header));
    }
    let structure_ok = KeyBlock::parse(&text).is_ok();
    let kbpks = [
        (
            KeyAlgorithm::Tdes2Key,
            KeyMaterial::from_slice("kbpk", &TDES_KBPK),
        ),
        (
            KeyAlgorithm::Aes256,
            KeyMaterial::from_slice("kbpk", &AES_KBPK),
        ),
    ];
    for (algorithm, key) in &kbpks {
        let Ok(key) = key else { return };
        let kbpk = Kbpk::Clear {
            algorithm: *algorithm,
            key,
        };
        // Lenient (any optional block, short padding) and strict.
        for strict in [false, true] {
            let options = UnwrapOptions {
                allow_legacy_versions: true,
                strict_optional_blocks: strict,
                allow_short_padding: !strict,
            };
            if let Ok(out) = unwrap(kbpk, &text, &options) {
                // Only a well-formed block can unwrap, and its header is the parsed one.
                assert!(structure_ok);
                assert_eq!(out.header.block_length(), text.len());
            }
        }
    }
}
