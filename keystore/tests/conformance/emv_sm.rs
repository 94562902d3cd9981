//! EMV secure messaging by key id (issuer script MAC, EMV data encryption, offline PIN change)
//! against the same computations on the clear keys.

use payhsm_core::{
    crypto::SoftwareKey,
    emv::{
        Card, PanSequenceNumber,
        mkd::MasterKeyDerivation,
        pin_change::{
            self, CurrentPin, PinBlockLengthPosition, PinBlockPadding, PinChangeMethod,
            PinChangeRequest, VisaAmexAttributes,
        },
        session::SessionKeyMode,
        sm::{self, EmvEncryptionMode, SessionKeyDerivationValue},
    },
    fields::Pan,
    hex,
    key::{KeyAlgorithm, KeyUsage, ModeOfUse},
    pin::{
        Pin,
        block::{self, EncryptedPinBlock, Fill, PinBlockFormat},
    },
    rng::OsRandom,
};
use payhsm_keystore::{Error, Rule, Store, VerificationFailedReason};
use serde_json::{Value, json};

use super::{Harness, assert_policy, assert_validation, attrs, ceremony_key};

const PAN: &str = "5413330089600010";
const AC_HEX: &str = "0123456789ABCDEFFEDCBA9876543210";
const SMI_HEX: &str = "89ABCDEF0123456776543210FEDCBA98";
const SMC_HEX: &str = "1122334455667788AABBCCDDEEFF0011";
const PEK_HEX: &str = "C1D0F8FB4958670DBA40AB1F3752EF0D";
const CRYPTOGRAM: &str = "8A7B6C5D4E3F2A1B";

fn clear(hex_key: &str) -> SoftwareKey {
    SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, hex_key).unwrap()
}

fn card(pan: &Pan) -> Card<'_> {
    Card {
        pan,
        psn: PanSequenceNumber::new("01").unwrap(),
        option: MasterKeyDerivation::OptionA,
    }
}

/// The issuer master keys and PEK, imported through the ceremony path.
struct Keys {
    ac: String,
    smi: String,
    smc: String,
    pek: String,
}

fn keys<S: Store>(h: &Harness<S>) -> Keys {
    let imk = |usage, hex_key| {
        ceremony_key(
            h,
            attrs(usage, KeyAlgorithm::Tdes2Key, ModeOfUse::DERIVE),
            hex_key,
        )
    };
    Keys {
        ac: imk(KeyUsage::E0, AC_HEX),
        smi: imk(KeyUsage::E2, SMI_HEX),
        smc: imk(KeyUsage::E1, SMC_HEX),
        pek: ceremony_key(
            h,
            attrs(
                KeyUsage::P0,
                KeyAlgorithm::Tdes2Key,
                ModeOfUse::ENCRYPT_DECRYPT,
            ),
            PEK_HEX,
        ),
    }
}

/// `EmvMac` by key id equals the script MAC on the clear key, in the common and Visa modes.
pub fn emv_script_mac<S: Store>(h: Harness<S>) {
    let k = keys(&h);
    let pan = Pan::new(PAN).unwrap();
    let message = "8424000008D2A41E8A7B6C5D4E3F2A1B";
    for (mode, value, core_value) in [
        (
            "EMV_COMMON_SESSION_KEY",
            json!({ "ApplicationCryptogram": CRYPTOGRAM }),
            SessionKeyDerivationValue::ApplicationCryptogram(
                hex::decode("ac", CRYPTOGRAM).unwrap().try_into().unwrap(),
            ),
        ),
        (
            "VISA",
            json!({ "ApplicationTransactionCounter": "0042" }),
            SessionKeyDerivationValue::ApplicationTransactionCounter([0x00, 0x42]),
        ),
    ] {
        let attributes = json!({ "EmvMac": { "MajorKeyDerivationMode": "EMV_OPTION_A",
            "PrimaryAccountNumber": PAN, "PanSequenceNumber": "01",
            "SessionKeyDerivationMode": mode, "SessionKeyDerivationValue": value } });
        let mac = h.ok(
            "GenerateMac",
            json!({ "KeyIdentifier": k.smi, "MessageData": message,
            "GenerationAttributes": attributes }),
        )["Mac"]
            .as_str()
            .unwrap()
            .to_owned();
        let mode = SessionKeyMode::from_name(mode).unwrap();
        let master = card(&pan).master_key(&clear(SMI_HEX)).unwrap();
        let session = sm::secure_messaging_key(&master, mode, core_value)
            .unwrap()
            .handle()
            .unwrap();
        let expected = sm::script_mac(&session, &hex::decode("m", message).unwrap(), None).unwrap();
        assert_eq!(mac, hex::encode(expected.as_bytes()), "{mode:?}");
        h.ok(
            "VerifyMac",
            json!({ "KeyIdentifier": k.smi, "MessageData": message, "Mac": mac,
            "VerificationAttributes": attributes }),
        );
        h.ok(
            "VerifyMac",
            json!({ "KeyIdentifier": k.smi, "MessageData": message, "Mac": &mac[..8],
            "VerificationAttributes": attributes }),
        );
        let short = h.ok(
            "GenerateMac",
            json!({ "KeyIdentifier": k.smi, "MessageData": message,
            "GenerationAttributes": attributes, "MacLength": 4 }),
        )["Mac"]
            .clone();
        assert_eq!(short, json!(&mac[..8]));
        let wrong = format!(
            "{}{}",
            &mac[..15],
            if mac.ends_with('0') { '1' } else { '0' }
        );
        assert_eq!(
            h.call(
                "VerifyMac",
                json!({ "KeyIdentifier": k.smi, "MessageData": message, "Mac": wrong,
                "VerificationAttributes": attributes })
            ),
            Err(Error::VerificationFailed {
                reason: VerificationFailedReason::InvalidMac
            })
        );
        // 4 to 8 bytes only; a confidentiality or cryptogram key cannot MAC.
        assert_validation(h.call(
            "GenerateMac",
            json!({ "KeyIdentifier": k.smi, "MessageData": message,
            "GenerationAttributes": attributes, "MacLength": 9 }),
        ));
        assert_validation(h.call(
            "VerifyMac",
            json!({ "KeyIdentifier": k.smi, "MessageData": message,
            "Mac": format!("{mac}00"), "VerificationAttributes": attributes }),
        ));
        for other in [&k.smc, &k.ac] {
            assert_policy(
                h.call(
                    "GenerateMac",
                    json!({ "KeyIdentifier": other, "MessageData": message,
                "GenerationAttributes": attributes }),
                ),
                Rule::KeyUsage,
            );
        }
    }
    // Visa derives from the ATC, not the cryptogram; bad values are named.
    for bad in [
        json!({ "SessionKeyDerivationMode": "VISA", "SessionKeyDerivationValue": { "ApplicationCryptogram": CRYPTOGRAM } }),
        json!({ "SessionKeyDerivationMode": "EMV_COMMON_SESSION_KEY", "SessionKeyDerivationValue": { "ApplicationCryptogram": "00" } }),
        json!({ "SessionKeyDerivationMode": "FOO", "SessionKeyDerivationValue": { "ApplicationTransactionCounter": "0001" } }),
    ] {
        let mut attributes = json!({ "MajorKeyDerivationMode": "EMV_OPTION_A",
            "PrimaryAccountNumber": PAN, "PanSequenceNumber": "01" });
        for (name, v) in bad.as_object().unwrap() {
            attributes[name] = v.clone();
        }
        assert_validation(h.call(
            "GenerateMac",
            json!({ "KeyIdentifier": k.smi, "MessageData": message,
            "GenerationAttributes": { "EmvMac": attributes } }),
        ));
    }
}

/// `EncryptData` and `DecryptData` with `Emv` equal the core computation on the clear key.
pub fn emv_data_encryption<S: Store>(h: Harness<S>) {
    let k = keys(&h);
    let pan = Pan::new(PAN).unwrap();
    let plain = "0011223344556677889900AABBCCDDEE";
    let master = card(&pan).master_key(&clear(SMC_HEX)).unwrap();
    for (mode, iv) in [
        ("ECB", None),
        ("CBC", None),
        ("CBC", Some("0102030405060708")),
    ] {
        let mut attributes = json!({ "MajorKeyDerivationMode": "EMV_OPTION_A",
            "PrimaryAccountNumber": PAN, "PanSequenceNumber": "01",
            "SessionDerivationData": CRYPTOGRAM, "Mode": mode });
        if let Some(iv) = iv {
            attributes["InitializationVector"] = json!(iv);
        }
        let ct = h.ok(
            "EncryptData",
            json!({ "KeyIdentifier": k.smc, "PlainText": plain,
            "EncryptionAttributes": { "Emv": attributes } }),
        )["CipherText"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut expected = hex::decode("p", plain).unwrap();
        let iv_bytes = iv.map(|v| hex::decode("iv", v).unwrap());
        sm::crypt_data(
            &master,
            &hex::decode("r", CRYPTOGRAM).unwrap().try_into().unwrap(),
            EmvEncryptionMode::from_name(mode).unwrap(),
            iv_bytes.as_deref(),
            &mut expected,
            true,
        )
        .unwrap();
        assert_eq!(ct, hex::encode(&expected), "{mode}");
        let back = h.ok(
            "DecryptData",
            json!({ "KeyIdentifier": k.smc, "CipherText": ct,
            "DecryptionAttributes": { "Emv": attributes } }),
        );
        assert_eq!(back["PlainText"], plain);
    }
    let attributes = json!({ "MajorKeyDerivationMode": "EMV_OPTION_A",
        "PrimaryAccountNumber": PAN, "PanSequenceNumber": "01", "SessionDerivationData": CRYPTOGRAM });
    // CBC by default; whole blocks only; ECB takes no IV; only E1 and E6 keys.
    let default = h.ok(
        "EncryptData",
        json!({ "KeyIdentifier": k.smc, "PlainText": plain,
        "EncryptionAttributes": { "Emv": attributes } }),
    )["CipherText"]
        .clone();
    let cbc = h.ok(
        "EncryptData",
        json!({ "KeyIdentifier": k.smc, "PlainText": plain,
        "EncryptionAttributes": { "Emv": { "MajorKeyDerivationMode": "EMV_OPTION_A",
            "PrimaryAccountNumber": PAN, "PanSequenceNumber": "01",
            "SessionDerivationData": CRYPTOGRAM, "Mode": "CBC" } } }),
    )["CipherText"]
        .clone();
    assert_eq!(default, cbc);
    assert_validation(h.call(
        "EncryptData",
        json!({ "KeyIdentifier": k.smc, "PlainText": "001122",
        "EncryptionAttributes": { "Emv": attributes } }),
    ));
    assert_validation(h.call("EncryptData", json!({ "KeyIdentifier": k.smc, "PlainText": plain,
        "EncryptionAttributes": { "Emv": { "MajorKeyDerivationMode": "EMV_OPTION_A",
            "PrimaryAccountNumber": PAN, "PanSequenceNumber": "01", "SessionDerivationData": CRYPTOGRAM,
            "Mode": "ECB", "InitializationVector": "0102030405060708" } } })));
    assert_validation(h.call("EncryptData", json!({ "KeyIdentifier": k.smc, "PlainText": plain,
        "EncryptionAttributes": { "Emv": { "MajorKeyDerivationMode": "EMV_OPTION_C",
            "PrimaryAccountNumber": PAN, "PanSequenceNumber": "01", "SessionDerivationData": CRYPTOGRAM } } })));
    for other in [&k.smi, &k.ac] {
        assert_policy(
            h.call(
                "EncryptData",
                json!({ "KeyIdentifier": other, "PlainText": plain,
            "EncryptionAttributes": { "Emv": attributes } }),
            ),
            Rule::KeyUsage,
        );
    }
}

/// `GenerateMacEmvPinChange` by key id equals the core computation on the clear keys, for
/// every derivation method.
pub fn emv_pin_change<S: Store>(h: Harness<S>) {
    let k = keys(&h);
    let pan = Pan::new(PAN).unwrap();
    let pek = clear(PEK_HEX);
    let block_of = |pin: &str| {
        block::encrypt(
            &pek,
            PinBlockFormat::Iso0,
            &Pin::new(pin).unwrap(),
            Some(&pan),
            Fill::Random(&mut OsRandom),
        )
        .unwrap()
    };
    let new_block = block_of("4321");
    let current_block = block_of("1234");
    let message = "8424000210";
    let message = format!("{message}0001020304050607");
    let (ac, smi, smc) = (clear(AC_HEX), clear(SMI_HEX), clear(SMC_HEX));
    let cryptogram: [u8; 8] = hex::decode("ac", CRYPTOGRAM).unwrap().try_into().unwrap();
    let visa_amex = |current: bool| VisaAmexAttributes {
        atc: [0x00, 0x42],
        ac_imk: &ac,
        current_pin: current.then_some(CurrentPin {
            pek: &pek,
            pin_block: &current_block,
        }),
    };
    // The card members every method has, and the method's own.
    let with_card = |extra: &Value| {
        let mut v = json!({ "MajorKeyDerivationMode": "EMV_OPTION_A", "PrimaryAccountNumber": PAN,
            "PanSequenceNumber": "01" });
        for (name, value) in extra.as_object().unwrap() {
            v[name] = value.clone();
        }
        v
    };
    let visa_amex_json = |current: bool| {
        let mut v = json!({ "ApplicationTransactionCounter": "0042",
            "AuthorizationRequestKeyIdentifier": k.ac });
        if current {
            v["CurrentPinAttributes"] = json!({ "CurrentPinPekIdentifier": k.pek,
                "CurrentEncryptedPinBlock": current_block.to_string() });
        }
        v
    };
    let cases: Vec<(&str, Value, PinChangeMethod<'_>)> = vec![
        (
            "EmvCommon",
            json!({ "ApplicationCryptogram": CRYPTOGRAM, "Mode": "CBC",
                "PinBlockPaddingType": "ISO_IEC_7816_4", "PinBlockLengthPosition": "FRONT_OF_PIN_BLOCK" }),
            PinChangeMethod::EmvCommon {
                application_cryptogram: cryptogram,
                mode: EmvEncryptionMode::Cbc,
                padding: PinBlockPadding::Iso7816_4,
                length_position: PinBlockLengthPosition::FrontOfPinBlock,
            },
        ),
        (
            "Visa",
            visa_amex_json(true),
            PinChangeMethod::Visa(visa_amex(true)),
        ),
        (
            "Visa",
            visa_amex_json(false),
            PinChangeMethod::Visa(visa_amex(false)),
        ),
        (
            "Amex",
            visa_amex_json(false),
            PinChangeMethod::Amex(visa_amex(false)),
        ),
        (
            "Emv2000",
            json!({ "ApplicationTransactionCounter": "0042" }),
            PinChangeMethod::Emv2000 { atc: [0x00, 0x42] },
        ),
        (
            "Mastercard",
            json!({ "ApplicationCryptogram": CRYPTOGRAM }),
            PinChangeMethod::Mastercard {
                application_cryptogram: cryptogram,
            },
        ),
    ];
    let request = |member: &str, extra: &Value, new_block: &EncryptedPinBlock| {
        json!({ "NewPinPekIdentifier": k.pek, "NewEncryptedPinBlock": new_block.to_string(),
            "PinBlockFormat": "ISO_FORMAT_0", "SecureMessagingIntegrityKeyIdentifier": k.smi,
            "SecureMessagingConfidentialityKeyIdentifier": k.smc, "MessageData": message,
            "DerivationMethodAttributes": { member: with_card(extra) } })
    };
    for (member, extra, method) in &cases {
        let out = h.ok(
            "GenerateMacEmvPinChange",
            request(member, extra, &new_block),
        );
        let expected = pin_change::generate_mac_emv_pin_change(&PinChangeRequest {
            new_pin_pek: &pek,
            new_pin_block: &new_block,
            pin_block_format: PinBlockFormat::Iso0,
            smi_imk: &smi,
            smc_imk: &smc,
            card: card(&pan),
            message_data: &hex::decode("m", &message).unwrap(),
            method: *method,
            mac_len: None,
        })
        .unwrap();
        assert_eq!(
            out["Mac"],
            json!(hex::encode(expected.mac.as_bytes())),
            "{member}"
        );
        assert_eq!(
            out["EncryptedPinBlock"],
            json!(expected.encrypted_pin_block.to_string()),
            "{member}"
        );
        assert_eq!(out["NewPinPekArn"], json!(k.pek));
        assert_eq!(out["SecureMessagingIntegrityKeyArn"], json!(k.smi));
        assert_eq!(out["SecureMessagingConfidentialityKeyArn"], json!(k.smc));
        let visa_or_amex = matches!(*member, "Visa" | "Amex");
        assert_eq!(out.get("VisaAmexDerivationOutputs").is_some(), visa_or_amex);
        if visa_or_amex {
            assert_eq!(
                out["VisaAmexDerivationOutputs"]["AuthorizationRequestKeyArn"],
                json!(k.ac)
            );
        }
    }
    // Refusals: every key in its role, the formats, the message, a block under another key.
    let (member, extra, _) = &cases[1];
    let call = |req: Value| h.call("GenerateMacEmvPinChange", req);
    let swapped = |field: &str, arn: &str| {
        let mut req = request(member, extra, &new_block);
        req[field] = json!(arn);
        req
    };
    assert_policy(
        call(swapped("SecureMessagingIntegrityKeyIdentifier", &k.smc)),
        Rule::KeyUsage,
    );
    assert_policy(
        call(swapped(
            "SecureMessagingConfidentialityKeyIdentifier",
            &k.smi,
        )),
        Rule::KeyUsage,
    );
    assert_policy(call(swapped("NewPinPekIdentifier", &k.ac)), Rule::KeyUsage);
    let aes_pek = h.create(
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "AES_128",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    assert_policy(
        call(swapped("NewPinPekIdentifier", &aes_pek)),
        Rule::KeyAlgorithm,
    );
    let mut ac_swapped = request(member, extra, &new_block);
    ac_swapped["DerivationMethodAttributes"][member]["AuthorizationRequestKeyIdentifier"] =
        json!(k.smi);
    assert_policy(call(ac_swapped), Rule::KeyUsage);
    for (field, value) in [
        ("PinBlockFormat", "ISO_FORMAT_4"),
        ("PinBlockFormat", "ISO_FORMAT_2"),
        ("MessageData", "0011"),
        ("NewEncryptedPinBlock", "0011"),
    ] {
        let mut req = request(member, extra, &new_block);
        req[field] = json!(value);
        assert_validation(call(req));
    }
    let other_pek = clear("0123456789ABCDEF0123456789ABCDFE");
    let foreign = block::encrypt(
        &other_pek,
        PinBlockFormat::Iso0,
        &Pin::new("4321").unwrap(),
        Some(&pan),
        Fill::Random(&mut OsRandom),
    )
    .unwrap();
    let r = call(request(member, extra, &foreign));
    assert!(r.is_err(), "a block under another key is refused");
    assert!(!matches!(r, Err(Error::Policy { .. })), "{r:?}");
    // Nothing about the PIN reaches the audit log.
    let log = h.hsm.audit().lines().join("\n");
    assert!(log.contains("\"eventName\":\"GenerateMacEmvPinChange\""));
    for secret in [
        new_block.to_string(),
        current_block.to_string(),
        foreign.to_string(),
    ] {
        assert!(!log.contains(&secret));
    }
}
