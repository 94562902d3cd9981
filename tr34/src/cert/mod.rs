//! X.509 certificates and certification requests for TR-34's CA, KDH and KRD.
//!
//! [`Certificate`] keeps the DER exactly as received (signatures are checked over the received
//! bytes, never over a re-encoding) and holds an RSA public key of an accepted size.
//! [`issue`] builds certificates for the three roles, [`CertificateRequest`] builds and checks
//! PKCS #10 requests, and [`verify_chain`] validates a KDH or KRD certificate against a
//! configured CA.

mod build;
mod request;
mod verify;

pub use build::{
    CertificateTemplate, Issuer, Role, issue, issue_der, issue_for_request, signed_der,
};
pub use request::{CertificateRequest, NameAttribute, request_info};
pub use verify::{Purpose, verify_chain};

use alloc::{string::String, vec::Vec};
use core::fmt;

use der::{Decode, Header, Reader, Sequence, SliceReader, ValueOrd, pem::LineEnding};
use sha2::Digest;
use x509_cert::{
    ext::pkix::{BasicConstraints, KeyUsage},
    name::Name,
    serial_number::SerialNumber,
};

use crate::{DateTime, Error, oid, rsa::RsaPublicKey};

/// `IssuerAndSerialNumber` (RFC 5652 §10.2.4): how TR-34 names the KDH and the KRD.
#[derive(Clone, Debug, PartialEq, Eq, Sequence, ValueOrd)]
pub struct IssuerAndSerialNumber {
    /// The certificate issuer's name.
    pub issuer: Name,
    /// The certificate serial number.
    pub serial_number: SerialNumber,
}

/// An X.509 v3 certificate with an RSA public key.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    tbs: Vec<u8>,
    inner: x509_cert::Certificate,
    public_key: RsaPublicKey,
}

impl Certificate {
    /// Reads a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        const FIELD: &str = "certificate";
        let inner = x509_cert::Certificate::from_der(der).map_err(Error::der(FIELD))?;
        let tbs = signed_part(der, FIELD)?;
        let public_key =
            RsaPublicKey::from_spki(inner.tbs_certificate().subject_public_key_info())?;
        Ok(Self {
            der: der.to_vec(),
            tbs,
            inner,
            public_key,
        })
    }

    /// Reads a PEM `CERTIFICATE` document.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        Self::from_der(&pem_decode(pem.trim(), "CERTIFICATE", "certificate PEM")?)
    }

    /// Reads every `CERTIFICATE` in a PEM bundle, in order.
    pub fn from_pem_bundle(pem: &str) -> Result<Vec<Self>, Error> {
        const END: &str = "-----END CERTIFICATE-----";
        let mut certificates = Vec::new();
        let mut rest = pem.trim();
        while !rest.is_empty() {
            let end = rest.find(END).ok_or(Error::malformed(
                "certificate PEM",
                "missing -----END CERTIFICATE-----",
            ))? + END.len();
            certificates.push(Self::from_pem(&rest[..end])?);
            rest = rest[end..].trim_start();
        }
        Ok(certificates)
    }

    /// The DER encoding, as received.
    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// A PEM `CERTIFICATE` document.
    pub fn to_pem(&self) -> Result<String, Error> {
        der::pem::encode_string("CERTIFICATE", LineEnding::LF, &self.der)
            .map_err(|_| Error::malformed("certificate", "cannot be PEM-encoded"))
    }

    /// The parsed certificate.
    pub fn x509(&self) -> &x509_cert::Certificate {
        &self.inner
    }

    /// The subject's RSA public key.
    pub fn public_key(&self) -> &RsaPublicKey {
        &self.public_key
    }

    /// The subject name.
    pub fn subject(&self) -> &Name {
        self.inner.tbs_certificate().subject()
    }

    /// The issuer name.
    pub fn issuer(&self) -> &Name {
        self.inner.tbs_certificate().issuer()
    }

    /// The serial number.
    pub fn serial_number(&self) -> &SerialNumber {
        self.inner.tbs_certificate().serial_number()
    }

    /// The issuer and serial number that identify this certificate in a TR-34 token.
    pub fn issuer_and_serial_number(&self) -> IssuerAndSerialNumber {
        IssuerAndSerialNumber {
            issuer: self.issuer().clone(),
            serial_number: self.serial_number().clone(),
        }
    }

    /// The start of the validity period.
    pub fn not_before(&self) -> DateTime {
        self.inner
            .tbs_certificate()
            .validity()
            .not_before
            .to_date_time()
    }

    /// The end of the validity period.
    pub fn not_after(&self) -> DateTime {
        self.inner
            .tbs_certificate()
            .validity()
            .not_after
            .to_date_time()
    }

    /// The SHA-256 fingerprint of the DER encoding.
    pub fn sha256_fingerprint(&self) -> [u8; 32] {
        sha2::Sha256::digest(&self.der).into()
    }

    /// The `basicConstraints` extension, if present.
    pub fn basic_constraints(&self) -> Result<Option<BasicConstraints>, Error> {
        self.extension::<BasicConstraints>("basicConstraints")
    }

    /// The `keyUsage` extension, if present.
    pub fn key_usage(&self) -> Result<Option<KeyUsage>, Error> {
        self.extension::<KeyUsage>("keyUsage")
    }

    /// The `subjectKeyIdentifier`, if present.
    pub fn subject_key_identifier(&self) -> Result<Option<Vec<u8>>, Error> {
        Ok(self
            .extension::<x509_cert::ext::pkix::SubjectKeyIdentifier>("subjectKeyIdentifier")?
            .map(|ski| ski.0.as_bytes().to_vec()))
    }

    /// Checks that `issuer` signed this certificate (over the received `tbsCertificate`).
    pub fn verify_signed_by(&self, issuer: &RsaPublicKey) -> Result<(), Error> {
        let tbs = self.inner.tbs_certificate();
        if tbs.signature() != self.inner.signature_algorithm() {
            return Err(Error::malformed(
                "certificate",
                "the inner and outer signature algorithms differ",
            ));
        }
        let hash = verify::signature_hash(self.inner.signature_algorithm())?;
        let signature = self.inner.signature().as_bytes().ok_or(Error::malformed(
            "certificate signature",
            "the BIT STRING has unused bits",
        ))?;
        issuer.verify_pkcs1(hash, &self.tbs, signature)
    }

    /// The extension of type `T`, decoded. RFC 5280 allows one instance of an extension;
    /// byte-identical repeats are tolerated (the TR-34 Annex B KDH 1 certificate carries
    /// `basicConstraints` twice), conflicting ones are refused.
    pub(crate) fn extension<'a, T>(&'a self, name: &'static str) -> Result<Option<T>, Error>
    where
        T: Decode<'a, Error = der::Error> + der::oid::AssociatedOid,
    {
        let extensions = self.inner.tbs_certificate().extensions();
        let mut matching = extensions
            .iter()
            .flat_map(|e| e.iter())
            .filter(|e| e.extn_id == T::OID);
        let Some(first) = matching.next() else {
            return Ok(None);
        };
        if matching.any(|e| e != first) {
            return Err(Error::malformed(
                name,
                "the extension occurs twice with different values",
            ));
        }
        T::from_der(first.extn_value.as_bytes())
            .map(Some)
            .map_err(Error::der(name))
    }
}

/// The first element of a signed SEQUENCE (`tbsCertificate`, `certificationRequestInfo`),
/// exactly as received.
fn signed_part(der: &[u8], field: &'static str) -> Result<Vec<u8>, Error> {
    let mut reader = SliceReader::new(der).map_err(Error::der(field))?;
    Header::decode(&mut reader).map_err(Error::der(field))?;
    Ok(reader.tlv_bytes().map_err(Error::der(field))?.to_vec())
}

/// Decodes a PEM document with the expected label.
pub(crate) fn pem_decode(
    pem: &str,
    label: &'static str,
    field: &'static str,
) -> Result<Vec<u8>, Error> {
    let (found, der) = der::pem::decode_vec(pem.as_bytes())
        .map_err(|_| Error::malformed(field, "not a PEM document"))?;
    if found != label {
        return Err(Error::malformed(field, "unexpected PEM label"));
    }
    Ok(der)
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &format_args!("{}", self.subject()))
            .field("issuer", &format_args!("{}", self.issuer()))
            .field("key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// The bits of a signature algorithm the builders and verifiers share.
pub(crate) fn sha256_with_rsa() -> spki::AlgorithmIdentifierOwned {
    with_rsa(crate::rsa::SignatureHash::Sha256)
}

/// The PKCS #1 v1.5 signature algorithm with `hash` (NULL parameters, RFC 4055).
pub(crate) fn with_rsa(hash: crate::rsa::SignatureHash) -> spki::AlgorithmIdentifierOwned {
    use crate::rsa::SignatureHash;
    crate::rsa::algorithm_with_null(match hash {
        SignatureHash::Sha256 => oid::SHA256_WITH_RSA,
        SignatureHash::Sha384 => oid::SHA384_WITH_RSA,
        SignatureHash::Sha512 => oid::SHA512_WITH_RSA,
    })
}
