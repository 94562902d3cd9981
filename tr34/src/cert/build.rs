//! Issuing certificates for TR-34's three roles: CA, KDH and KRD.

use alloc::{vec, vec::Vec};
use core::str::FromStr;

use der::{
    Encode, Sequence,
    asn1::{AnyRef, BitString, GeneralizedTime, OctetString, UtcTime},
    oid::AssociatedOid,
};
use payhsm_core::rng::RandomSource;
use sha2::Digest;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::{
    certificate::Version,
    ext::{
        Extension,
        pkix::{
            AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
        },
    },
    name::Name,
    serial_number::SerialNumber,
    time::{Time, Validity},
};

use super::{Certificate, CertificateRequest, sha256_with_rsa};
use crate::{
    DateTime, Error,
    rsa::{RsaPrivateKey, RsaPublicKey, SignatureHash},
};

/// What a certificate's key is for; it decides the extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// A certification authority: `basicConstraints` CA=TRUE and `keyUsage` keyCertSign and
    /// cRLSign, both critical.
    Ca,
    /// A key distribution host: critical `keyUsage` digitalSignature.
    Kdh,
    /// A key receiving device: critical `keyUsage` keyEncipherment.
    Krd,
    /// A key-agreement (ECDH) key: critical `keyUsage` keyAgreement.
    KeyAgreement,
}

/// The fields of a certificate that are not names or keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateTemplate {
    /// The role, which decides the extensions.
    pub role: Role,
    /// Start of validity.
    pub not_before: DateTime,
    /// End of validity.
    pub not_after: DateTime,
    /// The serial number (big-endian, positive); `None` draws 16 random bytes.
    pub serial_number: Option<Vec<u8>>,
}

/// Who signs a certificate.
#[derive(Clone, Copy)]
pub enum Issuer<'a> {
    /// The subject itself: a self-signed (root) CA certificate.
    SelfSigned(&'a dyn RsaPrivateKey),
    /// A CA certificate and its private key.
    Ca {
        /// The CA's certificate.
        certificate: &'a Certificate,
        /// The CA's private key.
        key: &'a dyn RsaPrivateKey,
    },
}

/// Issues a certificate for `subject` (an RFC 4514 string such as
/// `CN=KDH 1,O=Example,C=US`) and its public key.
pub fn issue(
    subject: &str,
    subject_key: &RsaPublicKey,
    template: &CertificateTemplate,
    issuer: Issuer<'_>,
    rng: &mut dyn RandomSource,
) -> Result<Certificate, Error> {
    let subject = Name::from_str(subject).map_err(Error::der("subject name"))?;
    build(subject, subject_key, template, issuer, rng)
}

/// Issues a certificate, as DER, for `subject` and a public key of any algorithm given as its
/// `SubjectPublicKeyInfo` (an ECC key certified by an RSA CA, say), which [`Certificate`]
/// cannot hold.
pub fn issue_der(
    subject: &str,
    subject_key: &SubjectPublicKeyInfoOwned,
    template: &CertificateTemplate,
    issuer: Issuer<'_>,
    rng: &mut dyn RandomSource,
) -> Result<Vec<u8>, Error> {
    if matches!(issuer, Issuer::SelfSigned(_)) {
        return Err(Error::unsupported(
            "issuer",
            "a certificate for a key of any algorithm is issued by a CA, not self-signed",
        ));
    }
    let subject = Name::from_str(subject).map_err(Error::der("subject name"))?;
    let bits = subject_key
        .subject_public_key
        .as_bytes()
        .ok_or(Error::malformed(
            "subjectPublicKey",
            "the BIT STRING has unused bits",
        ))?;
    let ski = sha2::Sha256::digest(bits)[..20].to_vec();
    build_der(subject, subject_key.clone(), ski, template, issuer, rng)
}

/// Issues a certificate for the subject and key of a (verified) certification request.
pub fn issue_for_request(
    request: &CertificateRequest,
    template: &CertificateTemplate,
    issuer: Issuer<'_>,
    rng: &mut dyn RandomSource,
) -> Result<Certificate, Error> {
    if matches!(issuer, Issuer::SelfSigned(_)) {
        return Err(Error::unsupported(
            "issuer",
            "a certificate for a request is issued by a CA, not self-signed",
        ));
    }
    build(
        request.subject().clone(),
        request.public_key(),
        template,
        issuer,
        rng,
    )
}

/// `TBSCertificate` as payhsm writes it (RFC 5280 §4.1): v3, always with extensions.
#[derive(Sequence)]
struct TbsCertificate {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    version: Version,
    serial_number: SerialNumber,
    signature: AlgorithmIdentifierOwned,
    issuer: Name,
    validity: Validity,
    subject: Name,
    subject_public_key_info: SubjectPublicKeyInfoOwned,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT")]
    extensions: Vec<Extension>,
}

/// A signed structure: the signed part as encoded, the algorithm and the signature.
#[derive(Sequence)]
pub(super) struct Signed<'a> {
    pub(super) signed: AnyRef<'a>,
    pub(super) algorithm: AlgorithmIdentifierOwned,
    pub(super) signature: BitString,
}

fn build(
    subject: Name,
    subject_key: &RsaPublicKey,
    template: &CertificateTemplate,
    issuer: Issuer<'_>,
    rng: &mut dyn RandomSource,
) -> Result<Certificate, Error> {
    if let Issuer::SelfSigned(key) = issuer
        && key.public_key() != subject_key
    {
        return Err(Error::KeyRejected {
            reason: "a self-signed certificate must be signed by the subject's own key",
        });
    }
    let der = build_der(
        subject,
        subject_key.to_spki()?,
        key_identifier(subject_key)?,
        template,
        issuer,
        rng,
    )?;
    Certificate::from_der(&der)
}

/// The DER of a certificate for `subject` and `spki`, whose key identifier is `ski`.
fn build_der(
    subject: Name,
    spki: SubjectPublicKeyInfoOwned,
    ski: Vec<u8>,
    template: &CertificateTemplate,
    issuer: Issuer<'_>,
    rng: &mut dyn RandomSource,
) -> Result<Vec<u8>, Error> {
    if template.not_after <= template.not_before {
        return Err(Error::unsupported(
            "validity",
            "notAfter must be later than notBefore",
        ));
    }
    let (issuer_name, issuer_key, issuer_ski) = match issuer {
        Issuer::SelfSigned(key) => (subject.clone(), key, ski.clone()),
        Issuer::Ca { certificate, key } => {
            if key.public_key() != certificate.public_key() {
                return Err(Error::KeyRejected {
                    reason: "the CA private key does not belong to the CA certificate",
                });
            }
            if !certificate.basic_constraints()?.is_some_and(|bc| bc.ca) {
                return Err(Error::unsupported(
                    "issuer",
                    "the issuer certificate is not a CA (basicConstraints CA=TRUE)",
                ));
            }
            let ski = match certificate.subject_key_identifier()? {
                Some(ski) => ski,
                None => key_identifier(certificate.public_key())?,
            };
            (certificate.subject().clone(), key, ski)
        }
    };

    let serial = match &template.serial_number {
        Some(bytes) => SerialNumber::new(bytes).map_err(Error::der("serial number"))?,
        None => {
            let mut bytes = [0u8; 16];
            rng.fill(&mut bytes)?;
            // Positive, and 16 bytes long whatever the random value.
            bytes[0] = (bytes[0] & 0x7F) | 0x40;
            SerialNumber::new(&bytes).map_err(Error::der("serial number"))?
        }
    };

    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: serial,
        signature: sha256_with_rsa(),
        issuer: issuer_name,
        validity: Validity::new(
            x509_time(template.not_before)?,
            x509_time(template.not_after)?,
        ),
        subject,
        subject_public_key_info: spki,
        extensions: extensions(template.role, ski, issuer_ski)?,
    }
    .to_der()
    .map_err(Error::der("tbsCertificate"))?;
    sign(&tbs, issuer_key)
}

/// Signs `signed` with SHA-256 and wraps it as `SEQUENCE { signed, algorithm, signature }`.
pub(super) fn sign(signed: &[u8], key: &dyn RsaPrivateKey) -> Result<Vec<u8>, Error> {
    sign_with(signed, key, SignatureHash::Sha256)
}

/// Signs `signed` with `hash` and wraps it as `SEQUENCE { signed, algorithm, signature }`.
pub(super) fn sign_with(
    signed: &[u8],
    key: &dyn RsaPrivateKey,
    hash: SignatureHash,
) -> Result<Vec<u8>, Error> {
    let signature = key.sign_pkcs1(hash, signed)?;
    signed_der(signed, super::with_rsa(hash), &signature)
}

/// `SEQUENCE { signed, algorithm, signature }`: a certificate or request, whatever signed it
/// (an RSA key here, an ECC key elsewhere).
pub fn signed_der(
    signed: &[u8],
    algorithm: AlgorithmIdentifierOwned,
    signature: &[u8],
) -> Result<Vec<u8>, Error> {
    Signed {
        signed: AnyRef::try_from(signed).map_err(Error::der("signed part"))?,
        algorithm,
        signature: BitString::from_bytes(signature).map_err(Error::der("signature"))?,
    }
    .to_der()
    .map_err(Error::der("signed structure"))
}

fn extensions(role: Role, ski: Vec<u8>, issuer_ski: Vec<u8>) -> Result<Vec<Extension>, Error> {
    let key_usage = match role {
        Role::Ca => KeyUsages::KeyCertSign | KeyUsages::CRLSign,
        Role::Kdh => KeyUsages::DigitalSignature.into(),
        Role::Krd => KeyUsages::KeyEncipherment.into(),
        Role::KeyAgreement => KeyUsages::KeyAgreement.into(),
    };
    let mut out = vec![];
    if role == Role::Ca {
        out.push(extension(
            &BasicConstraints {
                ca: true,
                path_len_constraint: None,
            },
            true,
        )?);
    }
    out.push(extension(&KeyUsage(key_usage), true)?);
    out.push(extension(
        &SubjectKeyIdentifier(OctetString::new(ski).map_err(Error::der("subjectKeyIdentifier"))?),
        false,
    )?);
    out.push(extension(
        &AuthorityKeyIdentifier {
            key_identifier: Some(
                OctetString::new(issuer_ski).map_err(Error::der("authorityKeyIdentifier"))?,
            ),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        },
        false,
    )?);
    Ok(out)
}

fn extension<T: Encode + AssociatedOid>(value: &T, critical: bool) -> Result<Extension, Error> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(Error::der("extension"))?)
            .map_err(Error::der("extension"))?,
    })
}

/// A key identifier: the leftmost 160 bits of the SHA-256 of the subject public key
/// (RFC 7093 §2, method 1).
fn key_identifier(key: &RsaPublicKey) -> Result<Vec<u8>, Error> {
    Ok(sha2::Sha256::digest(key.to_pkcs1_der()?)[..20].to_vec())
}

/// UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5).
fn x509_time(t: DateTime) -> Result<Time, Error> {
    if t.year() < 2050 {
        Ok(Time::UtcTime(
            UtcTime::from_date_time(t).map_err(Error::der("validity"))?,
        ))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(t)))
    }
}
