//! Key check values: ANSI X9.24-1 A.2 (encrypt zeros) and A.3 (CMAC of zeros).

use payhsm_core::{
    crypto::{SoftwareKey, SymmetricKey},
    hex,
    kcv::{self, KcvMethod},
    key::{Algorithm, KeyAlgorithm},
};

use crate::{Case, Failure};

pub(crate) fn check(case: &Case) -> Result<(), Failure> {
    let key = case.input_key("key")?;
    let len = usize::try_from(case.input_u64("kcv_length_bytes")?)
        .map_err(|_| Failure::Error("kcv_length_bytes is too large".into()))?;
    let (cipher, method) = match case.input("method")? {
        "TDES-ECB-zeros" => (Algorithm::TDES, KcvMethod::AnsiX924),
        "TDES-CMAC-zeros" => (Algorithm::TDES, KcvMethod::Cmac),
        "AES-CMAC-zeros" => (Algorithm::AES, KcvMethod::Cmac),
        // The contrast vector: encrypting zeros under AES is not a standard KCV. Recompute it
        // with the raw primitive (so the data is what it claims), then require the KCV API to
        // refuse that method and its CMAC KCV to differ.
        "AES-ECB-zeros" => {
            let k = SoftwareKey::new(
                KeyAlgorithm::from_block_cipher(Algorithm::AES, key.len())?,
                &key,
            )?;
            let mut block = [0u8; 16];
            k.encrypt_ecb(&mut block)?;
            let raw = hex::encode(block.get(..len).unwrap_or(&block));
            case.check("kcv", &raw)?;
            if kcv::compute(&k, KcvMethod::AnsiX924, len).is_ok() {
                return Err(Failure::Error(
                    "an AES KCV by encrypting zeros was computed; it must be refused".into(),
                ));
            }
            if kcv::compute(&k, KcvMethod::Cmac, len)?.to_string() == raw {
                return Err(Failure::Error(
                    "the CMAC KCV equals the non-standard value".into(),
                ));
            }
            return Ok(());
        }
        other => return Err(Failure::Error(format!("unknown KCV method {other}"))),
    };
    let k = SoftwareKey::new(KeyAlgorithm::from_block_cipher(cipher, key.len())?, &key)?;
    case.check("kcv", &kcv::compute(&k, method, len)?.to_string())
}
