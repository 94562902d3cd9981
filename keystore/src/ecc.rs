//! ECC key pairs on NIST P-256, P-384 and P-521 (RustCrypto `p256`, `p384`, `p521`):
//! generation, ECDH (the shared secret Z of NIST SP 800-56A §5.7.1.2), ECDSA for the
//! certificates and requests the HSM checks and signs, and X.509 `SubjectPublicKeyInfo`.
//!
//! A key pair's private key rests sealed like every key: its SEC 1 `ECPrivateKey` (RFC 5915)
//! in a TR-31 D block under the master key. It is used only through [`EcPrivateKey`], so a
//! store can keep it elsewhere, as RSA keys go through `RsaPrivateKey`.

use core::fmt;

use der::{
    Decode as _, Encode as _,
    asn1::{AnyRef, BitString, ObjectIdentifier},
};
use elliptic_curve::Generate as _;
use p256::ecdsa::signature::hazmat::{PrehashSigner as _, PrehashVerifier as _};
use payhsm_core::{key::KeyAlgorithm, secret::SecretVec};
use sha2::Digest as _;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::Error;

/// `id-ecPublicKey` (RFC 5480).
pub(crate) const EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// A NIST curve the HSM offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Curve {
    /// P-256 (`secp256r1`).
    P256,
    /// P-384 (`secp384r1`).
    P384,
    /// P-521 (`secp521r1`).
    P521,
}

impl Curve {
    /// The curve of an `ECC_NIST_…` algorithm.
    pub fn of(algorithm: KeyAlgorithm) -> Option<Self> {
        match algorithm {
            KeyAlgorithm::EccNistP256 => Some(Self::P256),
            KeyAlgorithm::EccNistP384 => Some(Self::P384),
            KeyAlgorithm::EccNistP521 => Some(Self::P521),
            _ => None,
        }
    }

    /// The service's algorithm name.
    pub const fn key_algorithm(self) -> KeyAlgorithm {
        match self {
            Self::P256 => KeyAlgorithm::EccNistP256,
            Self::P384 => KeyAlgorithm::EccNistP384,
            Self::P521 => KeyAlgorithm::EccNistP521,
        }
    }

    /// The named-curve OID (RFC 5480 §2.1.1.1).
    const fn oid(self) -> ObjectIdentifier {
        match self {
            Self::P256 => ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7"),
            Self::P384 => ObjectIdentifier::new_unwrap("1.3.132.0.34"),
            Self::P521 => ObjectIdentifier::new_unwrap("1.3.132.0.35"),
        }
    }

    fn from_oid(oid: ObjectIdentifier) -> Option<Self> {
        [Self::P256, Self::P384, Self::P521]
            .into_iter()
            .find(|c| c.oid() == oid)
    }
}

/// A hash of a signature (ECDSA, or RSA PKCS #1 v1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureHash {
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl SignatureHash {
    /// The digest of `message`.
    pub fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha224 => sha2::Sha224::digest(message).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(message).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(message).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(message).to_vec(),
        }
    }

    /// `ecdsa-with-SHA…` (RFC 5758 §3.2).
    pub fn ecdsa_oid(self) -> ObjectIdentifier {
        ObjectIdentifier::new_unwrap(match self {
            Self::Sha224 => "1.2.840.10045.4.3.1",
            Self::Sha256 => "1.2.840.10045.4.3.2",
            Self::Sha384 => "1.2.840.10045.4.3.3",
            Self::Sha512 => "1.2.840.10045.4.3.4",
        })
    }

    /// `sha…WithRSAEncryption` (RFC 4055 §5, RFC 8017 A.2.4).
    pub fn rsa_oid(self) -> ObjectIdentifier {
        ObjectIdentifier::new_unwrap(match self {
            Self::Sha224 => "1.2.840.113549.1.1.14",
            Self::Sha256 => "1.2.840.113549.1.1.11",
            Self::Sha384 => "1.2.840.113549.1.1.12",
            Self::Sha512 => "1.2.840.113549.1.1.13",
        })
    }

    /// The hash of an ECDSA signature algorithm OID.
    pub fn from_ecdsa_oid(oid: ObjectIdentifier) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.ecdsa_oid() == oid)
    }

    /// The hash of an RSA PKCS #1 v1.5 signature algorithm OID.
    pub fn from_rsa_oid(oid: ObjectIdentifier) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.rsa_oid() == oid)
    }

    const ALL: [Self; 4] = [Self::Sha224, Self::Sha256, Self::Sha384, Self::Sha512];
}

/// Runs `$body` with `$k` bound to the curve-specific value of each variant.
macro_rules! per_curve {
    ($value:expr, $ty:ident, $k:ident => $body:expr) => {
        match $value {
            $ty::P256($k) => $body,
            $ty::P384($k) => $body,
            $ty::P521($k) => $body,
        }
    };
}

/// An ECC public key on one of the HSM's curves (a valid, non-identity point).
#[derive(Clone, PartialEq, Eq)]
pub enum EcPublicKey {
    /// On P-256.
    P256(p256::PublicKey),
    /// On P-384.
    P384(p384::PublicKey),
    /// On P-521.
    P521(p521::PublicKey),
}

impl EcPublicKey {
    /// The curve.
    pub fn curve(&self) -> Curve {
        match self {
            Self::P256(_) => Curve::P256,
            Self::P384(_) => Curve::P384,
            Self::P521(_) => Curve::P521,
        }
    }

    /// A point in SEC 1 encoding (compressed or uncompressed) on `curve`. The point must be
    /// on the curve and not the identity.
    pub fn from_sec1(curve: Curve, bytes: &[u8]) -> Result<Self, &'static str> {
        let bad = |_| "not a point on the certificate's curve";
        Ok(match curve {
            Curve::P256 => Self::P256(p256::PublicKey::from_sec1_bytes(bytes).map_err(bad)?),
            Curve::P384 => Self::P384(p384::PublicKey::from_sec1_bytes(bytes).map_err(bad)?),
            Curve::P521 => Self::P521(p521::PublicKey::from_sec1_bytes(bytes).map_err(bad)?),
        })
    }

    /// The uncompressed SEC 1 point (`04 ‖ X ‖ Y`).
    pub fn to_sec1(&self) -> Vec<u8> {
        use elliptic_curve::sec1::ToSec1Point as _;
        per_curve!(self, Self, k => k.to_sec1_point(false).as_bytes().to_vec())
    }

    /// Reads a `SubjectPublicKeyInfo` holding an `id-ecPublicKey` on a named curve.
    pub fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Self, &'static str> {
        if spki.algorithm.oid != EC_PUBLIC_KEY {
            return Err("not an id-ecPublicKey key");
        }
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
            .and_then(Curve::from_oid)
            .ok_or("the key is not on P-256, P-384 or P-521 (named curve)")?;
        let point = spki
            .subject_public_key
            .as_bytes()
            .ok_or("the public key BIT STRING has unused bits")?;
        Self::from_sec1(curve, point)
    }

    /// The `SubjectPublicKeyInfo` (uncompressed point, named curve).
    pub fn to_spki(&self) -> Result<SubjectPublicKeyInfoOwned, Error> {
        let encoding = |e: der::Error| Error::internal(format!("encoding an EC public key: {e}"));
        let curve = self.curve().oid().to_der().map_err(encoding)?;
        Ok(SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: EC_PUBLIC_KEY,
                parameters: Some(AnyRef::from_der(&curve).map_err(encoding)?.into()),
            },
            subject_public_key: BitString::from_bytes(&self.to_sec1()).map_err(encoding)?,
        })
    }

    /// Whether `signature` (DER `ECDSA-Sig-Value`) is this key's ECDSA signature of `message`
    /// hashed with `hash` (the digest is truncated to the curve's order, as ECDSA does).
    pub fn verify(&self, hash: SignatureHash, message: &[u8], signature: &[u8]) -> bool {
        let digest = hash.digest(message);
        match self {
            Self::P256(k) => p256::ecdsa::DerSignature::from_bytes(signature).is_ok_and(|s| {
                p256::ecdsa::VerifyingKey::from(k)
                    .verify_prehash(&digest, &s)
                    .is_ok()
            }),
            Self::P384(k) => p384::ecdsa::DerSignature::from_bytes(signature).is_ok_and(|s| {
                p384::ecdsa::VerifyingKey::from(k)
                    .verify_prehash(&digest, &s)
                    .is_ok()
            }),
            Self::P521(k) => p521::ecdsa::DerSignature::from_bytes(signature).is_ok_and(|s| {
                p521::ecdsa::VerifyingKey::from_affine(*k.as_affine())
                    .is_ok_and(|v| v.verify_prehash(&digest, &s).is_ok())
            }),
        }
    }
}

impl fmt::Debug for EcPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EcPublicKey({:?})", self.curve())
    }
}

/// An ECC private key that agrees and signs but never shows its private part.
pub trait EcPrivateKey {
    /// The public half.
    fn public_key(&self) -> &EcPublicKey;

    /// ECDH with `peer`: the shared secret Z, the x-coordinate of the shared point (SP 800-56A
    /// §5.7.1.2). The peer must be on the same curve.
    fn agree(&self, peer: &EcPublicKey) -> Result<SecretVec, Error>;

    /// A deterministic (RFC 6979) ECDSA signature of `message` hashed with `hash`, DER.
    fn sign(&self, hash: SignatureHash, message: &[u8]) -> Result<Vec<u8>, Error>;
}

/// The secret scalar on one curve.
enum Secret {
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    P521(p521::SecretKey),
}

/// An ECC private key in process memory (RustCrypto; the scalar zeroizes on drop). `Debug`
/// shows the curve only and there is no `Clone`.
pub struct SoftwareEcKey {
    secret: Secret,
    public: EcPublicKey,
}

impl SoftwareEcKey {
    /// A new key on `curve` from the operating system's random source.
    pub fn generate(curve: Curve) -> Result<Self, Error> {
        let failed = |_| Error::internal("the random source failed");
        Ok(Self::new(match curve {
            Curve::P256 => Secret::P256(p256::SecretKey::try_generate().map_err(failed)?),
            Curve::P384 => Secret::P384(p384::SecretKey::try_generate().map_err(failed)?),
            Curve::P521 => Secret::P521(p521::SecretKey::try_generate().map_err(failed)?),
        }))
    }

    /// A key from its secret scalar (big-endian, the curve's field length).
    pub fn from_scalar(curve: Curve, scalar: &[u8]) -> Result<Self, Error> {
        let bad = |_| Error::validation("PrivateKey", "not a valid private scalar for the curve");
        Ok(Self::new(match curve {
            Curve::P256 => Secret::P256(p256::SecretKey::from_slice(scalar).map_err(bad)?),
            Curve::P384 => Secret::P384(p384::SecretKey::from_slice(scalar).map_err(bad)?),
            Curve::P521 => Secret::P521(p521::SecretKey::from_slice(scalar).map_err(bad)?),
        }))
    }

    /// Reads a SEC 1 `ECPrivateKey` on `curve`.
    pub fn from_sec1_der(curve: Curve, der: &[u8]) -> Result<Self, Error> {
        let bad = |_| Error::internal("not an EC private key on the record's curve");
        Ok(Self::new(match curve {
            Curve::P256 => Secret::P256(p256::SecretKey::from_sec1_der(der).map_err(bad)?),
            Curve::P384 => Secret::P384(p384::SecretKey::from_sec1_der(der).map_err(bad)?),
            Curve::P521 => Secret::P521(p521::SecretKey::from_sec1_der(der).map_err(bad)?),
        }))
    }

    /// The key as a SEC 1 `ECPrivateKey` (with its curve and public key): what the key block
    /// under the master key carries.
    pub fn to_sec1_der(&self) -> Result<SecretVec, Error> {
        let der = per_curve!(&self.secret, Secret, k => k.to_sec1_der())
            .map_err(|_| Error::internal("encoding an EC private key"))?;
        Ok(SecretVec::from_slice(&der))
    }

    fn new(secret: Secret) -> Self {
        let public = match &secret {
            Secret::P256(k) => EcPublicKey::P256(k.public_key()),
            Secret::P384(k) => EcPublicKey::P384(k.public_key()),
            Secret::P521(k) => EcPublicKey::P521(k.public_key()),
        };
        Self { secret, public }
    }
}

impl EcPrivateKey for SoftwareEcKey {
    fn public_key(&self) -> &EcPublicKey {
        &self.public
    }

    fn agree(&self, peer: &EcPublicKey) -> Result<SecretVec, Error> {
        let z = |shared: &[u8]| SecretVec::from_slice(shared);
        match (&self.secret, peer) {
            (Secret::P256(k), EcPublicKey::P256(p)) => {
                Ok(z(k.diffie_hellman(p).raw_secret_bytes()))
            }
            (Secret::P384(k), EcPublicKey::P384(p)) => {
                Ok(z(k.diffie_hellman(p).raw_secret_bytes()))
            }
            (Secret::P521(k), EcPublicKey::P521(p)) => {
                Ok(z(k.diffie_hellman(p).raw_secret_bytes()))
            }
            _ => Err(Error::validation(
                "PublicKeyCertificate",
                format!(
                    "the certificate's key is on {:?}, the key pair on {:?}: ECDH needs one curve",
                    peer.curve(),
                    self.public.curve()
                ),
            )),
        }
    }

    fn sign(&self, hash: SignatureHash, message: &[u8]) -> Result<Vec<u8>, Error> {
        let digest = hash.digest(message);
        let failed = |_| Error::internal("ECDSA signing failed");
        Ok(match &self.secret {
            Secret::P256(k) => {
                let s: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(k)
                    .sign_prehash(&digest)
                    .map_err(failed)?;
                s.to_der().to_bytes().to_vec()
            }
            Secret::P384(k) => {
                let s: p384::ecdsa::Signature = p384::ecdsa::SigningKey::from(k)
                    .sign_prehash(&digest)
                    .map_err(failed)?;
                s.to_der().to_bytes().to_vec()
            }
            Secret::P521(k) => {
                let s: p521::ecdsa::Signature = p521::ecdsa::SigningKey::from(k)
                    .sign_prehash(&digest)
                    .map_err(failed)?;
                s.to_der().to_bytes().to_vec()
            }
        })
    }
}

impl fmt::Debug for SoftwareEcKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SoftwareEcKey({:?}, [REDACTED])", self.public.curve())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_sign_verify_and_agree() {
        for curve in [Curve::P256, Curve::P384, Curve::P521] {
            let a = SoftwareEcKey::generate(curve).unwrap();
            let b = SoftwareEcKey::generate(curve).unwrap();
            let again =
                SoftwareEcKey::from_sec1_der(curve, a.to_sec1_der().unwrap().expose_secret())
                    .unwrap();
            assert_eq!(again.public_key(), a.public_key());
            let spki = a.public_key().to_spki().unwrap();
            assert_eq!(&EcPublicKey::from_spki(&spki).unwrap(), a.public_key());
            for hash in SignatureHash::ALL {
                let sig = a.sign(hash, b"message").unwrap();
                assert!(a.public_key().verify(hash, b"message", &sig));
                assert!(!a.public_key().verify(hash, b"messagf", &sig));
                assert!(!b.public_key().verify(hash, b"message", &sig));
            }
            assert_eq!(
                a.agree(b.public_key()).unwrap().expose_secret(),
                b.agree(a.public_key()).unwrap().expose_secret()
            );
        }
        let p256 = SoftwareEcKey::generate(Curve::P256).unwrap();
        let p384 = SoftwareEcKey::generate(Curve::P384).unwrap();
        assert!(p256.agree(p384.public_key()).is_err());
    }
}
