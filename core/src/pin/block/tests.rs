use super::*;
use crate::{crypto::SoftwareKey, hex, key::KeyAlgorithm, rng::Replay};
use alloc::{
    format,
    string::{String, ToString},
    vec::Vec,
};

fn h(s: &str) -> Vec<u8> {
    hex::decode("test", s).unwrap()
}

fn clear(format: PinBlockFormat, pin: &str, pan: Option<&str>, fill: &str) -> String {
    let pan = pan.map(|p| Pan::new(p).unwrap());
    let b = encode(
        format,
        &Pin::new(pin).unwrap(),
        pan.as_ref(),
        Fill::Given(fill),
    )
    .unwrap();
    hex::encode(b.expose_secret())
}

// pinblock.json: the clear blocks of formats 0 to 3.
#[test]
fn clear_block_vectors() {
    use PinBlockFormat::*;
    assert_eq!(
        clear(Iso0, "1234", Some("4012345678909"), ""),
        "041274EDCBA9876F"
    );
    assert_eq!(
        clear(Iso0, "1234", Some("5555555551234567"), ""),
        "041261AAAAEDCBA9"
    );
    assert_eq!(
        clear(Iso0, "123456789012", Some("5555555551234567"), ""),
        "0C1261032D8226A9"
    );
    assert_eq!(
        clear(Iso0, "123456789", Some("5555555551234567"), ""),
        "091261032D8DCBA9"
    );
    assert_eq!(clear(Iso1, "12345", None, "EDCBA9876"), "1512345EDCBA9876");
    assert_eq!(clear(Iso2, "34567", None, ""), "2534567FFFFFFFFF");
    assert_eq!(clear(Iso2, "123456789012", None, ""), "2C123456789012FF");
    assert_eq!(
        clear(Iso3, "1234", Some("5555555551234567"), "FFFFFFFFFF"),
        "341261AAAAEDCBA9"
    );
    assert_eq!(
        clear(Iso3, "123456789012", Some("5555555551234567"), "FF"),
        "3C1261032D8226A9"
    );
    assert_eq!(
        hex::encode(&pan_field_iso0(&Pan::new("4012345678909").unwrap())),
        "0000401234567890"
    );
}

// pinblock.json: ISO 9564-1:2017 format 4 (X9.24-3-2017 supplement) with intermediates.
#[test]
fn format4_vectors() {
    let k =
        SoftwareKey::from_hex(KeyAlgorithm::Aes128, "AF8CB133A78F8DC2D1359F18527593FB").unwrap();
    let pan = Pan::new("4111111111111111").unwrap();
    let pin = Pin::new("1234").unwrap();
    let field = encode(
        PinBlockFormat::Iso4,
        &pin,
        Some(&pan),
        Fill::Given("2F69ADDE2E9E7ACE"),
    )
    .unwrap();
    assert_eq!(
        hex::encode(field.expose_secret()),
        "441234AAAAAAAAAA2F69ADDE2E9E7ACE"
    );
    assert_eq!(
        hex::encode(&pan_field_iso4(&pan)),
        "44111111111111111000000000000000"
    );
    let e = encrypt_clear(&k, &field, Some(&pan)).unwrap();
    assert_eq!(e.to_string(), "A912150391AB65A67E52883D81CE2D15");
    assert_eq!(
        decrypt(&k, PinBlockFormat::Iso4, &e, Some(&pan))
            .unwrap()
            .expose_secret(),
        "1234"
    );

    let k =
        SoftwareKey::from_hex(KeyAlgorithm::Aes128, "00112233445566778899AABBCCDDEEFF").unwrap();
    let pan = Pan::new("1234567890123456789").unwrap();
    assert_eq!(
        hex::encode(&pan_field_iso4(&pan)),
        "71234567890123456789000000000000"
    );
    let e = encrypt(
        &k,
        PinBlockFormat::Iso4,
        &pin,
        Some(&pan),
        Fill::Given("FFFFFFFFFFFFFFFF"),
    )
    .unwrap();
    assert_eq!(e.to_string(), "28B41FDDD29B743E93124BD8E32D921E");
}

// pinblock.json: X9.24-1 A.4 format 0 under a DUKPT PIN key.
#[test]
fn format0_encrypted_vector() {
    let k =
        SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "042666B49184CF5C68DE9628D0397B36").unwrap();
    let pan = Pan::new("4012345678909").unwrap();
    let e = encrypt(
        &k,
        PinBlockFormat::Iso0,
        &Pin::new("1234").unwrap(),
        Some(&pan),
        Fill::Given(""),
    )
    .unwrap();
    assert_eq!(e.to_string(), "1B9C1845EB993A7A");
    assert_eq!(
        decrypt(&k, PinBlockFormat::Iso0, &e, Some(&pan))
            .unwrap()
            .expose_secret(),
        "1234"
    );
}

#[test]
fn round_trips_with_random_fill() {
    let tdes =
        SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "0123456789ABCDEFFEDCBA9876543210").unwrap();
    let aes = SoftwareKey::from_hex(KeyAlgorithm::Aes256, &"01".repeat(32)).unwrap();
    let pan = Pan::new("5432101234567890").unwrap();
    let random = [0x5Au8; 64];
    for f in PinBlockFormat::ALL {
        let key: &dyn SymmetricKey = if f == PinBlockFormat::Iso4 {
            &aes
        } else {
            &tdes
        };
        for pin in ["0000", "98765", "123456789012"] {
            let mut rng = Replay::new(&random);
            let e = encrypt(
                key,
                f,
                &Pin::new(pin).unwrap(),
                Some(&pan),
                Fill::Random(&mut rng),
            )
            .unwrap();
            let back = decrypt(key, f, &e, Some(&pan)).unwrap();
            assert_eq!(back.expose_secret(), pin, "{f}");
        }
    }
}

// T-PIN-4: malformed blocks are refused on decode with one uniform error.
#[test]
fn malformed_blocks_are_one_error() {
    let pan = Pan::new("5555555551234567").unwrap();
    let pan_field = pan_field_iso0(&pan);
    let with_pan =
        |s: &str| -> Vec<u8> { h(s).iter().zip(pan_field).map(|(a, b)| a ^ b).collect() };
    let cases: [(PinBlockFormat, Vec<u8>); 7] = [
        (PinBlockFormat::Iso0, with_pan("031234FFFFFFFFFF")), // length 3
        (PinBlockFormat::Iso0, with_pan("0D1234FFFFFFFFFF")), // length 13
        (PinBlockFormat::Iso0, with_pan("141234FFFFFFFFFF")), // wrong control
        (PinBlockFormat::Iso0, with_pan("041234FFFFFFFFFE")), // bad fill
        (PinBlockFormat::Iso3, with_pan("3412349ABCDEFABC")), // fill outside A-F
        (PinBlockFormat::Iso2, h("241234FFFFFFFF0F")),
        (PinBlockFormat::Iso0, h("041234FFFFFFFFFF")), // PAN not applied
    ];
    for (f, block) in cases {
        assert_eq!(
            decode(f, &block, Some(&pan)).unwrap_err(),
            BAD_PIN_BLOCK,
            "{f}"
        );
    }
    let bad4 = h("441234AAAAAAAAAB2F69ADDE2E9E7ACE");
    assert_eq!(
        decode(PinBlockFormat::Iso4, &bad4, None).unwrap_err(),
        BAD_PIN_BLOCK
    );
    // The error text names no PIN digit.
    assert!(!format!("{BAD_PIN_BLOCK}").contains("1234"));
}

// T-PIN-3: PIN digits are not checked for being decimal on decode: a block whose PIN field
// holds a non-decimal digit decodes (and then fails any verification) instead of giving a
// distinct error an attacker could use as an oracle.
#[test]
fn no_pin_digit_validity_check() {
    let pan = Pan::new("5555555551234567").unwrap();
    let block = h("041261AAAAEDCBA9");
    assert_eq!(
        decode(PinBlockFormat::Iso0, &block, Some(&pan))
            .unwrap()
            .expose_secret(),
        "1234"
    );
    // A PAN that differs where it overlaps the fill fails like any malformed block.
    let other = Pan::new("5555555551234667").unwrap();
    assert_eq!(
        decode(PinBlockFormat::Iso0, &block, Some(&other)).unwrap_err(),
        BAD_PIN_BLOCK
    );
    let mut raw = h("04123CFFFFFFFFFF");
    raw.iter_mut()
        .zip(pan_field_iso0(&pan))
        .for_each(|(a, b)| *a ^= b);
    let p = decode(PinBlockFormat::Iso0, &raw, Some(&pan)).unwrap();
    assert_eq!(p.expose_secret(), "123C");
    assert!(!p.is_decimal());
}

#[test]
fn key_and_input_rules() {
    let tdes =
        SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "0123456789ABCDEFFEDCBA9876543210").unwrap();
    let aes =
        SoftwareKey::from_hex(KeyAlgorithm::Aes128, "00112233445566778899AABBCCDDEEFF").unwrap();
    let pin = Pin::new("1234").unwrap();
    let pan = Pan::new("4111111111111111").unwrap();
    // Format 4 is AES only, formats 0-3 TDES only.
    assert!(
        encrypt(
            &tdes,
            PinBlockFormat::Iso4,
            &pin,
            Some(&pan),
            Fill::Given("00")
        )
        .is_err()
    );
    assert!(
        encrypt(
            &aes,
            PinBlockFormat::Iso0,
            &pin,
            Some(&pan),
            Fill::Given("")
        )
        .is_err()
    );
    // Formats 0, 3, 4 need the PAN.
    assert!(matches!(
        encrypt(&tdes, PinBlockFormat::Iso0, &pin, None, Fill::Given("")),
        Err(Error::InvalidValue { field: "pan", .. })
    ));
    // Format 3 fill outside A-F and a wrong fill length are refused on encode.
    assert!(
        encode(
            PinBlockFormat::Iso3,
            &pin,
            Some(&pan),
            Fill::Given("9FFFFFFFFF")
        )
        .is_err()
    );
    assert!(encode(PinBlockFormat::Iso3, &pin, Some(&pan), Fill::Given("FFF")).is_err());
    assert!(encode(PinBlockFormat::Iso0, &pin, Some(&pan), Fill::Given("AB")).is_err());
    assert!(EncryptedPinBlock::from_hex("00").is_err());
    assert!(EncryptedPinBlock::from_hex("0123456789ABCDEG").is_err());
    assert_eq!(
        PinBlockFormat::from_name("ISO_FORMAT_4").unwrap(),
        PinBlockFormat::Iso4
    );
    assert!(PinBlockFormat::from_name("ISO_FORMAT_5").is_err());
    // Debug never shows an encrypted or clear block (T-PIN-12).
    let e = encrypt(
        &tdes,
        PinBlockFormat::Iso0,
        &pin,
        Some(&pan),
        Fill::Given(""),
    )
    .unwrap();
    assert!(!format!("{e:?}").contains(&e.to_string()));
    let c = encode(PinBlockFormat::Iso2, &pin, None, Fill::Given("")).unwrap();
    assert_eq!(format!("{c:?}"), "ClearPinBlock(ISO_FORMAT_2, [REDACTED])");
}
