//! ICC master key derivation from an issuer master key (EMV 4.3 Book 2 Annex A1.4).
//!
//! Both options encrypt an 8-byte `Y` and its complement under the IMK (`MK = TDES(IMK, Y) ‖
//! TDES(IMK, Y ⊕ FF…FF)`, odd parity), so the IMK is used through [`SymmetricKey::encrypt_ecb`]
//! only and may be a token key.

use sha1::{Digest, Sha1};
use zeroize::{Zeroize, Zeroizing};

use crate::{
    Error,
    card::icc::{self, PanSequenceNumber},
    crypto::{SymmetricKey, tdes::set_odd_parity},
    derived::DerivedKey,
    fields::{Pan, pack_nibbles},
    key::KeyAlgorithm,
    secret::KeyMaterial,
};

/// How the ICC master key comes from the IMK (AWS Payment Cryptography
/// `EmvMajorKeyDerivationMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MasterKeyDerivation {
    /// Option A (`EMV_OPTION_A`): `Y` is the rightmost 16 digits of PAN ‖ PSN.
    OptionA,
    /// Option B (`EMV_OPTION_B`): for PANs longer than 16 digits, `Y` is the decimalised
    /// SHA-1 of PAN ‖ PSN; for shorter PANs it is option A.
    OptionB,
}

impl MasterKeyDerivation {
    /// The option by name: `A`, `B`, `EMV_OPTION_A` or `EMV_OPTION_B`.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        match name {
            "A" | "EMV_OPTION_A" => Ok(Self::OptionA),
            "B" | "EMV_OPTION_B" => Ok(Self::OptionB),
            _ => Err(Error::InvalidValue {
                field: "major key derivation mode",
                reason: "expected EMV_OPTION_A or EMV_OPTION_B (A or B)",
            }),
        }
    }
}

/// Derives the ICC master key for `pan` and `psn` from the issuer master key `imk` (TDES).
pub fn icc_master_key(
    imk: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    psn: &PanSequenceNumber,
    option: MasterKeyDerivation,
) -> Result<DerivedKey, Error> {
    let material = match option {
        MasterKeyDerivation::OptionB if pan.len() > 16 => option_b(imk, pan, psn)?,
        _ => icc::derive_option_a(imk, pan, psn)?,
    };
    DerivedKey::new(KeyAlgorithm::Tdes2Key, material)
}

/// Option B for PANs of 17 to 19 digits (EMV Book 2 A1.4.2).
fn option_b(
    imk: &(impl SymmetricKey + ?Sized),
    pan: &Pan,
    psn: &PanSequenceNumber,
) -> Result<KeyMaterial, Error> {
    icc::require_tdes_imk(imk)?;
    // PAN ‖ PSN, left-padded with one zero to an even number of digits, packed.
    let mut digits = Zeroizing::new([b'0'; 22]);
    let n = pan.len() + 2;
    let start = 22 - n - n % 2;
    digits[22 - n..20].copy_from_slice(pan.as_bytes());
    digits[20..].copy_from_slice(psn.as_bytes());
    let mut packed = Zeroizing::new([0u8; 11]);
    let len = (22 - start) / 2;
    pack_nibbles(&digits[start..], 0, &mut packed[..len]);
    let mut hash = Sha1::digest(&packed[..len]);
    // Decimalise: the hash's decimal digits in order, then its letters mapped A–F to 0–5.
    let nibble = |i: usize| (hash[i / 2] >> (4 * (1 - i % 2))) & 0x0F;
    let mut y_digits = Zeroizing::new([0u8; 16]);
    let mut filled = 0;
    for pass_decimal in [true, false] {
        for i in 0..40 {
            let d = nibble(i);
            if filled < 16 && (d < 10) == pass_decimal {
                y_digits[filled] = if pass_decimal { d } else { d - 10 };
                filled += 1;
            }
        }
    }
    hash.as_mut_slice().zeroize();
    let mut out = KeyMaterial::zeroed("ICC master key", 16)?;
    let k = out.expose_secret_mut();
    for (i, b) in k[..8].iter_mut().enumerate() {
        *b = (y_digits[2 * i] << 4) | y_digits[2 * i + 1];
    }
    let (left, right) = k.split_at_mut(8);
    right.copy_from_slice(left);
    right.iter_mut().for_each(|b| *b ^= 0xFF);
    imk.encrypt_ecb(left)?;
    imk.encrypt_ecb(right)?;
    set_odd_parity(k);
    Ok(out)
}
