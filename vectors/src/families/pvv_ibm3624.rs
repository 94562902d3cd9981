//! Visa PVV and IBM 3624 natural PIN and offset.

use payhsm_core::{
    crypto::{SoftwareKey, SymmetricKey},
    fields::Pan,
    hex,
    key::KeyAlgorithm,
    pin::{
        Pin,
        decimalization::{DecimalizationPolicy, DecimalizationTable},
        ibm3624::{self, Ibm3624Params},
        pvv::{self, Pvki},
    },
};

use crate::{Case, Failure};

fn pvk(case: &Case) -> Result<SoftwareKey, Failure> {
    Ok(SoftwareKey::from_hex(
        KeyAlgorithm::Tdes2Key,
        case.input("pvk")?,
    )?)
}

pub(crate) fn check(case: &Case) -> Result<(), Failure> {
    if case.has_input("pvki") {
        check_pvv(case)
    } else {
        check_ibm3624(case)
    }
}

fn check_pvv(case: &Case) -> Result<(), Failure> {
    let key = pvk(case)?;
    let index: u8 = case
        .input("pvki")?
        .parse()
        .map_err(|_| Failure::Error("pvki is not a digit".into()))?;
    // PVKI outside 0..6 must be refused by policy (T-PIN-11); such published values are
    // reproduced through the legacy constructor only.
    let pvki = match Pvki::new(index) {
        Ok(p) => p,
        Err(_) if index <= 9 => Pvki::new_unchecked_legacy(index)?,
        Err(e) => return Err(e.into()),
    };
    let pin = Pin::new(case.input("pin")?)?;
    let pan = match case.input_opt("pan")? {
        Some(p) => Pan::new(p)?,
        // Only the 11 TSP digits are published: frame them with a leading digit and a check
        // digit, which the TSP drops.
        None => Pan::new(&format!("0{}0", case.input("pan_digits_11")?))?,
    };
    let tsp = format!(
        "{}{}{}",
        std::str::from_utf8(pan.rightmost_excluding_check(11)).unwrap_or_default(),
        index,
        &pin.expose_secret()[..4]
    );
    case.check_opt("tsp", &tsp)?;
    let mut block = hex::decode("tsp", &tsp)?;
    key.encrypt_ecb(&mut block)?;
    case.check_opt("tdes_result", &hex::encode(&block))?;
    case.check(
        "pvv",
        pvv::generate(&key, &pan, &pin, pvki)?.expose_secret(),
    )?;
    Ok(pvv::verify(&key, &pan, &pin, pvki, case.expected("pvv")?)?)
}

/// Splits published validation data (pad characters included) into digits and pad.
fn split_validation(data: &str, pad: Option<&str>) -> Result<(String, String), Failure> {
    let pad = match pad {
        Some(p) => p.to_owned(),
        None => data
            .chars()
            .last()
            .filter(|c| !c.is_ascii_digit())
            .map_or_else(|| "F".to_owned(), String::from),
    };
    let digits = data.trim_end_matches(|c: char| !c.is_ascii_digit());
    Ok((digits.to_owned(), pad))
}

fn check_ibm3624(case: &Case) -> Result<(), Failure> {
    let key = pvk(case)?;
    let table = DecimalizationTable::new(case.input("decimalization_table")?)?;
    let data = case.input("validation_data")?;
    let (digits, pad) = split_validation(data, case.input_opt("pad_char")?)?;
    if case.has_input("pan") {
        // psec forms the validation data from the PAN: check the published data agrees.
        let pan = case.input("pan")?;
        let off = usize::try_from(case.input_u64("pan_verify_offset")?).unwrap_or(usize::MAX);
        let len = usize::try_from(case.input_u64("pan_verify_length")?).unwrap_or(usize::MAX);
        let from_pan = pan
            .get(off..off + len)
            .ok_or(Failure::Error("PAN window out of range".into()))?;
        let padded = format!("{from_pan:<16}").replace(' ', &pad);
        if !padded.eq_ignore_ascii_case(data) {
            return Err(Failure::Error(
                "validation data does not match the PAN window".into(),
            ));
        }
    }
    let params = Ibm3624Params::new(table, &digits, &pad)?;
    let mut block = hex::decode("validation data", data)?;
    key.encrypt_ecb(&mut block)?;
    case.check_opt("tdes_result", &hex::encode(&block))?;
    if let Some(pin) = case.input_opt("pin")? {
        let pin = Pin::new(pin)?;
        let natural = ibm3624::natural_pin(&key, &params, pin.len())?;
        case.check_opt("natural_pin", natural.expose_secret())?;
        let offset = ibm3624::offset(&key, &params, &pin)?;
        case.check("offset", offset.expose_secret())?;
        return Ok(ibm3624::verify(
            &key,
            &params,
            &DecimalizationPolicy::AnyTable,
            &pin,
            offset.expose_secret(),
        )?);
    }
    let len = usize::try_from(case.input_u64("pin_length")?).unwrap_or(usize::MAX);
    case.check(
        "natural_pin",
        ibm3624::natural_pin(&key, &params, len)?.expose_secret(),
    )?;
    let offset = case.input("offset")?;
    case.check(
        "pin",
        ibm3624::pin_from_offset(&key, &params, offset)?.expose_secret(),
    )
}
