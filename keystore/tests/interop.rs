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
