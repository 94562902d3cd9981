//! Card validation data: Visa CVV/CVV2/iCVV with intermediates, and the generated,
//! cross-checked dCVV, CAVV, CVC3 and Amex CSC entries (`inputs.algorithm`).

use payhsm_core::{
    card::{
        cavv::{self, CavvData},
        csc::{self, CscVersion},
        cvc3::{self, UnpredictableNumber},
        cvv,
        dcvv::{self, Atc},
        icc::{self, PanSequenceNumber},
    },
    crypto::{SoftwareKey, SymmetricKey},
    fields::{Expiry, Pan, ServiceCode, visa_digits},
    hex,
    key::KeyAlgorithm,
    secret::KeyMaterial,
};

use crate::{Case, Failure};

fn tdes2(hex_key: &str) -> Result<SoftwareKey, Failure> {
    Ok(SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, hex_key)?)
}

pub(crate) fn check(case: &Case) -> Result<(), Failure> {
    match case.input_opt("algorithm")? {
        None => check_cvv(case),
        Some("VISA_DCVV") => check_dcvv(case),
        Some("VISA_CAVV") => check_cavv(case),
        Some("MASTERCARD_CVC3") => check_cvc3(case),
        Some("AMEX_CSC") => check_csc(case),
        Some(other) => Err(Failure::Error(format!("unknown algorithm {other}"))),
    }
}

fn check_cvv(case: &Case) -> Result<(), Failure> {
    let a = case.input("cvk_a")?;
    let b = case.input("cvk_b")?;
    let key = tdes2(&format!("{a}{b}"))?;
    let pan = Pan::new(case.input("pan")?)?;
    let expiry = Expiry::new(case.input("expiry")?)?;
    let sc = ServiceCode::new(case.input("service_code")?)?;
    case.check(
        "cvv",
        cvv::generate(&key, &pan, &expiry, &sc, 3)?.expose_secret(),
    )?;
    cvv::verify(&key, &pan, &expiry, &sc, case.expected("cvv")?)?;
    if case.has_expected("four_digit_value") {
        case.check(
            "four_digit_value",
            cvv::generate(&key, &pan, &expiry, &sc, 4)?.expose_secret(),
        )?;
    }
    // Intermediates: the two data blocks, block 1 under CVK-A, XOR block 2, the MAC, and its
    // decimalisation.
    let text = format!(
        "{}{}{}",
        pan.as_str(),
        case.input("expiry")?,
        case.input("service_code")?
    );
    let text = format!("{text:0<32}");
    case.check_opt("block1", &text[..16])?;
    case.check_opt("block2", &text[16..])?;
    let block = hex::decode("block", &text)?;
    let key_a = tdes2(&format!("{a}{a}"))?;
    let mut e = block[..8].to_vec();
    key_a.encrypt_ecb(&mut e)?;
    case.check_opt("block1_encrypted_with_key_a", &hex::encode(&e))?;
    let x: Vec<u8> = e.iter().zip(&block[8..]).map(|(p, q)| p ^ q).collect();
    case.check_opt("xor_block2", &hex::encode(&x))?;
    let mac = key.retail_mac(&[&block])?;
    case.check_opt("tdes_result", &hex::encode(mac.as_bytes()))?;
    case.check_opt(
        "decimalised",
        visa_digits(mac.as_bytes(), 16)?.expose_secret(),
    )
}

fn check_card_key(case: &Case, derived: &KeyMaterial) -> Result<(), Failure> {
    case.check("card_key", &hex::encode(derived.expose_secret()))
}

fn check_dcvv(case: &Case) -> Result<(), Failure> {
    let imk = tdes2(case.input("imk")?)?;
    let pan = Pan::new(case.input("pan")?)?;
    let psn = PanSequenceNumber::new(case.input("psn")?)?;
    let expiry = Expiry::new(case.input("expiry")?)?;
    let sc = ServiceCode::new(case.input("service_code")?)?;
    let atc = Atc::new(case.input("atc")?)?;
    check_card_key(case, &icc::derive_option_a(&imk, &pan, &psn)?)?;
    let v = dcvv::generate(&imk, &pan, &psn, &expiry, &sc, &atc)?;
    case.check("dcvv", v.expose_secret())?;
    Ok(dcvv::verify(
        &imk,
        &pan,
        &psn,
        &expiry,
        &sc,
        &atc,
        case.expected("dcvv")?,
    )?)
}

fn check_cavv(case: &Case) -> Result<(), Failure> {
    let key = tdes2(case.input("key")?)?;
    let pan = Pan::new(case.input("pan")?)?;
    let data = CavvData::new(
        case.input("unpredictable_number")?,
        case.input("authentication_results_code")?,
        case.input("second_factor_code")?,
    )?;
    case.check("cavv", cavv::generate(&key, &pan, &data)?.expose_secret())?;
    Ok(cavv::verify(&key, &pan, &data, case.expected("cavv")?)?)
}

fn check_cvc3(case: &Case) -> Result<(), Failure> {
    let imk = tdes2(case.input("imk")?)?;
    let pan = Pan::new(case.input("pan")?)?;
    let psn = PanSequenceNumber::new(case.input("psn")?)?;
    let track = case.input_hex("track_data")?;
    let un = UnpredictableNumber::new(case.input("unpredictable_number")?)?;
    let atc = Atc::new(case.input("atc")?)?;
    check_card_key(case, &icc::derive_option_a(&imk, &pan, &psn)?)?;
    let v = cvc3::generate(&imk, &pan, &psn, &track, &un, &atc)?;
    case.check("cvc3", v.expose_secret())?;
    let presented = case.expected("cvc3")?;
    Ok(cvc3::verify(
        &imk,
        &pan,
        &psn,
        &track,
        &un,
        &atc,
        &presented[2..],
    )?)
}

fn check_csc(case: &Case) -> Result<(), Failure> {
    let version = match case.input_u64("version")? {
        1 => CscVersion::V1,
        2 => CscVersion::V2,
        n => return Err(Failure::Error(format!("unknown CSC version {n}"))),
    };
    let key = tdes2(case.input("key")?)?;
    let pan = Pan::new(case.input("pan")?)?;
    let expiry = Expiry::new(case.input("expiry")?)?;
    let sc = case
        .input_opt("service_code")?
        .map(ServiceCode::new)
        .transpose()?;
    for (field, len) in [("csc5", 5), ("csc4", 4), ("csc3", 3)] {
        let v = csc::generate(&key, version, &pan, &expiry, sc.as_ref(), len)?;
        case.check(field, v.expose_secret())?;
        csc::verify(
            &key,
            version,
            &pan,
            &expiry,
            sc.as_ref(),
            case.expected(field)?,
        )?;
    }
    Ok(())
}
