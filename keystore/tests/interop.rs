//! Interoperability of the HSM's key exchange with an independent other party
//! (`tests/interop/ecdh_party.py`: pyca/cryptography and psec, written from the standards and
//! the service's documentation, sharing no code with payhsm).
//!
//! The tests need `PAYHSM_PYTHON`: a Python with `tests/interop/requirements.txt` installed
//! (CI creates it). Without it they are skipped with a message, except under `CI=true`, where
//! they fail.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use payhsm_core::rng::OsRandom;
use payhsm_keystore::{Hsm, HsmConfig, MemoryStore, api, arn::Region, master_key::MasterKey};
use serde_json::{Value, json};

fn python() -> Option<PathBuf> {
    match std::env::var_os("PAYHSM_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but PAYHSM_PYTHON is not set: the keystore interop tests cannot run")
        }
        None => {
            eprintln!(
                "skipped: set PAYHSM_PYTHON to a Python with keystore/tests/interop/requirements.txt"
            );
            None
        }
    }
}

/// Runs `ecdh_party.py op` with `request` on stdin.
fn party(python: &Path, op: &str, request: &Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/ecdh_party.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(op)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "ecdh_party.py {op}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn hsm() -> Hsm<MemoryStore> {
    Hsm::new(
        MemoryStore::new(MasterKey::generate(&mut OsRandom).unwrap()),
        HsmConfig::new(Region::new("us-east-1").unwrap()),
    )
}

fn ok(hsm: &Hsm<MemoryStore>, op: &str, input: Value) -> Value {
    api::dispatch(hsm, op, input.clone()).unwrap_or_else(|e| panic!("{op} {input}: {e}"))
}

fn arn(v: &Value) -> String {
    v["Key"]["KeyArn"].as_str().unwrap().to_owned()
}

/// The HSM's ECC key pair on `algorithm`, deriving `derive_usage` keys, and its certificate.
fn key_pair(hsm: &Hsm<MemoryStore>, algorithm: &str, derive_usage: &str) -> (String, String) {
    let pair = arn(&ok(
        hsm,
        "CreateKey",
        json!({
            "KeyAttributes": {
                "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT", "KeyClass": "ASYMMETRIC_KEY_PAIR",
                "KeyAlgorithm": algorithm, "KeyModesOfUse": { "DeriveKey": true },
            },
            "Exportable": false,
            "DeriveKeyUsage": derive_usage,
        }),
    ));
    let certificate = ok(
        hsm,
        "GetPublicKeyCertificate",
        json!({ "KeyIdentifier": pair }),
    );
    (
        pair,
        certificate["KeyCertificate"].as_str().unwrap().to_owned(),
    )
}

fn import_root(hsm: &Hsm<MemoryStore>, algorithm: &str, certificate: &Value) -> String {
    arn(&ok(
        hsm,
        "ImportKey",
        json!({ "KeyMaterial": { "RootCertificatePublicKey": {
            "KeyAttributes": {
                "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE", "KeyClass": "PUBLIC_KEY",
                "KeyAlgorithm": algorithm, "KeyModesOfUse": { "Verify": true },
            },
            "PublicKeyCertificate": certificate,
        } } }),
    ))
}

const CASES: &[(&str, &str, &str, &str, &str, bool)] = &[
    // (curve, algorithm, KDF, hash, derived key, leaf signed by the CA)
    (
        "P-256",
        "ECC_NIST_P256",
        "NIST_SP800",
        "SHA_256",
        "AES_256",
        false,
    ),
    (
        "P-256",
        "ECC_NIST_P256",
        "ANSI_X963",
        "SHA_256",
        "TDES_2KEY",
        true,
    ),
    (
        "P-384",
        "ECC_NIST_P384",
        "NIST_SP800",
        "SHA_384",
        "AES_192",
        true,
    ),
    (
        "P-384",
        "ECC_NIST_P384",
        "ANSI_X963",
        "SHA_512",
        "TDES_3KEY",
        false,
    ),
    (
        "P-521",
        "ECC_NIST_P521",
        "NIST_SP800",
        "SHA_256",
        "AES_256",
        false,
    ),
    (
        "P-521",
        "ECC_NIST_P521",
        "ANSI_X963",
        "SHA_512",
        "AES_128",
        true,
    ),
];

/// The key-block version a derived KBPK gives: D under AES, B under TDES.
fn version(derived: &str) -> char {
    if derived.starts_with("AES") { 'D' } else { 'B' }
}

fn length(derived: &str) -> usize {
    match derived {
        "TDES_2KEY" | "AES_128" => 16,
        "TDES_3KEY" | "AES_192" => 24,
        _ => 32,
    }
}

#[test]
fn ecdh_tr31_import_and_export_with_an_independent_party() {
    let Some(python) = python() else { return };
    for (i, &(curve, algorithm, kdf, hash, derived, chain)) in CASES.iter().enumerate() {
        let case = format!("{curve} {kdf} {hash} {derived}");
        let hsm = hsm();
        let (pair, hsm_certificate) = key_pair(&hsm, algorithm, "TR31_K1_KEY_BLOCK_PROTECTION_KEY");
        let other = party(&python, "party", &json!({ "curve": curve, "chain": chain }));
        let ca = import_root(&hsm, algorithm, &other["ca"]);
        let shared_info = format!("{:02X}0102030405060708090A0B0C0D0E0F", i + 0x10);
        let derivation = json!({
            "key": other["key"], "peer": hsm_certificate, "kdf": kdf, "hash": hash,
            "length": length(derived), "shared_info": shared_info,
        });
        let dh = |extra: Value| {
            let mut m = json!({
                "PrivateKeyIdentifier": pair, "CertificateAuthorityPublicKeyIdentifier": ca,
                "PublicKeyCertificate": other["leaf"], "DeriveKeyAlgorithm": derived,
                "KeyDerivationFunction": kdf, "KeyDerivationHashAlgorithm": hash,
                "DerivationData": { "SharedInformation": shared_info },
            });
            m.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            json!({ "DiffieHellmanTr31KeyBlock": m })
        };

        // Import: the party wraps a key of its own under its derived KBPK.
        let header = format!("{}0000K0AB00E0000", version(derived));
        let mut request = derivation.clone();
        request["header"] = json!(header);
        request["clear_key"] = json!("00112233445566778899AABBCCDDEEFF");
        let wrapped = party(&python, "wrap", &request);
        let imported = ok(
            &hsm,
            "ImportKey",
            json!({ "KeyMaterial": dh(json!({ "WrappedKeyBlock": wrapped["block"] })) }),
        );
        assert_eq!(
            imported["Key"]["KeyCheckValue"], wrapped["kcv"],
            "{case}: import"
        );
        assert_eq!(
            imported["Key"]["KeyAttributes"]["KeyUsage"], "TR31_K0_KEY_ENCRYPTION_KEY",
            "{case}"
        );

        // Export: the HSM wraps a key it made; the party opens it with its own KBPK.
        let key = arn(&ok(
            &hsm,
            "CreateKey",
            json!({
                "KeyAttributes": {
                    "KeyUsage": "TR31_P0_PIN_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY",
                    "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true },
                },
                "Exportable": true,
            }),
        ));
        let exported = ok(
            &hsm,
            "ExportKey",
            json!({ "ExportKeyIdentifier": key, "KeyMaterial": dh(json!({})) }),
        );
        let wrapped = &exported["WrappedKey"];
        assert_eq!(wrapped["WrappingKeyArn"], json!(pair), "{case}");
        assert_eq!(
            wrapped["WrappedKeyMaterialFormat"], "TR31_KEY_BLOCK",
            "{case}"
        );
        let mut request = derivation.clone();
        request["block"] = wrapped["KeyMaterial"].clone();
        let opened = party(&python, "unwrap", &request);
        assert_eq!(opened["kcv"], wrapped["KeyCheckValue"], "{case}: export");
        assert!(
            opened["header"]
                .as_str()
                .unwrap()
                .starts_with(version(derived)),
            "{case}: {}",
            opened["header"]
        );

        // Another shared information derives another KBPK: the block does not open.
        let mut request = derivation.clone();
        request["shared_info"] = json!("FF");
        let derived_other = party(&python, "derive", &request);
        let first = party(&python, "derive", &derivation);
        assert_ne!(derived_other["kbpk"], first["kbpk"], "{case}");
    }
}

/// An HMAC key travels in a TR-31 block that names its hash in an `HM` optional block (ANSI
/// X9.143): the party (psec) opens the HSM's block and finds the key and `HM` 21 (SHA-256);
/// the HSM opens the party's block as an HMAC_SHA256 key, and refuses one without `HM`.
#[test]
fn hmac_keys_travel_in_tr31_blocks_with_their_hash() {
    use payhsm_core::{
        key::{KeyAlgorithm, KeyAttributes, KeyClass, KeyModesOfUse, KeyUsage},
        secret::SecretVec,
    };
    use payhsm_keystore::CeremonyKey;
    const HMAC: &str = "C3A1E5F70B1D2F4163857A9CBEDF0012345678A9BCDEF0123456789ABCDEF012";
    let Some(python) = python() else { return };
    let hsm = hsm();
    let (pair, hsm_certificate) =
        key_pair(&hsm, "ECC_NIST_P521", "TR31_K1_KEY_BLOCK_PROTECTION_KEY");
    let other = party(
        &python,
        "party",
        &json!({ "curve": "P-521", "chain": true }),
    );
    let ca = import_root(&hsm, "ECC_NIST_P521", &other["ca"]);
    let shared_info = "48484D4143";
    let derivation = json!({
        "key": other["key"], "peer": hsm_certificate, "kdf": "NIST_SP800", "hash": "SHA_512",
        "length": 32, "shared_info": shared_info,
    });
    let dh = |extra: Value| {
        let mut m = json!({
            "PrivateKeyIdentifier": pair, "CertificateAuthorityPublicKeyIdentifier": ca,
            "PublicKeyCertificate": other["leaf"], "DeriveKeyAlgorithm": "AES_256",
            "KeyDerivationFunction": "NIST_SP800", "KeyDerivationHashAlgorithm": "SHA_512",
            "DerivationData": { "SharedInformation": shared_info },
        });
        m.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({ "DiffieHellmanTr31KeyBlock": m })
    };

    // Export: a known HMAC key, from a ceremony.
    let attributes = KeyAttributes {
        key_usage: KeyUsage::M7,
        key_class: KeyClass::SymmetricKey,
        key_algorithm: KeyAlgorithm::HmacSha256,
        key_modes_of_use: KeyModesOfUse {
            generate: true,
            verify: true,
            ..KeyModesOfUse::default()
        },
    };
    let soft = payhsm_core::crypto::SoftwareKey::from_hex(KeyAlgorithm::HmacSha256, HMAC).unwrap();
    let known = hsm
        .import_clear_key(CeremonyKey {
            attributes,
            exportable: true,
            material: SecretVec::from_slice(&payhsm_core::hex::decode("k", HMAC).unwrap()),
            expected_check_value: payhsm_core::kcv::default_kcv(&soft).unwrap().to_string(),
        })
        .and_then(payhsm_keystore::api::response)
        .unwrap();
    let exported = ok(
        &hsm,
        "ExportKey",
        json!({ "ExportKeyIdentifier": arn(&known), "KeyMaterial": dh(json!({})) }),
    );
    let mut request = derivation.clone();
    request["block"] = exported["WrappedKey"]["KeyMaterial"].clone();
    let opened = party(&python, "unwrap", &request);
    assert_eq!(opened["clear_key"], HMAC);
    let header = opened["header"].as_str().unwrap();
    assert_eq!(&header[5..8], "M7H", "{header}");
    assert!(header[16..].starts_with("HM0621"), "{header}");

    // Import: the party's block with HM, then without.
    let wrap = |header: &str| {
        let mut request = derivation.clone();
        request["header"] = json!(header);
        request["clear_key"] = json!(HMAC);
        party(&python, "wrap", &request)["block"].clone()
    };
    let imported = ok(
        &hsm,
        "ImportKey",
        json!({ "KeyMaterial": dh(json!({ "WrappedKeyBlock": wrap("D0000M7HC00E0100HM0621") })) }),
    );
    assert_eq!(
        imported["Key"]["KeyAttributes"]["KeyAlgorithm"],
        "HMAC_SHA256"
    );
    assert_eq!(
        imported["Key"]["KeyCheckValue"],
        known["Key"]["KeyCheckValue"]
    );
    let refused = api::dispatch(
        &hsm,
        "ImportKey",
        json!({ "KeyMaterial": dh(json!({ "WrappedKeyBlock": wrap("D0000M7HC00E0000") })) }),
    )
    .unwrap_err();
    assert_eq!(refused.name(), "ValidationException");
    assert!(refused.message().contains("HM"), "{refused}");
}

/// A key known in clear, imported as from a ceremony.
fn known_key(
    hsm: &Hsm<MemoryStore>,
    usage: payhsm_core::key::KeyUsage,
    algorithm: payhsm_core::key::KeyAlgorithm,
    modes: payhsm_core::key::KeyModesOfUse,
    clear: &str,
) -> String {
    use payhsm_core::{key::KeyAttributes, key::KeyClass, secret::SecretVec};
    let soft = payhsm_core::crypto::SoftwareKey::from_hex(algorithm, clear).unwrap();
    arn(&hsm
        .import_clear_key(payhsm_keystore::CeremonyKey {
            attributes: KeyAttributes {
                key_usage: usage,
                key_class: KeyClass::SymmetricKey,
                key_algorithm: algorithm,
                key_modes_of_use: modes,
            },
            exportable: true,
            material: SecretVec::from_slice(&payhsm_core::hex::decode("k", clear).unwrap()),
            expected_check_value: payhsm_core::kcv::default_kcv(&soft).unwrap().to_string(),
        })
        .and_then(payhsm_keystore::api::response)
        .unwrap())
}

const PVK: &str = "0123456789ABCDEFFEDCBA9876543210";
const PAN: &str = "4111111111111111";

/// PIN set and PIN reveal with a key derived by ECDH (`DiffieHellmanSymmetricKey`), against
/// the independent party: it derives the same key (pyca/cryptography's ConcatKDFHash or
/// X963KDF), makes and opens the ISO 9564 PIN blocks (psec: format 0 under TDES, format 4
/// under AES) and computes the Visa PVV (psec) itself.
#[test]
fn pin_set_and_reveal_under_an_ecdh_derived_key() {
    use payhsm_core::key::{KeyAlgorithm, KeyModesOfUse, KeyUsage};
    let Some(python) = python() else { return };
    for (i, (curve, algorithm, kdf, hash, derived, format)) in [
        (
            "P-256",
            "ECC_NIST_P256",
            "NIST_SP800",
            "SHA_256",
            "TDES_2KEY",
            "ISO_FORMAT_0",
        ),
        (
            "P-384",
            "ECC_NIST_P384",
            "ANSI_X963",
            "SHA_384",
            "AES_128",
            "ISO_FORMAT_4",
        ),
        (
            "P-521",
            "ECC_NIST_P521",
            "NIST_SP800",
            "SHA_512",
            "AES_256",
            "ISO_FORMAT_4",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let case = format!("{curve} {kdf} {hash} {derived}");
        let hsm = hsm();
        let (pair, hsm_certificate) = key_pair(&hsm, algorithm, "TR31_P0_PIN_ENCRYPTION_KEY");
        let other = party(
            &python,
            "party",
            &json!({ "curve": curve, "chain": i != 1 }),
        );
        let ca = import_root(&hsm, algorithm, &other["ca"]);
        let pvk = known_key(
            &hsm,
            KeyUsage::V2,
            KeyAlgorithm::Tdes2Key,
            KeyModesOfUse {
                generate: true,
                verify: true,
                ..KeyModesOfUse::default()
            },
            PVK,
        );
        let shared_info = format!("{:02X}50494E", i + 1);
        let aes = derived.starts_with("AES");
        let derivation = json!({
            "key": other["key"], "peer": hsm_certificate, "kdf": kdf, "hash": hash,
            "length": length(derived), "shared_info": shared_info, "aes": aes,
            "pan": PAN, "format": format,
        });
        let wrapped = |info: &str| {
            json!({ "WrappedKeyMaterial": { "DiffieHellmanSymmetricKey": {
                "CertificateAuthorityPublicKeyIdentifier": ca,
                "PublicKeyCertificate": other["leaf"], "KeyAlgorithm": derived,
                "KeyDerivationFunction": kdf, "KeyDerivationHashAlgorithm": hash,
                "SharedInformation": info,
            } } })
        };
        let kcv = party(&python, "derive", &derivation)["kcv"].clone();
        let pvv = |pin: &str| {
            party(
                &python,
                "pvv",
                &json!({ "pvk": PVK, "pvki": "1", "pin": pin, "pan": PAN }),
            )["pvv"]
                .clone()
        };

        // PIN set: the cardholder's PIN arrives under the derived key; the HSM returns its PVV.
        let mut request = derivation.clone();
        request["pin"] = json!("4826");
        let block = party(&python, "pin_encrypt", &request)["block"].clone();
        let set = ok(
            &hsm,
            "GeneratePinData",
            json!({
                "GenerationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pair,
                "GenerationAttributes": { "VisaPinVerificationValue": {
                    "EncryptedPinBlock": block, "PinVerificationKeyIndex": 1 } },
                "PinBlockFormat": format, "PrimaryAccountNumber": PAN,
                "EncryptionWrappedKey": wrapped(&shared_info),
            }),
        );
        assert_eq!(set["PinData"]["VerificationValue"], pvv("4826"), "{case}");
        assert_eq!(set["EncryptionKeyArn"], json!(pair), "{case}");
        assert_eq!(set["EncryptionKeyCheckValue"], kcv, "{case}");

        // PIN reveal: the HSM makes a PIN and its PVV; the party opens the block.
        let reveal = ok(
            &hsm,
            "GeneratePinData",
            json!({
                "GenerationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pair,
                "GenerationAttributes": { "VisaPin": { "PinVerificationKeyIndex": 1 } },
                "PinBlockFormat": format, "PrimaryAccountNumber": PAN,
                "EncryptionWrappedKey": wrapped(&shared_info),
            }),
        );
        let mut request = derivation.clone();
        request["block"] = reveal["EncryptedPinBlock"].clone();
        let pin = party(&python, "pin_decrypt", &request)["pin"].clone();
        assert_eq!(
            reveal["PinData"]["VerificationValue"],
            pvv(pin.as_str().unwrap()),
            "{case}"
        );

        // Verification of the party's block; a wrong PIN and a key derived from other shared
        // information fail the same way.
        let verify = |block: &Value, info: &str| {
            api::dispatch(
                &hsm,
                "VerifyPinData",
                json!({
                    "VerificationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pair,
                    "VerificationAttributes": { "VisaPin": {
                        "PinVerificationKeyIndex": 1, "VerificationValue": pvv("4826") } },
                    "EncryptedPinBlock": block, "PinBlockFormat": format,
                    "PrimaryAccountNumber": PAN, "EncryptionWrappedKey": wrapped(info),
                }),
            )
        };
        let out = verify(&block, &shared_info).unwrap();
        assert_eq!(out["EncryptionKeyCheckValue"], kcv, "{case}");
        let mut request = derivation.clone();
        request["pin"] = json!("4827");
        let wrong = party(&python, "pin_encrypt", &request)["block"].clone();
        for refused in [verify(&wrong, &shared_info), verify(&block, "FF")] {
            assert_eq!(
                refused.unwrap_err().name(),
                "VerificationFailedException",
                "{case}"
            );
        }
    }
}

/// Working keys in TR-31 blocks (`Tr31KeyBlock`, made by psec under a KEK known in clear)
/// and derived by ECDH, on `TranslatePinData`, `EncryptData`, `DecryptData` and
/// `ReEncryptData`; the party checks each PIN block and ciphertext with its own keys.
#[test]
fn translate_and_encrypt_with_wrapped_working_keys() {
    use payhsm_core::key::{KeyAlgorithm, KeyModesOfUse, KeyUsage};
    const KEK: &str = "00112233445566778899AABBCCDDEEFF0123456789ABCDEF0123456789ABCDEF";
    const PEK: &str = "89ABCDEF0123456776543210FEDCBA98";
    const DEK: &str = "2B7E151628AED2A6ABF7158809CF4F3C";
    let Some(python) = python() else { return };
    let hsm = hsm();
    let all = KeyModesOfUse {
        encrypt: true,
        decrypt: true,
        wrap: true,
        unwrap: true,
        ..KeyModesOfUse::default()
    };
    let kek = known_key(&hsm, KeyUsage::K0, KeyAlgorithm::Aes256, all, KEK);
    let tr31 = |header: &str, clear: &str| {
        party(
            &python,
            "wrap",
            &json!({ "clear": KEK, "header": header, "clear_key": clear }),
        )
    };
    let pek_block = tr31("D0000P0TE00E0000", PEK);
    let dek_block = tr31("D0000D0AB00E0000", DEK);
    let in_tr31 =
        |block: &Value| json!({ "WrappedKeyMaterial": { "Tr31KeyBlock": block["block"] } });

    // The ECDH side: P0 and D0 key pairs, AES-128 derived keys.
    let other = party(
        &python,
        "party",
        &json!({ "curve": "P-256", "chain": true }),
    );
    let ca = import_root(&hsm, "ECC_NIST_P256", &other["ca"]);
    let ecdh = |usage: &str, info: &str| {
        let (pair, certificate) = key_pair(&hsm, "ECC_NIST_P256", usage);
        let derivation = json!({
            "key": other["key"], "peer": certificate, "kdf": "ANSI_X963", "hash": "SHA_256",
            "length": 16, "shared_info": info, "aes": true,
        });
        let wrapped = json!({ "WrappedKeyMaterial": { "DiffieHellmanSymmetricKey": {
            "CertificateAuthorityPublicKeyIdentifier": ca,
            "PublicKeyCertificate": other["leaf"], "KeyAlgorithm": "AES_128",
            "KeyDerivationFunction": "ANSI_X963", "KeyDerivationHashAlgorithm": "SHA_256",
            "SharedInformation": info,
        } } });
        (pair, derivation, wrapped)
    };
    let (pin_pair, pin_derivation, pin_wrapped) = ecdh("TR31_P0_PIN_ENCRYPTION_KEY", "01AB");
    let (data_pair, data_derivation, data_wrapped) =
        ecdh("TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "02CD");

    // A PIN arrives under the ECDH key (format 4) and leaves under the TR-31 PEK (format 0).
    let mut request = pin_derivation.clone();
    request.as_object_mut().unwrap().extend(
        json!({ "pin": "12345", "pan": PAN, "format": "ISO_FORMAT_4" })
            .as_object()
            .unwrap()
            .clone(),
    );
    let block = party(&python, "pin_encrypt", &request)["block"].clone();
    let translated = ok(
        &hsm,
        "TranslatePinData",
        json!({
            "IncomingKeyIdentifier": pin_pair, "OutgoingKeyIdentifier": kek,
            "IncomingTranslationAttributes": { "IsoFormat4": { "PrimaryAccountNumber": PAN } },
            "OutgoingTranslationAttributes": { "IsoFormat0": { "PrimaryAccountNumber": PAN } },
            "EncryptedPinBlock": block,
            "IncomingWrappedKey": pin_wrapped, "OutgoingWrappedKey": in_tr31(&pek_block),
        }),
    );
    assert_eq!(translated["KeyArn"], json!(kek));
    assert_eq!(translated["KeyCheckValue"], pek_block["kcv"]);
    let opened = party(
        &python,
        "pin_decrypt",
        &json!({ "clear": PEK, "block": translated["PinBlock"], "pan": PAN, "format": "ISO_FORMAT_0" }),
    );
    assert_eq!(opened["pin"], "12345");

    // Data: encrypted under the TR-31 data key, decrypted under the ECDH one, re-encrypted
    // from one to the other.
    let plain = "6BC1BEE22E409F96E93D7E117393172AAE2D8A571E03AC9C9EB76FAC45AF8E51";
    let iv = "000102030405060708090A0B0C0D0E0F";
    let cbc = json!({ "Symmetric": { "Mode": "CBC", "InitializationVector": iv } });
    let crypt = |key: Value, data: &str, encrypt: bool| {
        let mut request = key;
        request.as_object_mut().unwrap().extend(
            json!({ "mode": "CBC", "iv": iv, "data": data, "encrypt": encrypt, "aes": true })
                .as_object()
                .unwrap()
                .clone(),
        );
        party(&python, "crypt", &request)["data"].clone()
    };
    let encrypted = ok(
        &hsm,
        "EncryptData",
        json!({ "KeyIdentifier": kek, "PlainText": plain, "EncryptionAttributes": cbc,
            "WrappedKey": in_tr31(&dek_block) }),
    );
    assert_eq!(encrypted["KeyCheckValue"], dek_block["kcv"]);
    assert_eq!(
        crypt(
            json!({ "clear": DEK }),
            encrypted["CipherText"].as_str().unwrap(),
            false
        ),
        plain
    );
    let under_ecdh = crypt(data_derivation.clone(), plain, true);
    let decrypted = ok(
        &hsm,
        "DecryptData",
        json!({ "KeyIdentifier": data_pair, "CipherText": under_ecdh,
            "DecryptionAttributes": cbc, "WrappedKey": data_wrapped }),
    );
    assert_eq!(decrypted["PlainText"], plain);
    assert_eq!(
        decrypted["KeyCheckValue"],
        party(&python, "derive", &data_derivation)["kcv"]
    );
    let re_encrypted = ok(
        &hsm,
        "ReEncryptData",
        json!({ "IncomingKeyIdentifier": kek, "OutgoingKeyIdentifier": data_pair,
            "CipherText": encrypted["CipherText"],
            "IncomingEncryptionAttributes": cbc, "OutgoingEncryptionAttributes": cbc,
            "IncomingWrappedKey": in_tr31(&dek_block), "OutgoingWrappedKey": data_wrapped }),
    );
    assert_eq!(re_encrypted["KeyArn"], json!(data_pair));
    assert_eq!(re_encrypted["CipherText"], under_ecdh);

    // TranslateKeyMaterial: the party's PEK in a block under an ECDH-derived KBPK leaves in a
    // block under the KEK, which the party opens with the KEK in clear.
    let (kbpk_pair, kbpk_derivation, _) = ecdh("TR31_K1_KEY_BLOCK_PROTECTION_KEY", "03EF");
    let mut request = kbpk_derivation.clone();
    request["header"] = json!("D0000P0AE00E0000");
    request["clear_key"] = json!(PEK);
    let under_kbpk = party(&python, "wrap", &request);
    let translated = ok(
        &hsm,
        "TranslateKeyMaterial",
        json!({
            "IncomingKeyMaterial": { "DiffieHellmanTr31KeyBlock": {
                "PrivateKeyIdentifier": kbpk_pair, "CertificateAuthorityPublicKeyIdentifier": ca,
                "PublicKeyCertificate": other["leaf"], "DeriveKeyAlgorithm": "AES_128",
                "KeyDerivationFunction": "ANSI_X963", "KeyDerivationHashAlgorithm": "SHA_256",
                "DerivationData": { "SharedInformation": "03EF" },
                "WrappedKeyBlock": under_kbpk["block"],
            } },
            "OutgoingKeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": kek } },
        }),
    );
    let opened = party(
        &python,
        "unwrap",
        &json!({ "clear": KEK, "block": translated["WrappedKey"]["WrappedKeyMaterial"] }),
    );
    assert_eq!(opened["clear_key"], PEK);
    assert_eq!(translated["WrappedKey"]["KeyCheckValue"], under_kbpk["kcv"]);
}
