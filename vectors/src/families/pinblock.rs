//! ISO 9564-1 PIN blocks: clear formats 0–3, format 4 with its intermediates, encrypted blocks,
//! and (generated, cross-checked) format-1 translations.

use payhsm_core::{
    crypto::{SoftwareKey, SymmetricKey},
    fields::Pan,
    hex,
    key::{Algorithm, KeyAlgorithm},
    pin::{
        Pin,
        block::{self, EncryptedPinBlock, Fill, PinBlockFormat},
        translate::{self, TranslationContext},
    },
    rng::Replay,
    secret::KeyMaterial,
};

use crate::{Case, Failure};

fn key(material: &KeyMaterial, cipher: Algorithm) -> Result<SoftwareKey, Failure> {
    Ok(SoftwareKey::new(
        KeyAlgorithm::from_block_cipher(cipher, material.len())?,
        material,
    )?)
}

fn format(n: u64) -> Result<PinBlockFormat, Failure> {
    PinBlockFormat::ALL
        .into_iter()
        .find(|f| u64::from(f.control()) == n)
        .ok_or_else(|| Failure::Error(format!("unknown PIN block format {n}")))
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

pub(crate) fn check(case: &Case) -> Result<(), Failure> {
    if case.has_input("translation") {
        return check_translation(case);
    }
    let fmt = format(case.input_u64("format")?)?;
    if case.has_input("clear_pin_block") {
        // An encrypted block from a given clear block (X9.24-1 A.4).
        let clear = case.input_hex("clear_pin_block")?;
        let k = key(&case.input_key("pin_encryption_key")?, Algorithm::TDES)?;
        let mut b = clear.clone();
        k.encrypt_ecb(&mut b)?;
        return case.check("encrypted_pin_block", &hex::encode(&b));
    }
    let pin = Pin::new(case.input("pin")?)?;
    let pan = case.input_opt("pan")?.map(Pan::new).transpose()?;
    let fill = case
        .input_opt("fill_nibbles")?
        .or(case.input_opt("random_fill")?)
        .unwrap_or("");
    let clear = block::encode(fmt, &pin, pan.as_ref(), Fill::Given(fill))?;
    let bytes = clear.expose_secret();
    if fmt == PinBlockFormat::Iso4 {
        let pan = pan
            .as_ref()
            .ok_or(Failure::Error("format 4 needs a PAN".into()))?;
        let pan_field = block::pan_field_iso4(pan);
        case.check("plain_text_pin_field", &hex::encode(bytes))?;
        case.check("pan_field", &hex::encode(&pan_field))?;
        let k = key(&case.input_key("key")?, Algorithm::AES)?;
        let mut a = bytes.to_vec();
        k.encrypt_ecb(&mut a)?;
        case.check_opt("intermediate_block_A", &hex::encode(&a))?;
        case.check_opt("intermediate_block_B", &hex::encode(&xor(&a, &pan_field)))?;
        let e = block::encrypt_clear(&k, &clear, Some(pan))?;
        case.check("encrypted_pin_block", &e.to_string())?;
        let back = block::decrypt(&k, fmt, &e, Some(pan))?;
        return same_pin(&back, &pin);
    }
    case.check("clear_pin_block", &hex::encode(bytes))?;
    if case.has_expected("pan_field") {
        let pan = pan
            .as_ref()
            .ok_or(Failure::Error("pan_field needs a PAN".into()))?;
        let pan_field = block::pan_field_iso0(pan);
        case.check("pan_field", &hex::encode(&pan_field))?;
        case.check("pin_field", &hex::encode(&xor(bytes, &pan_field)))?;
    }
    // Decoding gives the PIN back.
    same_pin(&block::decode(fmt, bytes, pan.as_ref())?, &pin)
}

fn same_pin(a: &Pin, b: &Pin) -> Result<(), Failure> {
    if a.expose_secret() == b.expose_secret() {
        Ok(())
    } else {
        Err(Failure::Error(
            "the block does not decode to its PIN".into(),
        ))
    }
}

fn check_translation(case: &Case) -> Result<(), Failure> {
    let (from, to) = case
        .input("translation")?
        .split_once("->")
        .ok_or(Failure::Error("translation is FORMAT->FORMAT".into()))?;
    let (from, to) = (
        PinBlockFormat::from_name(from)?,
        PinBlockFormat::from_name(to)?,
    );
    let kin = key(
        &case.input_key("incoming_key")?,
        from.cipher().into_algorithm(),
    )?;
    let kout = key(
        &case.input_key("outgoing_key")?,
        to.cipher().into_algorithm(),
    )?;
    let block = EncryptedPinBlock::from_hex(case.input("incoming_pin_block")?)?;
    let pan = Pan::new(case.input("pan")?)?;
    let random = hex::decode("random", case.input("random")?)?;
    let in_pan = from.uses_pan().then_some(&pan);
    let out = translate::translate(
        &kin,
        from,
        &block,
        in_pan,
        &kout,
        to,
        Some(&pan),
        TranslationContext::Online,
        &mut Replay::new(&random),
    )?;
    case.check("outgoing_pin_block", &out.to_string())?;
    let pin = block::decrypt(&kout, to, &out, Some(&pan))?;
    case.check("pin", pin.expose_secret())
}

trait IntoAlgorithm {
    fn into_algorithm(self) -> Algorithm;
}

impl IntoAlgorithm for payhsm_core::crypto::BlockCipher {
    fn into_algorithm(self) -> Algorithm {
        match self {
            Self::Tdes => Algorithm::TDES,
            Self::Aes => Algorithm::AES,
        }
    }
}
