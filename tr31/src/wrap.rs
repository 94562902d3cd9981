//! Wrapping: key ‖ padding under a header into a key block.
//!
//! The payload is the key's length in bits (2 bytes, big-endian), the key and padding, a whole
//! number of cipher blocks. With key-length masking (X9.143, on by default) the padding hides
//! the key's length: TDES and DES keys are padded as if they were 24 bytes, AES keys as if 32,
//! so a 16-byte and a 24-byte TDES key give blocks of the same length (T-KB-6).

use alloc::string::String;
use core::fmt::Write as _;

use payhsm_core::{hex::Hex, key::Algorithm, rng::RandomSource, secret::SecretVec};

use crate::{Error, Header, Kbpk, Version, binding::BindingKeys, header::MAX_BLOCK_LEN};

/// Export options. The default is X9.143 strict export: versions B and D only, key length
/// masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrapOptions {
    /// Allow wrapping with version A (deprecated since 2010). Default: no.
    pub allow_version_a: bool,
    /// Allow wrapping with version C (variant binding, which PCI PIN forbids for new keys).
    /// Default: no.
    pub allow_version_c: bool,
    /// Pad the key as if it had the longest length of its algorithm (X9.143). Default: yes.
    pub mask_key_length: bool,
}

impl Default for WrapOptions {
    fn default() -> Self {
        Self {
            allow_version_a: false,
            allow_version_c: false,
            mask_key_length: true,
        }
    }
}

impl WrapOptions {
    fn check_version(&self, version: Version) -> Result<(), Error> {
        let allowed = match version {
            Version::A => self.allow_version_a,
            Version::C => self.allow_version_c,
            Version::B | Version::D => true,
        };
        if allowed {
            Ok(())
        } else {
            Err(Error::VersionNotAllowed(version))
        }
    }
}

/// Wraps `key` under `header` with random padding from `rng`.
///
/// The header's length field is ignored and set; a padding block `PB` is appended if the
/// header is not a whole number of cipher blocks ([`Header::padded`]). Returns the key block.
pub fn wrap(
    kbpk: Kbpk<'_>,
    header: &Header,
    key: &[u8],
    options: &WrapOptions,
    rng: &mut dyn RandomSource,
) -> Result<String, Error> {
    let version = header.version();
    options.check_version(version)?;
    check_key(header.algorithm(), key)?;
    let payload_len = min_payload_len(
        version,
        header.algorithm(),
        key.len(),
        options.mask_key_length,
    );
    let mut padding = SecretVec::zeroed(payload_len - 2 - key.len());
    rng.fill(padding.expose_secret_mut())?;
    seal(kbpk, header, key, padding.expose_secret())
}

/// Wraps `key` under `header` with the given padding: the deterministic form of [`wrap`] for
/// known-answer tests (each published block's padding is known). Length field of 2 bytes, key
/// and padding must make whole cipher blocks, at least as many as masking needs if it is on.
pub fn wrap_with_padding(
    kbpk: Kbpk<'_>,
    header: &Header,
    key: &[u8],
    padding: &[u8],
    options: &WrapOptions,
) -> Result<String, Error> {
    let version = header.version();
    options.check_version(version)?;
    check_key(header.algorithm(), key)?;
    let payload_len = 2 + key.len() + padding.len();
    if !payload_len.is_multiple_of(version.block_len()) {
        return Err(Error::invalid(
            "padding",
            "key length, key and padding are not a whole number of cipher blocks",
        ));
    }
    if payload_len
        < min_payload_len(
            version,
            header.algorithm(),
            key.len(),
            options.mask_key_length,
        )
    {
        return Err(Error::invalid(
            "padding",
            "too short to mask the key length (WrapOptions::mask_key_length)",
        ));
    }
    seal(kbpk, header, key, padding)
}

/// The length X9.143 masking pads a key of `algorithm` to.
const fn masked_key_len(algorithm: Algorithm) -> usize {
    match algorithm.code() {
        [b'T'] | [b'D'] => 24,
        [b'A'] => 32,
        _ => 0,
    }
}

/// The shortest payload a block with key length masking has for `algorithm`: what import
/// expects unless short padding is allowed (T-KB-6).
pub(crate) fn masked_payload_len(version: Version, algorithm: Algorithm) -> usize {
    min_payload_len(version, algorithm, 0, true)
}

/// The shortest payload: length field and key (masked if asked), rounded up to whole blocks.
fn min_payload_len(version: Version, algorithm: Algorithm, key_len: usize, mask: bool) -> usize {
    let key_len = if mask {
        key_len.max(masked_key_len(algorithm))
    } else {
        key_len
    };
    (2 + key_len).next_multiple_of(version.block_len())
}

/// Refuses keys that the length field cannot state or that contradict the header's algorithm.
fn check_key(algorithm: Algorithm, key: &[u8]) -> Result<(), Error> {
    let fits = match algorithm.code() {
        [b'T'] => matches!(key.len(), 8 | 16 | 24),
        [b'A'] => matches!(key.len(), 16 | 24 | 32),
        [b'D'] => key.len() == 8,
        _ => !key.is_empty(),
    };
    if !fits {
        return Err(Error::invalid(
            "key",
            "length does not fit the header's algorithm",
        ));
    }
    if key.len() > usize::from(u16::MAX) / 8 {
        return Err(Error::invalid(
            "key",
            "longer than the 16-bit length field can state",
        ));
    }
    Ok(())
}

/// Builds the block: padded header with its length field, then the sealed payload and MAC.
fn seal(kbpk: Kbpk<'_>, header: &Header, key: &[u8], padding: &[u8]) -> Result<String, Error> {
    let version = header.version();
    let keys = BindingKeys::new(kbpk, version)?;
    let header = header.padded()?;
    let payload_len = 2 + key.len() + padding.len();
    let block_length = header.header_length() + 2 * payload_len + 2 * version.mac_len();
    if block_length > MAX_BLOCK_LEN {
        return Err(Error::invalid(
            "key",
            "the key block would be longer than 9999 characters",
        ));
    }
    let header_text = alloc::string::ToString::to_string(&header.with_block_length(block_length));
    let h = header_text.len();
    let bits = u16::try_from(8 * key.len())
        .map_err(|_| Error::invalid("key", "longer than the 16-bit length field can state"))?;

    let mut buffer = SecretVec::zeroed(h + payload_len);
    let b = buffer.expose_secret_mut();
    let (head, payload) = b.split_at_mut(h);
    head.copy_from_slice(header_text.as_bytes());
    let (length_field, rest) = payload.split_at_mut(2);
    length_field.copy_from_slice(&bits.to_be_bytes());
    let (key_part, padding_part) = rest.split_at_mut(key.len());
    key_part.copy_from_slice(key);
    padding_part.copy_from_slice(padding);

    let mac = keys.seal(&mut buffer, h)?;
    let mut block = String::with_capacity(block_length);
    block.push_str(&header_text);
    // Writing to a String cannot fail.
    let _ = write!(
        block,
        "{}{}",
        Hex(&buffer.expose_secret()[h..]),
        Hex(mac.as_bytes())
    );
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_pads_to_the_longest_key_of_the_algorithm() {
        let t = Algorithm::TDES;
        assert_eq!(min_payload_len(Version::B, t, 16, false), 24);
        assert_eq!(min_payload_len(Version::B, t, 16, true), 32);
        assert_eq!(min_payload_len(Version::B, t, 24, true), 32);
        assert_eq!(min_payload_len(Version::D, t, 16, true), 32);
        assert_eq!(min_payload_len(Version::D, Algorithm::AES, 16, true), 48);
        assert_eq!(min_payload_len(Version::D, Algorithm::AES, 32, true), 48);
        assert_eq!(min_payload_len(Version::D, Algorithm::AES, 16, false), 32);
        // Keys of other algorithms are not masked.
        assert_eq!(min_payload_len(Version::D, Algorithm::HMAC, 32, true), 48);
        assert_eq!(
            min_payload_len(Version::D, Algorithm::RSA, 1192, true),
            1200
        );
    }

    #[test]
    fn key_lengths_must_fit_the_algorithm() {
        assert!(check_key(Algorithm::TDES, &[0; 16]).is_ok());
        assert!(check_key(Algorithm::TDES, &[0; 32]).is_err());
        assert!(check_key(Algorithm::AES, &[0; 8]).is_err());
        assert!(check_key(Algorithm::HMAC, &[]).is_err());
        assert!(check_key(Algorithm::RSA, &[0; 8192]).is_err());
        assert!(check_key(Algorithm::RSA, &[0; 8191]).is_ok());
    }
}
