//! MACs: ISO 9797-1 algorithms 1 and 3 with padding methods 1–3, CMAC (TDES and AES),
//! HMAC-SHA256.

use payhsm_core::{
    crypto::SoftwareKey,
    hex,
    key::{Algorithm, KeyAlgorithm},
    mac::{self, MacAlgorithm, Padding},
    secret::KeyMaterial,
};

use crate::{Case, Failure};

/// The message: hex, checked against its ASCII form when the entry gives both.
fn message(case: &Case) -> Result<Vec<u8>, Failure> {
    let ascii = case.input_opt("message_ascii")?;
    let hex_msg = case.input_opt("message")?.or(case.input_opt("data")?);
    match (ascii, hex_msg) {
        (Some(a), Some(h)) => {
            let m = hex::decode("message", h)?;
            if m != a.as_bytes() {
                return Err(Failure::Error("message and message_ascii differ".into()));
            }
            Ok(m)
        }
        (Some(a), None) => Ok(a.as_bytes().to_vec()),
        (None, Some(h)) => Ok(hex::decode("message", h)?),
        (None, None) => Err(Failure::Error("no message".into())),
    }
}

fn padding(case: &Case) -> Result<Padding, Failure> {
    if case.has_input("padding_method") {
        let n = u8::try_from(case.input_u64("padding_method")?).unwrap_or(0);
        return Ok(Padding::from_number(n)?);
    }
    match case.input_opt("padding")? {
        Some(p) if p.contains("method 1") => Ok(Padding::Method1),
        Some(p) => Err(Failure::Error(format!("unknown padding {p}"))),
        None => Ok(Padding::Method1),
    }
}

/// A TDES key; an 8-byte key is single DES, run as two-key TDES with equal halves.
fn des_key(material: &KeyMaterial) -> Result<SoftwareKey, Failure> {
    let k = material.expose_secret();
    if k.len() == 8 {
        let doubled = KeyMaterial::from_slice("key", &[k, k].concat())?;
        return Ok(SoftwareKey::new(KeyAlgorithm::Tdes2Key, &doubled)?);
    }
    Ok(SoftwareKey::new(
        KeyAlgorithm::from_block_cipher(Algorithm::TDES, k.len())?,
        material,
    )?)
}

pub(crate) fn check(case: &Case) -> Result<(), Failure> {
    let id = case.id().to_owned();
    if case.has_expected("hmac_sha256") {
        return check_hmac(case);
    }
    let material = case.input_key("key")?;
    let msg = message(case)?;
    if case.has_expected("cmac") {
        let len = usize::try_from(case.input_u64("message_length_bytes")?).unwrap_or(0);
        if len != msg.len() {
            return Err(Failure::Error("message_length_bytes disagrees".into()));
        }
        let key = if id.contains("AES") {
            SoftwareKey::new(
                KeyAlgorithm::from_block_cipher(Algorithm::AES, material.len())?,
                &material,
            )?
        } else {
            des_key(&material)?
        };
        let tag = mac::generate(&key, MacAlgorithm::Cmac, &msg, Padding::Method1, None)?;
        return case.check("cmac", &hex::encode(tag.as_bytes()));
    }
    let pad = padding(case)?;
    let (key, algorithm) = if id.contains("AES") {
        let k = SoftwareKey::new(
            KeyAlgorithm::from_block_cipher(Algorithm::AES, material.len())?,
            &material,
        )?;
        (k, MacAlgorithm::Iso9797Algorithm1)
    } else if id.contains("alg3") {
        if let (Some(k1), Some(k2)) = (case.input_opt("K")?, case.input_opt("K_prime")?)
            && !hex::encode(material.expose_secret()).eq_ignore_ascii_case(&format!("{k1}{k2}"))
        {
            return Err(Failure::Error("key is not K || K'".into()));
        }
        (des_key(&material)?, MacAlgorithm::Iso9797Algorithm3)
    } else {
        (des_key(&material)?, MacAlgorithm::Iso9797Algorithm1)
    };
    let tag = mac::generate(&key, algorithm, &msg, pad, None)?;
    case.check("mac", &hex::encode(tag.as_bytes()))?;
    mac::verify(&key, algorithm, &msg, pad, tag.as_bytes())?;
    if case.has_expected("mac_32bit") {
        let short = mac::generate(&key, algorithm, &msg, pad, Some(4))?;
        case.check("mac_32bit", &hex::encode(short.as_bytes()))?;
    }
    Ok(())
}

fn check_hmac(case: &Case) -> Result<(), Failure> {
    let msg = message(case)?;
    let mut k = case.input_hex("key")?;
    // HMAC (RFC 2104) first hashes a key longer than the hash block (64 bytes for SHA-256)
    // and zero-pads a shorter one to the block. payhsm holds keys of at most 128 bytes and
    // refuses keys under 112 bits, so the published keys outside that range are given in
    // their equivalent form: the value computed is exactly the published one.
    if k.len() > 64 {
        use sha2::Digest as _;
        k = sha2::Sha256::digest(&k).to_vec();
    }
    if k.len() < 14 {
        k.resize(64, 0);
    }
    let material = KeyMaterial::from_slice("key", &k)?;
    let key = SoftwareKey::new(KeyAlgorithm::HmacSha256, &material)?;
    let len = if case.has_input("output_truncation_bits") {
        Some(usize::try_from(case.input_u64("output_truncation_bits")? / 8).unwrap_or(0))
    } else {
        None
    };
    let tag = mac::generate(&key, MacAlgorithm::HmacSha256, &msg, Padding::Method1, len)?;
    case.check("hmac_sha256", &hex::encode(tag.as_bytes()))
}
