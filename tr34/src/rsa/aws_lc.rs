//! The software RSA private key on aws-lc-rs (constant-time RSA; FIPS-validated module
//! available).

use alloc::{string::String, vec, vec::Vec};
use core::fmt;

use aws_lc_rs::{
    encoding::AsDer,
    rsa::{
        KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA512_MGF1SHA512,
        OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey,
    },
    signature::{KeyPair, RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512, RsaKeyPair},
};
use der::pem::LineEnding;
use payhsm_core::secret::SecretVec;
use zeroize::Zeroizing;

use super::{OaepHash, RsaKeySize, RsaPrivateKey, RsaPublicKey, SignatureHash};
use crate::Error;

/// An RSA private key in process memory, on aws-lc-rs.
///
/// The key is held by aws-lc (which clears it on drop); `Debug` shows only the public key and
/// there is no `Clone`. PEM and DER output is explicit and zeroizing.
pub struct SoftwareRsaKey {
    signing: RsaKeyPair,
    decrypting: OaepPrivateDecryptingKey,
    decrypting_pkcs1: Pkcs1PrivateDecryptingKey,
    public: RsaPublicKey,
}

const PKCS8_LABEL: &str = "PRIVATE KEY";
const PKCS1_LABEL: &str = "RSA PRIVATE KEY";

impl SoftwareRsaKey {
    /// Generates a new key.
    pub fn generate(size: RsaKeySize) -> Result<Self, Error> {
        let bits = match size {
            RsaKeySize::Rsa2048 => KeySize::Rsa2048,
            RsaKeySize::Rsa3072 => KeySize::Rsa3072,
            RsaKeySize::Rsa4096 => KeySize::Rsa4096,
        };
        let key = PrivateDecryptingKey::generate(bits).map_err(|_| Error::Backend {
            operation: "RSA key generation",
        })?;
        let pkcs8 = key.as_der().map_err(|_| Error::Backend {
            operation: "RSA key encoding",
        })?;
        Self::from_pkcs8_der(pkcs8.as_ref())
    }

    /// Reads an unencrypted PKCS #8 `PrivateKeyInfo`.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, Error> {
        Self::new(RsaKeyPair::from_pkcs8(der).map_err(rejected)?)
    }

    /// Reads a PKCS #1 `RSAPrivateKey`.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, Error> {
        Self::new(RsaKeyPair::from_der(der).map_err(rejected)?)
    }

    /// Reads a PEM `PRIVATE KEY` (PKCS #8) or `RSA PRIVATE KEY` (PKCS #1).
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let (label, der) = der::pem::decode_vec(pem.as_bytes()).map_err(|e| Error::Malformed {
            field: "private key PEM",
            position: None,
            reason: match e {
                der::pem::Error::Base64(_) => "bad Base64",
                _ => "not a PEM document",
            },
        })?;
        let der = Zeroizing::new(der);
        match label {
            PKCS8_LABEL => Self::from_pkcs8_der(&der),
            PKCS1_LABEL => Self::from_pkcs1_der(&der),
            _ => Err(Error::malformed(
                "private key PEM",
                "expected a PRIVATE KEY or RSA PRIVATE KEY document",
            )),
        }
    }

    /// The key as an unencrypted PKCS #8 `PrivateKeyInfo`.
    pub fn to_pkcs8_der(&self) -> Result<SecretVec, Error> {
        let der = self.signing.as_der().map_err(|_| Error::Backend {
            operation: "RSA key encoding",
        })?;
        Ok(SecretVec::from_slice(der.as_ref()))
    }

    /// The key as a PKCS #1 `RSAPrivateKey`: the payload X9.143 §8.5 puts in a key block.
    pub fn to_pkcs1_der(&self) -> Result<SecretVec, Error> {
        /// RFC 5208 `PrivateKeyInfo`, as aws-lc writes it (no attributes).
        #[derive(der::Sequence)]
        struct PrivateKeyInfo<'a> {
            version: u8,
            algorithm: der::asn1::AnyRef<'a>,
            private_key: &'a der::asn1::OctetStringRef,
        }
        let pkcs8 = self.to_pkcs8_der()?;
        let info =
            <PrivateKeyInfo<'_> as der::Decode>::from_der(pkcs8.expose_secret()).map_err(|_| {
                Error::Backend {
                    operation: "RSA key encoding",
                }
            })?;
        Ok(SecretVec::from_slice(info.private_key.as_bytes()))
    }

    /// The key as a PEM `PRIVATE KEY` document (unencrypted PKCS #8).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, Error> {
        let der = self.to_pkcs8_der()?;
        der::pem::encode_string(PKCS8_LABEL, LineEnding::LF, der.expose_secret())
            .map(Zeroizing::new)
            .map_err(|_| Error::Backend {
                operation: "PEM encoding",
            })
    }

    fn new(signing: RsaKeyPair) -> Result<Self, Error> {
        let public = RsaPublicKey::from_pkcs1_der(signing.public_key().as_ref())?;
        // aws-lc-rs reads decryption keys from PKCS #8 only; re-encode the validated key.
        let pkcs8 = signing.as_der().map_err(|_| Error::Backend {
            operation: "RSA key encoding",
        })?;
        let decrypting_key = || PrivateDecryptingKey::from_pkcs8(pkcs8.as_ref()).map_err(rejected);
        let setup = |_| Error::Backend {
            operation: "RSA decryption key setup",
        };
        Ok(Self {
            decrypting: OaepPrivateDecryptingKey::new(decrypting_key()?).map_err(setup)?,
            decrypting_pkcs1: Pkcs1PrivateDecryptingKey::new(decrypting_key()?).map_err(setup)?,
            signing,
            public,
        })
    }
}

fn rejected(e: aws_lc_rs::error::KeyRejected) -> Error {
    Error::KeyRejected {
        reason: match e.description_() {
            "TooSmall" => "the modulus is smaller than 2048 bits",
            "TooLarge" => "the modulus is larger than 8192 bits",
            _ => "not a valid RSA private key (inconsistent or malformed)",
        },
    }
}

impl RsaPrivateKey for SoftwareRsaKey {
    fn public_key(&self) -> &RsaPublicKey {
        &self.public
    }

    fn decrypt_oaep(&self, hash: OaepHash, ciphertext: &[u8]) -> Result<SecretVec, Error> {
        let algorithm = match hash {
            OaepHash::Sha256 => &OAEP_SHA256_MGF1SHA256,
            OaepHash::Sha1 => &OAEP_SHA1_MGF1SHA1,
            OaepHash::Sha512 => &OAEP_SHA512_MGF1SHA512,
        };
        let mut out = SecretVec::zeroed(self.decrypting.min_output_size());
        let len = self
            .decrypting
            .decrypt(algorithm, ciphertext, out.expose_secret_mut(), None)
            .map_err(|_| Error::DecryptionFailed)?
            .len();
        out.truncate(len);
        Ok(out)
    }

    fn decrypt_pkcs1(&self, ciphertext: &[u8]) -> Result<SecretVec, Error> {
        let mut out = SecretVec::zeroed(self.decrypting_pkcs1.min_output_size());
        let len = self
            .decrypting_pkcs1
            .decrypt(ciphertext, out.expose_secret_mut())
            .map_err(|_| Error::DecryptionFailed)?
            .len();
        out.truncate(len);
        Ok(out)
    }

    fn sign_pkcs1(&self, hash: SignatureHash, message: &[u8]) -> Result<Vec<u8>, Error> {
        let encoding = match hash {
            SignatureHash::Sha256 => &RSA_PKCS1_SHA256,
            SignatureHash::Sha384 => &RSA_PKCS1_SHA384,
            SignatureHash::Sha512 => &RSA_PKCS1_SHA512,
        };
        let mut signature = vec![0; self.signing.public_modulus_len()];
        self.signing
            .sign(
                encoding,
                &aws_lc_rs::rand::SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| Error::Backend {
                operation: "RSA signing",
            })?;
        Ok(signature)
    }
}

impl fmt::Debug for SoftwareRsaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SoftwareRsaKey({:?}, [REDACTED])", self.public)
    }
}
