//! The encrypted key block: content encryption (TDES-CBC or AES-128-CBC with PKCS #7 padding)
//! and the `KeyBlock` structure inside it.
//!
//! [`export`](super::export) and [`import`](super::import) use these with a random ephemeral
//! key; they are public so that known-answer tests (TR-34-2019 B.2.2.2) can run them with the
//! published one.

use alloc::vec::Vec;

use der::{
    Decode, Encode,
    asn1::{Any, OctetString, OctetStringRef, SetOfVec},
};
use payhsm_core::{
    crypto::{SoftwareKey, SymmetricKey},
    key::KeyAlgorithm,
    rng::RandomSource,
    secret::{KeyMaterial, SecretVec},
};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;

use super::{asn1::KeyBlock, attributes};
use crate::{Error, KeyBlockHeader, cert::IssuerAndSerialNumber, oid};

/// The cipher under the ephemeral key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentCipher {
    /// `des-ede3-cbc`: a three-key TDES ephemeral key, 8-byte IV.
    Tdes3Cbc,
    /// `aes128-CBC`: an AES-128 ephemeral key, 16-byte IV.
    Aes128Cbc,
}

impl ContentCipher {
    /// The ephemeral key's algorithm.
    pub const fn key_algorithm(self) -> KeyAlgorithm {
        match self {
            Self::Tdes3Cbc => KeyAlgorithm::Tdes3Key,
            Self::Aes128Cbc => KeyAlgorithm::Aes128,
        }
    }

    /// The ephemeral key's length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Self::Tdes3Cbc => 24,
            Self::Aes128Cbc => 16,
        }
    }

    /// The block (and IV) length in bytes.
    pub const fn block_len(self) -> usize {
        match self {
            Self::Tdes3Cbc => 8,
            Self::Aes128Cbc => 16,
        }
    }

    const fn oid(self) -> der::asn1::ObjectIdentifier {
        match self {
            Self::Tdes3Cbc => oid::DES_EDE3_CBC,
            Self::Aes128Cbc => oid::AES128_CBC,
        }
    }

    /// Reads `contentEncryptionAlgorithm`: the cipher and its IV.
    pub(super) fn from_algorithm(alg: &AlgorithmIdentifierOwned) -> Result<(Self, Vec<u8>), Error> {
        const FIELD: &str = "contentEncryptionAlgorithm";
        let cipher = match alg.oid {
            oid::DES_EDE3_CBC => Self::Tdes3Cbc,
            oid::AES128_CBC => Self::Aes128Cbc,
            _ => {
                return Err(Error::unsupported(
                    FIELD,
                    "only des-ede3-cbc and aes128-CBC are accepted",
                ));
            }
        };
        let iv = attributes::octet_string(
            alg.parameters
                .as_ref()
                .ok_or(Error::malformed(FIELD, "the IV is missing"))?,
            "content encryption IV",
        )?;
        if iv.len() != cipher.block_len() {
            return Err(Error::malformed(
                FIELD,
                "the IV length is not the cipher's block length",
            ));
        }
        Ok((cipher, iv))
    }

    /// Writes `contentEncryptionAlgorithm`.
    pub(super) fn to_algorithm(self, iv: &[u8]) -> Result<AlgorithmIdentifierOwned, Error> {
        let iv = OctetString::new(iv).map_err(Error::der("IV"))?;
        Ok(AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: Some(Any::encode_from(&iv).map_err(Error::der("IV"))?),
        })
    }

    /// Whether a ciphertext length can be this cipher's output.
    pub(super) fn fits(self, ciphertext_len: usize) -> bool {
        ciphertext_len > 0 && ciphertext_len.is_multiple_of(self.block_len())
    }

    /// Draws a random ephemeral key and IV.
    pub(super) fn generate(
        self,
        rng: &mut dyn RandomSource,
    ) -> Result<(KeyMaterial, Vec<u8>), Error> {
        let mut key = KeyMaterial::zeroed("ephemeral key", self.key_len())?;
        rng.fill(key.expose_secret_mut())?;
        let mut iv = alloc::vec![0; self.block_len()];
        rng.fill(&mut iv)?;
        Ok((key, iv))
    }

    /// Pads `plaintext` (PKCS #7) and encrypts it in CBC mode.
    pub fn encrypt(self, key: &KeyMaterial, iv: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let block = self.block_len();
        let pad = block - plaintext.len() % block;
        let mut buf = SecretVec::zeroed(plaintext.len() + pad);
        let (head, tail) = buf.expose_secret_mut().split_at_mut(plaintext.len());
        head.copy_from_slice(plaintext);
        // `pad` is at most 16.
        tail.fill(u8::try_from(pad).unwrap_or(0));
        SoftwareKey::new(self.key_algorithm(), key)?.encrypt_cbc(iv, buf.expose_secret_mut())?;
        Ok(buf.expose_secret().to_vec())
    }

    /// Decrypts in CBC mode and removes the PKCS #7 padding. Every failure is
    /// [`Error::DecryptionFailed`].
    pub fn decrypt(self, key: &[u8], iv: &[u8], ciphertext: &[u8]) -> Result<SecretVec, Error> {
        let key =
            KeyMaterial::from_slice("ephemeral key", key).map_err(|_| Error::DecryptionFailed)?;
        if key.len() != self.key_len() || !self.fits(ciphertext.len()) {
            return Err(Error::DecryptionFailed);
        }
        let mut buf = SecretVec::from_slice(ciphertext);
        SoftwareKey::new(self.key_algorithm(), &key)
            .and_then(|k| k.decrypt_cbc(iv, buf.expose_secret_mut()))
            .map_err(|_| Error::DecryptionFailed)?;
        let plain = buf.expose_secret();
        let pad = usize::from(plain[plain.len() - 1]);
        let valid = (1..=self.block_len()).contains(&pad)
            && plain[plain.len() - pad..]
                .iter()
                .all(|&b| usize::from(b) == pad);
        if !valid {
            return Err(Error::DecryptionFailed);
        }
        let len = plain.len() - pad;
        buf.truncate(len);
        Ok(buf)
    }
}

/// DER-encodes a key block (version 1) into a secret buffer.
pub fn encode(
    kdh: &IssuerAndSerialNumber,
    key: &KeyMaterial,
    header: &KeyBlockHeader,
) -> Result<SecretVec, Error> {
    let field = "KeyBlock";
    let mut values = SetOfVec::new();
    values
        .insert(
            Any::encode_from(&OctetString::new(header.as_bytes()).map_err(Error::der(field))?)
                .map_err(Error::der(field))?,
        )
        .map_err(Error::der(field))?;
    let block = KeyBlock {
        version: 1,
        kdh: kdh.clone(),
        key: OctetStringRef::new(key.expose_secret()).map_err(Error::der(field))?,
        header: Attribute {
            oid: oid::DATA,
            values,
        },
    };
    let len = block.encoded_len().map_err(Error::der(field))?;
    let mut out = SecretVec::zeroed(usize::try_from(u32::from(len)).unwrap_or(0));
    block
        .encode_to_slice(out.expose_secret_mut())
        .map_err(Error::der(field))?;
    Ok(out)
}

/// The content of a decrypted key block.
#[derive(Debug)]
pub struct KeyBlockContent {
    /// The KDH that built the block.
    pub kdh: IssuerAndSerialNumber,
    /// The transported key.
    pub key: KeyMaterial,
    /// The key block header.
    pub header: KeyBlockHeader,
}

/// Reads a decrypted key block: version 1, exactly one DER `KeyBlock`.
pub fn decode(plaintext: &[u8]) -> Result<KeyBlockContent, Error> {
    let field = "KeyBlock";
    let block = KeyBlock::from_der(plaintext).map_err(Error::der(field))?;
    if block.version != 1 || block.header.oid != oid::DATA {
        return Err(Error::malformed(field, "version or header type"));
    }
    let header = attributes::octet_string(attributes::single_value(&block.header)?, field)?;
    Ok(KeyBlockContent {
        kdh: block.kdh,
        key: KeyMaterial::from_slice("transported key", block.key.as_bytes())?,
        header: KeyBlockHeader::from_bytes(&header)?,
    })
}
