//! EMV issuer cryptography: ICC master keys (options A and B), session keys for every mode
//! AWS Payment Cryptography lists, ARQC generation and verification, ARPC methods 1 and 2,
//! issuer script MACs, EMV data encryption, offline PIN change scripts ([`pin_change`]), and
//! presets for common cryptogram versions.
//!
//! The issuer master key is used as a TDES key through [`SymmetricKey::encrypt_ecb`] only,
//! so it may live in a token. ICC master keys and session keys are derived material
//! ([`DerivedKey`]); the EMV2000 tree and the Visa secure-messaging key XOR key bytes, which
//! is why session derivation takes the master key as a `DerivedKey`.
//!
//! A cryptogram depends on four choices that the card and the issuer must agree on: the
//! master key option, the session key mode, the padding of the transaction data and the data
//! itself. [`cvn::CryptogramVersion`] fixes the first three for the common cryptogram
//! versions and documents the fourth. Only TDES cryptograms are implemented (AES EMV
//! cryptograms are not in the service's API).

pub mod ac;
pub mod cvn;
pub mod mkd;
pub mod pin_change;
pub mod session;
pub mod sm;

pub use crate::card::icc::PanSequenceNumber;

use self::{
    mkd::MasterKeyDerivation,
    session::{SessionKeyDerivation, SessionKeyMode},
};
use crate::{
    Error,
    crypto::{SymmetricKey, Tag},
    derived::DerivedKey,
    fields::Pan,
    mac::Padding,
};

/// The card an operation is for and how its master key comes from the issuer master key.
#[derive(Clone, Copy, Debug)]
pub struct Card<'a> {
    /// The primary account number.
    pub pan: &'a Pan,
    /// The PAN sequence number.
    pub psn: PanSequenceNumber,
    /// The master key derivation option.
    pub option: MasterKeyDerivation,
}

impl Card<'_> {
    /// The ICC master key under the issuer master key `imk`.
    pub fn master_key(&self, imk: &(impl SymmetricKey + ?Sized)) -> Result<DerivedKey, Error> {
        mkd::icc_master_key(imk, self.pan, &self.psn, self.option)
    }

    /// The AC session key for `derivation` under the issuer master key `imk`.
    pub fn session_key(
        &self,
        imk: &(impl SymmetricKey + ?Sized),
        derivation: &SessionKeyDerivation,
    ) -> Result<DerivedKey, Error> {
        session::session_key(&self.master_key(imk)?, derivation)
    }
}

/// The default padding of a session key mode: zeros (method 1) for Visa, whose `VISA` mode
/// is CVN 10; `80 00…` (method 2) for every other mode.
pub const fn default_padding(mode: SessionKeyMode) -> Padding {
    match mode {
        SessionKeyMode::Visa => Padding::Method1,
        _ => Padding::Method2,
    }
}

/// Generates an ARQC from the issuer master key (AWS Payment Cryptography
/// `GenerateAuthRequestCryptogram` on a clear key).
pub fn generate_arqc(
    imk: &(impl SymmetricKey + ?Sized),
    card: &Card<'_>,
    derivation: &SessionKeyDerivation,
    transaction_data: &[u8],
    padding: Padding,
) -> Result<Tag, Error> {
    let sk = card.session_key(imk, derivation)?.handle()?;
    ac::generate_ac(&sk, transaction_data, padding)
}

/// Verifies an ARQC from the issuer master key (`VerifyAuthRequestCryptogram`). A mismatch is
/// [`Error::VerificationFailed`], which the service reports as
/// `INVALID_AUTH_REQUEST_CRYPTOGRAM`.
pub fn verify_arqc(
    imk: &(impl SymmetricKey + ?Sized),
    card: &Card<'_>,
    derivation: &SessionKeyDerivation,
    transaction_data: &[u8],
    padding: Padding,
    arqc: &[u8],
) -> Result<(), Error> {
    let sk = card.session_key(imk, derivation)?.handle()?;
    ac::verify_ac(&sk, transaction_data, padding, arqc)
}

#[cfg(test)]
mod tests;
