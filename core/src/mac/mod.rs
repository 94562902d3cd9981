//! Message authentication codes: ISO/IEC 9797-1 MAC algorithms 1 and 3 with padding methods
//! 1, 2 and 3, CMAC (NIST SP 800-38B, ISO 9797-1 algorithm 5), HMAC (SHA-224/256/384/512) and
//! the AS2805 part 4.1 MAC, with the names AWS Payment Cryptography uses (`MacAlgorithm`).
//!
//! Generation truncates to the requested length (at least [`MIN_MAC_LEN`] bytes);
//! verification recomputes the MAC and compares the presented bytes in constant time, failing
//! with the one opaque [`Error::VerificationFailed`].
//!
//! Padding is applied while the blocks stream through the cipher, so no message is copied and
//! the module needs no allocator.

use crate::names::service_enum;

use zeroize::Zeroize;

use crate::{
    Error,
    crypto::{BlockCipher, SymmetricKey, Tag},
    key::KeyAlgorithm,
};

/// The shortest MAC generated or accepted (4 bytes, 32 bits). Shorter tags are forgeable by
/// guessing.
pub const MIN_MAC_LEN: usize = 4;

/// ISO/IEC 9797-1 padding methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Padding {
    /// Method 1: zero bytes up to a whole block; an empty message becomes one zero block.
    Method1,
    /// Method 2: a mandatory `80` byte, then zero bytes (ISO/IEC 7816-4).
    Method2,
    /// Method 3: a first block holding the message length in bits (big-endian), then the
    /// message with as few zero bytes as needed (possibly none).
    Method3,
}

impl Padding {
    /// The padding method by its number (1, 2 or 3).
    pub fn from_number(n: u8) -> Result<Self, Error> {
        match n {
            1 => Ok(Self::Method1),
            2 => Ok(Self::Method2),
            3 => Ok(Self::Method3),
            _ => Err(Error::InvalidValue {
                field: "padding",
                reason: "expected ISO 9797-1 padding method 1, 2 or 3",
            }),
        }
    }
}

service_enum! {
    /// A MAC algorithm, named as AWS Payment Cryptography's `MacAlgorithm`.
    pub enum MacAlgorithm("MAC algorithm") {
        /// ISO 9797-1 MAC algorithm 1: CBC-MAC under the whole key (TDES or AES).
        Iso9797Algorithm1 = "ISO9797_ALGORITHM1",
        /// ISO 9797-1 MAC algorithm 3: the retail MAC (ANSI X9.19), TDES only.
        Iso9797Algorithm3 = "ISO9797_ALGORITHM3",
        /// CMAC (NIST SP 800-38B), TDES or AES.
        Cmac = "CMAC",
        /// HMAC with the key's own hash.
        Hmac = "HMAC",
        /// HMAC-SHA224; the key must be an HMAC-SHA224 key.
        HmacSha224 = "HMAC_SHA224",
        /// HMAC-SHA256; the key must be an HMAC-SHA256 key.
        HmacSha256 = "HMAC_SHA256",
        /// HMAC-SHA384; the key must be an HMAC-SHA384 key.
        HmacSha384 = "HMAC_SHA384",
        /// HMAC-SHA512; the key must be an HMAC-SHA512 key.
        HmacSha512 = "HMAC_SHA512",
        /// The AS2805 part 4.1 MAC (see [`as2805_4_1`]).
        As2805_4_1 = "AS2805_4_1",
    }
}

impl MacAlgorithm {
    /// Whether the algorithm takes an ISO 9797-1 padding method.
    pub const fn takes_padding(self) -> bool {
        matches!(self, Self::Iso9797Algorithm1 | Self::Iso9797Algorithm3)
    }
}

/// A message split into the parts the cipher sees: an optional length block (method 3), the
/// message's whole blocks and a padded final block or two.
struct Padded<'a> {
    head: &'a [u8],
    body: &'a [u8],
    tail: &'a [u8],
}

/// Buffers for [`pad`]: the length block and the final padded block.
struct PadBuf {
    head: [u8; 16],
    tail: [u8; 16],
}

fn pad<'a>(
    message: &'a [u8],
    padding: Padding,
    n: usize,
    buf: &'a mut PadBuf,
) -> Result<Padded<'a>, Error> {
    let whole = message.len() - message.len() % n;
    let (body, rest) = message.split_at(whole);
    let mut head_len = 0;
    let tail_len = match padding {
        Padding::Method1 => {
            buf.tail[..rest.len()].copy_from_slice(rest);
            if rest.is_empty() && !message.is_empty() {
                0
            } else {
                n
            }
        }
        Padding::Method2 => {
            buf.tail[..rest.len()].copy_from_slice(rest);
            buf.tail[rest.len()] = 0x80;
            n
        }
        Padding::Method3 => {
            let bits = u128::try_from(message.len())
                .ok()
                .and_then(|l| l.checked_mul(8))
                .ok_or(Error::InvalidLength {
                    field: "message",
                    expected: "a length whose bit count fits the length block",
                    actual: message.len(),
                })?;
            let be = bits.to_be_bytes();
            buf.head[..n].copy_from_slice(&be[16 - n..]);
            if n == 8 && bits > u128::from(u64::MAX) {
                return Err(Error::InvalidLength {
                    field: "message",
                    expected: "fewer than 2^61 bytes",
                    actual: message.len(),
                });
            }
            head_len = n;
            buf.tail[..rest.len()].copy_from_slice(rest);
            if rest.is_empty() { 0 } else { n }
        }
    };
    Ok(Padded {
        head: &buf.head[..head_len],
        body,
        tail: &buf.tail[..tail_len],
    })
}

/// ISO/IEC 9797-1 MAC algorithm 1: CBC-MAC with a zero IV under the whole key, output the
/// last cipher block (8 bytes for TDES, 16 for AES). With a two-key key whose halves are
/// equal this is single-DES CBC-MAC (FIPS 113, ANSI X9.9).
pub fn iso9797_1_algorithm1(
    key: &(impl SymmetricKey + ?Sized),
    message: &[u8],
    padding: Padding,
) -> Result<Tag, Error> {
    let n = key.block_cipher()?.block_len();
    let mut buf = PadBuf {
        head: [0; 16],
        tail: [0; 16],
    };
    let padded = pad(message, padding, n, &mut buf)?;
    let mut chain = [0u8; 16];
    let mut fill = 0;
    let bytes = padded
        .head
        .iter()
        .chain(padded.body)
        .chain(padded.tail.iter());
    let mut result = Ok(());
    for b in bytes {
        chain[fill] ^= b;
        fill += 1;
        if fill == n {
            fill = 0;
            result = result.and(key.encrypt_ecb(&mut chain[..n]));
        }
    }
    buf.tail.zeroize();
    result?;
    let tag = Tag::new(&chain[..n]);
    chain.zeroize();
    tag
}

/// ISO/IEC 9797-1 MAC algorithm 3, the retail MAC (ANSI X9.19): CBC under K1, the final
/// block under the whole TDES key. Output 8 bytes.
pub fn iso9797_1_algorithm3(
    key: &(impl SymmetricKey + ?Sized),
    message: &[u8],
    padding: Padding,
) -> Result<Tag, Error> {
    if key.block_cipher()? != BlockCipher::Tdes {
        return Err(Error::UnsupportedOperation {
            operation: "ISO 9797-1 MAC algorithm 3",
            reason: "the retail MAC is defined for TDES keys only",
        });
    }
    let mut buf = PadBuf {
        head: [0; 16],
        tail: [0; 16],
    };
    let padded = pad(message, padding, 8, &mut buf)?;
    let tag = key.retail_mac(&[padded.head, padded.body, padded.tail]);
    buf.tail.zeroize();
    tag
}

/// The AS2805 part 4.1 MAC as payhsm computes it: ISO/IEC 9797-1 MAC algorithm 1 under the
/// whole double- or triple-length TDES key with padding method 1 (AS 2805.4.1 adopts ISO/IEC
/// 9797-1). The AS2805 standard is not public; this reading is recorded with the vectors and
/// should be confirmed against an HSM before production use.
pub fn as2805_4_1(key: &(impl SymmetricKey + ?Sized), message: &[u8]) -> Result<Tag, Error> {
    if key.block_cipher()? != BlockCipher::Tdes {
        return Err(Error::UnsupportedOperation {
            operation: "AS2805 4.1 MAC",
            reason: "AS2805 MACs use TDES keys",
        });
    }
    iso9797_1_algorithm1(key, message, Padding::Method1)
}

fn hmac_with(
    key: &(impl SymmetricKey + ?Sized),
    wanted: KeyAlgorithm,
    message: &[u8],
) -> Result<Tag, Error> {
    if key.key_algorithm() != wanted {
        return Err(Error::InvalidValue {
            field: "MAC algorithm",
            reason: "the HMAC hash must match the key's algorithm",
        });
    }
    key.hmac(message)
}

/// The full-length MAC of `message` by `algorithm`. `padding` applies to ISO 9797-1
/// algorithms 1 and 3 and is ignored by the others.
pub fn compute(
    key: &(impl SymmetricKey + ?Sized),
    algorithm: MacAlgorithm,
    message: &[u8],
    padding: Padding,
) -> Result<Tag, Error> {
    match algorithm {
        MacAlgorithm::Iso9797Algorithm1 => iso9797_1_algorithm1(key, message, padding),
        MacAlgorithm::Iso9797Algorithm3 => iso9797_1_algorithm3(key, message, padding),
        MacAlgorithm::Cmac => key.cmac(message),
        MacAlgorithm::Hmac => key.hmac(message),
        MacAlgorithm::HmacSha224 => hmac_with(key, KeyAlgorithm::HmacSha224, message),
        MacAlgorithm::HmacSha256 => hmac_with(key, KeyAlgorithm::HmacSha256, message),
        MacAlgorithm::HmacSha384 => hmac_with(key, KeyAlgorithm::HmacSha384, message),
        MacAlgorithm::HmacSha512 => hmac_with(key, KeyAlgorithm::HmacSha512, message),
        MacAlgorithm::As2805_4_1 => as2805_4_1(key, message),
    }
}

/// Generates a MAC and truncates it to `len` bytes (the full output when `None`). A length
/// below [`MIN_MAC_LEN`] or above the algorithm's output is refused.
pub fn generate(
    key: &(impl SymmetricKey + ?Sized),
    algorithm: MacAlgorithm,
    message: &[u8],
    padding: Padding,
    len: Option<usize>,
) -> Result<Tag, Error> {
    let mut tag = compute(key, algorithm, message, padding)?;
    if let Some(len) = len {
        if len < MIN_MAC_LEN || len > tag.as_bytes().len() {
            return Err(Error::InvalidLength {
                field: "MAC length",
                expected: "at least 4 bytes and no more than the algorithm's output",
                actual: len,
            });
        }
        tag.truncate(len)?;
    }
    Ok(tag)
}

/// Verifies a presented MAC (any length from [`MIN_MAC_LEN`] up to the algorithm's output,
/// compared against the leftmost bytes) in constant time.
pub fn verify(
    key: &(impl SymmetricKey + ?Sized),
    algorithm: MacAlgorithm,
    message: &[u8],
    padding: Padding,
    mac: &[u8],
) -> Result<(), Error> {
    let tag = compute(key, algorithm, message, padding)?;
    if mac.len() < MIN_MAC_LEN || mac.len() > tag.as_bytes().len() {
        return Err(Error::InvalidLength {
            field: "MAC",
            expected: "at least 4 bytes and no more than the algorithm's output",
            actual: mac.len(),
        });
    }
    tag.verify_truncated(mac)
}

#[cfg(test)]
mod tests;
