//! TDES DUKPT (ANSI X9.24-1:2009, restated in X9.24-3-2017 Annex C), host side.
//!
//! Every step works on key bytes: the initial key's right half is encrypted under the BDK
//! XOR `C0C0C0C000000000C0C0C0C000000000`, the non-reversible key generation process runs
//! single DES under each key half, and the working-key variants XOR masks into the key. So
//! this module takes the BDK (or an initial key) as [`KeyMaterial`] and says so in its
//! signatures; a token backend would run the same steps with its own derivation mechanisms.

use zeroize::Zeroizing;

use super::ksn::TdesKsn;
use crate::{
    Error, crypto::SoftwareKey, crypto::SymmetricKey, crypto::des::Des, derived::DerivedKey,
    key::KeyAlgorithm, secret::KeyMaterial,
};

/// The key variant that turns the BDK into the key for the initial key's right half, and
/// each current key into the one the right register is encrypted under.
const C0_MASK: [u8; 16] = [
    0xC0, 0xC0, 0xC0, 0xC0, 0, 0, 0, 0, 0xC0, 0xC0, 0xC0, 0xC0, 0, 0, 0, 0,
];

/// The working keys of TDES DUKPT, each a variant of the transaction key (X9.24-1:2009
/// Table A-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TdesVariant {
    /// PIN encryption: mask `00000000000000FF`.
    Pin,
    /// MAC, request or both ways: mask `000000000000FF00`.
    MacRequest,
    /// MAC, response: mask `00000000FF000000`.
    MacResponse,
    /// Data encryption, request or both ways: mask `0000000000FF0000`, then the variant key
    /// encrypts its own halves.
    DataRequest,
    /// Data encryption, response: mask `000000FF00000000`, then as for requests.
    DataResponse,
}

impl TdesVariant {
    /// The byte of each key half that the mask sets to `FF`.
    const fn mask_byte(self) -> usize {
        match self {
            Self::Pin => 7,
            Self::MacRequest => 6,
            Self::DataRequest => 5,
            Self::MacResponse => 4,
            Self::DataResponse => 3,
        }
    }
}

fn check_bdk(bdk: &KeyMaterial) -> Result<(), Error> {
    if bdk.len() != 16 {
        return Err(Error::InvalidLength {
            field: "BDK",
            expected: "16 bytes: TDES DUKPT is defined for two-key TDES BDKs only",
            actual: bdk.len(),
        });
    }
    Ok(())
}

/// The initial key (IPEK) of the device whose KSN is `ksn` (its counter is ignored).
///
/// `IK = TDES(BDK, K) || TDES(BDK ⊕ C0C0…, K)` with `K` the leftmost 8 bytes of the KSN with
/// the counter cleared.
pub fn initial_key(bdk: &KeyMaterial, ksn: &TdesKsn) -> Result<DerivedKey, Error> {
    check_bdk(bdk)?;
    let mut variant = Zeroizing::new([0u8; 16]);
    variant
        .iter_mut()
        .zip(bdk.expose_secret().iter().zip(C0_MASK))
        .for_each(|(v, (b, m))| *v = b ^ m);
    let mut ik = KeyMaterial::zeroed("initial key", 16)?;
    let out = ik.expose_secret_mut();
    out[..8].copy_from_slice(&ksn.initial().as_bytes()[..8]);
    out[8..].copy_from_slice(&ksn.initial().as_bytes()[..8]);
    SoftwareKey::new(KeyAlgorithm::Tdes2Key, bdk)?.encrypt_ecb(&mut out[..8])?;
    SoftwareKey::new(
        KeyAlgorithm::Tdes2Key,
        &KeyMaterial::from_slice("BDK variant", &variant[..])?,
    )?
    .encrypt_ecb(&mut out[8..])?;
    DerivedKey::new(KeyAlgorithm::Tdes2Key, ik)
}

/// The transaction key for `ksn` from the device's initial key.
///
/// Starting from the initial key, each counter bit set, from the highest, is set in the
/// register and the key is replaced by the non-reversible key generation of the register.
/// The counter must be valid ([`TdesKsn::check_counter`]).
pub fn transaction_key_from_initial(
    initial_key: &KeyMaterial,
    ksn: &TdesKsn,
) -> Result<DerivedKey, Error> {
    if initial_key.len() != 16 {
        return Err(Error::InvalidLength {
            field: "initial key",
            expected: "16 bytes",
            actual: initial_key.len(),
        });
    }
    ksn.check_counter()?;
    let counter = ksn.counter();
    let mut key = Zeroizing::new([0u8; 16]);
    key.copy_from_slice(initial_key.expose_secret());
    let mut register = *ksn.initial().as_bytes();
    for bit in (0..TdesKsn::COUNTER_BITS).rev() {
        let shift = 1u32 << bit;
        if counter & shift == 0 {
            continue;
        }
        let current = TdesKsn::from_bytes(&register)?;
        register = *current.with_counter(current.counter() | shift).as_bytes();
        let mut data = [0u8; 8];
        data.copy_from_slice(&register[2..]);
        non_reversible(&mut key, &data)?;
    }
    DerivedKey::new(
        KeyAlgorithm::Tdes2Key,
        KeyMaterial::from_slice("transaction key", &key[..])?,
    )
}

/// The transaction key for `ksn`, from the BDK.
pub fn transaction_key(bdk: &KeyMaterial, ksn: &TdesKsn) -> Result<DerivedKey, Error> {
    let ik = initial_key(bdk, ksn)?;
    transaction_key_from_initial(
        &KeyMaterial::from_slice("initial key", ik.expose_secret())?,
        ksn,
    )
}

/// The working key `variant` of a transaction key.
pub fn working_key(
    transaction_key: &DerivedKey,
    variant: TdesVariant,
) -> Result<DerivedKey, Error> {
    if transaction_key.algorithm() != KeyAlgorithm::Tdes2Key {
        return Err(Error::InvalidValue {
            field: "transaction key",
            reason: "TDES DUKPT transaction keys are two-key TDES",
        });
    }
    let mut key = KeyMaterial::from_slice("working key", transaction_key.expose_secret())?;
    let k = key.expose_secret_mut();
    let i = variant.mask_byte();
    k[i] ^= 0xFF;
    k[8 + i] ^= 0xFF;
    if matches!(
        variant,
        TdesVariant::DataRequest | TdesVariant::DataResponse
    ) {
        // The data key is the variant key's own halves encrypted under it: one-way, so a
        // data key does not reveal the MAC and PIN keys of the same transaction.
        SoftwareKey::new(KeyAlgorithm::Tdes2Key, &key)?.encrypt_ecb(key.expose_secret_mut())?;
    }
    DerivedKey::new(KeyAlgorithm::Tdes2Key, key)
}

/// Single DES of one block under an 8-byte key half.
fn des_encrypt(key: &[u8], block: &mut [u8; 8]) -> Result<(), Error> {
    let key: [u8; 8] = key.try_into().map_err(|_| Error::InvalidLength {
        field: "DES key",
        expected: "8 bytes",
        actual: key.len(),
    })?;
    let des = Des::new(key);
    *block = des.encrypt(*block);
    Ok(())
}

/// The non-reversible key generation process (X9.24-1:2009 A.2): the new key's right half is
/// `DES(K_L, data ⊕ K_R) ⊕ K_R`, its left half the same under the `C0C0…` variant of `K`.
fn non_reversible(key: &mut [u8; 16], data: &[u8; 8]) -> Result<(), Error> {
    let half = |k: &[u8], out: &mut [u8; 8]| -> Result<(), Error> {
        out.iter_mut()
            .zip(data.iter().zip(&k[8..]))
            .for_each(|(o, (d, r))| *o = d ^ r);
        des_encrypt(&k[..8], out)?;
        out.iter_mut().zip(&k[8..]).for_each(|(o, r)| *o ^= r);
        Ok(())
    };
    let mut right = Zeroizing::new([0u8; 8]);
    half(&key[..], &mut right)?;
    key.iter_mut().zip(C0_MASK).for_each(|(k, m)| *k ^= m);
    let mut left = Zeroizing::new([0u8; 8]);
    half(&key[..], &mut left)?;
    key[..8].copy_from_slice(&left[..]);
    key[8..].copy_from_slice(&right[..]);
    Ok(())
}
