//! Session key derivation from an ICC master key, for every mode AWS Payment Cryptography
//! lists (`SessionKeyDerivationMode`).
//!
//! | mode | session key |
//! |------|-------------|
//! | `EMV_COMMON_SESSION_KEY` | EMV Book 2 A1.3: `TDES(MK, R with byte 2 = F0) ‖ TDES(MK, R with byte 2 = 0F)`, `R = ATC ‖ 00…00` |
//! | `MASTERCARD_SESSION_KEY` | the common derivation with `R = ATC ‖ 0000 ‖ UN` (M/Chip) |
//! | `EMV2000` | the EMV 4.0 tree (A1.3 of EMV 2000), branch factor 4, height 8, IV zero |
//! | `VISA`, `AMEX` | no session key: the ICC master key itself (Visa CVN 10, Amex AEIPS) |
//! | `UNION_PAY` | `TDES(MK, 000000000000 ‖ ATC) ‖ TDES(MK, 000000000000 ‖ ATC ⊕ FFFF)` (UICS / PBOC) |
//!
//! Every session key gets odd parity. The common, Mastercard and UnionPay derivations use the
//! master key only through encryption; the tree's last step XORs key bytes, and the modes
//! without a session key return the master key, so this module takes the master key as a
//! [`DerivedKey`] (it is always derived, never stored).

use crate::names::service_enum;
use zeroize::Zeroizing;

use crate::{
    Error, crypto::SymmetricKey, crypto::tdes::set_odd_parity, derived::DerivedKey,
    key::KeyAlgorithm, secret::KeyMaterial,
};

service_enum! {
    /// A session key derivation mode (AWS Payment Cryptography `SessionKeyDerivationMode`).
    pub enum SessionKeyMode("session key derivation mode") {
        /// `EMV_COMMON_SESSION_KEY`.
        EmvCommonSessionKey = "EMV_COMMON_SESSION_KEY",
        /// `EMV2000`.
        Emv2000 = "EMV2000",
        /// `MASTERCARD_SESSION_KEY`.
        MastercardSessionKey = "MASTERCARD_SESSION_KEY",
        /// `VISA`.
        Visa = "VISA",
        /// `AMEX`.
        Amex = "AMEX",
        /// `UNION_PAY`.
        UnionPay = "UNION_PAY",
    }
}

/// A session key derivation with its data (AWS Payment Cryptography `SessionKeyDerivation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKeyDerivation {
    /// EMV common session key from the application transaction counter.
    EmvCommon {
        /// ATC (tag 9F36).
        atc: [u8; 2],
    },
    /// Mastercard session key from the ATC and the terminal's unpredictable number.
    Mastercard {
        /// ATC (tag 9F36).
        atc: [u8; 2],
        /// Unpredictable number (tag 9F37).
        unpredictable_number: [u8; 4],
    },
    /// EMV2000 tree session key.
    Emv2000 {
        /// ATC (tag 9F36).
        atc: [u8; 2],
    },
    /// Amex: the ICC master key.
    Amex,
    /// Visa: the ICC master key.
    Visa,
    /// UnionPay session key from the ATC.
    UnionPay {
        /// ATC (tag 9F36).
        atc: [u8; 2],
    },
}

impl SessionKeyDerivation {
    /// The derivation for `mode` with the data it needs: `atc` for every mode but Visa and
    /// Amex, and `unpredictable_number` for Mastercard. Data a mode does not take is refused,
    /// so a user learns that it is not used.
    pub fn new(
        mode: SessionKeyMode,
        atc: Option<[u8; 2]>,
        unpredictable_number: Option<[u8; 4]>,
    ) -> Result<Self, Error> {
        let need_atc = || {
            atc.ok_or(Error::InvalidValue {
                field: "application transaction counter",
                reason: "this session key derivation mode needs the ATC (4 hex digits)",
            })
        };
        let un = match (mode, unpredictable_number) {
            (SessionKeyMode::MastercardSessionKey, Some(un)) => Some(un),
            (SessionKeyMode::MastercardSessionKey, None) => {
                return Err(Error::InvalidValue {
                    field: "unpredictable number",
                    reason: "MASTERCARD_SESSION_KEY needs the unpredictable number (8 hex digits)",
                });
            }
            (_, Some(_)) => {
                return Err(Error::InvalidValue {
                    field: "unpredictable number",
                    reason: "only MASTERCARD_SESSION_KEY takes an unpredictable number",
                });
            }
            (_, None) => None,
        };
        if matches!(mode, SessionKeyMode::Visa | SessionKeyMode::Amex) && atc.is_some() {
            return Err(Error::InvalidValue {
                field: "application transaction counter",
                reason: "VISA and AMEX use the ICC master key and take no ATC",
            });
        }
        Ok(match mode {
            SessionKeyMode::EmvCommonSessionKey => Self::EmvCommon { atc: need_atc()? },
            SessionKeyMode::MastercardSessionKey => Self::Mastercard {
                atc: need_atc()?,
                unpredictable_number: un.unwrap_or_default(),
            },
            SessionKeyMode::Emv2000 => Self::Emv2000 { atc: need_atc()? },
            SessionKeyMode::Visa => Self::Visa,
            SessionKeyMode::Amex => Self::Amex,
            SessionKeyMode::UnionPay => Self::UnionPay { atc: need_atc()? },
        })
    }

    /// The mode.
    pub fn mode(&self) -> SessionKeyMode {
        match self {
            Self::EmvCommon { .. } => SessionKeyMode::EmvCommonSessionKey,
            Self::Mastercard { .. } => SessionKeyMode::MastercardSessionKey,
            Self::Emv2000 { .. } => SessionKeyMode::Emv2000,
            Self::Amex => SessionKeyMode::Amex,
            Self::Visa => SessionKeyMode::Visa,
            Self::UnionPay { .. } => SessionKeyMode::UnionPay,
        }
    }
}

fn check_tdes(mk: &(impl SymmetricKey + ?Sized)) -> Result<(), Error> {
    if mk.key_algorithm() != KeyAlgorithm::Tdes2Key {
        return Err(Error::InvalidValue {
            field: "ICC master key",
            reason: "EMV session keys are derived from two-key TDES master keys",
        });
    }
    Ok(())
}

/// Encrypts two 8-byte inputs under `mk` into a parity-adjusted two-key TDES key.
fn two_halves(
    mk: &(impl SymmetricKey + ?Sized),
    left: &[u8; 8],
    right: &[u8; 8],
) -> Result<DerivedKey, Error> {
    check_tdes(mk)?;
    let mut sk = KeyMaterial::zeroed("session key", 16)?;
    let k = sk.expose_secret_mut();
    k[..8].copy_from_slice(left);
    k[8..].copy_from_slice(right);
    mk.encrypt_ecb(k)?;
    set_odd_parity(k);
    DerivedKey::new(KeyAlgorithm::Tdes2Key, sk)
}

/// The EMV common session key (Book 2 A1.3.1) for diversification value `r`.
pub fn common_session_key(
    mk: &(impl SymmetricKey + ?Sized),
    r: &[u8; 8],
) -> Result<DerivedKey, Error> {
    let (mut left, mut right) = (*r, *r);
    left[2] = 0xF0;
    right[2] = 0x0F;
    two_halves(mk, &left, &right)
}

/// The UnionPay (PBOC) session key for an ATC.
fn union_pay(mk: &(impl SymmetricKey + ?Sized), atc: [u8; 2]) -> Result<DerivedKey, Error> {
    let mut left = [0u8; 8];
    let mut right = [0u8; 8];
    left[6..].copy_from_slice(&atc);
    right[6..].copy_from_slice(&[!atc[0], !atc[1]]);
    two_halves(mk, &left, &right)
}

/// The EMV2000 tree's branch factor and height (EMV 2000 Book 2 A1.3): 4 and 8, the
/// specification's recommendation, which gives 65 536 leaves, one per ATC.
const BRANCH: u32 = 4;
const HEIGHT: u32 = 8;

/// The tree function `F(X, Y, j) = TDES(X, Y_L ⊕ j mod b) ‖ TDES(X, Y_R ⊕ j mod b ⊕ F0)`.
fn tree_step(x: &[u8; 16], y: &[u8; 16], j: u32) -> Result<Zeroizing<[u8; 16]>, Error> {
    let mut out = Zeroizing::new(*y);
    let jb = (j % BRANCH).to_be_bytes();
    for half in out.chunks_exact_mut(8) {
        half[4..].iter_mut().zip(jb).for_each(|(o, b)| *o ^= b);
    }
    out[15] ^= 0xF0;
    let key = crate::crypto::SoftwareKey::new(
        KeyAlgorithm::Tdes2Key,
        &KeyMaterial::from_slice("tree key", x)?,
    )?;
    key.encrypt_ecb(&mut out[..])?;
    Ok(out)
}

/// The EMV2000 tree session key for an ATC.
fn emv2000(mk: &DerivedKey, atc: [u8; 2]) -> Result<DerivedKey, Error> {
    let mut parent = Zeroizing::new([0u8; 16]);
    parent.copy_from_slice(mk.expose_secret());
    let mut grandparent = Zeroizing::new([0u8; 16]);
    let atc = u32::from(u16::from_be_bytes(atc));
    // Walk down from the root: the node at level h is ATC / b^(H-h).
    for level in 1..HEIGHT {
        let j = atc / BRANCH.pow(HEIGHT - level);
        let child = tree_step(&parent, &grandparent, j)?;
        *grandparent = *parent;
        *parent = *child;
    }
    let leaf = tree_step(&parent, &grandparent, atc)?;
    let mut sk = KeyMaterial::zeroed("session key", 16)?;
    let k = sk.expose_secret_mut();
    k.iter_mut()
        .zip(leaf.iter().zip(grandparent.iter()))
        .for_each(|(o, (l, g))| *o = l ^ g);
    set_odd_parity(k);
    DerivedKey::new(KeyAlgorithm::Tdes2Key, sk)
}

/// Derives the session key for `derivation` from the ICC master key.
pub fn session_key(
    icc_master_key: &DerivedKey,
    derivation: &SessionKeyDerivation,
) -> Result<DerivedKey, Error> {
    let mk = icc_master_key.handle()?;
    check_tdes(&mk)?;
    match *derivation {
        SessionKeyDerivation::EmvCommon { atc } => {
            let mut r = [0u8; 8];
            r[..2].copy_from_slice(&atc);
            common_session_key(&mk, &r)
        }
        SessionKeyDerivation::Mastercard {
            atc,
            unpredictable_number,
        } => {
            let mut r = [0u8; 8];
            r[..2].copy_from_slice(&atc);
            r[4..].copy_from_slice(&unpredictable_number);
            common_session_key(&mk, &r)
        }
        SessionKeyDerivation::Emv2000 { atc } => emv2000(icc_master_key, atc),
        SessionKeyDerivation::UnionPay { atc } => union_pay(&mk, atc),
        SessionKeyDerivation::Visa | SessionKeyDerivation::Amex => DerivedKey::new(
            KeyAlgorithm::Tdes2Key,
            KeyMaterial::from_slice("session key", icc_master_key.expose_secret())?,
        ),
    }
}

/// The Visa secure-messaging session key (VIS): `MK_L ⊕ (00…00 ‖ ATC)` ‖ `MK_R ⊕ (00…00 ‖
/// ATC ⊕ FFFF)`, odd parity. Used for issuer scripts under `VISA`.
pub fn visa_secure_messaging_key(
    icc_master_key: &DerivedKey,
    atc: [u8; 2],
) -> Result<DerivedKey, Error> {
    if icc_master_key.algorithm() != KeyAlgorithm::Tdes2Key {
        return Err(Error::InvalidValue {
            field: "ICC master key",
            reason: "EMV session keys are derived from two-key TDES master keys",
        });
    }
    let mut sk = KeyMaterial::from_slice("session key", icc_master_key.expose_secret())?;
    let k = sk.expose_secret_mut();
    k[6] ^= atc[0];
    k[7] ^= atc[1];
    k[14] ^= !atc[0];
    k[15] ^= !atc[1];
    set_odd_parity(k);
    DerivedKey::new(KeyAlgorithm::Tdes2Key, sk)
}
