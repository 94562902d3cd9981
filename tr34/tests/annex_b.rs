//! TR-34-2019 Annex B: the sample credentials and the key block encryption sample, from the
//! project's vector file (`vectors/data/tr34.json`).

mod common;

use common::{
    annex_b_cert as cert, annex_b_entry as entry, annex_b_vectors as vectors, field, hex, time,
};
use payhsm_core::{key::KeyAlgorithm, secret::KeyMaterial};
use payhsm_tr34::{
    Error, KeyBlockHeader,
    cert::{Purpose, verify_chain},
    rsa::{RsaKeySize, RsaPrivateKey, SoftwareRsaKey},
    token::key_block::{self, ContentCipher},
};
use serde_json::Value;

const ROOT: &str = "TR34-sample-root-CA-cert";
const CA_KDH: &str = "TR34-sample-CA-KDH-cert";
const CA_KRD: &str = "TR34-sample-CA-KRD-cert";
const KDH_1: &str = "TR34-sample-KDH-1-cert";
const KRD_1: &str = "TR34-sample-KRD-1-cert";

#[test]
fn the_sample_certificates_parse_with_their_published_fields() {
    let certs: Vec<Value> = vectors()
        .into_iter()
        .filter(|v| v["inputs"]["certificate_der"].is_string())
        .collect();
    assert_eq!(certs.len(), 5);
    for v in certs {
        let id = v["id"].as_str().unwrap();
        let c = cert(id);
        let expected = &v["expected"];
        assert_eq!(
            c.subject().to_string(),
            field(&v, &["expected", "subject"]),
            "{id}"
        );
        assert_eq!(
            c.issuer().to_string(),
            field(&v, &["expected", "issuer"]),
            "{id}"
        );
        assert_eq!(
            c.serial_number().as_bytes(),
            hex(field(&v, &["expected", "serial_number_hex"])),
            "{id}"
        );
        let rfc3339 = |t: payhsm_tr34::DateTime| t.to_string().replace('Z', "+00:00");
        assert_eq!(
            rfc3339(c.not_before()),
            field(&v, &["expected", "not_before"]),
            "{id}"
        );
        assert_eq!(
            rfc3339(c.not_after()),
            field(&v, &["expected", "not_after"]),
            "{id}"
        );
        assert_eq!(expected["rsa_modulus_bits"], 2048);
        assert_eq!(c.public_key().size(), RsaKeySize::Rsa2048);
        assert_eq!(expected["rsa_public_exponent"], 65537);
        assert_eq!(
            c.sha256_fingerprint().to_vec(),
            hex(field(&v, &["expected", "sha256_fingerprint"])),
            "{id}"
        );
        let issuer = cert(field(&v, &["expected", "signature_verifies_under"]));
        c.verify_signed_by(issuer.public_key()).unwrap();
        if let Some(pkcs8) = v["inputs"]["private_key_pkcs8_der"].as_str() {
            let key = SoftwareRsaKey::from_pkcs8_der(&hex(pkcs8)).unwrap();
            assert_eq!(expected["private_key_matches_certificate"], true);
            assert_eq!(key.public_key(), c.public_key(), "{id}");
        }
    }
}

#[test]
fn the_sample_chains_validate_at_a_fixed_time_and_not_today() {
    let (root, ca_kdh, ca_krd) = (cert(ROOT), cert(CA_KDH), cert(CA_KRD));
    let (kdh, krd) = (cert(KDH_1), cert(KRD_1));
    let then = time("2015-06-01T00:00:00Z");
    // Up to the issuing CA, and up to the root through it.
    verify_chain(&kdh, &[], &ca_kdh, then, Purpose::KdhSigning).unwrap();
    verify_chain(
        &kdh,
        std::slice::from_ref(&ca_kdh),
        &root,
        then,
        Purpose::KdhSigning,
    )
    .unwrap();
    verify_chain(
        &krd,
        std::slice::from_ref(&ca_krd),
        &root,
        then,
        Purpose::KrdKeyTransport,
    )
    .unwrap();
    // KDH 1's keyUsage is digitalSignature; KRD 1's is keyEncipherment.
    assert!(matches!(
        verify_chain(&kdh, &[], &ca_kdh, then, Purpose::KrdKeyTransport),
        Err(Error::CertificateNotTrusted {
            reason: "keyUsage does not allow keyEncipherment",
            ..
        })
    ));
    assert!(matches!(
        verify_chain(
            &krd,
            std::slice::from_ref(&ca_krd),
            &root,
            then,
            Purpose::KdhSigning
        ),
        Err(Error::CertificateNotTrusted {
            reason: "keyUsage does not allow digitalSignature",
            ..
        })
    ));
    // The wrong CA.
    assert!(matches!(
        verify_chain(&kdh, &[], &ca_krd, then, Purpose::KdhSigning),
        Err(Error::CertificateNotTrusted {
            reason: "does not chain to the configured CA",
            ..
        })
    ));
    // KDH 1 expired in 2020; nothing was valid before 2010-11-02.
    assert!(matches!(
        verify_chain(
            &kdh,
            &[],
            &ca_kdh,
            time("2026-06-01T00:00:00Z"),
            Purpose::KdhSigning
        ),
        Err(Error::CertificateNotTrusted {
            certificate: "KDH certificate",
            reason: "expired at the verification time"
        })
    ));
    assert!(matches!(
        verify_chain(
            &kdh,
            &[],
            &ca_kdh,
            time("2009-01-01T00:00:00Z"),
            Purpose::KdhSigning
        ),
        Err(Error::CertificateNotTrusted {
            reason: "not yet valid at the verification time",
            ..
        })
    ));
    // The CA-KDH certificate expired in 2025 while KDH 1 (on its own) would not matter.
    assert!(matches!(
        verify_chain(
            &kdh,
            std::slice::from_ref(&ca_kdh),
            &root,
            time("2025-12-01T00:00:00Z"),
            Purpose::KdhSigning
        ),
        Err(Error::CertificateNotTrusted {
            certificate: "KDH certificate",
            ..
        })
    ));
}

#[test]
fn the_kdh_1_issuer_and_serial_number_is_the_published_one() {
    let expected = hex(field(
        &entry("TR34-2019-KDH1-IssuerAndSerialNumber"),
        &["expected", "issuer_and_serial_number_der"],
    ));
    let id = cert(KDH_1).issuer_and_serial_number();
    assert_eq!(der::Encode::to_der(&id).unwrap(), expected);
}

#[test]
fn b_2_2_2_1_the_tdea_key_block_encrypts_to_the_published_ciphertext() {
    let v = entry("TR34-2019-B.2.2.2.1-TDEA-keyblock-encrypt");
    let plaintext = hex(field(&v, &["inputs", "key_block_der"]));
    let content = key_block::decode(&plaintext).unwrap();
    assert_eq!(
        content.key.expose_secret(),
        hex(field(&v, &["expected", "transported_key"]))
    );
    assert_eq!(
        content.header.as_str(),
        field(&v, &["expected", "tr31_style_header"])
    );
    assert_eq!(
        content.header.key_algorithm(16).unwrap(),
        KeyAlgorithm::Tdes2Key
    );
    assert_eq!(content.kdh, cert(KDH_1).issuer_and_serial_number());
    assert_eq!(
        content.kdh.issuer.to_string(),
        "CN=TR34 Sample CA KDH,O=TR34 Samples,C=US"
    );
    // The block re-encodes byte for byte.
    let encoded = key_block::encode(&content.kdh, &content.key, &content.header).unwrap();
    assert_eq!(encoded.expose_secret(), plaintext);

    let ephemeral =
        KeyMaterial::from_hex("ephemeral", field(&v, &["inputs", "ephemeral_key_tdes3"])).unwrap();
    let iv = hex(field(&v, &["inputs", "iv"]));
    let expected = hex(field(&v, &["expected", "encrypted_content"]));
    let ciphertext = ContentCipher::Tdes3Cbc
        .encrypt(&ephemeral, &iv, &plaintext)
        .unwrap();
    assert_eq!(ciphertext, expected);
    let decrypted = ContentCipher::Tdes3Cbc
        .decrypt(ephemeral.expose_secret(), &iv, &expected)
        .unwrap();
    assert_eq!(decrypted.expose_secret(), plaintext);
}

#[test]
fn b_2_2_2_4_the_aes_key_block_content_parses() {
    let v = entry("TR34-2019-B.2.2.2.4-AES-keyblock-content");
    let plaintext = hex(field(&v, &["inputs", "key_block_der"]));
    let content = key_block::decode(&plaintext).unwrap();
    assert_eq!(
        content.key.expose_secret(),
        hex(field(&v, &["expected", "transported_key"]))
    );
    let header: KeyBlockHeader = field(&v, &["expected", "tr31_style_header"])
        .parse()
        .unwrap();
    assert_eq!(content.header, header);
    assert_eq!(
        content.header.key_algorithm(16).unwrap(),
        KeyAlgorithm::Aes128
    );
    assert_eq!(
        content.kdh.serial_number.as_bytes(),
        hex("3400000006"),
        "serial {}",
        field(&v, &["expected", "kdh_id_serial_dec"])
    );
    let encoded = key_block::encode(&content.kdh, &content.key, &content.header).unwrap();
    assert_eq!(encoded.expose_secret(), plaintext);
}
