//! EMV offline PIN change: the issuer script that gives a chip card a new PIN (AWS Payment
//! Cryptography `GenerateMacEmvPinChange`).
//!
//! The new PIN arrives in an ISO 9564 PIN block (format 0, 1 or 3) under a PIN encryption key.
//! It is taken out, put in the card's format, padded, and enciphered under the
//! secure-messaging confidentiality (SMC) session key; the script MAC under the integrity (SMI)
//! session key covers the message data (the script command as the scheme builds it, for
//! example header ‖ ATC ‖ application cryptogram) followed by that enciphered block. The clear
//! PIN exists only as a [`Pin`] inside this module.
//!
//! | method | SMI and SMC session keys | plaintext for the card | encipherment |
//! |--------|--------------------------|------------------------|--------------|
//! | `EmvCommon` | common derivation, `R` = application cryptogram | `[08] ‖ F2 ‖ [80 00…]` | ECB or CBC (`Mode`) |
//! | `Mastercard` | common derivation, `R` = application cryptogram | `F2` | one block |
//! | `Emv2000` | the EMV2000 tree from the ATC | `F2` | one block |
//! | `Visa` | the Visa secure-messaging key from the ATC | `08 ‖ VIS ‖ 80 00…` | ECB |
//! | `Amex` | common derivation, `R` = ATC ‖ 00…00 | `08 ‖ VIS ‖ 80 00…` | ECB |
//!
//! `F2` is the ISO 9564 format 2 block `2L P…P F…F` (the service: "the target encrypted PIN
//! block, after translation to ISO2 format, is appended to this message data"). For
//! `EmvCommon`, `PinBlockLengthPosition = FRONT_OF_PIN_BLOCK` puts the length byte `08` in
//! front and `PinBlockPaddingType = ISO_IEC_7816_4` appends `80 00…` to a whole number of
//! blocks (always at least one `80`); the service requires the padding whenever the length
//! byte is there. CBC uses a zero IV.
//!
//! `VIS` is the Visa Integrated Solutions PIN block, which binds the new PIN to the card's AC
//! master key and, when given, to the current PIN: `0L P…P F…F` ⊕ `00000000 ‖ MK-AC[4..8]` ⊕
//! the current PIN's digits left-justified and zero-filled. This is why `Visa` and `Amex` take
//! the issuer's AC master key (`AuthorizationRequestKeyIdentifier`) and optionally the current
//! PIN (`CurrentPinAttributes`, read in the same format and with the same PAN as the new one).
//!
//! The incoming format may be 0, 1 or 3 (the service's `PinBlockFormatForEmvPinChange`; its
//! blocks are 16 hex digits, so TDES). PCI PIN requirement 3-3 permits each of them to become
//! format 2 for an IC card ([`TranslationContext::IccPinChange`]); format 2 itself is never
//! accepted. A block that fails to decrypt or decode, or that holds non-decimal digits, gives
//! the one uniform [`BAD_PIN_BLOCK`].

use crate::names::service_enum;
use zeroize::Zeroizing;

use super::{
    Card,
    session::SessionKeyMode,
    sm::{self, EmvEncryptionMode, SessionKeyDerivationValue},
};
use crate::{
    Error,
    crypto::{SymmetricKey, Tag},
    derived::DerivedKey,
    fields::Pan,
    pin::{
        Pin,
        block::{self, BAD_PIN_BLOCK, EncryptedPinBlock, Fill, PinBlockFormat},
        translate::{self, TranslationContext},
    },
};

/// The shortest message data the service takes: 8 bytes (16 hex digits).
pub const MESSAGE_DATA_MIN: usize = 8;
/// The longest message data the service takes: 512 bytes (1024 hex digits).
pub const MESSAGE_DATA_MAX: usize = 512;

/// The longest enciphered PIN data: length byte, 8-byte block and padding.
const MAX_PIN_DATA: usize = 16;

service_enum! {
    /// Padding of the PIN block before encipherment (AWS Payment Cryptography
    /// `PinBlockPaddingType`, `EmvCommon` only).
    pub enum PinBlockPadding("PIN block padding type") {
        /// `NO_PADDING`: the data is enciphered as it is.
        NoPadding = "NO_PADDING",
        /// `ISO_IEC_7816_4`: `80` then `00`s to a whole number of 8-byte blocks.
        Iso7816_4 = "ISO_IEC_7816_4",
    }
}

service_enum! {
    /// Whether the PIN data starts with its length (AWS Payment Cryptography
    /// `PinBlockLengthPosition`, `EmvCommon` only).
    pub enum PinBlockLengthPosition("PIN block length position") {
        /// `NONE`: no length byte.
        Absent = "NONE",
        /// `FRONT_OF_PIN_BLOCK`: the length of the PIN block (`08`) in front of it.
        FrontOfPinBlock = "FRONT_OF_PIN_BLOCK",
    }
}

/// The PIN currently on the card, encrypted (AWS Payment Cryptography `CurrentPinAttributes`).
#[derive(Clone, Copy)]
pub struct CurrentPin<'a> {
    /// The key the block is encrypted under (`CurrentPinPekIdentifier`).
    pub pek: &'a dyn SymmetricKey,
    /// The encrypted block (`CurrentEncryptedPinBlock`), in the request's PIN block format.
    pub pin_block: &'a EncryptedPinBlock,
}

impl core::fmt::Debug for CurrentPin<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CurrentPin([REDACTED])")
    }
}

/// What `Visa` and `Amex` take beyond the card (AWS Payment Cryptography `VisaAttributes`,
/// `AmexAttributes`).
#[derive(Clone, Copy)]
pub struct VisaAmexAttributes<'a> {
    /// The application transaction counter (tag 9F36).
    pub atc: [u8; 2],
    /// The issuer master key for cryptograms, IMK-AC (`AuthorizationRequestKeyIdentifier`).
    pub ac_imk: &'a dyn SymmetricKey,
    /// The current PIN, when the card wants it bound into the new PIN block.
    pub current_pin: Option<CurrentPin<'a>>,
}

impl core::fmt::Debug for VisaAmexAttributes<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VisaAmexAttributes")
            .field("atc", &self.atc)
            .field("ac_imk", &self.ac_imk.key_algorithm())
            .field("current_pin", &self.current_pin)
            .finish()
    }
}

/// The derivation method and its data (AWS Payment Cryptography `DerivationMethodAttributes`;
/// the PAN, PSN and master key option of every variant are in the request's [`Card`]).
#[derive(Clone, Copy, Debug)]
pub enum PinChangeMethod<'a> {
    /// `EmvCommon`.
    EmvCommon {
        /// The application cryptogram (tag 9F26), the session keys' `R`.
        application_cryptogram: [u8; 8],
        /// How the PIN data is enciphered.
        mode: EmvEncryptionMode,
        /// The padding of the PIN data.
        padding: PinBlockPadding,
        /// Whether the PIN data starts with its length.
        length_position: PinBlockLengthPosition,
    },
    /// `Amex`.
    Amex(VisaAmexAttributes<'a>),
    /// `Visa`.
    Visa(VisaAmexAttributes<'a>),
    /// `Emv2000`.
    Emv2000 {
        /// The application transaction counter (tag 9F36).
        atc: [u8; 2],
    },
    /// `Mastercard`.
    Mastercard {
        /// The application cryptogram (tag 9F26), the session keys' `R`.
        application_cryptogram: [u8; 8],
    },
}

impl PinChangeMethod<'_> {
    /// The service's name of the variant (`EmvCommon`, `Amex`, `Visa`, `Emv2000`,
    /// `Mastercard`).
    pub const fn name(&self) -> &'static str {
        match self {
            Self::EmvCommon { .. } => "EmvCommon",
            Self::Amex(_) => "Amex",
            Self::Visa(_) => "Visa",
            Self::Emv2000 { .. } => "Emv2000",
            Self::Mastercard { .. } => "Mastercard",
        }
    }

    /// The secure-messaging session key mode and the value it derives from.
    fn session(&self) -> (SessionKeyMode, SessionKeyDerivationValue) {
        use SessionKeyDerivationValue::{ApplicationCryptogram, ApplicationTransactionCounter};
        match *self {
            Self::EmvCommon {
                application_cryptogram,
                ..
            } => (
                SessionKeyMode::EmvCommonSessionKey,
                ApplicationCryptogram(application_cryptogram),
            ),
            Self::Mastercard {
                application_cryptogram,
            } => (
                SessionKeyMode::MastercardSessionKey,
                ApplicationCryptogram(application_cryptogram),
            ),
            Self::Emv2000 { atc } => (SessionKeyMode::Emv2000, ApplicationTransactionCounter(atc)),
            Self::Visa(a) => (SessionKeyMode::Visa, ApplicationTransactionCounter(a.atc)),
            Self::Amex(a) => (SessionKeyMode::Amex, ApplicationTransactionCounter(a.atc)),
        }
    }

    /// How the PIN data is laid out and enciphered.
    fn layout(&self) -> Result<Layout, Error> {
        Ok(match *self {
            Self::EmvCommon {
                mode,
                padding,
                length_position,
                ..
            } => {
                let length_byte = length_position == PinBlockLengthPosition::FrontOfPinBlock;
                let pad = padding == PinBlockPadding::Iso7816_4;
                if length_byte && !pad {
                    return Err(Error::InvalidValue {
                        field: "PIN block padding type",
                        reason: "FRONT_OF_PIN_BLOCK needs ISO_IEC_7816_4 padding",
                    });
                }
                Layout {
                    length_byte,
                    pad,
                    mode,
                }
            }
            Self::Mastercard { .. } | Self::Emv2000 { .. } => Layout {
                length_byte: false,
                pad: false,
                mode: EmvEncryptionMode::Cbc,
            },
            Self::Visa(_) | Self::Amex(_) => Layout {
                length_byte: true,
                pad: true,
                mode: EmvEncryptionMode::Ecb,
            },
        })
    }

    fn visa_amex(&self) -> Option<&VisaAmexAttributes<'_>> {
        match self {
            Self::Visa(a) | Self::Amex(a) => Some(a),
            _ => None,
        }
    }
}

/// A `GenerateMacEmvPinChange` request on key handles.
#[derive(Clone, Copy)]
pub struct PinChangeRequest<'a> {
    /// The key the new PIN block is encrypted under (`NewPinPekIdentifier`).
    pub new_pin_pek: &'a dyn SymmetricKey,
    /// The new PIN block (`NewEncryptedPinBlock`).
    pub new_pin_block: &'a EncryptedPinBlock,
    /// Its format (`PinBlockFormat`): ISO 0, 1 or 3.
    pub pin_block_format: PinBlockFormat,
    /// The issuer master key for secure-messaging integrity, IMK-SMI
    /// (`SecureMessagingIntegrityKeyIdentifier`).
    pub smi_imk: &'a dyn SymmetricKey,
    /// The issuer master key for secure-messaging confidentiality, IMK-SMC
    /// (`SecureMessagingConfidentialityKeyIdentifier`).
    pub smc_imk: &'a dyn SymmetricKey,
    /// The card: PAN, PSN and master key option (`MajorKeyDerivationMode`), used for every
    /// issuer master key of the request.
    pub card: Card<'a>,
    /// The script command the PIN data is appended to (`MessageData`), 8 to 512 bytes.
    pub message_data: &'a [u8],
    /// The derivation method and its data.
    pub method: PinChangeMethod<'a>,
    /// The MAC length in bytes, 4 to 8 (all 8 when `None`).
    pub mac_len: Option<usize>,
}

impl core::fmt::Debug for PinChangeRequest<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PinChangeRequest")
            .field("pin_block_format", &self.pin_block_format)
            .field("card", &self.card)
            .field("message_data_len", &self.message_data.len())
            .field("method", &self.method)
            .field("mac_len", &self.mac_len)
            .finish_non_exhaustive()
    }
}

/// The result: the script MAC and the enciphered PIN data for the card.
#[derive(Debug)]
pub struct PinChange {
    /// The script MAC over message data ‖ enciphered PIN data (`Mac`).
    pub mac: Tag,
    /// The new PIN in the card's format under the SMC session key (`EncryptedPinBlock`): 8
    /// bytes, or 16 with a length byte or padding.
    pub encrypted_pin_block: EncryptedPinBlock,
}

/// The plaintext layout and the cipher mode.
struct Layout {
    length_byte: bool,
    pad: bool,
    mode: EmvEncryptionMode,
}

impl Layout {
    /// Writes `[08] ‖ block ‖ [80 00…]` into `out`; returns its length.
    fn assemble(&self, block: &[u8; 8], out: &mut [u8; MAX_PIN_DATA]) -> usize {
        out.fill(0);
        let start = usize::from(self.length_byte);
        if self.length_byte {
            out[0] = 8;
        }
        out[start..start + 8].copy_from_slice(block);
        if self.pad {
            out[start + 8] = 0x80;
            MAX_PIN_DATA
        } else {
            start + 8
        }
    }
}

/// Generates the PIN change script's enciphered PIN data and MAC (AWS Payment Cryptography
/// `GenerateMacEmvPinChange` on clear or token keys).
///
/// Inputs are checked before any key is used: the message data's length, the PIN block
/// format (0, 1 or 3, and PCI PIN 3-3), the `EmvCommon` padding rule and the MAC length.
pub fn generate_mac_emv_pin_change(req: &PinChangeRequest<'_>) -> Result<PinChange, Error> {
    let message = req.message_data;
    if !(MESSAGE_DATA_MIN..=MESSAGE_DATA_MAX).contains(&message.len()) {
        return Err(Error::InvalidLength {
            field: "message data",
            expected: "8 to 512 bytes (16 to 1024 hex digits)",
            actual: message.len(),
        });
    }
    check_format(req.pin_block_format, req.card.pan)?;
    let layout = req.method.layout()?;
    if let Some(n) = req.mac_len
        && !(4..=8).contains(&n)
    {
        return Err(Error::InvalidLength {
            field: "MAC length",
            expected: "4 to 8 bytes",
            actual: n,
        });
    }

    // The PINs first: a bad block fails before any session key is derived.
    let pan = Some(req.card.pan);
    let new_pin = take_pin(
        req.new_pin_pek,
        req.pin_block_format,
        req.new_pin_block,
        pan,
    )?;
    let block = match req.method.visa_amex() {
        Some(a) => {
            let current = a
                .current_pin
                .map(|c| take_pin(c.pek, req.pin_block_format, c.pin_block, pan))
                .transpose()?;
            let mk_ac = req.card.master_key(a.ac_imk)?;
            vis_pin_block(&mk_ac, &new_pin, current.as_ref())?
        }
        None => iso2_block(&new_pin)?,
    };
    drop(new_pin);

    let (mode, value) = req.method.session();
    let smc = sm::secure_messaging_key(&req.card.master_key(req.smc_imk)?, mode, value)?;
    let smi = sm::secure_messaging_key(&req.card.master_key(req.smi_imk)?, mode, value)?;

    let mut data = Zeroizing::new([0u8; MAX_PIN_DATA]);
    let n = layout.assemble(&block, &mut data);
    sm::crypt(&smc.handle()?, layout.mode, None, &mut data[..n], true)?;
    let encrypted_pin_block = EncryptedPinBlock::new(&data[..n])?;

    let mut mac_input = Zeroizing::new([0u8; MESSAGE_DATA_MAX + MAX_PIN_DATA]);
    let m = message.len();
    mac_input[..m].copy_from_slice(message);
    mac_input[m..m + n].copy_from_slice(&data[..n]);
    let mac = sm::script_mac(&smi.handle()?, &mac_input[..m + n], req.mac_len)?;
    Ok(PinChange {
        mac,
        encrypted_pin_block,
    })
}

/// The incoming format: 0, 1 or 3, and translatable to format 2 for an IC card.
fn check_format(format: PinBlockFormat, pan: &Pan) -> Result<(), Error> {
    if matches!(format, PinBlockFormat::Iso4) {
        return Err(Error::InvalidValue {
            field: "PIN block format",
            reason: "PIN change takes ISO_FORMAT_0, ISO_FORMAT_1 or ISO_FORMAT_3 (TDES blocks \
                     of 16 hex digits)",
        });
    }
    translate::check(
        format,
        PinBlockFormat::Iso2,
        Some(pan),
        Some(pan),
        TranslationContext::IccPinChange,
    )
}

/// Decrypts and decodes a PIN block; a non-decimal PIN is a bad block.
fn take_pin(
    pek: &dyn SymmetricKey,
    format: PinBlockFormat,
    pin_block: &EncryptedPinBlock,
    pan: Option<&Pan>,
) -> Result<Pin, Error> {
    let pin = block::decrypt(pek, format, pin_block, pan)?;
    if pin.is_decimal() {
        Ok(pin)
    } else {
        Err(BAD_PIN_BLOCK)
    }
}

/// The ISO 9564 format 2 block of `pin`.
fn iso2_block(pin: &Pin) -> Result<Zeroizing<[u8; 8]>, Error> {
    let clear = block::encode(PinBlockFormat::Iso2, pin, None, Fill::Given(""))?;
    let mut out = Zeroizing::new([0u8; 8]);
    out.copy_from_slice(clear.expose_secret());
    Ok(out)
}

/// The VIS PIN block: `0L P…P F…F` ⊕ `00000000 ‖ MK-AC[4..8]` ⊕ the current PIN's digits,
/// left-justified and zero-filled.
fn vis_pin_block(
    mk_ac: &DerivedKey,
    pin: &Pin,
    current: Option<&Pin>,
) -> Result<Zeroizing<[u8; 8]>, Error> {
    // `0L P…P F…F` is the format 2 block with its control nibble cleared.
    let mut out = iso2_block(pin)?;
    out[0] &= 0x0F;
    let key = mk_ac.expose_secret();
    out[4..]
        .iter_mut()
        .zip(&key[4..8])
        .for_each(|(o, k)| *o ^= k);
    if let Some(c) = current {
        for i in 0..c.len() {
            out[i / 2] ^= c.nibble(i) << (4 * (1 - i % 2));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
