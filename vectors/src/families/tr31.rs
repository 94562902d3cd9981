//! TR-31 / X9.143 key blocks: every published block is re-wrapped byte for byte with its
//! recovered padding, unwrapped, and its intermediate keys (KBEK, KBAK) and check values are
//! recomputed.

use payhsm_core::{
    crypto::SoftwareKey,
    hex,
    kcv::{self, KcvMethod},
    key::{Algorithm, KeyAlgorithm},
    secret::KeyMaterial,
};
use payhsm_tr31::{
    Header, Kbpk, KeyBlock, UnwrapOptions, Version, WrapOptions, binding_key_material,
    kbpk_algorithm, unwrap, wrap_with_padding,
};

use crate::{Case, Failure};

fn tr31(e: payhsm_tr31::Error) -> Failure {
    Failure::Error(e.to_string())
}

pub(crate) fn check(case: &Case) -> Result<(), Failure> {
    let kbpk = case.input_key("kbpk")?;
    let version = match case.input_opt("version")? {
        Some(v) => v,
        None => case.input("header")?.get(..1).unwrap_or(""),
    };
    let version = version
        .bytes()
        .next()
        .and_then(Version::from_id)
        .ok_or_else(|| Failure::Error(format!("unknown key block version {version:?}")))?;
    let algorithm = kbpk_algorithm(version, kbpk.len()).map_err(tr31)?;
    let kbpk_ref = Kbpk::Clear {
        algorithm,
        key: &kbpk,
    };

    let (kbek, kbak) = binding_key_material(kbpk_ref, version).map_err(tr31)?;
    case.check("kbek", &hex::encode(kbek.expose_secret()))?;
    case.check("kbak", &hex::encode(kbak.expose_secret()))?;
    if let Some(published) = case.input_opt("kbpk_kcv")? {
        check_kcv("inputs.kbpk_kcv", published, algorithm, &kbpk)?;
    }
    if !case.has_input("header") {
        // A key-derivation-only entry.
        return Ok(());
    }

    let header = Header::parse(case.input("header")?).map_err(tr31)?;
    let key = case.input_hex("key")?;
    let padding = case.input_hex("padding")?;
    let options = WrapOptions {
        allow_version_a: true,
        allow_version_c: true,
        // The published padding decides the length; masked or not, it is what the sender used.
        mask_key_length: false,
    };
    let block = wrap_with_padding(kbpk_ref, &header, &key, &padding, &options).map_err(tr31)?;
    case.check("key_block", &block)?;

    let parsed = KeyBlock::parse(&block).map_err(tr31)?;
    case.check(
        "encrypted_key_data",
        &hex::encode(parsed.encrypted_key_data()),
    )?;
    case.check("mac", &hex::encode(parsed.mac()))?;

    let published = case.expected("key_block")?;
    // The published blocks include legacy versions and unmasked (short-padded) ones.
    let unwrap_options = UnwrapOptions {
        allow_legacy_versions: true,
        allow_short_padding: true,
        ..UnwrapOptions::default()
    };
    let unwrapped = unwrap(kbpk_ref, published, &unwrap_options).map_err(tr31)?;
    let recovered = unwrapped.key.expose_secret();
    case.check("key", &hex::encode(recovered))?;
    // The length field the unwrap read from the decrypted payload, in bits.
    let length_field = u16::try_from(recovered.len() * 8)
        .map_err(|_| Failure::Error("key too long for a TR-31 length field".into()))?;
    let expected_field = case.input("key_length_field")?;
    if !expected_field.eq_ignore_ascii_case(&format!("{length_field:04X}")) {
        return Err(Failure::Mismatch {
            field: "inputs.key_length_field".into(),
            expected: expected_field.into(),
            actual: format!("{length_field:04X}"),
        });
    }
    if !published.starts_with(&unwrapped.header.to_string()) {
        return Err(Failure::Error(
            "the unwrapped header differs from the block's".into(),
        ));
    }

    if case.has_expected("key_kcv") {
        let published = case.expected("key_kcv")?;
        let material = if header.algorithm() == Algorithm::TDES && recovered.len() == 8 {
            // A single-DES key carried under algorithm T (psec's vector): TDES with K1 = K2
            // is single DES (keying option 3), so its KCV is the DES KCV.
            KeyMaterial::from_slice("key", &[recovered, recovered].concat())?
        } else {
            KeyMaterial::from_slice("key", recovered)?
        };
        let key_algorithm = KeyAlgorithm::from_block_cipher(header.algorithm(), material.len())?;
        check_kcv("expected.key_kcv", published, key_algorithm, &material)?;
    }
    if case.has_expected("kbpk_kcv_in_KP_block") {
        let kp = unwrapped
            .header
            .kbpk_check_value()
            .map_err(tr31)?
            .ok_or_else(|| Failure::Error("the block has no KP optional block".into()))?;
        let kcv = hex::encode(kp.as_bytes());
        case.check("kbpk_kcv_in_KP_block", &kcv)?;
        let ours = kcv::compute(
            &SoftwareKey::new(algorithm, &kbpk)?,
            kp.method(),
            kcv.len() / 2,
        )?;
        if ours.to_string() != kcv {
            return Err(Failure::Mismatch {
                field: "KP block".into(),
                expected: kcv,
                actual: ours.to_string(),
            });
        }
    }
    Ok(())
}

/// Recomputes a published KCV by the key's standard method (ANSI X9.24 for TDES, CMAC for
/// AES), at the published length.
fn check_kcv(
    field: &str,
    published: &str,
    algorithm: KeyAlgorithm,
    key: &KeyMaterial,
) -> Result<(), Failure> {
    let method = if algorithm.tr31_algorithm() == Algorithm::TDES {
        KcvMethod::AnsiX924
    } else {
        KcvMethod::Cmac
    };
    let k = SoftwareKey::new(algorithm, key)?;
    let ours = kcv::compute(&k, method, published.len() / 2)?.to_string();
    if ours.eq_ignore_ascii_case(published) {
        Ok(())
    } else {
        Err(Failure::Mismatch {
            field: field.into(),
            expected: published.into(),
            actual: ours,
        })
    }
}
