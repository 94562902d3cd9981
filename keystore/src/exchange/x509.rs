//! Certificates of RSA or ECC keys, for the imports and the key agreement that take either:
//! root and trusted certificates (`ImportKey`), and the other party's certificate of an ECDH
//! exchange.
//!
//! TR-34 speaks RSA only and keeps its own certificate type (`payhsm_tr34::cert`); this one
//! holds either kind of key and checks either kind of signature (RSA PKCS #1 v1.5 with
//! SHA-256/384/512, ECDSA with SHA-224/256/384/512), always over the `tbsCertificate` as
//! received. A certificate is checked against one imported CA: the anchor as configured
//! (valid now, CA=TRUE), the certificate issued and signed by it, valid now, with no unknown
//! critical extension and, if it has `keyUsage`, the bit its purpose needs. A self-signed CA
//! may be its own leaf, as the service's samples use it.

use der::{Decode as _, Header, Reader as _, SliceReader, oid::AssociatedOid as _};
use payhsm_core::key::KeyAlgorithm;
use payhsm_tr34::{
    DateTime,
    rsa::{RsaPublicKey, SignatureHash as RsaHash},
};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};

use crate::{
    Error,
    ecc::{EcPublicKey, SignatureHash},
    exchange::pki::{MAX_CERTIFICATE_LEN, certificate_der},
};

/// A certificate's public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SubjectKey {
    /// RSA (2048, 3072 or 4096 bits).
    Rsa(RsaPublicKey),
    /// ECC on P-256, P-384 or P-521.
    Ec(EcPublicKey),
}

impl SubjectKey {
    fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Self, String> {
        if spki.algorithm.oid == crate::ecc::EC_PUBLIC_KEY {
            EcPublicKey::from_spki(spki)
                .map(Self::Ec)
                .map_err(str::to_owned)
        } else {
            RsaPublicKey::from_spki(spki)
                .map(Self::Rsa)
                .map_err(|e| e.to_string())
        }
    }

    /// The service's algorithm name of the key.
    pub(crate) fn key_algorithm(&self) -> KeyAlgorithm {
        match self {
            Self::Rsa(k) => k.size().key_algorithm(),
            Self::Ec(k) => k.curve().key_algorithm(),
        }
    }

    /// Whether `signature` is this key's signature of `message` under `algorithm`.
    fn verifies(
        &self,
        algorithm: &AlgorithmIdentifierOwned,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        match self {
            Self::Ec(k) => {
                // RFC 5758 §3.2: the ECDSA algorithm identifiers have no parameters.
                algorithm.parameters.is_none()
                    && SignatureHash::from_ecdsa_oid(algorithm.oid)
                        .is_some_and(|h| k.verify(h, message, signature))
            }
            Self::Rsa(k) => {
                let hash = match SignatureHash::from_rsa_oid(algorithm.oid) {
                    Some(SignatureHash::Sha256) => RsaHash::Sha256,
                    Some(SignatureHash::Sha384) => RsaHash::Sha384,
                    Some(SignatureHash::Sha512) => RsaHash::Sha512,
                    _ => return false,
                };
                let null_or_absent = algorithm
                    .parameters
                    .as_ref()
                    .is_none_or(|p| der::Tagged::tag(p) == der::Tag::Null && p.value().is_empty());
                null_or_absent && k.verify_pkcs1(hash, message, signature).is_ok()
            }
        }
    }
}

/// What a certificate's key is for: the `keyUsage` bit it needs, if it has `keyUsage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Verifying signatures (S0): `digitalSignature`.
    Signing,
    /// Receiving keys under RSA (D1, K2): `keyEncipherment`.
    KeyTransport,
    /// ECDH (K3): `keyAgreement`.
    KeyAgreement,
}

/// An X.509 certificate with an RSA or ECC key, its DER kept as received.
#[derive(Clone, Debug)]
pub(crate) struct AnyCertificate {
    der: Vec<u8>,
    tbs: Vec<u8>,
    inner: x509_cert::Certificate,
    key: SubjectKey,
}

impl AnyCertificate {
    /// A certificate as a request gives it (base64 of the PEM text, or PEM text) at `path`.
    pub(crate) fn parse(path: &str, text: &str) -> Result<Self, Error> {
        Self::from_der(&certificate_der(path, text)?)
            .map_err(|reason| Error::validation(path, reason))
    }

    /// Reads a DER certificate.
    pub(crate) fn from_der(der: &[u8]) -> Result<Self, String> {
        if der.len() > MAX_CERTIFICATE_LEN {
            return Err(format!(
                "certificates of more than {MAX_CERTIFICATE_LEN} DER bytes are not accepted"
            ));
        }
        let inner = x509_cert::Certificate::from_der(der)
            .map_err(|e| format!("not a DER X.509 certificate: {e}"))?;
        let mut reader = SliceReader::new(der).map_err(|e| e.to_string())?;
        Header::decode(&mut reader).map_err(|e| e.to_string())?;
        let tbs = reader.tlv_bytes().map_err(|e| e.to_string())?.to_vec();
        let key = SubjectKey::from_spki(inner.tbs_certificate().subject_public_key_info())?;
        Ok(Self {
            der: der.to_vec(),
            tbs,
            inner,
            key,
        })
    }

    /// The DER, as received.
    pub(crate) fn der(&self) -> &[u8] {
        &self.der
    }

    /// The subject's public key.
    pub(crate) fn key(&self) -> &SubjectKey {
        &self.key
    }

    /// Checks that the certificate's key is `algorithm`, as the request's attributes say.
    pub(crate) fn check_algorithm(&self, path: &str, algorithm: KeyAlgorithm) -> Result<(), Error> {
        let actual = self.key.key_algorithm();
        if actual == algorithm {
            Ok(())
        } else {
            Err(Error::validation(
                path,
                format!("the certificate's key is {actual}, the attributes say {algorithm}"),
            ))
        }
    }

    /// Whether `issuer` signed this certificate (over the received `tbsCertificate`).
    fn signed_by(&self, issuer: &SubjectKey) -> bool {
        let c = &self.inner;
        c.tbs_certificate().signature() == c.signature_algorithm()
            && c.signature().as_bytes().is_some_and(|signature| {
                issuer.verifies(c.signature_algorithm(), &self.tbs, signature)
            })
    }

    /// A self-signed CA certificate, valid at `now`: what a root certificate must be.
    pub(crate) fn check_root(&self, now: DateTime) -> Result<(), &'static str> {
        let tbs = self.inner.tbs_certificate();
        if tbs.subject() != tbs.issuer() || !self.signed_by(&self.key) {
            return Err("not a self-signed certificate");
        }
        self.check_valid(now)?;
        if !self.is_ca()? {
            return Err("not a CA certificate (basicConstraints CA=TRUE)");
        }
        Ok(())
    }

    /// Checks this certificate against the CA certificate `ca` (an imported trust anchor) at
    /// `now`, for `purpose`. The anchor may be the certificate itself.
    pub(crate) fn check_issued_by(
        &self,
        ca: &Self,
        now: DateTime,
        purpose: Purpose,
    ) -> Result<(), &'static str> {
        ca.check_valid(now)
            .map_err(|_| "the CA certificate is not valid now")?;
        if !ca.is_ca()? {
            return Err("the CA certificate is not a CA (basicConstraints CA=TRUE)");
        }
        if ca.key_usage()?.is_some_and(|ku| !ku.key_cert_sign()) {
            return Err("the CA certificate's keyUsage does not allow keyCertSign");
        }
        if self.inner.tbs_certificate().issuer() != ca.inner.tbs_certificate().subject() {
            return Err("does not chain to the configured CA (issuer is not the CA's subject)");
        }
        if !self.signed_by(&ca.key) {
            return Err("the signature does not verify under the CA key");
        }
        self.check_valid(now)?;
        if let Some(ku) = self.key_usage()? {
            let allowed = match purpose {
                Purpose::Signing => ku.digital_signature(),
                Purpose::KeyTransport => ku.key_encipherment(),
                Purpose::KeyAgreement => ku.key_agreement(),
            };
            // A CA that is its own leaf signs certificates; its keyUsage says so, not more.
            if !allowed && self.der != ca.der {
                return Err(match purpose {
                    Purpose::Signing => "keyUsage does not allow digitalSignature",
                    Purpose::KeyTransport => "keyUsage does not allow keyEncipherment",
                    Purpose::KeyAgreement => "keyUsage does not allow keyAgreement",
                });
            }
        }
        Ok(())
    }

    /// Validity at `now` and no unknown critical extension.
    fn check_valid(&self, now: DateTime) -> Result<(), &'static str> {
        let validity = self.inner.tbs_certificate().validity();
        if now < validity.not_before.to_date_time() {
            return Err("not yet valid");
        }
        if now > validity.not_after.to_date_time() {
            return Err("expired");
        }
        let known = [
            BasicConstraints::OID,
            KeyUsage::OID,
            SubjectKeyIdentifier::OID,
            AuthorityKeyIdentifier::OID,
            ExtendedKeyUsage::OID,
        ];
        let unknown_critical = self
            .inner
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
            .any(|e| e.critical && !known.contains(&e.extn_id));
        if unknown_critical {
            return Err("has an unknown critical extension");
        }
        Ok(())
    }

    fn is_ca(&self) -> Result<bool, &'static str> {
        Ok(self
            .extension::<BasicConstraints>()
            .map_err(|()| "basicConstraints is malformed")?
            .is_some_and(|bc| bc.ca))
    }

    fn key_usage(&self) -> Result<Option<KeyUsage>, &'static str> {
        self.extension::<KeyUsage>()
            .map_err(|()| "keyUsage is malformed")
    }

    /// The extension of type `T`; repeats must be identical (RFC 5280 allows one).
    fn extension<'a, T>(&'a self) -> Result<Option<T>, ()>
    where
        T: der::Decode<'a> + der::oid::AssociatedOid,
    {
        let mut matching = self
            .inner
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
            .filter(|e| e.extn_id == T::OID);
        let Some(first) = matching.next() else {
            return Ok(None);
        };
        if matching.any(|e| e != first) {
            return Err(());
        }
        T::from_der(first.extn_value.as_bytes())
            .map(Some)
            .map_err(|_| ())
    }
}
