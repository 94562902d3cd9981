//! PKCS #10 certification requests (RFC 2986), so a KDH or KRD can ask a CA for a certificate.

use alloc::{string::String, vec, vec::Vec};
use core::{fmt, str::FromStr};

use der::{Decode, Encode, pem::LineEnding};
use x509_cert::{
    attr::Attributes,
    name::Name,
    request::{CertReq, CertReqInfo, Version},
};

use spki::SubjectPublicKeyInfoOwned;

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

    /// Creates a request for the subject of `attributes` (one attribute per RDN, in order)
    /// signed by `key` with `hash`.
    pub fn create_with(
        attributes: &[(NameAttribute, &str)],
        key: &dyn RsaPrivateKey,
        hash: SignatureHash,
    ) -> Result<Self, Error> {
        Self::create_for(name(attributes)?, key, hash)
    }

    fn create_for(
        subject: Name,
        key: &dyn RsaPrivateKey,
        hash: SignatureHash,
    ) -> Result<Self, Error> {
        let info = info_der(subject, key.public_key().to_spki()?)?;
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

/// An attribute of a subject name, with the string type RFC 5280 gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameAttribute {
    /// `commonName` (UTF8String).
    CommonName,
    /// `organizationalUnitName` (UTF8String).
    OrganizationalUnit,
    /// `organizationName` (UTF8String).
    Organization,
    /// `localityName` (UTF8String).
    Locality,
    /// `stateOrProvinceName` (UTF8String).
    StateOrProvince,
    /// `countryName` (PrintableString, two letters).
    Country,
    /// PKCS #9 `emailAddress` (IA5String).
    EmailAddress,
}

/// The `CertificationRequestInfo` (DER) of a request for the subject of `attributes` (one
/// attribute per RDN, in order) and a public key of any algorithm (an ECC key, which
/// [`CertificateRequest`] cannot hold), with no attributes: what the requester signs. The
/// request is [`signed_der`] with the signature.
pub fn request_info(
    attributes: &[(NameAttribute, &str)],
    subject_key: SubjectPublicKeyInfoOwned,
) -> Result<Vec<u8>, Error> {
    info_der(name(attributes)?, subject_key)
}

fn info_der(subject: Name, public_key: SubjectPublicKeyInfoOwned) -> Result<Vec<u8>, Error> {
    CertReqInfo {
        version: Version::V1,
        subject,
        public_key,
        attributes: Attributes::new(),
    }
    .to_der()
    .map_err(Error::der("certificationRequestInfo"))
}

/// The name of `attributes`, one per RDN, in order.
fn name(attributes: &[(NameAttribute, &str)]) -> Result<Name, Error> {
    use der::asn1::{Any, Ia5StringRef, PrintableStringRef, Utf8StringRef};
    use x509_cert::{
        attr::AttributeTypeAndValue,
        name::{RdnSequence, RelativeDistinguishedName},
    };
    let mut rdns = RdnSequence::default();
    for (attribute, text) in attributes {
        let (oid, value) = match attribute {
            NameAttribute::Country => (
                crate::oid::COUNTRY_NAME,
                Any::encode_from(
                    &PrintableStringRef::new(text).map_err(Error::der("countryName"))?,
                ),
            ),
            NameAttribute::EmailAddress => (
                crate::oid::EMAIL_ADDRESS,
                Any::encode_from(&Ia5StringRef::new(text).map_err(Error::der("emailAddress"))?),
            ),
            other => (
                match other {
                    NameAttribute::CommonName => crate::oid::COMMON_NAME,
                    NameAttribute::OrganizationalUnit => crate::oid::ORGANIZATIONAL_UNIT_NAME,
                    NameAttribute::Organization => crate::oid::ORGANIZATION_NAME,
                    NameAttribute::Locality => crate::oid::LOCALITY_NAME,
                    _ => crate::oid::STATE_OR_PROVINCE_NAME,
                },
                Any::encode_from(&Utf8StringRef::new(text).map_err(Error::der("name"))?),
            ),
        };
        let value = value.map_err(Error::der("name attribute"))?;
        let rdn = RelativeDistinguishedName::try_from(vec![AttributeTypeAndValue { oid, value }])
            .map_err(Error::der("relative distinguished name"))?;
        rdns.push(rdn);
    }
    // A `Name` is made from its DER, which is checked as it is read.
    let der = rdns.to_der().map_err(Error::der("subject name"))?;
    Name::from_der(&der).map_err(Error::der("subject name"))
}

impl fmt::Debug for CertificateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateRequest")
            .field("subject", &format_args!("{}", self.subject()))
            .field("key", &self.public_key)
            .finish()
    }
}
