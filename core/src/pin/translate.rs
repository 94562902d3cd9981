//! PIN translation between keys and formats under PCI PIN requirement 3-3.
//!
//! | from \ to | 0, 3, 4          | 1   | 2                  |
//! |-----------|------------------|-----|--------------------|
//! | 0, 3, 4   | yes, same PAN    | no  | ICC PIN change only|
//! | 1         | yes (PAN given)  | yes | ICC PIN change only|
//! | 2         | no               | no  | no                 |
//!
//! Formats 0, 3 and 4 bind the PAN; translating one into format 1 would strip that binding and
//! opens the Clulow/Berkman–Ostrovsky oracles, and a translation that changes the PAN lets an
//! attacker move a PIN to another card. Both are refused with a typed
//! [`Error::NotPermitted`] before any key is used.

use super::{
    Pin,
    block::{self, EncryptedPinBlock, Fill, PinBlockFormat},
};
use crate::{Error, Refusal, crypto::SymmetricKey, fields::Pan, rng::RandomSource};

/// Where a translation happens, which decides whether format 2 may be produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TranslationContext {
    /// Online PIN processing: format 2 is never produced.
    Online,
    /// Offline PIN or PIN change for an ICC (PCI PIN 3-2 and 3-3): formats 0, 1, 3 and 4 may
    /// become format 2.
    IccPinChange,
}

/// Checks the PCI PIN 3-3 format matrix and the PAN rule, without touching a key.
pub fn check(
    incoming: PinBlockFormat,
    outgoing: PinBlockFormat,
    incoming_pan: Option<&Pan>,
    outgoing_pan: Option<&Pan>,
    context: TranslationContext,
) -> Result<(), Error> {
    use PinBlockFormat::{Iso1, Iso2};
    let permitted = match (incoming, outgoing) {
        (Iso2, _) => false,
        // PCI PIN 3-3: format 1 may become format 2 for an IC card, like 0, 3 and 4.
        (Iso1, Iso2) => context == TranslationContext::IccPinChange,
        (Iso1, _) => true,
        (_, Iso1) => false,
        (_, Iso2) => context == TranslationContext::IccPinChange,
        _ => true,
    };
    if !permitted {
        return Err(Error::NotPermitted(Refusal::FormatTranslationNotPermitted));
    }
    if incoming.uses_pan()
        && let (Some(a), Some(b)) = (incoming_pan, outgoing_pan)
        && a != b
    {
        return Err(Error::NotPermitted(Refusal::PanChangeNotPermitted));
    }
    Ok(())
}

/// Translates an encrypted PIN block from one key and format to another.
///
/// `outgoing_pan` defaults to `incoming_pan`; it is needed only when the incoming format has
/// no PAN (format 1). The format rules and the PAN rule are checked before decryption; every
/// failure of the incoming block is the one uniform [`block::BAD_PIN_BLOCK`]. The clear PIN
/// never leaves this function.
#[allow(clippy::too_many_arguments)] // Mirrors TranslatePinData's incoming and outgoing halves.
pub fn translate(
    incoming_key: &(impl SymmetricKey + ?Sized),
    incoming: PinBlockFormat,
    pin_block: &EncryptedPinBlock,
    incoming_pan: Option<&Pan>,
    outgoing_key: &(impl SymmetricKey + ?Sized),
    outgoing: PinBlockFormat,
    outgoing_pan: Option<&Pan>,
    context: TranslationContext,
    rng: &mut dyn RandomSource,
) -> Result<EncryptedPinBlock, Error> {
    check(incoming, outgoing, incoming_pan, outgoing_pan, context)?;
    let out_pan = outgoing_pan.or(incoming_pan);
    if outgoing.uses_pan() && out_pan.is_none() {
        return Err(Error::InvalidValue {
            field: "outgoing pan",
            reason: "the outgoing format binds the PAN; give it",
        });
    }
    if outgoing_key.block_cipher()? != outgoing.cipher() {
        return Err(Error::InvalidValue {
            field: "outgoing key",
            reason: "ISO format 4 needs an AES key, formats 0 to 3 a TDES key",
        });
    }
    let pin: Pin = block::decrypt(incoming_key, incoming, pin_block, incoming_pan)?;
    // A block holding non-decimal PIN digits cannot be re-encoded; it fails like any other
    // bad incoming block.
    if !pin.is_decimal() {
        return Err(block::BAD_PIN_BLOCK);
    }
    block::encrypt(outgoing_key, outgoing, &pin, out_pan, Fill::Random(rng))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{crypto::SoftwareKey, key::KeyAlgorithm, rng::Replay};
    use PinBlockFormat::*;

    fn tdes(k: &str) -> SoftwareKey {
        SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, k).unwrap()
    }

    fn aes() -> SoftwareKey {
        SoftwareKey::from_hex(KeyAlgorithm::Aes128, "00112233445566778899AABBCCDDEEFF").unwrap()
    }

    const RANDOM: [u8; 64] = [0x3C; 64];

    // T-PIN-1: the format matrix.
    #[test]
    fn format_matrix() {
        let pan = Pan::new("4111111111111111").unwrap();
        let p = Some(&pan);
        let on = TranslationContext::Online;
        let refused = Err(Error::NotPermitted(Refusal::FormatTranslationNotPermitted));
        for from in [Iso0, Iso3, Iso4] {
            assert_eq!(check(from, Iso1, p, p, on), refused, "{from}->1");
            assert_eq!(check(from, Iso2, p, p, on), refused, "{from}->2 online");
            check(from, Iso2, p, p, TranslationContext::IccPinChange).unwrap();
            for to in [Iso0, Iso3, Iso4] {
                check(from, to, p, p, on).unwrap();
            }
        }
        for to in PinBlockFormat::ALL {
            assert_eq!(
                check(Iso2, to, p, p, TranslationContext::IccPinChange),
                refused
            );
        }
        for to in [Iso0, Iso1, Iso3, Iso4] {
            check(Iso1, to, None, p, on).unwrap();
        }
        assert_eq!(check(Iso1, Iso2, None, p, on), refused, "1->2 online");
        check(Iso1, Iso2, None, p, TranslationContext::IccPinChange).unwrap();
    }

    // T-PIN-2: no PAN change between formats 0, 3 and 4, checked before any decryption.
    #[test]
    fn pan_change_is_refused() {
        let a = Pan::new("4111111111111111").unwrap();
        let b = Pan::new("4111111111111129").unwrap();
        let k = tdes("0123456789ABCDEFFEDCBA9876543210");
        let block = EncryptedPinBlock::new(&[0; 8]).unwrap();
        for (from, to) in [(Iso0, Iso0), (Iso0, Iso3), (Iso3, Iso0)] {
            assert_eq!(
                translate(
                    &k,
                    from,
                    &block,
                    Some(&a),
                    &k,
                    to,
                    Some(&b),
                    TranslationContext::Online,
                    &mut Replay::new(&RANDOM)
                ),
                Err(Error::NotPermitted(Refusal::PanChangeNotPermitted))
            );
        }
    }

    #[test]
    fn translations_round_trip() {
        let k1 = tdes("0123456789ABCDEFFEDCBA9876543210");
        let k2 = tdes("89ABCDEF01234567FEDCBA9876543210");
        let k4 = aes();
        let pan = Pan::new("4111111111111111").unwrap();
        let pin = Pin::new("98765").unwrap();
        let key_for = |f: PinBlockFormat, tdes_key: &'static str| -> SoftwareKey {
            if f == Iso4 { aes() } else { tdes(tdes_key) }
        };
        let _ = (&k1, &k2, &k4);
        let paths = [
            (Iso0, Iso3),
            (Iso0, Iso4),
            (Iso3, Iso4),
            (Iso4, Iso0),
            (Iso4, Iso3),
            (Iso1, Iso0),
            (Iso1, Iso3),
            (Iso1, Iso4),
            (Iso1, Iso1),
            (Iso0, Iso0),
        ];
        for (from, to) in paths {
            let kin = key_for(from, "0123456789ABCDEFFEDCBA9876543210");
            let kout = key_for(to, "89ABCDEF01234567FEDCBA9876543210");
            let mut rng = Replay::new(&RANDOM);
            let e = block::encrypt(&kin, from, &pin, Some(&pan), Fill::Random(&mut rng)).unwrap();
            let in_pan = from.uses_pan().then_some(&pan);
            let t = translate(
                &kin,
                from,
                &e,
                in_pan,
                &kout,
                to,
                Some(&pan),
                TranslationContext::Online,
                &mut Replay::new(&RANDOM),
            )
            .unwrap();
            let back = block::decrypt(&kout, to, &t, Some(&pan)).unwrap();
            assert_eq!(back.expose_secret(), "98765", "{from}->{to}");
        }
        // Format 1 out needs no PAN; format 0 out from format 1 needs one.
        let mut rng = Replay::new(&RANDOM);
        let e1 = block::encrypt(&k1, Iso1, &pin, None, Fill::Random(&mut rng)).unwrap();
        assert!(
            translate(
                &k1,
                Iso1,
                &e1,
                None,
                &k2,
                Iso0,
                None,
                TranslationContext::Online,
                &mut Replay::new(&RANDOM)
            )
            .is_err()
        );
        // Wrong outgoing key type is refused before decryption.
        assert!(
            translate(
                &k1,
                Iso1,
                &e1,
                None,
                &k2,
                Iso4,
                Some(&pan),
                TranslationContext::Online,
                &mut Replay::new(&RANDOM)
            )
            .is_err()
        );
    }

    // A block under the wrong key or with the wrong PAN fails with the uniform error.
    #[test]
    fn bad_incoming_blocks_are_uniform() {
        let k1 = tdes("0123456789ABCDEFFEDCBA9876543210");
        let k2 = tdes("89ABCDEF01234567FEDCBA9876543210");
        let pan = Pan::new("4111111111111111").unwrap();
        let pin = Pin::new("1234").unwrap();
        let e = block::encrypt(&k1, Iso0, &pin, Some(&pan), Fill::Given("")).unwrap();
        assert_eq!(
            translate(
                &k2,
                Iso0,
                &e,
                Some(&pan),
                &k1,
                Iso3,
                None,
                TranslationContext::Online,
                &mut Replay::new(&RANDOM)
            ),
            Err(block::BAD_PIN_BLOCK)
        );
    }
}
