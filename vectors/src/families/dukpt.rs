//! DUKPT: TDES (ANSI X9.24-1:2009 A.4), AES (X9.24-3-2017 supplement) and cross-checked AES
//! DUKPT working keys, lengths and update keys.

use payhsm_core::{
    crypto::SoftwareKey,
    derived::DerivedKey,
    dukpt::{
        self, Bdk, DukptEncryptionMode, DukptMacAlgorithm, KeyVariant, Ksn, TdesKsn,
        WorkingKeyUsage,
        aes::{self, AesDukptKeyType},
    },
    fields::Pan,
    hex,
    kcv::{self, KcvMethod},
    key::{Algorithm, KeyAlgorithm},
    pin::{
        Pin,
        block::{self, Fill, PinBlockFormat},
    },
    secret::KeyMaterial,
};

use crate::{Case, Failure};

pub(crate) fn check(case: &Case) -> Result<(), Failure> {
    let bdk = case.input_key("bdk")?;
    if case.has_input("initial_ksn") {
        tdes_ipek(case, &bdk)
    } else if case.has_input("update_key_type") {
        aes_update_key(case, &bdk)
    } else if case.has_input("initial_key_id") {
        aes_initial_key(case, &bdk)
    } else if case.has_input("usage") {
        working_key(case, &bdk)
    } else {
        match Ksn::from_hex(case.input("ksn")?)? {
            Ksn::Tdes(_) => tdes_transaction(case, &bdk),
            Ksn::Aes(_) => aes_transaction(case, &bdk),
        }
    }
}

fn hexs(k: &DerivedKey) -> String {
    hex::encode(k.expose_secret())
}

fn aes_bdk(bdk: &KeyMaterial) -> Result<SoftwareKey, Failure> {
    Ok(SoftwareKey::new(
        KeyAlgorithm::from_block_cipher(Algorithm::AES, bdk.len())?,
        bdk,
    )?)
}

fn tdes_ipek(case: &Case, bdk: &KeyMaterial) -> Result<(), Failure> {
    let ksn = TdesKsn::from_hex(case.input("initial_ksn")?)?;
    let ipek = dukpt::tdes::initial_key(bdk, &ksn)?;
    case.check("ipek", &hexs(&ipek))?;
    let kcv = kcv::compute(&ipek.handle()?, KcvMethod::AnsiX924, 3)?;
    case.check("ipek_kcv", &kcv.to_string())
}

fn tdes_transaction(case: &Case, bdk: &KeyMaterial) -> Result<(), Failure> {
    let ksn = Ksn::from_hex(case.input("ksn")?)?;
    let b = Bdk::Tdes(bdk);
    let key = |usage| -> Result<String, Failure> {
        let d = dukpt::derive(b, &ksn, Some(usage), None)?;
        d.working_key
            .as_ref()
            .map(hexs)
            .ok_or_else(|| Failure::Error("no working key".into()))
    };
    let d = dukpt::derive(b, &ksn, None, None)?;
    case.check("transaction_key", &hexs(&d.transaction_key))?;
    case.check("pin_key", &key(WorkingKeyUsage::Pin)?)?;
    case.check("mac_request_key", &key(WorkingKeyUsage::MacGenerate)?)?;
    case.check("mac_response_key", &key(WorkingKeyUsage::MacVerify)?)?;
    case.check("data_request_key", &key(WorkingKeyUsage::DataEncrypt)?)?;

    // The PIN block: the published clear block must be our ISO 0 encoding of PIN and PAN.
    let pin = Pin::new(case.input("pin")?)?;
    let pan = Pan::new(case.input("pan")?)?;
    let clear = block::encode(PinBlockFormat::Iso0, &pin, Some(&pan), Fill::Given(""))?;
    let clear_hex = hex::encode(clear.expose_secret());
    let published = case.input("clear_pin_block")?;
    if !published.eq_ignore_ascii_case(&clear_hex) {
        return Err(Failure::Mismatch {
            field: "inputs.clear_pin_block".into(),
            expected: published.into(),
            actual: clear_hex,
        });
    }
    let enc = dukpt::encrypt_pin(
        b,
        &ksn,
        None,
        PinBlockFormat::Iso0,
        &pin,
        Some(&pan),
        Fill::Given(""),
    )?;
    case.check("encrypted_pin_block", &enc.to_string())?;

    // Request and response MACs: the retail MAC of the ASCII data, leftmost 4 bytes.
    let data = case.input("mac_data_ascii")?.as_bytes();
    let alg = DukptMacAlgorithm::Iso9797Algorithm3;
    for (variant, name) in [
        (KeyVariant::Request, "request_mac"),
        (KeyVariant::Response, "response_mac"),
    ] {
        let tag = dukpt::generate_mac(b, &ksn, variant, None, alg, data, Some(4))?;
        case.check(name, &hex::encode(tag.as_bytes()))?;
        let presented = hex::decode("mac", case.expected(name)?)?;
        dukpt::verify_mac(b, &ksn, variant, None, alg, data, &presented)?;
    }

    // Request data: TDES-CBC, zero IV, under the request data key.
    let mut request = case.input_hex("request_data")?;
    dukpt::encrypt_data(
        b,
        &ksn,
        KeyVariant::Request,
        None,
        DukptEncryptionMode::Cbc,
        None,
        &mut request,
    )?;
    case.check("encrypted_request_data", &hex::encode(&request))
}

fn aes_initial_key(case: &Case, bdk: &KeyMaterial) -> Result<(), Failure> {
    let id: [u8; 8] = case
        .input_hex("initial_key_id")?
        .try_into()
        .map_err(|_| Failure::Error("initial_key_id is not 8 bytes".into()))?;
    let ik = aes::initial_key(&aes_bdk(bdk)?, &id)?;
    case.check("initial_key", &hexs(&ik))
}

/// The published AES working keys: `<usage>_<aes128|aes256>_key`.
const AES_WORKING_KEYS: [(&str, WorkingKeyUsage); 3] = [
    ("pin_encryption", WorkingKeyUsage::Pin),
    ("mac_generation", WorkingKeyUsage::MacGenerate),
    ("data_encryption_encrypt", WorkingKeyUsage::DataEncrypt),
];

fn aes_transaction(case: &Case, bdk: &KeyMaterial) -> Result<(), Failure> {
    let handle = aes_bdk(bdk)?;
    let b = Bdk::Aes(&handle);
    let ksn = Ksn::from_hex(case.input("ksn")?)?;
    let d = dukpt::derive(b, &ksn, None, None)?;
    case.check("transaction_derivation_key", &hexs(&d.transaction_key))?;
    for (prefix, usage) in AES_WORKING_KEYS {
        for (suffix, alg) in [
            ("aes128", KeyAlgorithm::Aes128),
            ("aes256", KeyAlgorithm::Aes256),
        ] {
            let name = format!("{prefix}_{suffix}_key");
            if case.has_expected(&name) {
                let w = dukpt::derive(b, &ksn, Some(usage), Some(alg))?;
                let w = w
                    .working_key
                    .ok_or_else(|| Failure::Error("no working key".into()))?;
                case.check(&name, &hexs(&w))?;
            }
        }
    }
    if case.has_expected("encrypted_pin_block_iso4") {
        let pin = Pin::new(case.input("pin")?)?;
        let pan = Pan::new(case.input("pan")?)?;
        let random = case.input("pin_field_random")?;
        let enc = dukpt::encrypt_pin(
            b,
            &ksn,
            Some(KeyAlgorithm::Aes128),
            PinBlockFormat::Iso4,
            &pin,
            Some(&pan),
            Fill::Given(random),
        )?;
        case.check("encrypted_pin_block_iso4", &enc.to_string())?;
        let back = dukpt::decrypt_pin(
            b,
            &ksn,
            Some(KeyAlgorithm::Aes128),
            PinBlockFormat::Iso4,
            &enc,
            Some(&pan),
        )?;
        if back.expose_secret() != pin.expose_secret() {
            return Err(Failure::Error(
                "the PIN block does not decrypt to the PIN".into(),
            ));
        }
    }
    Ok(())
}

fn derivation_type(name: &str) -> Result<KeyAlgorithm, Failure> {
    Ok(match name {
        "HMAC" => KeyAlgorithm::HmacSha256,
        other => KeyAlgorithm::from_name(other)?,
    })
}

/// Cross-checked entries: one working key of any usage and type.
fn working_key(case: &Case, bdk: &KeyMaterial) -> Result<(), Failure> {
    let handle = aes_bdk(bdk)?;
    let ksn = Ksn::from_hex(case.input("ksn")?)?;
    let usage = WorkingKeyUsage::from_name(case.input("usage")?)?;
    let alg = derivation_type(case.input("derivation_type")?)?;
    let d = dukpt::derive(Bdk::Aes(&handle), &ksn, Some(usage), Some(alg))?;
    case.check("transaction_derivation_key", &hexs(&d.transaction_key))?;
    let w = d
        .working_key
        .ok_or_else(|| Failure::Error("no working key".into()))?;
    case.check("working_key", &hexs(&w))
}

fn aes_update_key(case: &Case, bdk: &KeyMaterial) -> Result<(), Failure> {
    let handle = aes_bdk(bdk)?;
    let id: [u8; 8] = case
        .input_hex("initial_key_id")?
        .try_into()
        .map_err(|_| Failure::Error("initial_key_id is not 8 bytes".into()))?;
    let key_type =
        AesDukptKeyType::from_algorithm(KeyAlgorithm::from_name(case.input("update_key_type")?)?)?;
    let ik = aes::initial_key(&handle, &id)?;
    let u = aes::update_key(&ik.handle()?, &id, key_type)?;
    case.check("update_key", &hexs(&u))
}
