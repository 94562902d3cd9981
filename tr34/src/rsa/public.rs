//! RSA public keys: PKCS #1 v1.5 verification and OAEP encryption on the RustCrypto `rsa` crate.

use alloc::vec::Vec;
use core::fmt;

use der::{
    Decode, Encode, Sequence,
    asn1::{AnyRef, BitString, Null, UintRef},
};
use payhsm_core::rng::RandomSource;
use rsa::{
    BigUint, Oaep, Pkcs1v15Encrypt, Pkcs1v15Sign,
    rand_core::{CryptoRng, RngCore},
    traits::PublicKeyParts,
};
use sha2::Digest;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use super::{EncryptionPadding, OaepHash, RsaKeySize};
use crate::{Error, oid};

/// The hash of a PKCS #1 v1.5 signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureHash {
    /// SHA-256 (TR-34 tokens and the certificates payhsm issues).
    Sha256,
    /// SHA-384 (accepted on certificates).
    Sha384,
    /// SHA-512 (accepted on certificates).
    Sha512,
}

/// `RSAPublicKey` (RFC 8017 A.1.1).
#[derive(Sequence)]
struct Pkcs1PublicKey<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

/// An RSA public key of an accepted size (2048, 3072 or 4096 bits; odd exponent ≥ 65537).
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    inner: rsa::RsaPublicKey,
    size: RsaKeySize,
}

impl RsaPublicKey {
    /// Reads a PKCS #1 `RSAPublicKey` and applies payhsm's key policy.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, Error> {
        let key = Pkcs1PublicKey::from_der(der).map_err(Error::der("RSAPublicKey"))?;
        let n = BigUint::from_bytes_be(key.modulus.as_bytes());
        let e = BigUint::from_bytes_be(key.public_exponent.as_bytes());
        let size = RsaKeySize::from_bits(n.bits())?;
        let odd = key
            .public_exponent
            .as_bytes()
            .last()
            .is_some_and(|b| b & 1 == 1);
        if e.bits() < 17 || !odd {
            return Err(Error::KeyRejected {
                reason: "the public exponent must be odd and at least 65537",
            });
        }
        let inner = rsa::RsaPublicKey::new(n, e).map_err(|_| Error::KeyRejected {
            reason: "the public exponent is out of range",
        })?;
        Ok(Self { inner, size })
    }

    /// Reads a `SubjectPublicKeyInfo` holding an `rsaEncryption` key.
    pub fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Self, Error> {
        if spki.algorithm.oid != oid::RSA_ENCRYPTION || !null_or_absent(&spki.algorithm) {
            return Err(Error::unsupported(
                "subjectPublicKeyInfo",
                "only rsaEncryption keys are supported",
            ));
        }
        let bits = spki.subject_public_key.as_bytes().ok_or(Error::malformed(
            "subjectPublicKey",
            "the BIT STRING has unused bits",
        ))?;
        Self::from_pkcs1_der(bits)
    }

    /// Reads a DER `SubjectPublicKeyInfo`.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, Error> {
        Self::from_spki(
            &SubjectPublicKeyInfoOwned::from_der(der)
                .map_err(Error::der("SubjectPublicKeyInfo"))?,
        )
    }

    /// The PKCS #1 `RSAPublicKey` encoding.
    pub fn to_pkcs1_der(&self) -> Result<Vec<u8>, Error> {
        let n = self.inner.n().to_bytes_be();
        let e = self.inner.e().to_bytes_be();
        Pkcs1PublicKey {
            modulus: UintRef::new(&n).map_err(Error::der("modulus"))?,
            public_exponent: UintRef::new(&e).map_err(Error::der("publicExponent"))?,
        }
        .to_der()
        .map_err(Error::der("RSAPublicKey"))
    }

    /// The `SubjectPublicKeyInfo` (algorithm `rsaEncryption` with NULL parameters).
    pub fn to_spki(&self) -> Result<SubjectPublicKeyInfoOwned, Error> {
        Ok(SubjectPublicKeyInfoOwned {
            algorithm: algorithm_with_null(oid::RSA_ENCRYPTION),
            subject_public_key: BitString::from_bytes(&self.to_pkcs1_der()?)
                .map_err(Error::der("subjectPublicKey"))?,
        })
    }

    /// The key size.
    pub fn size(&self) -> RsaKeySize {
        self.size
    }

    /// The public exponent (keys with an exponent of 2^33 or more are refused).
    pub fn public_exponent(&self) -> u64 {
        self.inner
            .e()
            .to_bytes_be()
            .iter()
            .fold(0, |n, b| (n << 8) | u64::from(*b))
    }

    /// The modulus length in bytes: the length of signatures and OAEP ciphertexts.
    pub fn modulus_len(&self) -> usize {
        self.inner.size()
    }

    /// Verifies an RSASSA-PKCS1-v1_5 signature over `message`.
    pub fn verify_pkcs1(
        &self,
        hash: SignatureHash,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), Error> {
        let result = match hash {
            SignatureHash::Sha256 => self.inner.verify(
                Pkcs1v15Sign::new::<rsa::sha2::Sha256>(),
                &sha2::Sha256::digest(message),
                signature,
            ),
            SignatureHash::Sha384 => self.inner.verify(
                Pkcs1v15Sign::new::<rsa::sha2::Sha384>(),
                &sha2::Sha384::digest(message),
                signature,
            ),
            SignatureHash::Sha512 => self.inner.verify(
                Pkcs1v15Sign::new::<rsa::sha2::Sha512>(),
                &sha2::Sha512::digest(message),
                signature,
            ),
        };
        result.map_err(|_| Error::SignatureInvalid)
    }

    /// Verifies an RSASSA-PKCS1-v1_5 signature with SHA-256 over `message`.
    pub fn verify_pkcs1_sha256(&self, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        self.verify_pkcs1(SignatureHash::Sha256, message, signature)
    }

    /// RSAES-OAEP encryption with an empty label.
    pub fn encrypt_oaep(
        &self,
        hash: OaepHash,
        plaintext: &[u8],
        rng: &mut dyn RandomSource,
    ) -> Result<Vec<u8>, Error> {
        self.encrypt(EncryptionPadding::Oaep(hash), plaintext, rng)
    }

    /// RSA encryption of `plaintext` (at most [`EncryptionPadding::max_message_len`] bytes)
    /// with `padding`.
    pub fn encrypt(
        &self,
        padding: EncryptionPadding,
        plaintext: &[u8],
        rng: &mut dyn RandomSource,
    ) -> Result<Vec<u8>, Error> {
        let mut source = SourceRng {
            source: rng,
            failed: false,
        };
        let result = match padding {
            EncryptionPadding::Pkcs1 => self.inner.encrypt(&mut source, Pkcs1v15Encrypt, plaintext),
            EncryptionPadding::Oaep(OaepHash::Sha1) => {
                self.inner
                    .encrypt(&mut source, Oaep::new::<sha1_0_10::Sha1>(), plaintext)
            }
            EncryptionPadding::Oaep(OaepHash::Sha256) => {
                self.inner
                    .encrypt(&mut source, Oaep::new::<rsa::sha2::Sha256>(), plaintext)
            }
            EncryptionPadding::Oaep(OaepHash::Sha512) => {
                self.inner
                    .encrypt(&mut source, Oaep::new::<rsa::sha2::Sha512>(), plaintext)
            }
        };
        if source.failed {
            return Err(Error::Core(payhsm_core::Error::RandomSource));
        }
        result.map_err(|_| Error::unsupported("RSA plaintext", "too long for the key"))
    }
}

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RsaPublicKey({}, e={})",
            self.size.key_algorithm(),
            self.inner.e()
        )
    }
}

/// Whether an algorithm identifier's parameters are NULL or absent (both are seen for
/// `rsaEncryption` and the SHA-2 hashes; RFC 4055 §2.1 asks to accept both).
pub(crate) fn null_or_absent(alg: &AlgorithmIdentifierOwned) -> bool {
    match &alg.parameters {
        None => true,
        Some(p) => der::Tagged::tag(p) == der::Tag::Null && p.value().is_empty(),
    }
}

/// An algorithm identifier with NULL parameters.
pub(crate) fn algorithm_with_null(oid: der::asn1::ObjectIdentifier) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid,
        parameters: Some(AnyRef::from(Null).into()),
    }
}

/// Lends a [`RandomSource`] to the `rsa` crate, whose random interface cannot fail: a failure
/// is noted (the bytes are zeroed) and the encryption refused afterwards.
struct SourceRng<'a> {
    source: &'a mut dyn RandomSource,
    failed: bool,
}

impl RngCore for SourceRng<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if self.failed || self.source.fill(dest).is_err() {
            self.failed = true;
            // PKCS #1 v1.5 padding redraws zero bytes: never zero, so that it ends.
            dest.fill(1);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for SourceRng<'_> {}
