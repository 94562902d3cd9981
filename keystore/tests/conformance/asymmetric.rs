//! Asymmetric keys, imported certificates and TR-34 by key id, on every store.

use payhsm_core::{kcv, key::KeyAlgorithm, rng::OsRandom, secret::KeyMaterial};
use payhsm_keystore::{Error, Rule, Store, exchange::pki::MAX_CERTIFICATE_LEN};
use payhsm_tr34::{
    cert::{Certificate, Purpose, verify_chain},
    rsa::RsaKeySize,
    token::{self, ExportMode, ExportRequest, Form, ImportRequest, Trust},
};
use serde_json::{Value, json};

use super::{
    Harness, arn_of, assert_policy, assert_validation, key_id,
    pki::{self, b64, from_b64},
};

/// The HSM clock as an X.509 time.
fn hsm_time<S: Store>(h: &Harness<S>) -> payhsm_tr34::DateTime {
    use payhsm_keystore::clock::Clock as _;
    let secs = u64::try_from(h.clock.now().0 / 1000).unwrap();
    payhsm_tr34::DateTime::from_unix_duration(std::time::Duration::from_secs(secs)).unwrap()
}

/// Creates an RSA key pair.
fn create_pair<S: Store>(h: &Harness<S>, usage: &str, algorithm: &str, modes: Value) -> Value {
    h.ok(
        "CreateKey",
        json!({ "KeyAttributes": { "KeyUsage": usage, "KeyClass": "ASYMMETRIC_KEY_PAIR",
            "KeyAlgorithm": algorithm, "KeyModesOfUse": modes }, "Exportable": false }),
    )
}

/// Imports `cert` as a root CA (S0, `Verify`) and returns its ARN.
pub fn import_root<S: Store>(h: &Harness<S>, cert: &Certificate) -> String {
    let algorithm = cert.public_key().size().key_algorithm().name();
    arn_of(&h.ok("ImportKey", json!({ "KeyMaterial": { "RootCertificatePublicKey": {
        "KeyAttributes": { "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
            "KeyClass": "PUBLIC_KEY", "KeyAlgorithm": algorithm, "KeyModesOfUse": { "Verify": true } },
        "PublicKeyCertificate": b64(cert) } } })))
}

/// Imports `cert` as a trusted public key with `usage` and `modes`, under the CA `ca_arn`.
pub fn import_trusted<S: Store>(
    h: &Harness<S>,
    cert: &Certificate,
    usage: &str,
    modes: Value,
    ca_arn: &str,
) -> Result<Value, Error> {
    let algorithm = cert.public_key().size().key_algorithm().name();
    h.call(
        "ImportKey",
        json!({ "KeyMaterial": { "TrustedCertificatePublicKey": {
        "KeyAttributes": { "KeyUsage": usage, "KeyClass": "PUBLIC_KEY", "KeyAlgorithm": algorithm,
            "KeyModesOfUse": modes },
        "PublicKeyCertificate": b64(cert),
        "CertificateAuthorityPublicKeyIdentifier": ca_arn } } }),
    )
}

/// The SHA-1 KCV of a certificate's public key.
fn public_kcv(cert: &Certificate) -> String {
    kcv::public_key_kcv(&cert.public_key().to_pkcs1_der().unwrap()).to_string()
}

/// RSA key pairs: created inside, sealed under the master key, certified by the region CA;
/// internal keys out of reach.
pub fn asymmetric_keys<S: Store>(h: Harness<S>) {
    if !super::holds_key_pairs(&h) {
        return super::assert_key_pairs_refused(&h);
    }
    for (algorithm, usage, modes, purpose) in [
        (
            "RSA_2048",
            "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
            json!({ "Sign": true }),
            Purpose::KdhSigning,
        ),
        (
            "RSA_3072",
            "TR31_K2_TR34_ASYMMETRIC_KEY",
            json!({ "Decrypt": true, "Unwrap": true }),
            Purpose::KrdKeyTransport,
        ),
        (
            "RSA_4096",
            "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
            json!({ "Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true }),
            Purpose::KrdKeyTransport,
        ),
    ] {
        let out = create_pair(&h, usage, algorithm, modes);
        let key = &out["Key"];
        assert_eq!(key["KeyAttributes"]["KeyClass"], "ASYMMETRIC_KEY_PAIR");
        assert_eq!(key["KeyAttributes"]["KeyAlgorithm"], algorithm);
        assert_eq!(key["KeyCheckValueAlgorithm"], "SHA_1");
        assert_eq!(key["KeyOrigin"], "AWS_PAYMENT_CRYPTOGRAPHY");
        let arn = arn_of(&out);
        // Certified by the region CA, the same certificate every time.
        let got = h.ok("GetPublicKeyCertificate", json!({ "KeyIdentifier": arn }));
        let again = h.ok("GetPublicKeyCertificate", json!({ "KeyIdentifier": arn }));
        assert_eq!(got, again);
        let cert = from_b64(&got["KeyCertificate"]);
        let chain = from_b64(&got["KeyCertificateChain"]);
        verify_chain(&cert, &[], &chain, hsm_time(&h), purpose).unwrap();
        assert_eq!(cert.public_key().size().key_algorithm().name(), algorithm);
        assert_eq!(key["KeyCheckValue"], public_kcv(&cert));
        // At rest: a TR-31 D block whose payload is the PKCS #1 key, never in clear; or, in a
        // token store, a reference to the token's objects, and the private key never revealed.
        let record = h.hsm.store().get_key(key_id(&arn)).unwrap().unwrap();
        let block = record.key_block.clone().unwrap();
        let private = h.hsm.store().private_key(&record).unwrap();
        assert_eq!(private.public_key(), cert.public_key());
        if block.starts_with("pkcs11:") {
            match h.hsm.store().reveal(&record) {
                Err(Error::NotSupported { message }) => {
                    assert!(message.contains("never leaves"), "{message}")
                }
                other => panic!("a token's private key was revealed: {other:?}"),
            }
            continue;
        }
        assert!(
            block.starts_with('D') && &block[7..8] == "R",
            "{}",
            &block[..16]
        );
        let pkcs1 = h.hsm.store().reveal(&record).unwrap();
        let clear = payhsm_core::hex::encode(pkcs1.expose_secret());
        assert!(!block.to_uppercase().contains(&clear[40..200]));
    }
    let ca_arn = import_root(&h, &pki::ca().cert);
    // Refusals, with nothing stored.
    let before = h.all_keys(None).len();
    let create = |usage: &str, class: &str, algorithm: &str, modes: Value| {
        h.call(
            "CreateKey",
            json!({ "KeyAttributes": { "KeyUsage": usage, "KeyClass": class,
                "KeyAlgorithm": algorithm, "KeyModesOfUse": modes }, "Exportable": true }),
        )
    };
    let s0 = "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE";
    assert_policy(
        create(s0, "PUBLIC_KEY", "RSA_2048", json!({ "Verify": true })),
        Rule::KeyClass,
    );
    assert_policy(
        create(s0, "SYMMETRIC_KEY", "RSA_2048", json!({ "Sign": true })),
        Rule::KeyAttributes,
    );
    assert_policy(
        create(
            s0,
            "ASYMMETRIC_KEY_PAIR",
            "TDES_2KEY",
            json!({ "Sign": true }),
        ),
        Rule::KeyAttributes,
    );
    assert_policy(
        create(
            s0,
            "ASYMMETRIC_KEY_PAIR",
            "RSA_2048",
            json!({ "Verify": true }),
        ),
        Rule::KeyAttributes,
    );
    assert_policy(
        create(
            "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
            "ASYMMETRIC_KEY_PAIR",
            "RSA_2048",
            json!({ "DeriveKey": true }),
        ),
        Rule::KeyAttributes,
    );
    assert_policy(
        create(
            "TR31_C0_CARD_VERIFICATION_KEY",
            "ASYMMETRIC_KEY_PAIR",
            "RSA_2048",
            json!({ "Generate": true }),
        ),
        Rule::KeyAttributes,
    );
    assert_validation(h.call(
        "CreateKey",
        json!({ "KeyAttributes": { "KeyUsage": s0, "KeyClass": "ASYMMETRIC_KEY_PAIR",
            "KeyAlgorithm": "RSA_2048", "KeyModesOfUse": { "Sign": true } },
            "Exportable": false, "KeyCheckValueAlgorithm": "CMAC" }),
    ));
    assert_eq!(h.all_keys(None).len(), before);
    // A key pair never leaves, even if marked exportable.
    let exportable = arn_of(
        &create(
            s0,
            "ASYMMETRIC_KEY_PAIR",
            "RSA_2048",
            json!({ "Sign": true }),
        )
        .unwrap(),
    );
    let kbpk = h.create(
        "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
        "AES_256",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    assert_policy(
        h.call(
            "ExportKey",
            json!({ "ExportKeyIdentifier": exportable,
        "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": kbpk } } }),
        ),
        Rule::KeyClass,
    );
    // GetPublicKeyCertificate serves key pairs only.
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate"],
        false,
    );
    for arn in [&cvk, &ca_arn] {
        assert_policy(
            h.call("GetPublicKeyCertificate", json!({ "KeyIdentifier": arn })),
            Rule::KeyClass,
        );
    }
    // An RSA key pair plays no symmetric role.
    assert_policy(
        h.call(
            "GenerateMac",
            json!({ "KeyIdentifier": exportable, "MessageData": "00",
        "GenerationAttributes": { "Algorithm": "CMAC" } }),
        ),
        Rule::KeyClass,
    );
    // The region CA is in the store, but no operation by key id reaches it.
    let internal = format!(
        "arn:aws:payment-cryptography:us-east-1:{}:key/REGIONCA00000001",
        payhsm_keystore::arn::AccountId::DEFAULT
    );
    assert!(h.hsm.store().get_key("REGIONCA00000001").unwrap().is_some());
    assert!(!h.all_keys(None).contains(&internal));
    for (op, req) in [
        ("GetKey", json!({ "KeyIdentifier": internal })),
        (
            "GetPublicKeyCertificate",
            json!({ "KeyIdentifier": internal }),
        ),
        ("DeleteKey", json!({ "KeyIdentifier": internal })),
        ("StopKeyUsage", json!({ "KeyIdentifier": internal })),
        (
            "CreateAlias",
            json!({ "AliasName": "alias/ca", "KeyArn": internal }),
        ),
        (
            "TagResource",
            json!({ "ResourceArn": internal, "Tags": [{ "Key": "a", "Value": "b" }] }),
        ),
        ("ListTagsForResource", json!({ "ResourceArn": internal })),
    ] {
        assert!(
            matches!(h.call(op, req), Err(Error::ResourceNotFound { .. })),
            "{op}"
        );
    }
}

/// Root and trusted certificate imports: what is a trust anchor, what chains to one.
pub fn certificate_imports<S: Store>(h: Harness<S>) {
    if !super::holds_key_pairs(&h) {
        return super::assert_key_pairs_refused(&h);
    }
    let s0 = "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE";
    let root = |cert: &Certificate, usage: &str, algorithm: &str, modes: Value| {
        h.call("ImportKey", json!({ "KeyMaterial": { "RootCertificatePublicKey": {
            "KeyAttributes": { "KeyUsage": usage, "KeyClass": "PUBLIC_KEY", "KeyAlgorithm": algorithm,
                "KeyModesOfUse": modes },
            "PublicKeyCertificate": b64(cert) } } }))
    };
    let ca = pki::ca();
    let imported = root(&ca.cert, s0, "RSA_2048", json!({ "Verify": true })).unwrap();
    let key = &imported["Key"];
    assert_eq!(key["KeyAttributes"]["KeyClass"], "PUBLIC_KEY");
    assert_eq!(key["KeyOrigin"], "EXTERNAL");
    assert_eq!(key["Exportable"], false);
    assert_eq!(key["KeyCheckValueAlgorithm"], "SHA_1");
    assert_eq!(key["KeyCheckValue"], public_kcv(&ca.cert));
    let ca_arn = arn_of(&imported);
    // The certificate rests sealed (a TR-31 block, or a token's certificate object) and comes
    // back the same.
    let record = h.hsm.store().get_key(key_id(&ca_arn)).unwrap().unwrap();
    let block = record.key_block.as_deref().unwrap();
    assert!(
        block.starts_with('D') || block.starts_with("pkcs11:"),
        "{block}"
    );
    assert_eq!(
        h.hsm.store().reveal(&record).unwrap().expose_secret(),
        ca.cert.to_der()
    );
    // PEM text is accepted as well as base64 PEM.
    h.ok(
        "ImportKey",
        json!({ "KeyMaterial": { "RootCertificatePublicKey": {
        "KeyAttributes": { "KeyUsage": s0, "KeyClass": "PUBLIC_KEY", "KeyAlgorithm": "RSA_2048",
            "KeyModesOfUse": { "Verify": true } },
        "PublicKeyCertificate": ca.cert.to_pem().unwrap() } } }),
    );

    let before = h.all_keys(None).len();
    // Not self-signed, not a CA, expired, wrong size, bad encoding.
    assert_validation(root(
        &pki::kdh().cert,
        s0,
        "RSA_2048",
        json!({ "Verify": true }),
    ));
    assert_validation(root(
        &pki::expired_ca().cert,
        s0,
        "RSA_2048",
        json!({ "Verify": true }),
    ));
    assert_validation(root(&ca.cert, s0, "RSA_3072", json!({ "Verify": true })));
    assert_validation(h.call(
        "ImportKey",
        json!({ "KeyMaterial": { "RootCertificatePublicKey": {
        "KeyAttributes": { "KeyUsage": s0, "KeyClass": "PUBLIC_KEY", "KeyAlgorithm": "RSA_2048",
            "KeyModesOfUse": { "Verify": true } },
        "PublicKeyCertificate": "bm90IGEgY2VydGlmaWNhdGU=" } } }),
    ));
    let huge = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----",
        "A".repeat(4 * MAX_CERTIFICATE_LEN)
    );
    assert_validation(h.call(
        "ImportKey",
        json!({ "KeyMaterial": { "RootCertificatePublicKey": {
        "KeyAttributes": { "KeyUsage": s0, "KeyClass": "PUBLIC_KEY", "KeyAlgorithm": "RSA_2048",
            "KeyModesOfUse": { "Verify": true } },
        "PublicKeyCertificate": huge } } }),
    ));
    // Attributes a root cannot have.
    assert_policy(
        root(
            &ca.cert,
            s0,
            "RSA_2048",
            json!({ "Encrypt": true, "Wrap": true }),
        ),
        Rule::KeyAttributes,
    );
    assert_policy(
        root(
            &ca.cert,
            "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
            "RSA_2048",
            json!({ "Encrypt": true, "Wrap": true }),
        ),
        Rule::KeyUsage,
    );
    assert_policy(
        h.call(
            "ImportKey",
            json!({ "KeyMaterial": { "RootCertificatePublicKey": {
            "KeyAttributes": { "KeyUsage": s0, "KeyClass": "ASYMMETRIC_KEY_PAIR",
                "KeyAlgorithm": "RSA_2048", "KeyModesOfUse": { "Sign": true } },
            "PublicKeyCertificate": b64(&ca.cert) } } }),
        ),
        Rule::KeyClass,
    );
    assert_eq!(
        h.all_keys(None).len(),
        before,
        "refused roots stored nothing"
    );

    // Trusted certificates under the imported CA: a KRD key for key transport, a KDH key for
    // signatures.
    let krd = pki::krd(RsaKeySize::Rsa2048);
    for usage in [
        "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
        "TR31_K2_TR34_ASYMMETRIC_KEY",
    ] {
        let out = import_trusted(
            &h,
            &krd.cert,
            usage,
            json!({ "Encrypt": true, "Wrap": true }),
            &ca_arn,
        )
        .unwrap();
        assert_eq!(out["Key"]["KeyCheckValue"], public_kcv(&krd.cert));
    }
    import_trusted(&h, &pki::kdh().cert, s0, json!({ "Verify": true }), &ca_arn).unwrap();
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate"],
        false,
    );
    let after = h.all_keys(None).len();
    // Refusals: another CA's certificate, the wrong key usage in the certificate, a CA
    // identifier that is not a CA key, modes a public key cannot have.
    assert_validation(import_trusted(
        &h,
        &pki::foreign_krd().cert,
        "TR31_K2_TR34_ASYMMETRIC_KEY",
        json!({ "Encrypt": true, "Wrap": true }),
        &ca_arn,
    ));
    assert_validation(import_trusted(
        &h,
        &pki::kdh().cert,
        "TR31_K2_TR34_ASYMMETRIC_KEY",
        json!({ "Encrypt": true, "Wrap": true }),
        &ca_arn,
    ));
    assert_validation(import_trusted(
        &h,
        &krd.cert,
        s0,
        json!({ "Verify": true }),
        &ca_arn,
    ));
    assert_policy(
        import_trusted(
            &h,
            &krd.cert,
            "TR31_K2_TR34_ASYMMETRIC_KEY",
            json!({ "Encrypt": true, "Wrap": true }),
            &cvk,
        ),
        Rule::KeyClass,
    );
    let trusted_krd = import_trusted(
        &h,
        &pki::krd(RsaKeySize::Rsa3072).cert,
        "TR31_K2_TR34_ASYMMETRIC_KEY",
        json!({ "Encrypt": true, "Wrap": true }),
        &ca_arn,
    )
    .unwrap();
    assert_policy(
        import_trusted(
            &h,
            &krd.cert,
            "TR31_K2_TR34_ASYMMETRIC_KEY",
            json!({ "Encrypt": true, "Wrap": true }),
            &arn_of(&trusted_krd),
        ),
        Rule::KeyUsage,
    );
    assert_policy(
        import_trusted(
            &h,
            &krd.cert,
            "TR31_K2_TR34_ASYMMETRIC_KEY",
            json!({ "Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true }),
            &ca_arn,
        ),
        Rule::KeyAttributes,
    );
    assert_eq!(
        h.all_keys(None).len(),
        after + 1,
        "only the good import stored"
    );
}

/// The parameters of an import: the wrapping (KRD) certificate, its chain, the token.
pub struct ImportParameters {
    pub krd: Certificate,
    pub chain: Certificate,
    pub token: String,
}

fn import_parameters<S: Store>(h: &Harness<S>, algorithm: &str, reuse: bool) -> ImportParameters {
    import_parameters_for(h, "TR34_KEY_BLOCK", algorithm, reuse)
}

/// `GetParametersForImport` for `material_type` (`TR34_KEY_BLOCK` or `KEY_CRYPTOGRAM`).
pub fn import_parameters_for<S: Store>(
    h: &Harness<S>,
    material_type: &str,
    algorithm: &str,
    reuse: bool,
) -> ImportParameters {
    let p = h.ok(
        "GetParametersForImport",
        json!({ "KeyMaterialType": material_type, "WrappingKeyAlgorithm": algorithm,
            "ReuseLastGeneratedToken": reuse }),
    );
    assert_eq!(p["WrappingKeyAlgorithm"], algorithm);
    ImportParameters {
        krd: from_b64(&p["WrappingKeyCertificate"]),
        chain: from_b64(&p["WrappingKeyCertificateChain"]),
        token: p["ImportToken"].as_str().unwrap().to_owned(),
    }
}

const NONCE: &str = "0F1E2D3C4B5A6978";

/// A token from payhsm-tr34's KDH side.
fn kdh_token(
    krd: &Certificate,
    chain: &Certificate,
    time: payhsm_tr34::DateTime,
    header: &str,
    key: &str,
    nonce: &str,
) -> String {
    let nonce = payhsm_core::hex::decode("nonce", nonce).unwrap();
    let kdh = pki::kdh();
    let request = ExportRequest {
        form: Form::X9Tr34_2012,
        kdh_certificate: &kdh.cert,
        krd_certificate: krd,
        krd_trust: Some(Trust {
            ca: chain,
            intermediates: &[],
            time,
        }),
        mode: ExportMode::TwoPass { nonce: &nonce },
        header: header.parse().unwrap(),
    };
    let key = KeyMaterial::from_hex("key", key).unwrap();
    payhsm_core::hex::encode(&token::export(&key, &request, &kdh.key, &mut OsRandom).unwrap())
}

/// The `ImportKey` request of a TR-34 key block.
fn tr34_request(ca_arn: &str, kdh: &Certificate, token: &str, block: &str, nonce: &str) -> Value {
    json!({ "KeyMaterial": { "Tr34KeyBlock": {
        "CertificateAuthorityPublicKeyIdentifier": ca_arn, "SigningKeyCertificate": b64(kdh),
        "ImportToken": token, "WrappedKeyBlock": block, "KeyBlockFormat": "X9_TR34_2012",
        "RandomNonce": nonce } } })
}

fn tr34_import<S: Store>(
    h: &Harness<S>,
    ca_arn: &str,
    kdh: &Certificate,
    token: &str,
    block: &str,
    nonce: &str,
) -> Result<Value, Error> {
    h.call("ImportKey", tr34_request(ca_arn, kdh, token, block, nonce))
}

/// The refusal of a key block whose nonce was consumed with its import token before.
#[track_caller]
pub fn assert_nonce_replayed(r: Result<Value, Error>) {
    match r {
        Err(Error::Validation { field_list, .. }) => {
            assert_eq!(field_list[0].path, "KeyMaterial.Tr34KeyBlock.RandomNonce");
            assert!(
                field_list[0]
                    .message
                    .contains("already used with this import token"),
                "{}",
                field_list[0].message
            );
        }
        other => panic!("{other:?}"),
    }
}

/// Sets the harness's clock to the system time.
fn at_system_time<S: Store>(h: &Harness<S>) {
    use payhsm_keystore::clock::{Clock as _, SystemClock};
    h.clock.advance_ms(SystemClock.now().0 - h.clock.now().0);
}

/// Imports one TR-34 key block (at the system time) and returns the `ImportKey` request, for
/// a replay after a restart ([`assert_nonce_replayed`]).
pub fn tr34_import_once<S: Store>(h: &Harness<S>) -> Value {
    at_system_time(h);
    let ca_arn = import_root(h, &pki::ca().cert);
    let p = import_parameters(h, "RSA_2048", false);
    let tdes = "0123456789ABCDEFFEDCBA9876543210";
    let block = kdh_token(
        &p.krd,
        &p.chain,
        hsm_time(h),
        "D0000C0TC00E0000",
        tdes,
        NONCE,
    );
    let request = tr34_request(&ca_arn, &pki::kdh().cert, &p.token, &block, NONCE);
    h.ok("ImportKey", request.clone());
    request
}

/// Replays `request` on an HSM at the system time: refused for its consumed nonce.
pub fn tr34_replay_is_refused<S: Store>(h: &Harness<S>, request: Value) {
    at_system_time(h);
    assert_nonce_replayed(h.call("ImportKey", request));
}

fn kcv_of(algorithm: KeyAlgorithm, hex: &str) -> String {
    let k = payhsm_core::crypto::SoftwareKey::from_hex(algorithm, hex).unwrap();
    kcv::default_kcv(&k).unwrap().to_string()
}

/// TR-34 import: tokens from payhsm-tr34's KDH side and from the independent Python builder;
/// every way a token or its parameters can be wrong is refused with nothing stored.
pub fn tr34_import_by_key_id<S: Store>(h: Harness<S>) {
    if !super::holds_key_pairs(&h) {
        return super::assert_key_pairs_refused(&h);
    }
    // The Python builder certifies its KDH from the real time on; so does this HSM's clock.
    at_system_time(&h);
    let ca_arn = import_root(&h, &pki::ca().cert);
    let now = hsm_time(&h);
    let p = import_parameters(&h, "RSA_2048", false);
    verify_chain(&p.krd, &[], &p.chain, now, Purpose::KrdKeyTransport).unwrap();
    let tdes = "0123456789ABCDEFFEDCBA9876543210";
    let block = kdh_token(&p.krd, &p.chain, now, "D0000C0TC00E0000", tdes, NONCE);
    let before = h.all_keys(None).len();
    let imported = match tr34_import(&h, &ca_arn, &pki::kdh().cert, &p.token, &block, NONCE) {
        Ok(imported) => imported,
        // A token without RSAES-OAEP with SHA-256 (SoftHSM 2.6) says so, storing nothing; a
        // software store never refuses.
        Err(Error::NotSupported { message }) if !super::exports_key_blocks(&h) => {
            assert!(
                message.contains("not supported by this token") && message.contains("OAEP"),
                "{message}"
            );
            // exports_key_blocks created one key.
            assert_eq!(h.all_keys(None).len(), before + 1);
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let key = &imported["Key"];
    assert_eq!(key["KeyCheckValue"], kcv_of(KeyAlgorithm::Tdes2Key, tdes));
    assert_eq!(key["KeyOrigin"], "EXTERNAL");
    assert_eq!(key["Exportable"], true);
    assert_eq!(
        key["KeyAttributes"]["KeyUsage"],
        "TR31_C0_CARD_VERIFICATION_KEY"
    );
    assert_eq!(key["KeyAttributes"]["KeyModesOfUse"]["Verify"], true);
    // The token is reusable until it expires; ReuseLastGeneratedToken returns it.
    let again = kdh_token(
        &p.krd,
        &p.chain,
        now,
        "D0000K0TB00N0000",
        tdes,
        "00112233445566778899AABB",
    );
    let kek = tr34_import(
        &h,
        &ca_arn,
        &pki::kdh().cert,
        &p.token,
        &again,
        "00112233445566778899AABB",
    )
    .unwrap();
    assert_eq!(kek["Key"]["Exportable"], false);
    // But a key block imports once: replayed with its nonce and token it is refused, naming
    // the nonce, with nothing stored.
    let stored = h.all_keys(None).len();
    for (replayed, nonce) in [(&block, NONCE), (&again, "00112233445566778899AABB")] {
        assert_nonce_replayed(tr34_import(
            &h,
            &ca_arn,
            &pki::kdh().cert,
            &p.token,
            replayed,
            nonce,
        ));
    }
    assert_eq!(h.all_keys(None).len(), stored);
    // A refused import consumes nothing: its nonce still serves the next key block.
    let fresh = "A1A2A3A4A5A6A7A8";
    let refused = kdh_token(&p.krd, &p.chain, now, "D0000C0TB00E0000", tdes, fresh);
    assert_policy(
        tr34_import(&h, &ca_arn, &pki::kdh().cert, &p.token, &refused, fresh),
        Rule::KeyAttributes,
    );
    let accepted = kdh_token(&p.krd, &p.chain, now, "D0000C0TC00E0000", tdes, fresh);
    tr34_import(&h, &ca_arn, &pki::kdh().cert, &p.token, &accepted, fresh).unwrap();
    assert_eq!(import_parameters(&h, "RSA_2048", true).token, p.token);
    assert_ne!(import_parameters(&h, "RSA_2048", false).token, p.token);
    // AES-128 needs an RSA-3072 or larger KRD key. (The nonce is remembered per import
    // token: this token has not seen NONCE.)
    let aes = "00112233445566778899AABBCCDDEEFF";
    let p3 = import_parameters(&h, "RSA_3072", false);
    let aes_block = kdh_token(&p3.krd, &p3.chain, now, "D0000K0AB00E0000", aes, NONCE);
    let out = tr34_import(&h, &ca_arn, &pki::kdh().cert, &p3.token, &aes_block, NONCE).unwrap();
    assert_eq!(
        out["Key"]["KeyCheckValue"],
        kcv_of(KeyAlgorithm::Aes128, aes)
    );
    assert_eq!(out["Key"]["KeyAttributes"]["KeyAlgorithm"], "AES_128");

    // The independent implementation's tokens (its own KDH CA and KDH certificate).
    if let Some(python) = pki::python() {
        for (header, key, params, algorithm) in [
            ("D9999K0TB00E0000", tdes, &p, KeyAlgorithm::Tdes2Key),
            ("D9999K0AB00E0000", aes, &p3, KeyAlgorithm::Aes128),
        ] {
            let dir = pki::scratch_dir();
            let krd_pem = pki::write(&dir, "krd.pem", &params.krd.to_pem().unwrap());
            let out = pki::make_token(
                &python,
                &[
                    "import-token",
                    "--krd-cert",
                    &krd_pem,
                    "--key",
                    key,
                    "--header",
                    header,
                    "--form",
                    "X9_TR34_2012",
                    "--out-dir",
                    dir.to_str().unwrap(),
                ],
            );
            let read = |name: &str| {
                Certificate::from_pem(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
            };
            let (kdh, kdh_ca) = (read("kdh.pem"), read("kdh_ca.pem"));
            let kdh_ca_arn = import_root(&h, &kdh_ca);
            let block = out["token"].as_str().unwrap();
            let nonce = out["nonce"].as_str().unwrap();
            let imported = tr34_import(&h, &kdh_ca_arn, &kdh, &params.token, block, nonce)
                .unwrap_or_else(|e| panic!("{header}: {e}"));
            assert_eq!(
                imported["Key"]["KeyCheckValue"],
                kcv_of(algorithm, key),
                "{header}"
            );
            // The same token under our own CA does not chain.
            assert_validation(tr34_import(&h, &ca_arn, &kdh, &params.token, block, nonce));
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    // Refusals, with nothing stored and each one audited.
    let before = h.all_keys(None).len();
    let kdh = &pki::kdh().cert;
    let tamper = |at: usize| {
        let mut bytes = block.clone().into_bytes();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        String::from_utf8(bytes).unwrap()
    };
    for tampered in [
        tamper(block.len() / 2),
        tamper(block.len() - 3),
        tamper(200),
    ] {
        assert_validation(tr34_import(&h, &ca_arn, kdh, &p.token, &tampered, NONCE));
    }
    assert_validation(tr34_import(
        &h,
        &ca_arn,
        kdh,
        &p.token,
        &block[..block.len() - 2],
        NONCE,
    ));
    // Another nonce, another KDH, another CA, the other KRD's token.
    assert_validation(tr34_import(
        &h,
        &ca_arn,
        kdh,
        &p.token,
        &block,
        "0F1E2D3C4B5A6979",
    ));
    assert_validation(tr34_import(
        &h,
        &ca_arn,
        &pki::foreign_kdh().cert,
        &p.token,
        &block,
        NONCE,
    ));
    let other_ca_arn = import_root(&h, &pki::other_ca().cert);
    assert_validation(tr34_import(&h, &other_ca_arn, kdh, &p.token, &block, NONCE));
    assert_validation(tr34_import(&h, &ca_arn, kdh, &p3.token, &block, NONCE));
    // Tokens this HSM did not issue, or for the other direction.
    let export_token = h.ok(
        "GetParametersForExport",
        json!({ "KeyMaterialType": "TR34_KEY_BLOCK",
        "SigningKeyAlgorithm": "RSA_2048" }),
    )["ExportToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let foreign_token = {
        let other = super::hsm(super::memory_store());
        let q = import_parameters(&other, "RSA_2048", false);
        q.token
    };
    for token in [
        export_token.as_str(),
        foreign_token.as_str(),
        "import-token-IMPORT00000000000000000000000",
        "import-token-abcdefghijklmnop",
        "not-a-token",
    ] {
        assert_validation(tr34_import(&h, &ca_arn, kdh, token, &block, NONCE));
    }
    // A CA identifier that is not a CA public key.
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate"],
        false,
    );
    assert_policy(
        tr34_import(&h, &cvk, kdh, &p.token, &block, NONCE),
        Rule::KeyClass,
    );
    // Headers the attribute table refuses, and a weak TDES key.
    let bad_header = kdh_token(&p.krd, &p.chain, now, "D0000C0TB00E0000", tdes, NONCE);
    assert_policy(
        tr34_import(&h, &ca_arn, kdh, &p.token, &bad_header, NONCE),
        Rule::KeyAttributes,
    );
    let weak = kdh_token(
        &p.krd,
        &p.chain,
        now,
        "D0000C0TC00E0000",
        "0123456789ABCDEF0123456789ABCDEF",
        NONCE,
    );
    assert_policy(
        tr34_import(&h, &ca_arn, kdh, &p.token, &weak, NONCE),
        Rule::WeakKey,
    );
    // Requests the service's API refuses.
    for (member, value) in [
        ("KeyBlockFormat", json!("X9_TR34_2019")),
        ("RandomNonce", json!("0011")),
        ("WrappedKeyBlock", json!("XYZ")),
        ("WrappingKeyIdentifier", json!(cvk)),
    ] {
        let mut req = json!({ "CertificateAuthorityPublicKeyIdentifier": ca_arn,
            "SigningKeyCertificate": b64(kdh), "ImportToken": p.token, "WrappedKeyBlock": block,
            "KeyBlockFormat": "X9_TR34_2012", "RandomNonce": NONCE });
        req[member] = value;
        assert_validation(h.call(
            "ImportKey",
            json!({ "KeyMaterial": { "Tr34KeyBlock": req } }),
        ));
    }
    for missing in ["RandomNonce", "ImportToken"] {
        let mut req = json!({ "CertificateAuthorityPublicKeyIdentifier": ca_arn,
            "SigningKeyCertificate": b64(kdh), "ImportToken": p.token, "WrappedKeyBlock": block,
            "KeyBlockFormat": "X9_TR34_2012", "RandomNonce": NONCE });
        req.as_object_mut().unwrap().remove(missing);
        assert_validation(h.call(
            "ImportKey",
            json!({ "KeyMaterial": { "Tr34KeyBlock": req } }),
        ));
    }
    assert_eq!(
        h.all_keys(None).len(),
        before + 2,
        "only the other CA and the CVK were stored"
    );
    let failures = h
        .hsm
        .audit()
        .lines()
        .iter()
        .filter(|l| l.contains("\"eventName\":\"ImportKey\"") && l.contains("\"errorCode\""))
        .count();
    assert!(failures >= 20, "{failures} failed imports audited");

    // Tokens expire after 30 days; the next parameters call destroys their key pairs.
    h.clock.advance_days(30);
    assert_validation(tr34_import(&h, &ca_arn, kdh, &p.token, &block, NONCE));
    let internal = p.token.strip_prefix("import-token-").unwrap();
    assert!(
        h.hsm
            .store()
            .get_key(internal)
            .unwrap()
            .unwrap()
            .key_block
            .is_some()
    );
    let fresh = import_parameters(&h, "RSA_2048", true);
    assert_ne!(fresh.token, p.token, "an expired token is not reused");
    let destroyed = h.hsm.store().get_key(internal).unwrap().unwrap();
    assert_eq!(
        destroyed.state,
        payhsm_keystore::model::KeyState::DeleteComplete
    );
    assert!(destroyed.key_block.is_none());
    assert!(
        h.hsm
            .audit()
            .lines()
            .iter()
            .any(|l| l.contains("AwsServiceEvent") && l.contains(internal))
    );
    assert_validation(tr34_import(&h, &ca_arn, kdh, &p.token, &block, NONCE));
    // Parameters for what needs none, or keys too small.
    for (material, algorithm) in [
        ("TR31_KEY_BLOCK", "RSA_2048"),
        ("TRUSTED_PUBLIC_KEY_CERTIFICATE", "RSA_2048"),
        ("KEY_CRYPTOGRAM", "AES_128"),
        ("TR34_KEY_BLOCK", "RSA_1024"),
        ("TR34_KEY_BLOCK", "TDES_2KEY"),
    ] {
        assert_validation(h.call(
            "GetParametersForImport",
            json!({ "KeyMaterialType": material, "WrappingKeyAlgorithm": algorithm }),
        ));
    }
}

/// What `GetParametersForExport` returns.
struct ExportParameters {
    kdh: Certificate,
    chain: Certificate,
    token: String,
}

fn export_parameters<S: Store>(h: &Harness<S>) -> ExportParameters {
    let p = h.ok(
        "GetParametersForExport",
        json!({ "KeyMaterialType": "TR34_KEY_BLOCK", "SigningKeyAlgorithm": "RSA_2048" }),
    );
    ExportParameters {
        kdh: from_b64(&p["SigningKeyCertificate"]),
        chain: from_b64(&p["SigningKeyCertificateChain"]),
        token: p["ExportToken"].as_str().unwrap().to_owned(),
    }
}

fn tr34_export<S: Store>(
    h: &Harness<S>,
    key: &str,
    ca_arn: &str,
    krd: &Certificate,
    token: &str,
    headers: Option<Value>,
) -> Result<Value, Error> {
    let mut block = json!({ "CertificateAuthorityPublicKeyIdentifier": ca_arn,
        "WrappingKeyCertificate": b64(krd), "ExportToken": token,
        "KeyBlockFormat": "X9_TR34_2012", "RandomNonce": NONCE });
    if let Some(headers) = headers {
        block["KeyBlockHeaders"] = headers;
    }
    h.call(
        "ExportKey",
        json!({ "ExportKeyIdentifier": key, "KeyMaterial": { "Tr34KeyBlock": block } }),
    )
}

/// TR-34 export: tokens opened by payhsm-tr34's KRD side and by the independent Python
/// opener; keys that may not leave, or not to this KRD, do not.
pub fn tr34_export_by_key_id<S: Store>(h: Harness<S>) {
    if !super::holds_key_pairs(&h) {
        return super::assert_key_pairs_refused(&h);
    }
    let ca_arn = import_root(&h, &pki::ca().cert);
    let now = hsm_time(&h);
    let p = export_parameters(&h);
    verify_chain(&p.kdh, &[], &p.chain, now, Purpose::KdhSigning).unwrap();
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        true,
    );
    let aes = h.create(
        "TR31_K0_KEY_ENCRYPTION_KEY",
        "AES_128",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        true,
    );
    if !super::exports_key_blocks(&h) {
        // A token store signs the KDH certificate above in the token, but cannot put a key's
        // value in a token.
        super::assert_not_exported(tr34_export(
            &h,
            &cvk,
            &ca_arn,
            &pki::krd(RsaKeySize::Rsa2048).cert,
            &p.token,
            None,
        ));
        return;
    }
    let clear = |arn: &str| {
        let record = h.hsm.store().get_key(key_id(arn)).unwrap().unwrap();
        payhsm_core::hex::encode(h.hsm.store().reveal(&record).unwrap().expose_secret())
    };
    let nonce = payhsm_core::hex::decode("nonce", NONCE).unwrap();
    let open = |out: &Value, krd: &pki::Party| {
        let wrapped = &out["WrappedKey"];
        assert_eq!(wrapped["WrappedKeyMaterialFormat"], "TR34_KEY_BLOCK");
        assert_eq!(wrapped["WrappingKeyArn"], json!(ca_arn));
        let token_bytes =
            payhsm_core::hex::decode("token", wrapped["KeyMaterial"].as_str().unwrap()).unwrap();
        let request = ImportRequest {
            form: Form::X9Tr34_2012,
            krd_certificate: Some(&krd.cert),
            ..ImportRequest::two_pass(&p.kdh, &p.chain, now, &nonce)
        };
        token::import(&token_bytes, &krd.key, &request).unwrap()
    };
    let krd2048 = pki::krd(RsaKeySize::Rsa2048);
    let krd3072 = pki::krd(RsaKeySize::Rsa3072);
    let out = tr34_export(&h, &cvk, &ca_arn, &krd2048.cert, &p.token, None).unwrap();
    let received = open(&out, krd2048);
    assert_eq!(
        payhsm_core::hex::encode(received.key().expose_secret()),
        clear(&cvk)
    );
    assert_eq!(received.header().as_str(), "D0000C0TC00E0000");
    assert_eq!(
        received.key_check_value().unwrap().to_string(),
        out["WrappedKey"]["KeyCheckValue"].as_str().unwrap()
    );
    // Narrowed on the way out.
    let narrow = tr34_export(
        &h,
        &cvk,
        &ca_arn,
        &krd2048.cert,
        &p.token,
        Some(
            json!({ "KeyModesOfUse": { "Generate": true }, "KeyExportability": "NON_EXPORTABLE" }),
        ),
    )
    .unwrap();
    assert_eq!(open(&narrow, krd2048).header().as_str(), "D0000C0TG00N0000");
    // AES-128 to an RSA-3072 KRD.
    let aes_out = tr34_export(&h, &aes, &ca_arn, &krd3072.cert, &p.token, None).unwrap();
    assert_eq!(
        payhsm_core::hex::encode(open(&aes_out, krd3072).key().expose_secret()),
        clear(&aes)
    );

    // The independent implementation opens them.
    if let Some(python) = pki::python() {
        for (out, krd, key) in [(&out, krd2048, &cvk), (&aes_out, krd3072, &aes)] {
            let dir = pki::scratch_dir();
            let opened = pki::make_token(
                &python,
                &[
                    "open-token",
                    "--token",
                    out["WrappedKey"]["KeyMaterial"].as_str().unwrap(),
                    "--nonce",
                    NONCE,
                    "--krd-key",
                    &pki::write(&dir, "krd_key.pem", &krd.key.to_pkcs8_pem().unwrap()),
                    "--krd-cert",
                    &pki::write(&dir, "krd.pem", &krd.cert.to_pem().unwrap()),
                    "--kdh-cert",
                    &pki::write(&dir, "kdh.pem", &p.kdh.to_pem().unwrap()),
                    "--ca-cert",
                    &pki::write(&dir, "ca.pem", &p.chain.to_pem().unwrap()),
                    "--form",
                    "X9_TR34_2012",
                ],
            );
            assert_eq!(opened["key"], clear(key));
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    // Refusals.
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
        tr34_export(&h, &secret, &ca_arn, &krd2048.cert, &p.token, None),
        Rule::Exportability,
    );
    assert_policy(
        tr34_export(&h, &aes, &ca_arn, &krd2048.cert, &p.token, None),
        Rule::WrappingStrength,
    );
    assert_policy(
        tr34_export(
            &h,
            &aes256,
            &ca_arn,
            &pki::krd(RsaKeySize::Rsa4096).cert,
            &p.token,
            None,
        ),
        Rule::WrappingStrength,
    );
    assert_policy(
        tr34_export(
            &h,
            &cvk,
            &ca_arn,
            &krd2048.cert,
            &p.token,
            Some(json!({ "KeyExportability": "SENSITIVE" })),
        ),
        Rule::ExportWidening,
    );
    assert_policy(
        tr34_export(&h, &cvk, &cvk, &krd2048.cert, &p.token, None),
        Rule::KeyClass,
    );
    // A KRD of another CA, a certificate without keyEncipherment, tokens that are not export
    // tokens of this HSM.
    assert_validation(tr34_export(
        &h,
        &cvk,
        &ca_arn,
        &pki::foreign_krd().cert,
        &p.token,
        None,
    ));
    assert_validation(tr34_export(
        &h,
        &cvk,
        &ca_arn,
        &pki::kdh().cert,
        &p.token,
        None,
    ));
    let import_token = import_parameters(&h, "RSA_2048", false).token;
    for token in [
        import_token.as_str(),
        "export-token-EXPORT0000000000000000000000",
    ] {
        assert_validation(tr34_export(&h, &cvk, &ca_arn, &krd2048.cert, token, None));
    }
    let mut no_nonce = json!({ "CertificateAuthorityPublicKeyIdentifier": ca_arn,
        "WrappingKeyCertificate": b64(&krd2048.cert), "ExportToken": p.token,
        "KeyBlockFormat": "X9_TR34_2012" });
    assert_validation(h.call(
        "ExportKey",
        json!({ "ExportKeyIdentifier": cvk, "KeyMaterial": { "Tr34KeyBlock": no_nonce.clone() } }),
    ));
    no_nonce["RandomNonce"] = json!(NONCE);
    no_nonce["SigningKeyIdentifier"] = json!(cvk);
    assert_validation(h.call(
        "ExportKey",
        json!({ "ExportKeyIdentifier": cvk, "KeyMaterial": { "Tr34KeyBlock": no_nonce } }),
    ));
    // An expired export token.
    h.clock.advance_days(31);
    assert_validation(tr34_export(
        &h,
        &cvk,
        &ca_arn,
        &krd2048.cert,
        &p.token,
        None,
    ));
    // Exports are audited, without key material.
    let lines = h.hsm.audit().lines().join("\n");
    assert!(lines.contains("\"eventName\":\"ExportKey\""));
    for arn in [&cvk, &aes] {
        assert!(!lines.contains(&clear(arn)));
    }
    assert!(!lines.contains(&out["WrappedKey"]["KeyMaterial"].as_str().unwrap()[100..200]));
}
