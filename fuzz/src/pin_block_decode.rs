//! The body of the `pin_block_decode` fuzz target: ISO 9564 PIN blocks of formats 0, 1, 3 and
//! 4, clear and enciphered, under a fixed PAN and fixed keys. No input may panic, and a block
//! that decodes holds a PIN of 4 to 12 digits; a format 0 block of decimal digits re-encodes to
//! itself.

use payhsm_core::{
    crypto::SoftwareKey,
    fields::Pan,
    key::KeyAlgorithm,
    pin::block::{self, EncryptedPinBlock, Fill, PinBlockFormat},
};

const FORMATS: [PinBlockFormat; 4] = [
    PinBlockFormat::Iso0,
    PinBlockFormat::Iso1,
    PinBlockFormat::Iso3,
    PinBlockFormat::Iso4,
];

/// Feeds `data` to `block::decode` (clear) and `block::decrypt` (enciphered) in every format,
/// with and without the PAN.
pub fn run(data: &[u8]) {
    let pan = Pan::new("4111111111111111").unwrap();
    let tdes =
        SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "0123456789ABCDEFFEDCBA9876543210").unwrap();
    let aes =
        SoftwareKey::from_hex(KeyAlgorithm::Aes128, "2B7E151628AED2A6ABF7158809CF4F3C").unwrap();
    for format in FORMATS {
        for pan in [Some(&pan), None] {
            if let Ok(pin) = block::decode(format, data, pan) {
                assert!((4..=12).contains(&pin.len()), "{format:?}");
                // Decoding does not check that the digits are decimal (ISO 9564-1, PCI HSM);
                // encoding does.
                if format == PinBlockFormat::Iso0 && pin.is_decimal() {
                    let again = block::encode(format, &pin, pan, Fill::Given("")).unwrap();
                    assert_eq!(again.expose_secret(), data);
                }
            }
            let key = if format == PinBlockFormat::Iso4 {
                &aes
            } else {
                &tdes
            };
            if let Ok(encrypted) = EncryptedPinBlock::new(data) {
                let _ = block::decrypt(key, format, &encrypted, pan);
            }
        }
    }
    if let Ok(text) = core::str::from_utf8(data) {
        let _ = EncryptedPinBlock::from_hex(text);
    }
}
