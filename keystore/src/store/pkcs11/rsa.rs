//! The RSA private key of a token key pair: signing and decryption are token mechanisms.

use std::{fmt, sync::Arc};

use cryptoki::{
    error::{Error as CkError, RvError},
    mechanism::{
        Mechanism, MechanismType,
        rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource},
    },
    object::ObjectHandle,
};
use payhsm_core::secret::SecretVec;
use payhsm_tr34::{
    Error as RsaError,
    rsa::{OaepHash, RsaPrivateKey, RsaPublicKey, SignatureHash},
};
use zeroize::Zeroizing;

use super::token::Token;

/// An RSA private key held in a PKCS#11 token (`CKA_SENSITIVE`, never extractable), used
/// through the token's mechanisms only.
///
/// | operation | mechanism |
/// |---|---|
/// | PKCS #1 v1.5 signature, SHA-256, SHA-384, SHA-512 | `CKM_SHA256_RSA_PKCS`, `CKM_SHA384_RSA_PKCS`, `CKM_SHA512_RSA_PKCS` |
/// | RSAES-OAEP decryption | `CKM_RSA_PKCS_OAEP`, hash and MGF1 hash SHA-256, SHA-512 (or SHA-1), empty label |
/// | RSAES-PKCS1-v1_5 decryption | `CKM_RSA_PKCS` |
///
/// The public half is read from the key pair's public key object (modulus, exponent) when the
/// key is opened. A token that refuses a mechanism or its parameters (SoftHSM 2.6 offers OAEP
/// with SHA-1 only: `CKR_ARGUMENTS_BAD` or `CKR_MECHANISM_PARAM_INVALID` at `C_DecryptInit`)
/// yields [`RsaError::NotSupported`]; it refuses every input alike, so saying so reveals
/// nothing. Every other decryption failure is [`RsaError::DecryptionFailed`], whatever the
/// token answered, so the token's return values are no padding oracle.
pub struct TokenRsaKey {
    token: Arc<Token>,
    object: ObjectHandle,
    public: RsaPublicKey,
}

impl fmt::Debug for TokenRsaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TokenRsaKey({}, {:?})",
            self.public.size().key_algorithm(),
            self.object
        )
    }
}

/// Whether a token's answer means it cannot run the mechanism with these parameters at all.
fn refuses_mechanism(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::MechanismInvalid | RvError::MechanismParamInvalid | RvError::ArgumentsBad,
            _
        )
    )
}

impl TokenRsaKey {
    pub(crate) fn new(token: Arc<Token>, object: ObjectHandle, public: RsaPublicKey) -> Self {
        Self {
            token,
            object,
            public,
        }
    }
}

impl TokenRsaKey {
    /// Decrypts with `mechanism` (named `operation` if the token refuses it): one error for
    /// every failure.
    fn decrypt(
        &self,
        mechanism: &Mechanism<'_>,
        operation: &'static str,
        ciphertext: &[u8],
    ) -> Result<SecretVec, RsaError> {
        let mut refused = false;
        let result = self
            .token
            .with_session("decrypting with the RSA private key", |s| {
                match s.decrypt(mechanism, self.object, ciphertext) {
                    Ok(plain) => Ok(Some(Zeroizing::new(plain))),
                    Err(e) if refuses_mechanism(&e) => {
                        refused = true;
                        Ok(None)
                    }
                    // Handed back so the session pool sees device failures; reported below as
                    // the one decryption error.
                    Err(e) => Err(e),
                }
            });
        match result {
            Ok(Some(plain)) => Ok(SecretVec::from_slice(&plain)),
            Ok(None) if refused => Err(RsaError::NotSupported { operation }),
            _ => Err(RsaError::DecryptionFailed),
        }
    }
}

impl RsaPrivateKey for TokenRsaKey {
    fn public_key(&self) -> &RsaPublicKey {
        &self.public
    }

    fn decrypt_oaep(&self, hash: OaepHash, ciphertext: &[u8]) -> Result<SecretVec, RsaError> {
        let (hash_alg, mgf, operation) = match hash {
            OaepHash::Sha256 => (
                MechanismType::SHA256,
                PkcsMgfType::MGF1_SHA256,
                "RSAES-OAEP decryption with SHA-256 and MGF1-SHA-256 (CKM_RSA_PKCS_OAEP)",
            ),
            OaepHash::Sha1 => (
                MechanismType::SHA1,
                PkcsMgfType::MGF1_SHA1,
                "RSAES-OAEP decryption with SHA-1 and MGF1-SHA-1 (CKM_RSA_PKCS_OAEP)",
            ),
            OaepHash::Sha512 => (
                MechanismType::SHA512,
                PkcsMgfType::MGF1_SHA512,
                "RSAES-OAEP decryption with SHA-512 and MGF1-SHA-512 (CKM_RSA_PKCS_OAEP)",
            ),
        };
        let mechanism =
            Mechanism::RsaPkcsOaep(PkcsOaepParams::new(hash_alg, mgf, PkcsOaepSource::empty()));
        self.decrypt(&mechanism, operation, ciphertext)
    }

    fn decrypt_pkcs1(&self, ciphertext: &[u8]) -> Result<SecretVec, RsaError> {
        self.decrypt(
            &Mechanism::RsaPkcs,
            "RSAES-PKCS1-v1_5 decryption (CKM_RSA_PKCS)",
            ciphertext,
        )
    }

    fn sign_pkcs1(&self, hash: SignatureHash, message: &[u8]) -> Result<Vec<u8>, RsaError> {
        let (mechanism, operation) = match hash {
            SignatureHash::Sha256 => (
                Mechanism::Sha256RsaPkcs,
                "RSASSA-PKCS1-v1_5 signing with SHA-256 (CKM_SHA256_RSA_PKCS)",
            ),
            SignatureHash::Sha384 => (
                Mechanism::Sha384RsaPkcs,
                "RSASSA-PKCS1-v1_5 signing with SHA-384 (CKM_SHA384_RSA_PKCS)",
            ),
            SignatureHash::Sha512 => (
                Mechanism::Sha512RsaPkcs,
                "RSASSA-PKCS1-v1_5 signing with SHA-512 (CKM_SHA512_RSA_PKCS)",
            ),
        };
        let mut may_not_sign = false;
        let signature = self
            .token
            .with_session("signing with the RSA private key", |s| {
                match s.sign(&mechanism, self.object, message) {
                    Ok(signature) => Ok(Some(signature)),
                    Err(e) if refuses_mechanism(&e) => Ok(None),
                    Err(CkError::Pkcs11(RvError::KeyFunctionNotPermitted, _)) => {
                        may_not_sign = true;
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            })
            .map_err(|e| RsaError::Core(e.into()))?;
        match signature {
            Some(signature) if signature.len() == self.public.modulus_len() => Ok(signature),
            Some(_) => Err(RsaError::Backend {
                operation: "the token's signature has the wrong length",
            }),
            // A key pair created without `Sign` has CKA_SIGN false in the token.
            None if may_not_sign => Err(RsaError::NotSupported {
                operation: "signing with a key pair whose modes of use exclude Sign (its \
                            private key object has CKA_SIGN false)",
            }),
            None => Err(RsaError::NotSupported { operation }),
        }
    }
}

/// The PKCS #1 `RSAPublicKey` DER of a modulus and public exponent (big-endian unsigned).
pub(crate) fn pkcs1_public_der(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    fn length(out: &mut Vec<u8>, len: usize) {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        match u8::try_from(len) {
            Ok(short) if short < 0x80 => out.push(short),
            // At most size_of::<usize>() length bytes follow.
            _ => {
                out.push(0x80 | u8::try_from(bytes.len() - skip).unwrap_or(0x7F));
                out.extend_from_slice(&bytes[skip..]);
            }
        }
    }
    fn integer(out: &mut Vec<u8>, value: &[u8]) {
        let value = match value.iter().position(|b| *b != 0) {
            Some(first) => &value[first..],
            None => &[0],
        };
        let pad = value[0] & 0x80 != 0;
        out.push(0x02);
        length(out, value.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(value);
    }
    let mut body = Vec::new();
    integer(&mut body, modulus);
    integer(&mut body, exponent);
    let mut out = vec![0x30];
    length(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::pkcs1_public_der;

    #[test]
    fn pkcs1_public_der_encodes_integers_minimally() {
        // SEQUENCE { INTEGER 0x00 0x80 (padded), INTEGER 0x010001 (leading zero dropped) }
        assert_eq!(
            pkcs1_public_der(&[0x80], &[0x00, 0x01, 0x00, 0x01]),
            [
                0x30, 0x09, 0x02, 0x02, 0x00, 0x80, 0x02, 0x03, 0x01, 0x00, 0x01
            ]
        );
        let long = pkcs1_public_der(&[0x7F; 256], &[3]);
        assert_eq!(
            &long[..8],
            &[0x30, 0x82, 0x01, 0x07, 0x02, 0x82, 0x01, 0x00]
        );
    }
}
