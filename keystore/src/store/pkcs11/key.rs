//! The key handle of a token object: every operation is a token mechanism call.

use std::{fmt, sync::Arc};

use cryptoki::{mechanism::Mechanism, object::ObjectHandle};
use payhsm_core::{
    Error,
    crypto::{BlockCipher, SymmetricKey, Tag},
    key::KeyAlgorithm,
};
use zeroize::{Zeroize, Zeroizing};

use super::token::Token;

/// A key held in a PKCS#11 token, used through the token's mechanisms only: its value never
/// enters this process.
///
/// | operation | mechanism |
/// |---|---|
/// | ECB, CBC | `CKM_DES3_ECB`, `CKM_DES3_CBC`, `CKM_AES_ECB`, `CKM_AES_CBC` |
/// | AES CMAC | `CKM_AES_CMAC` |
/// | TDES CMAC | `CKM_DES3_ECB` of the zero block (subkeys), then `CKM_DES3_CBC` over the message |
/// | HMAC | `CKM_SHA224_HMAC` … `CKM_SHA512_HMAC` |
/// | retail MAC | `CKM_DES3_CBC` under the K1‖K1 object (single DES under K1), then `CKM_DES3_ECB` on the last block |
///
/// The TDES CMAC is composed (SP 800-38B §6.2) because `cryptoki` offers no `CKM_DES3_CMAC`:
/// L = E(0), the last block is masked with the subkey from L, and one CBC encryption with a
/// zero IV yields the tag as its last block. L, the subkeys and the CBC chain are MAC values,
/// not the key, and are zeroized.
pub struct TokenKey {
    token: Arc<Token>,
    algorithm: KeyAlgorithm,
    object: ObjectHandle,
    k1: Option<ObjectHandle>,
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenKey({}, {:?})", self.algorithm, self.object)
    }
}

impl TokenKey {
    pub(crate) fn new(
        token: Arc<Token>,
        algorithm: KeyAlgorithm,
        object: ObjectHandle,
        k1: Option<ObjectHandle>,
    ) -> Self {
        Self {
            token,
            algorithm,
            object,
            k1,
        }
    }

    /// Runs one single-part mechanism on `object` and writes its output over `data`.
    fn crypt(
        &self,
        what: &str,
        mechanism: &Mechanism<'_>,
        object: ObjectHandle,
        data: &mut [u8],
        encrypt: bool,
    ) -> Result<(), Error> {
        let out = Zeroizing::new(self.token.with_session(what, |s| {
            if encrypt {
                s.encrypt(mechanism, object, data)
            } else {
                s.decrypt(mechanism, object, data)
            }
        })?);
        if out.len() != data.len() {
            return Err(Error::Backend(payhsm_core::BackendFailure::Failed));
        }
        data.copy_from_slice(&out);
        Ok(())
    }

    fn ecb(&self) -> Result<Mechanism<'static>, Error> {
        Ok(match self.block_cipher()? {
            BlockCipher::Tdes => Mechanism::Des3Ecb,
            BlockCipher::Aes => Mechanism::AesEcb,
        })
    }

    fn cbc(&self, iv: &[u8]) -> Result<Mechanism<'static>, Error> {
        let bad_iv = |_| Error::InvalidLength {
            field: "IV",
            expected: "one cipher block",
            actual: iv.len(),
        };
        Ok(match self.block_cipher()? {
            BlockCipher::Tdes => Mechanism::Des3Cbc(iv.try_into().map_err(bad_iv)?),
            BlockCipher::Aes => Mechanism::AesCbc(iv.try_into().map_err(bad_iv)?),
        })
    }

    fn sign(&self, what: &str, mechanism: &Mechanism<'_>, message: &[u8]) -> Result<Tag, Error> {
        let tag = Zeroizing::new(
            self.token
                .with_session(what, |s| s.sign(mechanism, self.object, message))?,
        );
        Tag::new(&tag)
    }
}

fn whole_blocks(cipher: BlockCipher, data: &[u8]) -> Result<(), Error> {
    if data.len().is_multiple_of(cipher.block_len()) {
        Ok(())
    } else {
        Err(Error::InvalidLength {
            field: "data",
            expected: "a whole number of cipher blocks",
            actual: data.len(),
        })
    }
}

/// Doubling in GF(2^n) for the CMAC subkeys (SP 800-38B §6.1).
fn double(block: &mut [u8]) {
    let r = if block.len() == 8 { 0x1B } else { 0x87 };
    let carry = block[0] >> 7;
    for i in 0..block.len() {
        let next = block.get(i + 1).map_or(0, |b| b >> 7);
        block[i] = (block[i] << 1) | next;
    }
    if let Some(last) = block.last_mut() {
        *last ^= r * carry;
    }
}

impl SymmetricKey for TokenKey {
    fn key_algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    fn encrypt_ecb(&self, data: &mut [u8]) -> Result<(), Error> {
        whole_blocks(self.block_cipher()?, data)?;
        self.crypt("encrypting", &self.ecb()?, self.object, data, true)
    }

    fn decrypt_ecb(&self, data: &mut [u8]) -> Result<(), Error> {
        whole_blocks(self.block_cipher()?, data)?;
        self.crypt("decrypting", &self.ecb()?, self.object, data, false)
    }

    fn encrypt_cbc(&self, iv: &[u8], data: &mut [u8]) -> Result<(), Error> {
        whole_blocks(self.block_cipher()?, data)?;
        self.crypt("encrypting", &self.cbc(iv)?, self.object, data, true)
    }

    fn decrypt_cbc(&self, iv: &[u8], data: &mut [u8]) -> Result<(), Error> {
        whole_blocks(self.block_cipher()?, data)?;
        self.crypt("decrypting", &self.cbc(iv)?, self.object, data, false)
    }

    fn cmac(&self, message: &[u8]) -> Result<Tag, Error> {
        let n = match self.block_cipher()? {
            BlockCipher::Aes => return self.sign("computing a CMAC", &Mechanism::AesCMac, message),
            BlockCipher::Tdes => 8,
        };
        let mut subkey = Zeroizing::new([0u8; 8]);
        self.encrypt_ecb(&mut subkey[..])?;
        double(&mut subkey[..]);
        let blocks = message.len().div_ceil(n).max(1);
        let mut padded = Zeroizing::new(vec![0u8; blocks * n]);
        padded[..message.len()].copy_from_slice(message);
        if message.is_empty() || !message.len().is_multiple_of(n) {
            padded[message.len()] = 0x80;
            double(&mut subkey[..]);
        }
        let last = (blocks - 1) * n;
        padded[last..]
            .iter_mut()
            .zip(subkey.iter())
            .for_each(|(b, k)| *b ^= k);
        self.encrypt_cbc(&[0u8; 8], &mut padded)?;
        Tag::new(&padded[last..])
    }

    fn hmac(&self, message: &[u8]) -> Result<Tag, Error> {
        let mechanism = match self.algorithm {
            KeyAlgorithm::HmacSha224 => Mechanism::Sha224Hmac,
            KeyAlgorithm::HmacSha256 => Mechanism::Sha256Hmac,
            KeyAlgorithm::HmacSha384 => Mechanism::Sha384Hmac,
            KeyAlgorithm::HmacSha512 => Mechanism::Sha512Hmac,
            _ => {
                return Err(Error::UnsupportedOperation {
                    operation: "HMAC",
                    reason: "the key is not an HMAC key",
                });
            }
        };
        self.sign("computing an HMAC", &mechanism, message)
    }

    fn retail_mac(&self, parts: &[&[u8]]) -> Result<Tag, Error> {
        if self.block_cipher()? != BlockCipher::Tdes {
            return Err(Error::UnsupportedOperation {
                operation: "ISO 9797-1 MAC algorithm 3",
                reason: "the key is not a TDES key",
            });
        }
        let k1 = self.k1.ok_or(Error::UnsupportedOperation {
            operation: "ISO 9797-1 MAC algorithm 3",
            reason: "the token holds no K1 object for this key (only C0 and M3 keys have one)",
        })?;
        let mut message = Zeroizing::new(parts.concat());
        let total = message.len();
        if total == 0 || !total.is_multiple_of(8) {
            return Err(Error::InvalidLength {
                field: "padded message",
                expected: "a whole, non-zero number of 8-byte blocks",
                actual: total,
            });
        }
        // CBC under K1 over all blocks but the last; the chain value is the last output block.
        let last = total - 8;
        if last > 0 {
            self.crypt(
                "computing a retail MAC",
                &Mechanism::Des3Cbc([0; 8]),
                k1,
                &mut message[..last],
                true,
            )?;
        }
        let mut tail = [0u8; 8];
        tail.copy_from_slice(&message[last..]);
        if last > 0 {
            tail.iter_mut()
                .zip(&message[last - 8..last])
                .for_each(|(t, c)| *t ^= c);
        }
        let result = self.encrypt_ecb(&mut tail).and_then(|()| Tag::new(&tail));
        tail.zeroize();
        result
    }
}
