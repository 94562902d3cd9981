//! Unwrapping: structure first, then policy, then one authenticated decryption.

use payhsm_core::secret::SecretVec;

use crate::{Error, Header, Kbpk, KeyBlock, binding::BindingKeys, wrap::masked_payload_len};

/// Import options.
///
/// The default refuses the legacy variant versions A and C: they are deprecated (IBM, X9.143),
/// PCI PIN forbids variant key derivation, and a 4-byte MAC can be forged by brute force, so
/// taking them must be a visible decision at the call site (T-KB-8). Optional blocks are read
/// leniently by default, so proprietary blocks from other HSMs import (they are authenticated
/// like the rest of the header). A block padded for its key's length only, not masked to the
/// longest key of its algorithm as X9.143 asks (TR-31:2018's examples, some HSMs), reveals the
/// key's length and is refused unless short padding is allowed (T-KB-6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnwrapOptions {
    /// Accept versions A and C. Default: no.
    pub allow_legacy_versions: bool,
    /// Accept a short-padded block (key length not masked): for blocks from HSMs that do not
    /// mask. Default: no.
    pub allow_short_padding: bool,
    /// Accept only optional block IDs X9.143 defines, with data in their defined formats.
    /// Default: no (any printable block is kept verbatim).
    pub strict_optional_blocks: bool,
}

/// An unwrapped key and its authenticated header.
#[derive(Debug)]
pub struct Unwrapped {
    /// The header, as authenticated.
    pub header: Header,
    /// The key: a symmetric key, or a DER private key (X9.143 8.5, 8.6).
    pub key: SecretVec,
}

/// Unwraps a key block.
///
/// In order: the structure is parsed ([`Error::Malformed`]); the version is checked against the
/// options ([`Error::VersionNotAllowed`]) and the KBPK against the version
/// ([`Error::KbpkMismatch`]), and a short payload against the options ([`Error::ShortPadding`]:
/// its length is public); then the block is decrypted and its MAC compared in constant time
/// over its full length. Only after the MAC verifies is the key length inside read. Every
/// failure from decryption on is [`Error::AuthenticationFailed`].
pub fn unwrap(kbpk: Kbpk<'_>, block: &str, options: &UnwrapOptions) -> Result<Unwrapped, Error> {
    let parsed = KeyBlock::read(block, options.strict_optional_blocks)?;
    let version = parsed.version();
    if version.is_legacy() && !options.allow_legacy_versions {
        return Err(Error::VersionNotAllowed(version));
    }
    version.check_kbpk(kbpk.algorithm())?;
    let masked = masked_payload_len(version, parsed.header().algorithm());
    let payload = parsed.encrypted_key_data().len();
    if payload < masked && !options.allow_short_padding {
        return Err(Error::ShortPadding { payload, masked });
    }
    let keys = BindingKeys::new(kbpk, version)?;

    let header = parsed.header_text().as_bytes();
    let h = header.len();
    let mut buffer = SecretVec::zeroed(h + parsed.encrypted_key_data().len());
    let (head, payload) = buffer.expose_secret_mut().split_at_mut(h);
    head.copy_from_slice(header);
    payload.copy_from_slice(parsed.encrypted_key_data());

    keys.open(&mut buffer, h, parsed.mac())?;
    let key = key_from_payload(&buffer.expose_secret()[h..]).ok_or(Error::AuthenticationFailed)?;
    Ok(Unwrapped {
        header: parsed.into_header(),
        key,
    })
}

/// The key from an authenticated payload: a 2-byte length in bits, then the key. Any length
/// that is zero, not whole bytes or longer than the payload is refused.
fn key_from_payload(payload: &[u8]) -> Option<SecretVec> {
    let (length, rest) = payload.split_first_chunk::<2>()?;
    let bits = usize::from(u16::from_be_bytes(*length));
    if bits == 0 || bits % 8 != 0 {
        return None;
    }
    rest.get(..bits / 8).map(SecretVec::from_slice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{format, string::ToString};
    use payhsm_core::{hex::Hex, key::KeyAlgorithm, secret::KeyMaterial};

    /// A block with a valid MAC over a payload whose length field is `length`: only the crate
    /// itself can build one, since wrap never writes a bad length.
    fn authentic_block_with_length(length: [u8; 2]) -> (KeyMaterial, alloc::string::String) {
        let kbpk = KeyMaterial::from_hex("kbpk", "000102030405060708090A0B0C0D0E0F").unwrap();
        let header = Header::parse("D0144P0AE00E0000").unwrap();
        let keys = BindingKeys::new(
            Kbpk::Clear {
                algorithm: KeyAlgorithm::Aes128,
                key: &kbpk,
            },
            header.version(),
        )
        .unwrap();
        let text = header.to_string();
        let mut buffer = SecretVec::zeroed(16 + 48);
        buffer.expose_secret_mut()[..16].copy_from_slice(text.as_bytes());
        buffer.expose_secret_mut()[16..18].copy_from_slice(&length);
        let mac = keys.seal(&mut buffer, 16).unwrap();
        let block = format!(
            "{text}{}{}",
            Hex(&buffer.expose_secret()[16..]),
            Hex(mac.as_bytes())
        );
        (kbpk, block)
    }

    #[test]
    fn bad_inner_lengths_fail_like_a_bad_mac() {
        for length in [[0x00, 0x00], [0x00, 0x81], [0x01, 0x80], [0xFF, 0xF8]] {
            let (kbpk, block) = authentic_block_with_length(length);
            let kbpk = Kbpk::Clear {
                algorithm: KeyAlgorithm::Aes128,
                key: &kbpk,
            };
            assert_eq!(
                unwrap(kbpk, &block, &UnwrapOptions::default()).unwrap_err(),
                Error::AuthenticationFailed,
                "{length:?}"
            );
        }
        // The same construction with a possible length unwraps: the test can fail.
        let (kbpk, block) = authentic_block_with_length([0x00, 0x80]);
        let kbpk = Kbpk::Clear {
            algorithm: KeyAlgorithm::Aes128,
            key: &kbpk,
        };
        assert_eq!(
            unwrap(kbpk, &block, &UnwrapOptions::default())
                .unwrap()
                .key
                .len(),
            16
        );
    }

    #[test]
    fn payload_length_field() {
        assert_eq!(
            key_from_payload(&[0x00, 0x10, 1, 2, 3])
                .unwrap()
                .expose_secret(),
            [1, 2]
        );
        assert_eq!(key_from_payload(&[0x00, 0x18, 1, 2, 3]).unwrap().len(), 3);
        assert!(key_from_payload(&[0x00, 0x20, 1, 2, 3]).is_none());
        assert!(key_from_payload(&[0x00, 0x28, 1, 2, 3]).is_none());
        assert!(key_from_payload(&[0x00]).is_none());
    }
}
