//! TR-34-2019 Annex B: the sample credentials (they parse, carry their published fields, sign
//! each other and chain at a fixed time), the B.2.2.2.1 TDEA key block encryption, the
//! B.2.2.2.4 AES key block content and the KDH 1 `IssuerAndSerialNumber`.

use std::sync::OnceLock;

use payhsm_core::{hex, secret::KeyMaterial};
use payhsm_tr34::{
    DateTime,
    cert::{Certificate, Purpose, verify_chain},
    der::Encode,
    rsa::{RsaPrivateKey, SoftwareRsaKey},
    token::key_block::{self, ContentCipher},
};
use serde_json::Value;

use crate::{Case, Failure};

/// A time inside the validity of every sample certificate (the KDH 1 and KRD 1 certificates
/// expired in 2020).
const VERIFICATION_TIME: &str = "2015-01-01T00:00:00Z";

pub(crate) fn check(case: &Case) -> Result<(), Failure> {
    if case.has_input("certificate_der") {
        certificate(case)
    } else if case.has_input("ephemeral_key_tdes3") {
        tdea_key_block(case)
    } else if case.has_input("key_block_der") {
        key_block_content(case)
    } else if case.has_expected("issuer_and_serial_number_der") {
        let kdh_1 = sample("TR34-sample-KDH-1-cert")?;
        let der = kdh_1.issuer_and_serial_number().to_der().map_err(fail)?;
        case.check("issuer_and_serial_number_der", &hex::encode(&der))
    } else {
        Err(Failure::Error("unknown TR-34 entry".into()))
    }
}

fn fail(e: impl std::fmt::Display) -> Failure {
    Failure::Error(e.to_string())
}

/// The sample certificates by entry id, for the checks that name one entry from another.
fn sample(id: &str) -> Result<Certificate, Failure> {
    static SAMPLES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    let samples = SAMPLES.get_or_init(|| {
        let data: Vec<Value> =
            serde_json::from_str(include_str!("../../data/tr34.json")).unwrap_or_default();
        data.iter()
            .filter_map(|v| {
                Some((
                    v["id"].as_str()?.to_owned(),
                    v["inputs"]["certificate_der"].as_str()?.to_owned(),
                ))
            })
            .collect()
    });
    let (_, der) = samples
        .iter()
        .find(|(name, _)| name == id)
        .ok_or_else(|| Failure::Error(format!("no sample certificate {id}")))?;
    Certificate::from_der(&hex::decode("certificate_der", der)?).map_err(fail)
}

fn certificate(case: &Case) -> Result<(), Failure> {
    let cert = Certificate::from_der(&case.input_hex("certificate_der")?).map_err(fail)?;
    case.check("subject", &cert.subject().to_string())?;
    case.check("issuer", &cert.issuer().to_string())?;
    let serial = cert.serial_number().as_bytes();
    case.check("serial_number_hex", &hex::encode(serial))?;
    let decimal = serial.iter().fold(0u128, |n, b| n << 8 | u128::from(*b));
    case.check("serial_number_dec", &decimal.to_string())?;
    let rfc3339 = |t: DateTime| t.to_string().replace('Z', "+00:00");
    case.check("not_before", &rfc3339(cert.not_before()))?;
    case.check("not_after", &rfc3339(cert.not_after()))?;
    let key = cert.public_key();
    case.check_value("rsa_modulus_bits", &Value::from(key.size().bits()))?;
    case.check_value("rsa_public_exponent", &Value::from(key.public_exponent()))?;
    case.check(
        "sha256_fingerprint",
        &hex::encode(&cert.sha256_fingerprint()),
    )?;

    // The signature, and the chain up to the root at the fixed time.
    let issuer_id = case.expected("signature_verifies_under")?;
    let issuer = sample(issuer_id)?;
    cert.verify_signed_by(issuer.public_key()).map_err(fail)?;
    let root = sample("TR34-sample-root-CA-cert")?;
    let time: DateTime = VERIFICATION_TIME.parse().map_err(fail)?;
    let chain = |purpose| verify_chain(&cert, std::slice::from_ref(&issuer), &root, time, purpose);
    match cert.subject().to_string().as_str() {
        s if s.contains("KDH 1") => chain(Purpose::KdhSigning).map_err(fail)?,
        s if s.contains("KRD 1") => chain(Purpose::KrdKeyTransport).map_err(fail)?,
        _ => {}
    }

    if case.has_input("private_key_pkcs8_der") {
        let private = SoftwareRsaKey::from_pkcs8_der(&case.input_hex("private_key_pkcs8_der")?)
            .map_err(fail)?;
        case.check_value(
            "private_key_matches_certificate",
            &Value::Bool(private.public_key() == key),
        )?;
    }
    Ok(())
}

fn tdea_key_block(case: &Case) -> Result<(), Failure> {
    let plaintext = case.input_hex("key_block_der")?;
    if !case.input("padding")?.starts_with("PKCS#7") {
        return Err(Failure::Error("the sample uses PKCS #7 padding".into()));
    }
    let content = key_block_content_of(case, &plaintext)?;
    // The issuer as the sample prints it: C, O, CN in encoding order.
    let issuer: Vec<String> = content
        .kdh
        .issuer
        .iter_rdn()
        .map(|rdn| rdn.to_string())
        .collect();
    case.check("kdh_id_issuer", &issuer.join(", "))?;
    let ephemeral = KeyMaterial::from_hex("ephemeral key", case.input("ephemeral_key_tdes3")?)?;
    let iv = case.input_hex("iv")?;
    let ciphertext = ContentCipher::Tdes3Cbc
        .encrypt(&ephemeral, &iv, &plaintext)
        .map_err(fail)?;
    case.check("encrypted_content", &hex::encode(&ciphertext))?;
    let decrypted = ContentCipher::Tdes3Cbc
        .decrypt(ephemeral.expose_secret(), &iv, &ciphertext)
        .map_err(fail)?;
    if decrypted.expose_secret() == plaintext {
        Ok(())
    } else {
        Err(Failure::Error(
            "the ciphertext does not decrypt to the key block".into(),
        ))
    }
}

fn key_block_content(case: &Case) -> Result<(), Failure> {
    key_block_content_of(case, &case.input_hex("key_block_der")?).map(|_| ())
}

/// Reads a key block, checks its published fields, and checks that it re-encodes exactly.
fn key_block_content_of(
    case: &Case,
    plaintext: &[u8],
) -> Result<key_block::KeyBlockContent, Failure> {
    let content = key_block::decode(plaintext).map_err(fail)?;
    case.check("transported_key", &hex::encode(content.key.expose_secret()))?;
    case.check("tr31_style_header", content.header.as_str())?;
    let serial = content.kdh.serial_number.as_bytes();
    let decimal = serial.iter().fold(0u128, |n, b| n << 8 | u128::from(*b));
    case.check("kdh_id_serial_dec", &decimal.to_string())?;
    let again = key_block::encode(&content.kdh, &content.key, &content.header).map_err(fail)?;
    if again.expose_secret() != plaintext {
        return Err(Failure::Error(
            "the key block does not re-encode byte for byte".into(),
        ));
    }
    Ok(content)
}
