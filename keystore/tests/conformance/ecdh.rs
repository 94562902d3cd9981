//! ECC key pairs and ECDH key agreement (`DiffieHellmanTr31KeyBlock`) on every store.
//!
//! The other party here is the test PKI's P-256 key-agreement certificate; it derives with
//! payhsm's own curve code, so these cases prove the store's behaviour and the policy. The
//! arithmetic and the KDFs are proven by the NIST vectors (`tests/ecdh_vectors.rs`) and the
//! independent party (`tests/interop.rs`).

use payhsm_core::{
    crypto::SoftwareKey,
    hex,
    kcv::{self, KcvMethod},
    key::KeyAlgorithm,
    secret::KeyMaterial,
};
use payhsm_keystore::{
    Error, Rule, Store,
    ecc::{EcPrivateKey as _, EcPublicKey},
    exchange::ecdh::{Kdf, KdfHash, derive},
};
use payhsm_tr34::der::{Decode as _, pem};
use serde_json::{Value, json};

use super::{
    Harness, arn_of, assert_field, assert_policy, assert_validation, asymmetric::import_root, pki,
};

fn pair_request(algorithm: &str, derive_usage: Option<&str>) -> Value {
    let mut r = json!({
        "KeyAttributes": {
            "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT", "KeyClass": "ASYMMETRIC_KEY_PAIR",
            "KeyAlgorithm": algorithm, "KeyModesOfUse": { "DeriveKey": true },
        },
        "Exportable": false,
    });
    if let Some(u) = derive_usage {
        r["DeriveKeyUsage"] = json!(u);
    }
    r
}

/// The public key in a certificate as the service returns it.
fn public_key_of(b64: &Value) -> EcPublicKey {
    let text = <base64ct::Base64 as base64ct::Encoding>::decode_vec(b64.as_str().unwrap()).unwrap();
    let (_, der) = pem::decode_vec(&text).unwrap();
    let cert = payhsm_tr34::x509_cert::Certificate::from_der(&der).unwrap();
    EcPublicKey::from_spki(cert.tbs_certificate().subject_public_key_info()).unwrap()
}

pub fn ecdh_key_agreement<S: Store>(h: Harness<S>) {
    let created = h.call(
        "CreateKey",
        pair_request("ECC_NIST_P256", Some("TR31_K1_KEY_BLOCK_PROTECTION_KEY")),
    );
    if let Err(Error::NotSupported { message }) = &created {
        // A token store keeps no ECC keys yet: it says so, and nothing else changes.
        assert!(message.contains("not supported by this token"), "{message}");
        return;
    }
    let pair = arn_of(&created.unwrap());
    let key = h.ok("GetKey", json!({ "KeyIdentifier": pair }))["Key"].clone();
    assert_eq!(key["DeriveKeyUsage"], "TR31_K1_KEY_BLOCK_PROTECTION_KEY");
    assert_eq!(key["KeyCheckValueAlgorithm"], "SHA_1");
    for algorithm in ["ECC_NIST_P384", "ECC_NIST_P521"] {
        h.ok(
            "CreateKey",
            pair_request(algorithm, Some("TR31_P0_PIN_ENCRYPTION_KEY")),
        );
    }
    // DeriveKeyUsage: required for a K3 pair, a usage a derived key may have, K3 pairs only.
    assert_validation(h.call("CreateKey", pair_request("ECC_NIST_P256", None)));
    assert_validation(h.call(
        "CreateKey",
        pair_request("ECC_NIST_P256", Some("TR31_M0_ISO_16609_MAC_KEY")),
    ));
    let mut symmetric = json!({
        "KeyAttributes": { "KeyUsage": "TR31_K0_KEY_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY",
            "KeyAlgorithm": "AES_256", "KeyModesOfUse": { "Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true } },
        "Exportable": true,
    });
    symmetric["DeriveKeyUsage"] = json!("TR31_K1_KEY_BLOCK_PROTECTION_KEY");
    assert_validation(h.call("CreateKey", symmetric.clone()));
    let mut ecc_sign = pair_request("ECC_NIST_P256", Some("TR31_K1_KEY_BLOCK_PROTECTION_KEY"));
    ecc_sign["KeyAttributes"]["KeyModesOfUse"] = json!({ "Sign": true });
    assert_policy(h.call("CreateKey", ecc_sign), Rule::KeyAttributes);

    // The HSM's certificate carries its public key, whose SHA-1 is the KCV.
    let certificate = h.ok("GetPublicKeyCertificate", json!({ "KeyIdentifier": pair }));
    let hsm_public = public_key_of(&certificate["KeyCertificate"]);
    assert_eq!(
        key["KeyCheckValue"],
        kcv::public_key_kcv(&hsm_public.to_sec1()).to_string()
    );

    let ca = import_root(&h, &pki::ca().cert);
    let party = pki::ecdh_party();
    let shared_info = "A1B2C3D4E5F60718";
    let kbpk = derive(
        Kdf::NistSp800,
        KdfHash::Sha256,
        party.key.agree(&hsm_public).unwrap().expose_secret(),
        &hex::decode("info", shared_info).unwrap(),
        32,
    );
    let kbpk = SoftwareKey::new(
        KeyAlgorithm::Aes256,
        &KeyMaterial::from_slice("kbpk", kbpk.expose_secret()).unwrap(),
    )
    .unwrap();
    let dh = |pair: &str, extra: Value| {
        let mut m = json!({
            "PrivateKeyIdentifier": pair, "CertificateAuthorityPublicKeyIdentifier": ca,
            "PublicKeyCertificate": party.cert_b64, "DeriveKeyAlgorithm": "AES_256",
            "KeyDerivationFunction": "NIST_SP800", "KeyDerivationHashAlgorithm": "SHA_256",
            "DerivationData": { "SharedInformation": shared_info },
        });
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        json!({ "DiffieHellmanTr31KeyBlock": m })
    };

    // Import: a block under the derived KBPK.
    let clear = "00112233445566778899AABBCCDDEEFF";
    let header = payhsm_tr31::Header::new(
        payhsm_tr31::Version::D,
        payhsm_core::key::KeyUsage::K0,
        payhsm_core::key::Algorithm::AES,
        payhsm_core::key::ModeOfUse::ENCRYPT_DECRYPT,
        "00",
        payhsm_core::key::Exportability::EXPORTABLE,
    )
    .unwrap();
    let block = payhsm_tr31::wrap(
        payhsm_tr31::Kbpk::Key(&kbpk),
        &header,
        &hex::decode("k", clear).unwrap(),
        &payhsm_tr31::WrapOptions::default(),
        &mut payhsm_core::rng::OsRandom,
    )
    .unwrap();
    let imported = h.ok(
        "ImportKey",
        json!({ "KeyMaterial": dh(&pair, json!({ "WrappedKeyBlock": block })) }),
    );
    let clear_key = SoftwareKey::from_hex(KeyAlgorithm::Aes128, clear).unwrap();
    assert_eq!(
        imported["Key"]["KeyCheckValue"],
        kcv::compute(&clear_key, KcvMethod::Cmac, 3)
            .unwrap()
            .to_string()
    );

    // Export: the block opens under the party's KBPK, where the store can export.
    let exportable = arn_of(&h.ok("CreateKey", symmetric_without_derive(&symmetric)));
    match h.call(
        "ExportKey",
        json!({ "ExportKeyIdentifier": exportable, "KeyMaterial": dh(&pair, json!({})) }),
    ) {
        Ok(out) => {
            let wrapped = &out["WrappedKey"];
            assert_eq!(wrapped["WrappingKeyArn"], json!(pair));
            let opened = payhsm_tr31::unwrap(
                payhsm_tr31::Kbpk::Key(&kbpk),
                wrapped["KeyMaterial"].as_str().unwrap(),
                &payhsm_tr31::UnwrapOptions::default(),
            )
            .unwrap();
            let key = SoftwareKey::new(
                KeyAlgorithm::Aes256,
                &KeyMaterial::from_slice("k", opened.key.expose_secret()).unwrap(),
            )
            .unwrap();
            assert_eq!(
                wrapped["KeyCheckValue"],
                kcv::compute(&key, KcvMethod::Cmac, 3).unwrap().to_string()
            );
        }
        Err(Error::NotSupported { message }) => {
            assert!(message.contains("not supported by this token"), "{message}");
        }
        Err(e) => panic!("ExportKey: {e}"),
    }

    // Refusals, each before any key is stored.
    let before = h.ok("ListKeys", json!({}))["Keys"]
        .as_array()
        .unwrap()
        .len();
    let pin_pair = arn_of(&h.ok(
        "CreateKey",
        pair_request("ECC_NIST_P256", Some("TR31_P0_PIN_ENCRYPTION_KEY")),
    ));
    let p384 = arn_of(&h.ok(
        "CreateKey",
        pair_request("ECC_NIST_P384", Some("TR31_K1_KEY_BLOCK_PROTECTION_KEY")),
    ));
    let import = |pair: &str, extra: Value| {
        let mut extra = extra;
        extra["WrappedKeyBlock"] = json!(block);
        h.call("ImportKey", json!({ "KeyMaterial": dh(pair, extra) }))
    };
    // A pair made to derive PIN keys derives no KBPK.
    assert_policy(import(&pin_pair, json!({})), Rule::KeyUsage);
    // A derived KBPK is TDES or AES.
    assert_policy(
        import(&pair, json!({ "DeriveKeyAlgorithm": "HMAC_SHA256" })),
        Rule::KeyAlgorithm,
    );
    // The certificate's curve is the pair's.
    assert_validation(import(&p384, json!({})));
    // Another shared information derives another key: the block does not authenticate.
    assert!(
        import(
            &pair,
            json!({ "DerivationData": { "SharedInformation": "00" } })
        )
        .is_err()
    );
    assert_validation(import(
        &pair,
        json!({ "DerivationData": { "SharedInformation": "XYZ" } }),
    ));
    assert_validation(import(&pair, json!({ "KeyDerivationFunction": "HKDF" })));
    assert_validation(import(
        &pair,
        json!({ "KeyDerivationHashAlgorithm": "SHA_1" }),
    ));
    // The certificate must chain to the CA named.
    let other = import_root(&h, &pki::other_ca().cert);
    assert_validation(import(
        &pair,
        json!({ "CertificateAuthorityPublicKeyIdentifier": other }),
    ));
    // An RSA certificate has no ECDH.
    assert_validation(import(
        &pair,
        json!({ "PublicKeyCertificate": pki::b64(&pki::kdh().cert) }),
    ));
    // A symmetric key is no key pair.
    assert_policy(import(&exportable, json!({})), Rule::KeyClass);
    let after = h.ok("ListKeys", json!({}))["Keys"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(after, before + 3, "the refusals stored nothing");
}

fn symmetric_without_derive(request: &Value) -> Value {
    let mut r = request.clone();
    r.as_object_mut().unwrap().remove("DeriveKeyUsage");
    r
}

/// `WrappedKey` on the data plane: a TR-31 working key under a stored KEK, and a key derived
/// by ECDH with the operation's key pair; the roles each must play and the refusals, none of
/// which stores anything. (The bytes against an independent party: `tests/interop.rs`.)
pub fn wrapped_working_keys<S: Store>(h: Harness<S>) {
    use payhsm_core::key::{Algorithm, Exportability, KeyUsage, ModeOfUse};
    const WORKING: &str = "0123456789ABCDEFFEDCBA9876543210";
    let before = h.ok("ListKeys", json!({}))["Keys"]
        .as_array()
        .unwrap()
        .len();
    let kek = super::import_known(
        &h,
        KeyUsage::K0,
        KeyAlgorithm::Tdes3Key,
        ModeOfUse::ENCRYPT_DECRYPT,
        false,
        super::KNOWN_KEK,
    );
    let kek_key = SoftwareKey::from_hex(KeyAlgorithm::Tdes3Key, super::KNOWN_KEK).unwrap();
    let block = |usage: KeyUsage| {
        let header = payhsm_tr31::Header::new(
            payhsm_tr31::Version::B,
            usage,
            Algorithm::TDES,
            ModeOfUse::ENCRYPT_DECRYPT,
            "00",
            Exportability::EXPORTABLE,
        )
        .unwrap();
        payhsm_tr31::wrap(
            payhsm_tr31::Kbpk::Key(&kek_key),
            &header,
            &hex::decode("k", WORKING).unwrap(),
            &payhsm_tr31::WrapOptions::default(),
            &mut payhsm_core::rng::OsRandom,
        )
        .unwrap()
    };
    let (d0, p0) = (block(KeyUsage::D0), block(KeyUsage::P0));
    let tr31 = |b: &str| json!({ "WrappedKeyMaterial": { "Tr31KeyBlock": b } });
    let ecb = json!({ "Symmetric": { "Mode": "ECB" } });
    let encrypt = |key: &str, wrapped: Value, attributes: &Value| {
        h.call(
            "EncryptData",
            json!({ "KeyIdentifier": key, "PlainText": "00".repeat(8),
                "EncryptionAttributes": attributes, "WrappedKey": wrapped }),
        )
    };

    // A D0 block encrypts; the ARN is the KEK's, the KCV the working key's.
    let working = SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, WORKING).unwrap();
    let out = encrypt(&kek, tr31(&d0), &ecb).unwrap();
    assert_eq!(out["KeyArn"], json!(kek));
    let mut expected = [0u8; 8];
    payhsm_core::crypto::SymmetricKey::encrypt_ecb(&working, &mut expected).unwrap();
    assert_eq!(out["CipherText"], hex::encode(&expected));
    assert_eq!(
        out["KeyCheckValue"],
        hex::encode(&expected)[..6].to_owned(),
        "the ANSI X9.24 KCV: the first 3 bytes of the zero block's encryption"
    );
    // A CMAC KCV when asked for.
    let mut cmac = tr31(&d0);
    cmac["KeyCheckValueAlgorithm"] = json!("CMAC");
    let out = encrypt(&kek, cmac, &ecb).unwrap();
    assert_eq!(
        out["KeyCheckValue"],
        kcv::compute(&working, KcvMethod::Cmac, 3)
            .unwrap()
            .to_string()
    );
    // A P0 block is no data key; a PEK is no KEK.
    assert_policy(encrypt(&kek, tr31(&p0), &ecb), Rule::KeyUsage);
    let pek = h.create(
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "TDES_2KEY",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    assert_policy(encrypt(&pek, tr31(&d0), &ecb), Rule::KeyUsage);
    // Bad blocks name the member.
    for bad in [&d0[..d0.len() - 2], "B0096D0TB00E0000"] {
        assert_field(
            encrypt(&kek, tr31(bad), &ecb),
            "WrappedKey.WrappedKeyMaterial.Tr31KeyBlock",
        );
    }
    // A WrappedKey carries a symmetric key: not with DUKPT or RSA attributes.
    for attributes in [
        json!({ "Dukpt": { "KeySerialNumber": "FFFF9876543210E00001" } }),
        json!({ "Asymmetric": { "PaddingType": "OAEP_SHA256" } }),
    ] {
        assert_field(encrypt(&kek, tr31(&d0), &attributes), "WrappedKey");
    }
    // Exactly one member, none unknown.
    assert_validation(encrypt(&kek, json!({ "WrappedKeyMaterial": {} }), &ecb));
    assert_validation(encrypt(
        &kek,
        json!({ "WrappedKeyMaterial": { "Tr31KeyBlock": d0, "Other": "x" } }),
        &ecb,
    ));
    assert_validation(encrypt(
        &kek,
        json!({ "WrappedKeyMaterial": { "Tr31KeyBlock": d0 }, "Extra": 1 }),
        &ecb,
    ));

    // ECDH-derived working keys, where the store keeps ECC keys.
    let created = h.call(
        "CreateKey",
        pair_request(
            "ECC_NIST_P256",
            Some("TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY"),
        ),
    );
    if let Err(Error::NotSupported { message }) = &created {
        assert!(message.contains("not supported by this token"), "{message}");
        return;
    }
    let d0_pair = arn_of(&created.unwrap());
    let pair = |usage: &str| arn_of(&h.ok("CreateKey", pair_request("ECC_NIST_P256", Some(usage))));
    let (k1_pair, p0_pair) = (
        pair("TR31_K1_KEY_BLOCK_PROTECTION_KEY"),
        pair("TR31_P0_PIN_ENCRYPTION_KEY"),
    );
    let ca = import_root(&h, &pki::ca().cert);
    let party = pki::ecdh_party();
    let dh = |extra: Value| {
        let mut m = json!({
            "CertificateAuthorityPublicKeyIdentifier": ca,
            "PublicKeyCertificate": party.cert_b64, "KeyAlgorithm": "AES_128",
            "KeyDerivationFunction": "NIST_SP800", "KeyDerivationHashAlgorithm": "SHA_256",
            "SharedInformation": "0A0B0C",
        });
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        json!({ "WrappedKeyMaterial": { "DiffieHellmanSymmetricKey": m } })
    };
    let hsm_public = public_key_of(
        &h.ok(
            "GetPublicKeyCertificate",
            json!({ "KeyIdentifier": d0_pair }),
        )["KeyCertificate"],
    );
    let derived = derive(
        Kdf::NistSp800,
        KdfHash::Sha256,
        party.key.agree(&hsm_public).unwrap().expose_secret(),
        &[0x0A, 0x0B, 0x0C],
        16,
    );
    let derived = SoftwareKey::new(
        KeyAlgorithm::Aes128,
        &KeyMaterial::from_slice("k", derived.expose_secret()).unwrap(),
    )
    .unwrap();
    let out = h
        .call(
            "EncryptData",
            json!({ "KeyIdentifier": d0_pair, "PlainText": "00".repeat(16),
                "EncryptionAttributes": ecb, "WrappedKey": dh(json!({})) }),
        )
        .unwrap();
    let mut expected = [0u8; 16];
    payhsm_core::crypto::SymmetricKey::encrypt_ecb(&derived, &mut expected).unwrap();
    assert_eq!(out["CipherText"], hex::encode(&expected));
    assert_eq!(out["KeyArn"], json!(d0_pair));
    // The pair's DeriveKeyUsage decides what it derives: D0 for data, not K1 or P0.
    for other in [&k1_pair, &p0_pair] {
        assert_policy(encrypt(other, dh(json!({})), &ecb), Rule::KeyUsage);
    }
    // A derived working key is TDES or AES.
    assert_policy(
        encrypt(&d0_pair, dh(json!({ "KeyAlgorithm": "HMAC_SHA256" })), &ecb),
        Rule::KeyAlgorithm,
    );
    for (extra, member) in [
        (
            json!({ "KeyDerivationFunction": "HKDF" }),
            "KeyDerivationFunction",
        ),
        (json!({ "SharedInformation": "0" }), "SharedInformation"),
        (json!({ "KeyAlgorithm": "AES_512" }), "KeyAlgorithm"),
        (
            json!({ "PublicKeyCertificate": pki::b64(&pki::kdh().cert) }),
            "PublicKeyCertificate",
        ),
    ] {
        assert_field(
            encrypt(&d0_pair, dh(extra), &ecb),
            &format!("WrappedKey.WrappedKeyMaterial.DiffieHellmanSymmetricKey.{member}"),
        );
    }
    // Without a WrappedKey the pair is no data key; a KEK derives nothing.
    assert_policy(
        h.call(
            "EncryptData",
            json!({ "KeyIdentifier": d0_pair, "PlainText": "00".repeat(16),
                "EncryptionAttributes": ecb }),
        ),
        Rule::KeyClass,
    );
    assert_policy(encrypt(&kek, dh(json!({})), &ecb), Rule::KeyClass);
    let after = h.ok("ListKeys", json!({}))["Keys"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(after, before + 6, "only the keys made here");
}
