//! Application cryptograms (EMV Book 2 §8.1, A1.2) and authorisation response cryptograms
//! (§8.2, ARPC methods 1 and 2).

use crate::{
    Error,
    crypto::{BlockCipher, SymmetricKey, Tag},
    mac::{self, Padding},
};

/// The length of an application cryptogram (ARQC, TC, AAC).
pub const AC_LEN: usize = 8;

/// The longest transaction data accepted: 512 bytes (AWS Payment Cryptography's 1024 hex
/// digits).
pub const MAX_TRANSACTION_DATA: usize = 512;

fn check_tdes(key: &(impl SymmetricKey + ?Sized)) -> Result<(), Error> {
    if key.block_cipher()? != BlockCipher::Tdes {
        return Err(Error::UnsupportedOperation {
            operation: "EMV cryptogram",
            reason: "payhsm computes EMV cryptograms with TDES session keys only",
        });
    }
    Ok(())
}

fn check_data(data: &[u8]) -> Result<(), Error> {
    if data.is_empty() || data.len() > MAX_TRANSACTION_DATA {
        return Err(Error::InvalidLength {
            field: "transaction data",
            expected: "1 to 512 bytes (2 to 1024 hex digits)",
            actual: data.len(),
        });
    }
    Ok(())
}

/// The application cryptogram of `transaction_data` under `session_key`: ISO 9797-1 MAC
/// algorithm 3 with `padding` (method 1, zeros, for Visa CVN 10; method 2, `80 00…`, for the
/// EMV and Mastercard cryptogram versions), 8 bytes.
pub fn generate_ac(
    session_key: &(impl SymmetricKey + ?Sized),
    transaction_data: &[u8],
    padding: Padding,
) -> Result<Tag, Error> {
    check_tdes(session_key)?;
    check_data(transaction_data)?;
    mac::iso9797_1_algorithm3(session_key, transaction_data, padding)
}

/// Verifies a presented application cryptogram (8 bytes) in constant time. A mismatch is the
/// opaque [`Error::VerificationFailed`] (the service's `INVALID_AUTH_REQUEST_CRYPTOGRAM`).
pub fn verify_ac(
    session_key: &(impl SymmetricKey + ?Sized),
    transaction_data: &[u8],
    padding: Padding,
    cryptogram: &[u8],
) -> Result<(), Error> {
    if cryptogram.len() != AC_LEN {
        return Err(Error::InvalidLength {
            field: "auth request cryptogram",
            expected: "8 bytes (16 hex digits)",
            actual: cryptogram.len(),
        });
    }
    generate_ac(session_key, transaction_data, padding)?.verify_truncated(cryptogram)
}

/// ARPC method 1 (EMV Book 2 A1.2.1): `TDES(key, ARQC ⊕ (ARC ‖ 00…00))`, 8 bytes. `key` is
/// the AC session key or, for cryptogram versions without an ARPC session key, the ICC
/// master key.
pub fn arpc_method1(
    key: &(impl SymmetricKey + ?Sized),
    arqc: &[u8],
    auth_response_code: &[u8],
) -> Result<Tag, Error> {
    check_tdes(key)?;
    let arqc: &[u8; 8] = arqc.try_into().map_err(|_| Error::InvalidLength {
        field: "auth request cryptogram",
        expected: "8 bytes (16 hex digits)",
        actual: arqc.len(),
    })?;
    if auth_response_code.len() != 2 {
        return Err(Error::InvalidLength {
            field: "auth response code",
            expected: "2 bytes (4 hex digits)",
            actual: auth_response_code.len(),
        });
    }
    let mut block = *arqc;
    block[0] ^= auth_response_code[0];
    block[1] ^= auth_response_code[1];
    key.encrypt_ecb(&mut block)?;
    Tag::new(&block)
}

/// ARPC method 2 (EMV Book 2 A1.2.2): the first 4 bytes of ISO 9797-1 MAC algorithm 3 with
/// padding method 2 over `ARQC ‖ CSU ‖ proprietary authentication data` (0 to 8 bytes).
pub fn arpc_method2(
    key: &(impl SymmetricKey + ?Sized),
    arqc: &[u8],
    card_status_update: &[u8],
    proprietary_auth_data: &[u8],
) -> Result<Tag, Error> {
    check_tdes(key)?;
    if arqc.len() != AC_LEN {
        return Err(Error::InvalidLength {
            field: "auth request cryptogram",
            expected: "8 bytes (16 hex digits)",
            actual: arqc.len(),
        });
    }
    if card_status_update.len() != 4 {
        return Err(Error::InvalidLength {
            field: "card status update",
            expected: "4 bytes (8 hex digits)",
            actual: card_status_update.len(),
        });
    }
    if proprietary_auth_data.len() > 8 {
        return Err(Error::InvalidLength {
            field: "proprietary authentication data",
            expected: "0 to 8 bytes (up to 16 hex digits)",
            actual: proprietary_auth_data.len(),
        });
    }
    let mut data = [0u8; 20];
    data[..8].copy_from_slice(arqc);
    data[8..12].copy_from_slice(card_status_update);
    let n = 12 + proprietary_auth_data.len();
    data[12..n].copy_from_slice(proprietary_auth_data);
    let mut tag = mac::iso9797_1_algorithm3(key, &data[..n], Padding::Method2)?;
    tag.truncate(4)?;
    Ok(tag)
}
