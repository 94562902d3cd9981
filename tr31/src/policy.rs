//! Policy the HSM applies around [`wrap`](crate::wrap) and [`unwrap`](crate::unwrap).
//!
//! The wrap and unwrap functions are the X9.143 primitives and run the published vectors, some
//! of which break these rules (an AES-256 key under an AES-128 KBPK). The HSM calls these checks
//! before any cryptography:
//! - [`check_kbpk`] (T-KB-10): only key block protection keys protect key blocks.
//! - [`check_export`] (T-KB-11): an export may narrow a key's attributes, never widen them.
//! - [`check_wrapping_strength`] (T-KB-12): the wrapping key is at least as strong as the key.

use payhsm_core::key::{
    Exportability, KeyAlgorithm, KeyAttributes, KeyModesOfUse, KeyUsage, ModeOfUse,
};

use crate::{Error, Header, Version};

/// What the KBPK is about to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Export: wrap a key into a block.
    Wrap,
    /// Import: unwrap a block.
    Unwrap,
}

/// Checks that a key may serve as the KBPK of a `version` block (T-KB-10).
///
/// The usage must be `K0` (key encryption key) or `K1` (TR-31 KBPK); `K4` (ISO 20038 KBPK) is
/// accepted for version D only, the AES key block ISO 20038 shares with X9.143. The modes of use
/// must allow the direction (wrap or unwrap, or no restrictions), and the algorithm must fit the
/// version (TDES for A, B, C; AES for D).
pub fn check_kbpk(
    kbpk: &KeyAttributes,
    version: Version,
    direction: Direction,
) -> Result<(), Error> {
    let usage_ok = match kbpk.key_usage {
        KeyUsage::K0 | KeyUsage::K1 => true,
        KeyUsage::K4 => version == Version::D,
        _ => false,
    };
    if !usage_ok {
        return Err(Error::KeyUsageViolation {
            reason: "only K0 and K1 keys (K4 for version D) may protect key blocks",
        });
    }
    let modes = &kbpk.key_modes_of_use;
    let (allowed, reason) = match direction {
        Direction::Wrap => (modes.wrap, "the KBPK's modes of use do not allow wrapping"),
        Direction::Unwrap => (
            modes.unwrap,
            "the KBPK's modes of use do not allow unwrapping",
        ),
    };
    if !(allowed || modes.no_restrictions) {
        return Err(Error::KeyUsageViolation { reason });
    }
    version.check_kbpk(kbpk.key_algorithm)
}

/// Checks that exporting a key stored under `stored` with the header `export` only narrows it
/// (T-KB-11, AWS Payment Cryptography `KeyBlockHeaders`: "further restrict").
///
/// - A non-exportable (`N`) key is never exported.
/// - Key usage and algorithm stay the same.
/// - The mode of use allows no operation the stored one does not (`E` from `B` is fine, `B`
///   from `E` is not; an unmodelled mode such as `Y` must stay the same).
/// - Exportability only narrows, in X9.143's order `S` (exportable, also in forms outside
///   X9.24) ⊃ `E` (exportable in X9.24 forms) ⊃ `N`: so `S`→`E` and `E`→`N` are allowed and
///   `E`→`S` is refused.
pub fn check_export(stored: &Header, export: &Header) -> Result<(), Error> {
    let refuse = |reason| Err(Error::ExportNotPermitted { reason });
    if stored.exportability() == Exportability::NON_EXPORTABLE {
        return refuse("the key is non-exportable");
    }
    if export.key_usage() != stored.key_usage() || export.algorithm() != stored.algorithm() {
        return refuse("an export cannot change the key usage or algorithm");
    }
    if !mode_within(export.mode_of_use(), stored.mode_of_use()) {
        return refuse("the mode of use would allow more than the stored key's");
    }
    match (
        exportability_rank(export.exportability()),
        exportability_rank(stored.exportability()),
    ) {
        (Some(e), Some(s)) if e <= s => Ok(()),
        (None, None) if export.exportability() == stored.exportability() => Ok(()),
        _ => refuse("the exportability would be wider than the stored key's"),
    }
}

/// Checks that `wrapping_key` is at least as strong as `wrapped_key` (T-KB-12, NIST SP 800-57
/// strengths as AWS Payment Cryptography enforces them on export).
pub fn check_wrapping_strength(
    wrapping_key: KeyAlgorithm,
    wrapped_key: KeyAlgorithm,
) -> Result<(), Error> {
    if wrapping_key.strength_bits() >= wrapped_key.strength_bits() {
        Ok(())
    } else {
        Err(Error::ExportNotPermitted {
            reason: "the wrapping key is weaker than the key it would protect",
        })
    }
}

fn mode_within(narrow: ModeOfUse, wide: ModeOfUse) -> bool {
    if narrow == wide {
        return true;
    }
    match (
        KeyModesOfUse::from_mode_of_use(narrow),
        KeyModesOfUse::from_mode_of_use(wide),
    ) {
        (Some(n), Some(w)) => n.is_within(&w),
        _ => false,
    }
}

/// Wider export permissions rank higher; `None` for proprietary codes.
fn exportability_rank(e: Exportability) -> Option<u8> {
    match e {
        Exportability::NON_EXPORTABLE => Some(0),
        Exportability::EXPORTABLE => Some(1),
        Exportability::SENSITIVE => Some(2),
        _ => None,
    }
}
