//! Presets for common cryptogram versions (CVN), so a user need not know each scheme's
//! master-key option, session key, padding and ARPC method.
//!
//! The transaction data is still the caller's: it is the concatenation of the data elements
//! below, in this order, with no tags or lengths. The most common user error is to leave out
//! the issuer application data (9F10) for Visa CVN 18/22, or to send only the CVR (its bytes
//! 4–7) where the full 9F10 is wanted, or the reverse.
//!
//! | CVN | MK | session key | padding | ARPC | transaction data |
//! |-----|----|-------------|---------|------|------------------|
//! | Visa 10 | A | none (`VISA`) | method 1 (`00`) | method 1, ICC MK | 9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 82 9F36 CVR (9F10 bytes 4–7) |
//! | Visa 18 | B | common (`EMV_COMMON_SESSION_KEY`, ATC) | method 2 (`80`) | method 2, session key | 9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 82 9F36 9F10 (all of it) |
//! | Visa 22 | B | common (ATC) | method 2 | method 2, session key | as CVN 18 |
//! | Mastercard 16 | A | Mastercard (ATC, UN) | method 2 | method 1, ICC MK | 9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 82 9F36 CVR (6 bytes of 9F10) |
//! | Mastercard 17 | A | Mastercard (ATC, UN) | method 2 | method 1, ICC MK | as CVN 16, then the counters of 9F10 |
//! | Mastercard 20 | A | common (ATC) | method 2 | method 1, session key | as CVN 16 |
//! | Mastercard 21 | A | common (ATC) | method 2 | method 1, session key | as CVN 17 |
//!
//! The table follows pyemv 1.5.0's `cvn` module, which the tests cross-check.

use super::{mkd::MasterKeyDerivation, session::SessionKeyMode};
use crate::mac::Padding;
use crate::names::service_enum;

service_enum! {
    /// A cryptogram version with a preset.
    pub enum CryptogramVersion("cryptogram version") {
        /// Visa CVN 10.
        VisaCvn10 = "VISA_CVN10",
        /// Visa CVN 18.
        VisaCvn18 = "VISA_CVN18",
        /// Visa CVN 22.
        VisaCvn22 = "VISA_CVN22",
        /// Mastercard CVN 16.
        MastercardCvn16 = "MASTERCARD_CVN16",
        /// Mastercard CVN 17.
        MastercardCvn17 = "MASTERCARD_CVN17",
        /// Mastercard CVN 20.
        MastercardCvn20 = "MASTERCARD_CVN20",
        /// Mastercard CVN 21.
        MastercardCvn21 = "MASTERCARD_CVN21",
    }
}

/// Which key the ARPC is computed under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArpcKey {
    /// The ICC master key (no ARPC session key).
    IccMasterKey,
    /// The AC session key.
    SessionKey,
}

impl CryptogramVersion {
    /// The ICC master key derivation option.
    pub const fn master_key_derivation(self) -> MasterKeyDerivation {
        match self {
            Self::VisaCvn18 | Self::VisaCvn22 => MasterKeyDerivation::OptionB,
            _ => MasterKeyDerivation::OptionA,
        }
    }

    /// The session key derivation mode.
    pub const fn session_key_mode(self) -> SessionKeyMode {
        match self {
            Self::VisaCvn10 => SessionKeyMode::Visa,
            Self::MastercardCvn16 | Self::MastercardCvn17 => SessionKeyMode::MastercardSessionKey,
            _ => SessionKeyMode::EmvCommonSessionKey,
        }
    }

    /// The padding of the transaction data.
    pub const fn padding(self) -> Padding {
        match self {
            Self::VisaCvn10 => Padding::Method1,
            _ => Padding::Method2,
        }
    }

    /// The ARPC method (1 or 2).
    pub const fn arpc_method(self) -> u8 {
        match self {
            Self::VisaCvn18 | Self::VisaCvn22 => 2,
            _ => 1,
        }
    }

    /// The key the ARPC is computed under.
    pub const fn arpc_key(self) -> ArpcKey {
        match self {
            Self::VisaCvn10 | Self::MastercardCvn16 | Self::MastercardCvn17 => {
                ArpcKey::IccMasterKey
            }
            _ => ArpcKey::SessionKey,
        }
    }
}
