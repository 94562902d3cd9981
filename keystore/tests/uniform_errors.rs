//! The uniform-error sweep (issue 14; T-PIN-3, T-M-2): 10,000 random PINs for each of 16 PANs
//! through `VerifyPinData` (Visa PVV), and as many random PIN blocks through
//! `TranslatePinData`. Every verification of a PIN other than the card's fails with the one
//! `VerificationFailedException` (`INVALID_PIN`), whatever is wrong; every translation that
//! fails fails with one error, whichever check of the decrypted block refused it.
//!
//! The PIN blocks are built with the clear-key workbench under a PEK imported from a known
//! value: this test is about the HSM's answers, not the blocks' encoding (the vectors prove that).

/// A deterministic generator, so a failure replays from its seed.
#[allow(unreachable_pub, dead_code)]
#[path = "../../fuzz/src/xorshift.rs"]
mod xorshift;

use xorshift::Rng;

use payhsm_core::{
    crypto::SoftwareKey,
    fields::Pan,
    kcv,
    key::{KeyAlgorithm, KeyAttributes, KeyClass, KeyModesOfUse, KeyUsage},
    pin::{
        Pin,
        block::{self, EncryptedPinBlock, Fill, PinBlockFormat},
        pvv::{self, Pvki},
    },
    rng::OsRandom,
    secret::{KeyMaterial, SecretVec},
};
use payhsm_keystore::{
    CeremonyKey, Error, Hsm, HsmConfig, MemoryStore, VerificationFailedReason, api::dispatch,
    arn::Region, master_key::MasterKey,
};
use serde_json::{Value, json};

const PINS_PER_PAN: usize = 10_000;
const PANS: usize = 16;
const PEK: [u8; 16] = [
    0x13, 0x2c, 0x45, 0x7a, 0x8c, 0xb3, 0xd5, 0xe9, 0xf1, 0x0e, 0x23, 0x4c, 0x57, 0x68, 0x91, 0xae,
];
const PVK: [u8; 16] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
];

fn arn(v: &Value) -> String {
    v["Key"]["KeyArn"].as_str().unwrap().to_owned()
}

/// Imports `key` (TDES, 2 parts) as a ceremony would; its ARN and its clear handle.
fn import(
    hsm: &Hsm<MemoryStore>,
    usage: KeyUsage,
    key: [u8; 16],
    modes: KeyModesOfUse,
) -> (String, SoftwareKey) {
    let material = KeyMaterial::from_slice("key", &key).unwrap();
    let clear = SoftwareKey::new(KeyAlgorithm::Tdes2Key, &material).unwrap();
    let imported = hsm
        .import_clear_key(CeremonyKey {
            attributes: KeyAttributes {
                key_usage: usage,
                key_class: KeyClass::SymmetricKey,
                key_algorithm: KeyAlgorithm::Tdes2Key,
                key_modes_of_use: modes,
            },
            exportable: false,
            material: SecretVec::from_slice(&key),
            expected_check_value: kcv::default_kcv(&clear).unwrap().to_string(),
        })
        .unwrap();
    (imported.key.key_arn, clear)
}

fn create(hsm: &Hsm<MemoryStore>, usage: &str, algorithm: &str, modes: Value) -> String {
    arn(&dispatch(hsm, "CreateKey", json!({ "KeyAttributes": { "KeyUsage": usage, "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": algorithm, "KeyModesOfUse": modes }, "Exportable": false })).unwrap())
}

#[test]
fn every_wrong_pin_and_every_bad_block_fails_the_same_way() {
    let hsm = Hsm::new(
        MemoryStore::new(MasterKey::generate(&mut OsRandom).unwrap()),
        HsmConfig::new(Region::new("us-east-1").unwrap()),
    );
    let (pek, clear_pek) = import(
        &hsm,
        KeyUsage::P0,
        PEK,
        KeyModesOfUse {
            encrypt: true,
            decrypt: true,
            wrap: true,
            unwrap: true,
            ..KeyModesOfUse::default()
        },
    );
    let (pvk, clear_pvk) = import(
        &hsm,
        KeyUsage::V2,
        PVK,
        KeyModesOfUse {
            generate: true,
            verify: true,
            ..KeyModesOfUse::default()
        },
    );
    let pek_out = create(
        &hsm,
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "AES_128",
        json!({ "Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true }),
    );
    let invalid_pin = Error::VerificationFailed {
        reason: VerificationFailedReason::InvalidPin,
    };
    let seed = 0x9e37_79b9_7f4a_7c15;
    let mut rng = Rng(seed);
    let mut translation_error: Option<Error> = None;
    let (mut matches, mut translated) = (0, 0);
    for p in 0..PANS {
        let pan_text = format!("41{:014}", rng.next() % 100_000_000_000_000);
        let pan = Pan::new(&pan_text).unwrap();
        let g = dispatch(&hsm, "GeneratePinData", json!({ "GenerationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek,
            "GenerationAttributes": { "VisaPin": { "PinVerificationKeyIndex": 1 } }, "PinBlockFormat": "ISO_FORMAT_0", "PrimaryAccountNumber": pan_text })).unwrap();
        let pvv = g["PinData"]["VerificationValue"]
            .as_str()
            .unwrap()
            .to_owned();
        let card_block =
            EncryptedPinBlock::from_hex(g["EncryptedPinBlock"].as_str().unwrap()).unwrap();
        let card_pin =
            block::decrypt(&clear_pek, PinBlockFormat::Iso0, &card_block, Some(&pan)).unwrap();
        for i in 0..PINS_PER_PAN {
            // Verification: a random 4-digit PIN in a well-formed block.
            let digits = format!("{:04}", rng.next() % 10_000);
            let pin = Pin::new(&digits).unwrap();
            let presented = block::encrypt(
                &clear_pek,
                PinBlockFormat::Iso0,
                &pin,
                Some(&pan),
                Fill::Given(""),
            )
            .unwrap();
            let verified = dispatch(
                &hsm,
                "VerifyPinData",
                json!({ "VerificationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek,
                "VerificationAttributes": { "VisaPin": { "PinVerificationKeyIndex": 1, "VerificationValue": pvv } },
                "EncryptedPinBlock": presented.to_string(), "PinBlockFormat": "ISO_FORMAT_0", "PrimaryAccountNumber": pan_text }),
            );
            // A PVV has 4 digits, so about one PIN in 10,000 shares the card's: those verify.
            let its_pvv = pvv::generate(&clear_pvk, &pan, &pin, Pvki::new(1).unwrap()).unwrap();
            if its_pvv.expose_secret() == pvv {
                verified.unwrap_or_else(|e| {
                    panic!("PAN {p}, PIN {i}: a PIN with the card's PVV failed: {e}")
                });
                matches += u32::from(pin.expose_secret() != card_pin.expose_secret());
            } else {
                assert_eq!(
                    verified.unwrap_err(),
                    invalid_pin,
                    "PAN {p}, PIN {i} (seed {seed:#x})"
                );
            }
            // Translation: a random ciphertext, which decrypts to a block the HSM must refuse
            // unless it happens to be well formed for this PAN.
            let garbage = format!("{:016X}", rng.next());
            let outcome = dispatch(
                &hsm,
                "TranslatePinData",
                json!({ "IncomingKeyIdentifier": pek, "OutgoingKeyIdentifier": pek_out,
                "IncomingTranslationAttributes": { "IsoFormat0": { "PrimaryAccountNumber": pan_text } },
                "OutgoingTranslationAttributes": { "IsoFormat4": { "PrimaryAccountNumber": pan_text } },
                "EncryptedPinBlock": garbage }),
            );
            match outcome {
                Ok(_) => translated += 1,
                Err(e) => match &translation_error {
                    None => translation_error = Some(e),
                    Some(first) => {
                        assert_eq!(&e, first, "PAN {p}, block {garbage} (seed {seed:#x})")
                    }
                },
            }
        }
    }
    let refused = PANS * PINS_PER_PAN - translated;
    eprintln!(
        "{matches} random PINs other than the card's shared its PVV; {translated} random blocks were well formed, {refused} refused with {translation_error:?}"
    );
    assert!(
        refused > PANS * PINS_PER_PAN * 9 / 10,
        "most random blocks are malformed"
    );
}
