//! RSA key cryptograms, RSA data encryption and certificate signing requests, on every store,
//! against the independent peer (`tests/interop/rsa_peer.py`, pyca/cryptography) when
//! `PAYHSM_PYTHON` is set.

use std::path::PathBuf;

use base64ct::{Base64, Encoding as _};
use payhsm_core::{hex, rng::OsRandom};
use payhsm_keystore::{Error, Rule, Store};
use payhsm_tr34::{
    cert::{Certificate, CertificateRequest, Purpose, verify_chain},
    rsa::{EncryptionPadding, OaepHash, RsaKeySize, RsaPrivateKey, SoftwareRsaKey},
};
use serde_json::{Value, json};

use super::{
    Harness, arn_of, assert_field, assert_policy, assert_validation,
    asymmetric::ImportParameters,
    key_id,
    pki::{self, b64, from_b64},
};

/// The HSM clock as an X.509 time.
fn hsm_time<S: Store>(h: &Harness<S>) -> payhsm_tr34::DateTime {
    use payhsm_keystore::clock::Clock as _;
    let secs = u64::try_from(h.clock.now().0 / 1000).unwrap();
    payhsm_tr34::DateTime::from_unix_duration(std::time::Duration::from_secs(secs)).unwrap()
}

/// The other side: pyca/cryptography if `PAYHSM_PYTHON` is set, else payhsm-tr34's
/// public-key code (so the HSM side is still tested, but not its interoperability).
struct Peer {
    python: Option<PathBuf>,
    dir: PathBuf,
}

fn oaep_hash(spec: &str) -> OaepHash {
    match spec {
        "sha256" => OaepHash::Sha256,
        "sha512" => OaepHash::Sha512,
        _ => OaepHash::Sha1,
    }
}

fn padding(name: &str) -> EncryptionPadding {
    match name {
        "PKCS1" => EncryptionPadding::Pkcs1,
        other => EncryptionPadding::Oaep(oaep_hash(&other[5..].to_lowercase())),
    }
}

impl Peer {
    fn new() -> Self {
        Self {
            python: pki::python(),
            dir: pki::scratch_dir(),
        }
    }

    fn cert(&self, cert: &Certificate) -> String {
        pki::write(&self.dir, "cert.pem", &cert.to_pem().unwrap())
    }

    fn key(&self, key: &SoftwareRsaKey) -> String {
        pki::write(&self.dir, "key.pem", &key.to_pkcs8_pem().unwrap())
    }

    fn run(&self, args: &[&str], member: &str) -> Option<String> {
        let python = self.python.as_ref()?;
        Some(
            pki::rsa_peer(python, args)[member]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    }

    /// An RSA-OAEP cryptogram of `key` (hex) under `cert`, `hash` `sha256` or `sha512`.
    fn wrap(&self, cert: &Certificate, key: &str, hash: &str) -> String {
        let args = [
            "wrap",
            "--cert",
            &self.cert(cert),
            "--key",
            key,
            "--hash",
            hash,
        ];
        self.run(&args, "cryptogram").unwrap_or_else(|| {
            let bytes = hex::decode("key", key).unwrap();
            let c = cert
                .public_key()
                .encrypt_oaep(oaep_hash(hash), &bytes, &mut OsRandom);
            hex::encode(&c.unwrap())
        })
    }

    /// The key in a cryptogram under `key`.
    fn unwrap(&self, key: &SoftwareRsaKey, cryptogram: &str, hash: &str) -> String {
        let args = [
            "unwrap",
            "--private-key",
            &self.key(key),
            "--cryptogram",
            cryptogram,
            "--hash",
            hash,
        ];
        self.run(&args, "key").unwrap_or_else(|| {
            let bytes = hex::decode("cryptogram", cryptogram).unwrap();
            let plain = key.decrypt_oaep(oaep_hash(hash), &bytes).unwrap();
            hex::encode(plain.expose_secret())
        })
    }

    /// RSA encryption of `data` under `cert` with the service's `padding`.
    fn encrypt(&self, cert: &Certificate, padding_type: &str, data: &str) -> String {
        let args = [
            "encrypt",
            "--cert",
            &self.cert(cert),
            "--padding",
            padding_type,
            "--data",
            data,
        ];
        self.run(&args, "ciphertext").unwrap_or_else(|| {
            let bytes = hex::decode("data", data).unwrap();
            let c = cert
                .public_key()
                .encrypt(padding(padding_type), &bytes, &mut OsRandom);
            hex::encode(&c.unwrap())
        })
    }

    /// RSA decryption of `data` with `key`.
    fn decrypt(&self, key: &SoftwareRsaKey, padding_type: &str, data: &str) -> String {
        let args = [
            "decrypt",
            "--private-key",
            &self.key(key),
            "--padding",
            padding_type,
            "--data",
            data,
        ];
        self.run(&args, "plaintext").unwrap_or_else(|| {
            let bytes = hex::decode("data", data).unwrap();
            let plain = match padding(padding_type) {
                EncryptionPadding::Pkcs1 => key.decrypt_pkcs1(&bytes),
                EncryptionPadding::Oaep(h) => key.decrypt_oaep(h, &bytes),
            };
            hex::encode(plain.unwrap().expose_secret())
        })
    }

    /// The service's KCV of a TDES or AES key, computed by the peer (`None` without Python).
    fn kcv(&self, algorithm: &str, key: &str) -> Option<String> {
        let family = if algorithm.starts_with("TDES") {
            "TDES"
        } else {
            "AES"
        };
        self.run(&["kcv", "--algorithm", family, "--key", key], "kcv")
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn parameters<S: Store>(h: &Harness<S>, algorithm: &str, reuse: bool) -> ImportParameters {
    super::asymmetric::import_parameters_for(h, "KEY_CRYPTOGRAM", algorithm, reuse)
}

fn attributes(usage: &str, algorithm: &str, modes: Value) -> Value {
    json!({ "KeyUsage": usage, "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": algorithm,
        "KeyModesOfUse": modes })
}

fn import<S: Store>(
    h: &Harness<S>,
    attributes: &Value,
    cryptogram: &str,
    token: &str,
    spec: Option<&str>,
) -> Result<Value, Error> {
    let mut material = json!({ "KeyAttributes": attributes, "Exportable": true,
        "WrappedKeyCryptogram": cryptogram, "ImportToken": token });
    if let Some(spec) = spec {
        material["WrappingSpec"] = json!(spec);
    }
    h.call(
        "ImportKey",
        json!({ "KeyMaterial": { "KeyCryptogram": material } }),
    )
}

fn export<S: Store>(
    h: &Harness<S>,
    key: &str,
    ca_arn: &str,
    cert: &Certificate,
    spec: Option<&str>,
) -> Result<Value, Error> {
    let mut material = json!({ "CertificateAuthorityPublicKeyIdentifier": ca_arn,
        "WrappingKeyCertificate": b64(cert) });
    if let Some(spec) = spec {
        material["WrappingSpec"] = json!(spec);
    }
    h.call(
        "ExportKey",
        json!({ "ExportKeyIdentifier": key, "KeyMaterial": { "KeyCryptogram": material } }),
    )
}

fn member(name: &str) -> String {
    format!("KeyMaterial.KeyCryptogram.{name}")
}

fn random_hex(len: usize) -> String {
    use payhsm_core::rng::RandomSource as _;
    let mut b = vec![0; len];
    OsRandom.fill(&mut b).unwrap();
    hex::encode(&b)
}

/// A TDES key of odd parity whose halves differ.
const TDES2: &str = "0123456789ABCDEFFEDCBA9876543210";
const TDES3: &str = "0123456789ABCDEFFEDCBA987654321089ABCDEF01234567";
const AES128: &str = "2B7E151628AED2A6ABF7158809CF4F3C";

/// RSA key cryptograms: imports from and exports to the independent peer, byte for byte with
/// equal KCVs; every bad input refused, naming its field, with nothing stored.
pub fn key_cryptograms<S: Store>(h: Harness<S>) {
    if !super::holds_key_pairs(&h) {
        return super::assert_key_pairs_refused(&h);
    }
    let peer = Peer::new();
    let now = hsm_time(&h);
    // A wrapping key pair per size, certified for key transport by the region CA; its token
    // is of its own kind (not a TR-34 one) and reused on request.
    let p2048 = parameters(&h, "RSA_2048", false);
    let p3072 = parameters(&h, "RSA_3072", false);
    let p4096 = parameters(&h, "RSA_4096", false);
    for p in [&p2048, &p3072, &p4096] {
        verify_chain(&p.krd, &[], &p.chain, now, Purpose::KrdKeyTransport).unwrap();
    }
    assert_eq!(parameters(&h, "RSA_3072", true).token, p3072.token);
    let tr34 = h.ok(
        "GetParametersForImport",
        json!({ "KeyMaterialType": "TR34_KEY_BLOCK", "WrappingKeyAlgorithm": "RSA_3072",
            "ReuseLastGeneratedToken": true }),
    );
    let tr34_token = tr34["ImportToken"].as_str().unwrap().to_owned();
    assert_ne!(tr34_token, p3072.token);
    assert_field(
        h.call(
            "GetParametersForExport",
            json!({ "KeyMaterialType": "KEY_CRYPTOGRAM", "SigningKeyAlgorithm": "RSA_2048" }),
        ),
        "KeyMaterialType",
    );

    let c0 = attributes(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        json!({ "Generate": true, "Verify": true }),
    );
    let k0 = |algorithm| {
        attributes(
            "TR31_K0_KEY_ENCRYPTION_KEY",
            algorithm,
            json!({ "Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true }),
        )
    };
    let before = h.all_keys(None).len();
    let first = import(
        &h,
        &c0,
        &peer.wrap(&p2048.krd, TDES2, "sha256"),
        &p2048.token,
        None,
    );
    let tdes_arn = match first {
        Ok(out) => arn_of(&out),
        // A token without RSAES-OAEP with SHA-256 (SoftHSM 2.6) says so, storing nothing.
        Err(Error::NotSupported { message }) if !super::exports_key_blocks(&h) => {
            assert!(
                message.contains("not supported by this token") && message.contains("OAEP"),
                "{message}"
            );
            assert_eq!(h.all_keys(None).len(), before + 1);
            let ca_arn = super::asymmetric::import_root(&h, &pki::ca().cert);
            let aes = h.create(
                "TR31_K0_KEY_ENCRYPTION_KEY",
                "AES_128",
                &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
                true,
            );
            let krd = pki::krd(RsaKeySize::Rsa3072);
            super::assert_not_exported(export(&h, &aes, &ca_arn, &krd.cert, None));
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let imports = [
        (&tdes_arn, "TDES_2KEY", TDES2),
        (
            &arn_of(
                &import(
                    &h,
                    &k0("AES_128"),
                    &peer.wrap(&p3072.krd, AES128, "sha512"),
                    &p3072.token,
                    Some("RSA_OAEP_SHA_512"),
                )
                .unwrap(),
            ),
            "AES_128",
            AES128,
        ),
        (
            &arn_of(
                &import(
                    &h,
                    &k0("TDES_3KEY"),
                    &peer.wrap(&p4096.krd, TDES3, "sha256"),
                    &p4096.token,
                    Some("RSA_OAEP_SHA_256"),
                )
                .unwrap(),
            ),
            "TDES_3KEY",
            TDES3,
        ),
    ];
    let clear = |arn: &str| {
        let record = h.hsm.store().get_key(key_id(arn)).unwrap().unwrap();
        hex::encode(h.hsm.store().reveal(&record).unwrap().expose_secret())
    };
    for (arn, algorithm, key) in &imports {
        let got = h.ok("GetKey", json!({ "KeyIdentifier": arn }));
        let k = &got["Key"];
        assert_eq!(k["KeyAttributes"]["KeyAlgorithm"], *algorithm);
        assert_eq!(k["KeyOrigin"], "EXTERNAL");
        assert_eq!(k["Exportable"], true);
        assert_eq!(clear(arn), *key);
        if let Some(kcv) = peer.kcv(algorithm, key) {
            assert_eq!(k["KeyCheckValue"], json!(kcv), "{algorithm}");
        }
    }

    // Export: to the peer's certificates under an imported CA; the peer unwraps the same
    // bytes, with the KCV the HSM states.
    let ca_arn = super::asymmetric::import_root(&h, &pki::ca().cert);
    let krd2048 = pki::krd(RsaKeySize::Rsa2048);
    let krd3072 = pki::krd(RsaKeySize::Rsa3072);
    let made = h.create(
        "TR31_K0_KEY_ENCRYPTION_KEY",
        "AES_128",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        true,
    );
    for (arn, krd, spec, hash) in [
        (&tdes_arn, krd2048, None, "sha256"),
        (imports[1].0, krd3072, Some("RSA_OAEP_SHA_512"), "sha512"),
        (&made, krd3072, Some("RSA_OAEP_SHA_256"), "sha256"),
    ] {
        let out = export(&h, arn, &ca_arn, &krd.cert, spec).unwrap();
        let wrapped = &out["WrappedKey"];
        assert_eq!(wrapped["WrappedKeyMaterialFormat"], "KEY_CRYPTOGRAM");
        assert_eq!(wrapped["WrappingKeyArn"], json!(ca_arn));
        let cryptogram = wrapped["KeyMaterial"].as_str().unwrap();
        assert_eq!(cryptogram.len(), 2 * krd.cert.public_key().modulus_len());
        let key = peer.unwrap(&krd.key, cryptogram, hash);
        assert_eq!(key, clear(arn));
        let algorithm =
            h.ok("GetKey", json!({ "KeyIdentifier": arn }))["Key"]["KeyAttributes"]["KeyAlgorithm"]
                .as_str()
                .unwrap()
                .to_owned();
        if let Some(kcv) = peer.kcv(&algorithm, &key) {
            assert_eq!(wrapped["KeyCheckValue"], json!(kcv));
        }
    }

    // Bad input, each refused naming its field, nothing stored.
    let before = h.all_keys(None).len();
    let good = peer.wrap(&p2048.krd, TDES2, "sha256");
    let cryptogram = member("WrappedKeyCryptogram");
    // Wrong size (one byte short), not hex.
    assert_field(import(&h, &c0, &good[2..], &p2048.token, None), &cryptogram);
    assert_field(
        import(&h, &c0, &good.replace('A', "G"), &p2048.token, None),
        &cryptogram,
    );
    // Wrong padding (random bytes; PKCS #1 v1.5), wrong hash, another key: one message.
    let pkcs1 = peer.encrypt(&p2048.krd, "PKCS1", TDES2);
    let sha512 = peer.wrap(&p2048.krd, TDES2, "sha512");
    let under_3072 = peer.wrap(&p3072.krd, TDES2, "sha256");
    let random = format!("00{}", random_hex(255));
    let uniform = assert_field(import(&h, &c0, &random, &p2048.token, None), &cryptogram);
    for (c, spec) in [
        (&pkcs1, None),
        (&sha512, None),
        (&good, Some("RSA_OAEP_SHA_512")),
    ] {
        assert_eq!(
            assert_field(import(&h, &c0, c, &p2048.token, spec), &cryptogram),
            uniform
        );
    }
    assert_field(
        import(&h, &c0, &under_3072, &p2048.token, None),
        &cryptogram,
    );
    // A key of the wrong length for its attributes.
    assert_field(
        import(&h, &k0("TDES_3KEY"), &good, &p2048.token, None),
        &cryptogram,
    );
    // A wrapping spec the service does not have; tokens that are not this kind's.
    assert_field(
        import(&h, &c0, &good, &p2048.token, Some("RSA_OAEP_SHA_1")),
        &member("WrappingSpec"),
    );
    for token in [
        tr34_token.as_str(),
        "import-token-CRYPTOGRAM000000000000000000",
    ] {
        assert_field(import(&h, &c0, &good, token, None), &member("ImportToken"));
    }
    // Policy: AES-128 under RSA-2048, AES-256 at all, a public key class, attributes the
    // table refuses.
    assert_policy(
        import(
            &h,
            &k0("AES_128"),
            &peer.wrap(&p2048.krd, AES128, "sha256"),
            &p2048.token,
            None,
        ),
        Rule::WrappingStrength,
    );
    assert_policy(
        import(
            &h,
            &k0("AES_256"),
            &peer.wrap(&p4096.krd, &format!("{AES128}{AES128}"), "sha256"),
            &p4096.token,
            None,
        ),
        Rule::KeyAlgorithm,
    );
    let mut public = c0.clone();
    public["KeyClass"] = json!("PUBLIC_KEY");
    assert_policy(
        import(&h, &public, &good, &p2048.token, None),
        Rule::KeyClass,
    );
    let wrong_modes = attributes(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        json!({ "Encrypt": true }),
    );
    assert_policy(
        import(&h, &wrong_modes, &good, &p2048.token, None),
        Rule::KeyAttributes,
    );
    assert_eq!(
        h.all_keys(None).len(),
        before,
        "refused imports stored nothing"
    );

    // Export refusals: a key that may not leave, or not under this certificate.
    let secret = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate"],
        false,
    );
    let aes256 = h.create(
        "TR31_K0_KEY_ENCRYPTION_KEY",
        "AES_256",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        true,
    );
    assert_policy(
        export(&h, &secret, &ca_arn, &krd2048.cert, None),
        Rule::Exportability,
    );
    assert_policy(
        export(&h, &made, &ca_arn, &krd2048.cert, None),
        Rule::WrappingStrength,
    );
    assert_policy(
        export(
            &h,
            &aes256,
            &ca_arn,
            &pki::krd(RsaKeySize::Rsa4096).cert,
            None,
        ),
        Rule::KeyAlgorithm,
    );
    assert_policy(
        export(&h, &tdes_arn, &tdes_arn, &krd2048.cert, None),
        Rule::KeyClass,
    );
    let wrapping = member("WrappingKeyCertificate");
    assert_field(
        export(&h, &tdes_arn, &ca_arn, &pki::foreign_krd().cert, None),
        &wrapping,
    );
    assert_field(
        export(&h, &tdes_arn, &ca_arn, &pki::kdh().cert, None),
        &wrapping,
    );
    assert_field(
        export(
            &h,
            &tdes_arn,
            &ca_arn,
            &krd2048.cert,
            Some("RSA_OAEP_SHA_384"),
        ),
        &member("WrappingSpec"),
    );

    // Audited without key material or cryptograms.
    let lines = h.hsm.audit().lines().join("\n");
    assert!(lines.contains("\"keyCryptogram\""));
    for text in [TDES2, AES128, TDES3, &good[..64], &clear(&made)] {
        assert!(!lines.contains(text), "{text}");
    }

    // An expired import token.
    h.clock.advance_days(31);
    let before = h.all_keys(None).len();
    let message = assert_field(
        import(&h, &c0, &good, &p2048.token, None),
        &member("ImportToken"),
    );
    assert!(message.contains("expired"), "{message}");
    assert_eq!(h.all_keys(None).len(), before);
}

/// `EncryptData` with an imported RSA public key and `DecryptData` with a key pair, against
/// the peer both ways, every padding; decryption failures are uniform.
pub fn asymmetric_data_encryption<S: Store>(h: Harness<S>) {
    if !super::holds_key_pairs(&h) {
        return super::assert_key_pairs_refused(&h);
    }
    let peer = Peer::new();
    let ca_arn = super::asymmetric::import_root(&h, &pki::ca().cert);
    let d1 = "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION";
    let krd = pki::krd(RsaKeySize::Rsa2048);
    let public = arn_of(
        &super::asymmetric::import_trusted(
            &h,
            &krd.cert,
            d1,
            json!({ "Encrypt": true, "Wrap": true }),
            &ca_arn,
        )
        .unwrap(),
    );
    let pair_out = h.ok(
        "CreateKey",
        json!({ "KeyAttributes": { "KeyUsage": d1, "KeyClass": "ASYMMETRIC_KEY_PAIR",
            "KeyAlgorithm": "RSA_3072", "KeyModesOfUse": { "Encrypt": true, "Decrypt": true,
            "Wrap": true, "Unwrap": true } }, "Exportable": false }),
    );
    let pair = arn_of(&pair_out);
    let pair_cert = from_b64(
        &h.ok("GetPublicKeyCertificate", json!({ "KeyIdentifier": pair }))["KeyCertificate"],
    );
    let encrypt = |key: &str, padding: &str, data: &str| {
        h.call(
            "EncryptData",
            json!({ "KeyIdentifier": key, "PlainText": data,
                "EncryptionAttributes": { "Asymmetric": { "PaddingType": padding } } }),
        )
    };
    let decrypt = |key: &str, padding: &str, data: &str| {
        h.call(
            "DecryptData",
            json!({ "KeyIdentifier": key, "CipherText": data,
                "DecryptionAttributes": { "Asymmetric": { "PaddingType": padding } } }),
        )
    };
    let data = "00112233445566778899AABBCCDDEEFF";
    let mut token_refused = Vec::new();
    for padding_type in ["PKCS1", "OAEP_SHA1", "OAEP_SHA256", "OAEP_SHA512"] {
        // The HSM encrypts under the imported key; the peer decrypts.
        let out = encrypt(&public, padding_type, data).unwrap();
        assert_eq!(out["KeyArn"], json!(public));
        let ciphertext = out["CipherText"].as_str().unwrap();
        assert_eq!(ciphertext.len(), 512);
        assert_eq!(peer.decrypt(&krd.key, padding_type, ciphertext), data);
        // The peer encrypts under the key pair's certificate; the HSM decrypts.
        let ciphertext = peer.encrypt(&pair_cert, padding_type, data);
        match decrypt(&pair, padding_type, &ciphertext) {
            Ok(out) => assert_eq!(out["PlainText"], data, "{padding_type}"),
            // A token without the mechanism (SoftHSM 2.6 has OAEP with SHA-1 only) says so.
            Err(Error::NotSupported { message }) => {
                assert!(message.contains("not supported by this token"), "{message}");
                token_refused.push(padding_type);
            }
            Err(e) => panic!("{padding_type}: {e}"),
        }
    }
    assert!(
        token_refused.is_empty() || !super::exports_key_blocks(&h),
        "{token_refused:?}"
    );
    // The longest plaintext each padding allows, and one byte more.
    for (padding_type, max) in [
        ("PKCS1", 245),
        ("OAEP_SHA1", 214),
        ("OAEP_SHA256", 190),
        ("OAEP_SHA512", 126),
    ] {
        encrypt(&public, padding_type, &"AB".repeat(max)).unwrap();
        assert_field(
            encrypt(&public, padding_type, &"AB".repeat(max + 1)),
            "PlainText",
        );
    }
    // Decryption failures: one message for wrong padding, wrong hash, garbage.
    let working = ["PKCS1", "OAEP_SHA1", "OAEP_SHA256", "OAEP_SHA512"]
        .into_iter()
        .filter(|p| !token_refused.contains(p))
        .collect::<Vec<_>>();
    let garbage = format!("00{}", random_hex(383));
    let mut messages = Vec::new();
    for padding_type in &working {
        messages.push(assert_field(
            decrypt(&pair, padding_type, &garbage),
            "CipherText",
        ));
        for other in &working {
            if other != padding_type {
                let c = peer.encrypt(&pair_cert, other, data);
                messages.push(assert_field(decrypt(&pair, padding_type, &c), "CipherText"));
            }
        }
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");
    // Bad input and roles.
    assert_field(decrypt(&pair, "OAEP_SHA256", &garbage[2..]), "CipherText");
    assert_field(
        encrypt(&public, "OAEP_SHA384", data),
        "EncryptionAttributes.Asymmetric.PaddingType",
    );
    assert_field(
        h.call(
            "EncryptData",
            json!({ "KeyIdentifier": public, "PlainText": data,
                "EncryptionAttributes": { "Asymmetric": {} } }),
        ),
        "EncryptionAttributes.Asymmetric.PaddingType",
    );
    assert_policy(encrypt(&pair, "OAEP_SHA256", data), Rule::KeyClass);
    assert_policy(decrypt(&public, "OAEP_SHA256", &garbage), Rule::KeyClass);
    let k2 = arn_of(
        &super::asymmetric::import_trusted(
            &h,
            &krd.cert,
            "TR31_K2_TR34_ASYMMETRIC_KEY",
            json!({ "Encrypt": true, "Wrap": true }),
            &ca_arn,
        )
        .unwrap(),
    );
    assert_policy(encrypt(&k2, "OAEP_SHA256", data), Rule::KeyUsage);
    let d0 = h.create(
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "AES_128",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    assert_policy(encrypt(&d0, "OAEP_SHA256", data), Rule::KeyClass);

    // ReEncryptData with RSA on one side: the peer's ciphertext under the key pair becomes
    // AES-CBC under the data key, and that becomes RSA under the imported public key, which
    // the peer opens; the clear data never leaves the HSM.
    let re_encrypt = |incoming: &str, outgoing: &str, data: &str, a_in: Value, a_out: Value| {
        h.call(
            "ReEncryptData",
            json!({ "IncomingKeyIdentifier": incoming, "OutgoingKeyIdentifier": outgoing,
                "CipherText": data, "IncomingEncryptionAttributes": a_in,
                "OutgoingEncryptionAttributes": a_out }),
        )
    };
    let rsa = |padding: &str| json!({ "Asymmetric": { "PaddingType": padding } });
    let cbc = json!({ "Symmetric": { "Mode": "CBC" } });
    let padding_type = working.last().copied().unwrap_or("OAEP_SHA1");
    let under_pair = peer.encrypt(&pair_cert, padding_type, data);
    let under_d0 = re_encrypt(&pair, &d0, &under_pair, rsa(padding_type), cbc.clone()).unwrap();
    assert_eq!(under_d0["KeyArn"], json!(d0));
    let clear = h.ok(
        "DecryptData",
        json!({ "KeyIdentifier": d0, "CipherText": under_d0["CipherText"],
            "DecryptionAttributes": cbc }),
    );
    assert_eq!(clear["PlainText"], data);
    let under_public = re_encrypt(
        &d0,
        &public,
        under_d0["CipherText"].as_str().unwrap(),
        cbc.clone(),
        rsa("OAEP_SHA256"),
    )
    .unwrap();
    assert_eq!(under_public["KeyArn"], json!(public));
    assert_eq!(
        peer.decrypt(
            &krd.key,
            "OAEP_SHA256",
            under_public["CipherText"].as_str().unwrap()
        ),
        data
    );
    // RSA on both sides, and the key pair's roles, are refused.
    assert_field(
        re_encrypt(
            &pair,
            &public,
            &under_pair,
            rsa(padding_type),
            rsa("OAEP_SHA256"),
        ),
        "OutgoingEncryptionAttributes",
    );
    assert_policy(
        re_encrypt(&public, &d0, &under_pair, rsa(padding_type), cbc.clone()),
        Rule::KeyClass,
    );
    assert_policy(
        re_encrypt(
            &d0,
            &pair,
            under_d0["CipherText"].as_str().unwrap(),
            cbc,
            rsa("OAEP_SHA256"),
        ),
        Rule::KeyClass,
    );
    // Failures are audited without the data.
    let lines = h.hsm.audit().lines().join("\n");
    assert!(lines.contains("\"eventName\":\"DecryptData\""));
    assert!(!lines.contains(data) && !lines.contains(&garbage[..64]));
}

/// `GetCertificateSigningRequest`: PKCS #10 requests for the HSM's RSA and ECC key pairs,
/// parsed by the peer (subject, public key, signature); SHA-224 refused for RSA; bad subjects
/// refused.
pub fn certificate_signing_requests<S: Store>(h: Harness<S>) {
    if !super::holds_key_pairs(&h) {
        return super::assert_key_pairs_refused(&h);
    }
    let peer = Peer::new();
    let s0 = "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE";
    let pair = arn_of(&h.ok(
        "CreateKey",
        json!({ "KeyAttributes": { "KeyUsage": s0, "KeyClass": "ASYMMETRIC_KEY_PAIR",
            "KeyAlgorithm": "RSA_2048", "KeyModesOfUse": { "Sign": true } }, "Exportable": false }),
    ));
    let cert = from_b64(
        &h.ok("GetPublicKeyCertificate", json!({ "KeyIdentifier": pair }))["KeyCertificate"],
    );
    let subject = json!({ "CommonName": "payhsm KRD 1", "OrganizationUnit": "Payments",
        "Organization": "Example Bank, Ltd.", "City": "Zürich", "StateOrProvince": "ZH",
        "Country": "CH", "EmailAddress": "keys@bank.example" });
    let csr = |key: &str, algorithm: &str, subject: &Value| {
        h.call(
            "GetCertificateSigningRequest",
            json!({ "KeyIdentifier": key, "SigningAlgorithm": algorithm,
                "CertificateSubject": subject }),
        )
    };
    for (algorithm, hash) in [
        ("SHA256", "sha256"),
        ("SHA384", "sha384"),
        ("SHA512", "sha512"),
    ] {
        let out = csr(&pair, algorithm, &subject).unwrap();
        let text = out["CertificateSigningRequest"].as_str().unwrap();
        // payhsm's own reader verifies the signature and reads the key.
        let pem = String::from_utf8(Base64::decode_vec(text).unwrap()).unwrap();
        let request = CertificateRequest::from_pem(&pem).unwrap();
        assert_eq!(request.public_key(), cert.public_key());
        let name = request.subject().to_string();
        assert!(
            name.contains("CN=payhsm KRD 1") && name.contains("C=CH"),
            "{name}"
        );
        let Some(python) = peer.python.as_ref() else {
            continue;
        };
        let parsed = pki::rsa_peer(python, &["csr", "--csr", text]);
        assert_eq!(parsed["signature_valid"], true);
        assert_eq!(parsed["hash"], hash);
        assert_eq!(parsed["attributes"], 0);
        assert_eq!(parsed["exponent"], cert.public_key().public_exponent());
        let modulus = hex::encode(&cert.public_key().to_pkcs1_der().unwrap());
        assert!(
            modulus.contains(parsed["modulus"].as_str().unwrap()),
            "the CSR's modulus is the key pair's"
        );
        let fields: Vec<(String, String)> = parsed["subject"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["field"].as_str().unwrap().to_owned(),
                    a["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = [
            "CommonName",
            "OrganizationUnit",
            "Organization",
            "City",
            "StateOrProvince",
            "Country",
            "EmailAddress",
        ]
        .iter()
        .map(|f| ((*f).to_owned(), subject[*f].as_str().unwrap().to_owned()))
        .collect();
        assert_eq!(fields, expected);
    }
    // Only the common name is required.
    csr(&pair, "SHA256", &json!({ "CommonName": "only" })).unwrap();
    // ECC key pairs sign with ECDSA, SHA-224 included (where the store holds ECC keys).
    let ecc = h.call(
        "CreateKey",
        json!({ "KeyAttributes": { "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
            "KeyClass": "ASYMMETRIC_KEY_PAIR", "KeyAlgorithm": "ECC_NIST_P256",
            "KeyModesOfUse": { "DeriveKey": true } },
            "DeriveKeyUsage": "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "Exportable": false }),
    );
    match ecc {
        Ok(out) => ecc_requests(&h, &peer, &arn_of(&out), &subject),
        Err(Error::NotSupported { message }) => {
            assert!(message.contains("not supported by this token"), "{message}");
        }
        Err(e) => panic!("{e}"),
    }
    // A key pair of any usage proves possession of its key; a token whose object may not sign
    // (a decryption key pair) says so.
    let d1 = arn_of(&h.ok(
        "CreateKey",
        json!({ "KeyAttributes": { "KeyUsage": "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
            "KeyClass": "ASYMMETRIC_KEY_PAIR", "KeyAlgorithm": "RSA_2048",
            "KeyModesOfUse": { "Decrypt": true, "Unwrap": true } }, "Exportable": false }),
    ));
    match csr(&d1, "SHA256", &subject) {
        Ok(_) => {}
        Err(Error::NotSupported { message }) if !super::exports_key_blocks(&h) => {
            assert!(
                message.contains("not supported by this token") && message.contains("Sign"),
                "{message}"
            );
        }
        Err(e) => panic!("{e}"),
    }
    // SHA-224 is refused for RSA, saying why; so are unknown algorithms.
    let message = assert_field(csr(&pair, "SHA224", &subject), "SigningAlgorithm");
    assert!(
        message.contains("SHA-224") && message.contains("aws-lc-rs"),
        "{message}"
    );
    assert_field(csr(&pair, "SHA1", &subject), "SigningAlgorithm");
    // Subjects the service's model refuses.
    for (member, value) in [
        ("CommonName", json!("")),
        ("CommonName", json!("a".repeat(65))),
        ("CommonName", json!("a<b")),
        ("Organization", json!("semi;colon")),
        ("Country", json!("CHE")),
        ("Country", json!("C1")),
        ("EmailAddress", json!("not an address")),
        ("City", json!("x".repeat(129))),
    ] {
        let mut bad = subject.clone();
        bad[member] = value;
        assert_field(
            csr(&pair, "SHA256", &bad),
            &format!("CertificateSubject.{member}"),
        );
    }
    assert_validation(csr(
        &pair,
        "SHA256",
        &json!({ "Organization": "no common name" }),
    ));
    // Key pairs only, usable ones.
    let ca_arn = super::asymmetric::import_root(&h, &pki::ca().cert);
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate"],
        false,
    );
    for key in [&ca_arn, &cvk] {
        assert_policy(csr(key, "SHA256", &subject), Rule::KeyClass);
    }
    h.ok("StopKeyUsage", json!({ "KeyIdentifier": pair }));
    assert_policy(csr(&pair, "SHA256", &subject), Rule::KeyDisabled);
    // Audited, by key and algorithm.
    let lines = h.hsm.audit().lines().join("\n");
    assert!(lines.contains("\"eventName\":\"GetCertificateSigningRequest\""));
}

/// CSRs of ECC key pairs on every curve and hash, parsed by the peer: the key pair's public
/// point, a valid ECDSA signature with the asked hash.
fn ecc_requests<S: Store>(h: &Harness<S>, peer: &Peer, p256: &str, subject: &Value) {
    let mut pairs = vec![(p256.to_owned(), "secp256r1")];
    for (algorithm, curve) in [
        ("ECC_NIST_P384", "secp384r1"),
        ("ECC_NIST_P521", "secp521r1"),
    ] {
        let out = h.ok(
            "CreateKey",
            json!({ "KeyAttributes": { "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
                "KeyClass": "ASYMMETRIC_KEY_PAIR", "KeyAlgorithm": algorithm,
                "KeyModesOfUse": { "DeriveKey": true } },
                "DeriveKeyUsage": "TR31_P0_PIN_ENCRYPTION_KEY", "Exportable": false }),
        );
        pairs.push((arn_of(&out), curve));
    }
    for (pair, curve) in &pairs {
        let certificate = h.ok("GetPublicKeyCertificate", json!({ "KeyIdentifier": pair }));
        for (algorithm, hash) in [
            ("SHA224", "sha224"),
            ("SHA256", "sha256"),
            ("SHA384", "sha384"),
            ("SHA512", "sha512"),
        ] {
            let out = h.ok(
                "GetCertificateSigningRequest",
                json!({ "KeyIdentifier": pair, "SigningAlgorithm": algorithm,
                    "CertificateSubject": subject }),
            );
            let text = out["CertificateSigningRequest"].as_str().unwrap();
            let pem = String::from_utf8(Base64::decode_vec(text).unwrap()).unwrap();
            assert!(
                pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
                "{pem}"
            );
            let Some(python) = peer.python.as_ref() else {
                continue;
            };
            let parsed = pki::rsa_peer(python, &["csr", "--csr", text]);
            assert_eq!(parsed["signature_valid"], true, "{curve} {algorithm}");
            assert_eq!(parsed["hash"], hash);
            assert_eq!(parsed["curve"], *curve);
            assert_eq!(parsed["subject"][0]["value"], subject["CommonName"]);
            // The point is the one the key pair's certificate carries.
            let cert_pem = String::from_utf8(
                Base64::decode_vec(certificate["KeyCertificate"].as_str().unwrap()).unwrap(),
            )
            .unwrap();
            let cert_der = pem_body(&cert_pem);
            let point = parsed["point"].as_str().unwrap();
            assert!(hex::encode(&cert_der).contains(point), "{curve}");
        }
    }
}

/// The DER inside a PEM document.
fn pem_body(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    Base64::decode_vec(&body).unwrap()
}
