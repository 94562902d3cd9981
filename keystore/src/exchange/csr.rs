//! `GetCertificateSigningRequest`: a PKCS #10 request (RFC 2986) for the public key of one of
//! the HSM's key pairs, with the caller's subject, signed by the key pair's private key
//! (RSASSA-PKCS1-v1_5 with the asked hash), returned as the service returns certificates:
//! base64 of the PEM text.
//!
//! The subject's fields follow the service's model (lengths, characters) and go into the name
//! in the order CN, OU, O, L, ST, C, emailAddress, one attribute per RDN: UTF8String, except
//! the country (PrintableString) and the e-mail address (IA5String), as RFC 5280 asks.
//!
//! An ECC key pair signs with ECDSA (RFC 6979, `ecdsa-with-SHA…`, the digest truncated to the
//! curve's order as ECDSA does), with any of the four hashes. `SHA224` is refused for RSA key
//! pairs ([`policy::CSR_RSA_SIGNING_ALGORITHMS`]): aws-lc-rs, which signs, has no PKCS #1
//! v1.5 signature with SHA-224.

use base64ct::{Base64, Encoding as _};
use payhsm_tr34::{
    cert::{self, CertificateRequest, NameAttribute},
    rsa::SignatureHash,
};
use serde::Deserialize;
use serde_json::{Value, json};
use spki::AlgorithmIdentifierOwned;

use crate::{
    Error,
    ecc::{Curve, SignatureHash as EcHash},
    exchange::pki::tr34_error,
    hsm::{Audit, Hsm},
    model::KeyRecord,
    policy,
    store::Store,
};

/// `GetCertificateSigningRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GetCertificateSigningRequestInput {
    /// The key pair.
    pub key_identifier: String,
    /// `SHA224` (ECC key pairs only), `SHA256`, `SHA384` or `SHA512`.
    pub signing_algorithm: String,
    /// The subject.
    pub certificate_subject: CertificateSubject,
}

/// `CertificateSubjectType`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)] // The service's fields, named as in a distinguished name.
pub struct CertificateSubject {
    pub common_name: String,
    pub organization_unit: Option<String>,
    pub organization: Option<String>,
    pub city: Option<String>,
    pub state_or_province: Option<String>,
    pub country: Option<String>,
    pub email_address: Option<String>,
}

/// What a subject field may hold: the service's length limits and characters.
struct FieldRule {
    member: &'static str,
    attribute: NameAttribute,
    max: usize,
    valid: fn(&str) -> bool,
    expected: &'static str,
}

/// The service's `[^\[;\]<>]+`.
fn directory_text(text: &str) -> bool {
    !text.contains(['[', ';', ']', '<', '>'])
}

fn country(text: &str) -> bool {
    text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic())
}

/// A simple address: printable ASCII without spaces, one `@`, a dotted domain of letters,
/// digits and hyphens.
fn email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"@()<>[]:;,\\\"".contains(&b))
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

const fn rule(member: &'static str, attribute: NameAttribute, max: usize) -> FieldRule {
    FieldRule {
        member,
        attribute,
        max,
        valid: directory_text,
        expected: "none of [ ] ; < >",
    }
}

/// The subject's fields, in the order they enter the name.
const FIELDS: [FieldRule; 7] = [
    rule("CommonName", NameAttribute::CommonName, 64),
    rule("OrganizationUnit", NameAttribute::OrganizationalUnit, 64),
    rule("Organization", NameAttribute::Organization, 64),
    rule("City", NameAttribute::Locality, 128),
    rule("StateOrProvince", NameAttribute::StateOrProvince, 128),
    FieldRule {
        member: "Country",
        attribute: NameAttribute::Country,
        max: 2,
        valid: country,
        expected: "two letters",
    },
    FieldRule {
        member: "EmailAddress",
        attribute: NameAttribute::EmailAddress,
        max: 128,
        valid: email,
        expected: "an e-mail address",
    },
];

impl CertificateSubject {
    /// The name's attributes, each checked against the service's rules.
    fn attributes(&self) -> Result<Vec<(NameAttribute, &str)>, Error> {
        let values = [
            Some(&self.common_name),
            self.organization_unit.as_ref(),
            self.organization.as_ref(),
            self.city.as_ref(),
            self.state_or_province.as_ref(),
            self.country.as_ref(),
            self.email_address.as_ref(),
        ];
        let mut out = Vec::new();
        for (rule, value) in FIELDS.iter().zip(values) {
            let Some(value) = value else { continue };
            let path = format!("CertificateSubject.{}", rule.member);
            if value.is_empty() || value.chars().count() > rule.max {
                return Err(Error::validation(
                    &path,
                    format!("expected 1 to {} characters", rule.max),
                ));
            }
            if !(rule.valid)(value) {
                return Err(Error::validation(
                    &path,
                    format!("expected {}", rule.expected),
                ));
            }
            out.push((rule.attribute, value.as_str()));
        }
        Ok(out)
    }
}

/// The hash of a `SigningAlgorithm` for an RSA key pair.
fn rsa_signature_hash(name: &str) -> Result<SignatureHash, Error> {
    match name {
        "SHA256" => Ok(SignatureHash::Sha256),
        "SHA384" => Ok(SignatureHash::Sha384),
        "SHA512" => Ok(SignatureHash::Sha512),
        "SHA224" => Err(Error::validation(
            "SigningAlgorithm",
            "SHA224 is not offered for RSA key pairs: this HSM's RSA signing (aws-lc-rs) has no \
             PKCS #1 v1.5 signature with SHA-224; use SHA256, SHA384 or SHA512",
        )),
        _ => Err(Error::validation(
            "SigningAlgorithm",
            format!(
                "expected one of {}",
                policy::CSR_RSA_SIGNING_ALGORITHMS.join(", ")
            ),
        )),
    }
}

/// The hash of a `SigningAlgorithm` for an ECC key pair.
fn ecdsa_hash(name: &str) -> Result<EcHash, Error> {
    match name {
        "SHA224" => Ok(EcHash::Sha224),
        "SHA256" => Ok(EcHash::Sha256),
        "SHA384" => Ok(EcHash::Sha384),
        "SHA512" => Ok(EcHash::Sha512),
        _ => Err(Error::validation(
            "SigningAlgorithm",
            "expected SHA224, SHA256, SHA384 or SHA512",
        )),
    }
}

impl<S: Store> Hsm<S> {
    /// The PEM request for the ECC key pair `record`, signed with ECDSA.
    fn ecc_request(
        &self,
        record: &KeyRecord,
        attributes: &[(NameAttribute, &str)],
        algorithm: &str,
    ) -> Result<String, Error> {
        let hash = ecdsa_hash(algorithm)?;
        let key = self.store().ec_private_key(record)?;
        let info = cert::request_info(attributes, key.public_key().to_spki()?)
            .map_err(|e| tr34_error("CertificateSubject", e))?;
        let signature = key.sign(hash, &info)?;
        let algorithm = AlgorithmIdentifierOwned {
            oid: hash.ecdsa_oid(),
            parameters: None,
        };
        let der = cert::signed_der(&info, algorithm, &signature)
            .map_err(|e| Error::internal(e.to_string()))?;
        der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, &der)
            .map_err(|e| Error::internal(e.to_string()))
    }

    /// `GetCertificateSigningRequest`.
    pub fn get_certificate_signing_request(
        &self,
        input: GetCertificateSigningRequestInput,
    ) -> Result<Value, Error> {
        let params = json!({
            "keyIdentifier": input.key_identifier,
            "signingAlgorithm": input.signing_algorithm,
        });
        self.run("GetCertificateSigningRequest", Audit::Read, params, || {
            let attributes = input.certificate_subject.attributes()?;
            let record = self.load(&input.key_identifier, "KeyIdentifier")?;
            policy::check_csr_key(&record)?;
            let pem = if Curve::of(record.attributes.key_algorithm).is_some() {
                self.ecc_request(&record, &attributes, &input.signing_algorithm)?
            } else {
                let hash = rsa_signature_hash(&input.signing_algorithm)?;
                let key = self.private_key(&record)?;
                CertificateRequest::create_with(&attributes, &*key, hash)
                    .and_then(|r| r.to_pem())
                    .map_err(|e| tr34_error("CertificateSubject", e))?
            };
            Ok((
                json!({
                    "CertificateSigningRequest": Base64::encode_string(pem.as_bytes()),
                }),
                vec![self.arn_text(&record)?],
            ))
        })
    }
}
