//! PKCS #10 certification requests (RFC 2986), so a KDH or KRD can ask a CA for a certificate.

use alloc::{string::String, vec::Vec};
use core::{fmt, str::FromStr};

use der::{Decode, Encode, pem::LineEnding};
use x509_cert::{
    attr::Attributes,
    name::Name,
    request::{CertReq, CertReqInfo, Version},
};

use super::{pem_decode, signed_part, verify::signature_hash};
use crate::{
    Error,
    rsa::{RsaPrivateKey, RsaPublicKey, SignatureHash},
};

const PEM_LABEL: &str = "CERTIFICATE REQUEST";

/// A certification request whose self-signature has been verified.
#[derive(Clone)]
pub struct CertificateRequest {
    der: Vec<u8>,
    inner: CertReq,
    public_key: RsaPublicKey,
}

impl CertificateRequest {
    /// Creates a request for `subject` (RFC 4514, e.g. `CN=KRD 1,O=Example`) signed by `key`
    /// with SHA-256.
    pub fn create(subject: &str, key: &dyn RsaPrivateKey) -> Result<Self, Error> {
        let subject = Name::from_str(subject).map_err(Error::der("subject name"))?;
        Self::create_for(subject, key, SignatureHash::Sha256)
    }

    /// Creates a request for `subject` signed by `key` with `hash`.
    pub fn create_for(
        subject: Name,
        key: &dyn RsaPrivateKey,
        hash: SignatureHash,
    ) -> Result<Self, Error> {
        let info = CertReqInfo {
            version: Version::V1,
            subject,
            public_key: key.public_key().to_spki()?,
            attributes: Attributes::new(),
        }
        .to_der()
        .map_err(Error::der("certificationRequestInfo"))?;
        Self::from_der(&super::build::sign_with(&info, key, hash)?)
    }

    /// Reads a DER request and verifies its self-signature.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        const FIELD: &str = "certification request";
        let inner = CertReq::from_der(der).map_err(Error::der(FIELD))?;
        let public_key = RsaPublicKey::from_spki(&inner.info.public_key)?;
        let hash = signature_hash(&inner.algorithm)?;
        let signature = inner.signature.as_bytes().ok_or(Error::malformed(
            "request signature",
            "the BIT STRING has unused bits",
        ))?;
        public_key.verify_pkcs1(hash, &signed_part(der, FIELD)?, signature)?;
        Ok(Self {
            der: der.to_vec(),
            inner,
            public_key,
        })
    }

    /// Reads a PEM `CERTIFICATE REQUEST` and verifies its self-signature.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        Self::from_der(&pem_decode(pem.trim(), PEM_LABEL, "request PEM")?)
    }

    /// The DER encoding.
    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// A PEM `CERTIFICATE REQUEST` document.
    pub fn to_pem(&self) -> Result<String, Error> {
        der::pem::encode_string(PEM_LABEL, LineEnding::LF, &self.der)
            .map_err(|_| Error::malformed("certification request", "cannot be PEM-encoded"))
    }

    /// The requested subject name.
    pub fn subject(&self) -> &Name {
        &self.inner.info.subject
    }

    /// The requester's public key.
    pub fn public_key(&self) -> &RsaPublicKey {
        &self.public_key
    }
}

impl fmt::Debug for CertificateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateRequest")
            .field("subject", &format_args!("{}", self.subject()))
            .field("key", &self.public_key)
            .finish()
    }
}
