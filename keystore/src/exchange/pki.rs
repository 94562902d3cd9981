//! Asymmetric keys: RSA key pairs made inside the HSM, RSA public keys imported in X.509
//! certificates, and the region's certificate authority, which certifies the HSM's own key
//! pairs.
//!
//! - A key pair's private key rests like every key, sealed under the master key (its PKCS #1
//!   `RSAPrivateKey` in a TR-31 D block), and is used only through
//!   [`Store::private_key`], behind the TR-34 `RsaPrivateKey` trait.
//! - An imported public key rests as its certificate, sealed the same way. A root certificate
//!   (`RootCertificatePublicKey`) must be a self-signed CA valid now; a trusted certificate
//!   (`TrustedCertificatePublicKey`) must chain to an imported CA, for signing (S0, `Verify`)
//!   or for key transport (D1 and K2, `Encrypt` and `Wrap`).
//! - The region CA is an internal RSA-3072 key pair (128-bit strength, as much as the strongest
//!   key TR-34 carries) with a self-signed certificate valid for 20 years. It is made when
//!   first needed and certifies every key pair the HSM holds: the callers' (for
//!   `GetPublicKeyCertificate`) and the TR-34 import and export parameters'.
//!
//! The HSM's certificates are not stored: each is a function of the key record (subject from
//! the key id, serial number from a hash of it, validity from its creation time) and, RSA
//! PKCS #1 v1.5 signatures being deterministic, comes out byte for byte the same each time.
//!
//! Certificates travel as the service writes them: base64 of the PEM text. PEM text is
//! accepted too.

use base64ct::{Base64, Encoding};
use payhsm_core::{
    kcv::KcvMethod,
    key::{KeyAlgorithm, KeyAttributes, KeyClass, KeyModesOfUse, KeyUsage},
    rng::OsRandom,
    secret::SecretVec,
};
use payhsm_tr34::{
    DateTime,
    cert::{self, Certificate, CertificateTemplate, Issuer, Role},
    rsa::{RsaPrivateKey, RsaPublicKey},
};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use spki::SubjectPublicKeyInfoOwned;

use crate::{
    Error, Rule,
    clock::Timestamp,
    ecc::Curve,
    exchange::Incoming,
    exchange::x509::{AnyCertificate, Purpose},
    hsm::{Audit, Hsm, NewKey},
    lifecycle::KeyIdentifierInput,
    model::{KeyAttributesInput, KeyOrigin, KeyRecord, KeyState},
    policy::{self, KeyRole, roles},
    store::Store,
};

/// The key id of the region CA. Internal key ids start with an upper-case letter
/// ([`crate::hsm::is_internal`]).
pub(crate) const CA_KEY_ID: &str = "REGIONCA00000001";

/// The region CA's key size.
pub(crate) const CA_ALGORITHM: KeyAlgorithm = KeyAlgorithm::Rsa3072;

/// How long the region CA's certificate is valid.
const CA_VALIDITY_DAYS: i64 = 7305;

/// The largest certificate accepted, in DER bytes: it must fit a sealed key block.
pub const MAX_CERTIFICATE_LEN: usize = 4096;

/// `RootCertificatePublicKey`: a trust anchor.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RootCertificatePublicKey {
    /// The key's attributes: `TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE`, `PUBLIC_KEY`,
    /// `RSA_…`, `{Verify}`.
    pub key_attributes: KeyAttributesInput,
    /// The self-signed CA certificate, base64 of the PEM text.
    pub public_key_certificate: String,
}

/// `TrustedCertificatePublicKey`: a public key certified by an imported CA.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TrustedCertificatePublicKey {
    /// The key's attributes (class `PUBLIC_KEY`).
    pub key_attributes: KeyAttributesInput,
    /// The certificate, base64 of the PEM text.
    pub public_key_certificate: String,
    /// The imported CA the certificate must chain to.
    pub certificate_authority_public_key_identifier: String,
}

/// The PEM text of a certificate as the service sends it (base64 of the PEM text), or PEM text.
fn certificate_pem(path: &str, text: &str) -> Result<String, Error> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return Ok(text.to_owned());
    }
    Base64::decode_vec(text)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| Error::validation(path, "expected a base64-encoded PEM certificate"))
}

/// The DER of a certificate as the service sends it (base64 of the PEM text), or PEM text.
pub(crate) fn certificate_der(path: &str, text: &str) -> Result<Vec<u8>, Error> {
    let pem = certificate_pem(path, text)?;
    match der::pem::decode_vec(pem.as_bytes()) {
        Ok(("CERTIFICATE", der)) => Ok(der),
        _ => Err(Error::validation(path, "expected a PEM CERTIFICATE")),
    }
}

/// An RSA certificate as the service sends it (base64 of the PEM text), or PEM text.
pub(crate) fn parse_certificate(path: &str, text: &str) -> Result<Certificate, Error> {
    let pem = certificate_pem(path, text)?;
    let certificate = Certificate::from_pem(&pem).map_err(|e| tr34_error(path, e))?;
    if certificate.to_der().len() > MAX_CERTIFICATE_LEN {
        return Err(Error::validation(
            path,
            format!("certificates of more than {MAX_CERTIFICATE_LEN} DER bytes are not accepted"),
        ));
    }
    Ok(certificate)
}

/// A certificate as the service returns it: base64 of the PEM text.
pub(crate) fn certificate_text(certificate: &Certificate) -> Result<String, Error> {
    der_certificate_text(certificate.to_der())
}

/// A DER certificate as the service returns it: base64 of the PEM text.
pub(crate) fn der_certificate_text(der: &[u8]) -> Result<String, Error> {
    let pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der)
        .map_err(|e| Error::internal(e.to_string()))?;
    Ok(Base64::encode_string(pem.as_bytes()))
}

/// Maps a TR-34 error on a request field to the service's error. The RSA backend failing is
/// the HSM's fault; everything else is the request's.
pub(crate) fn tr34_error(path: &str, e: payhsm_tr34::Error) -> Error {
    use payhsm_tr34::Error as E;
    match e {
        E::Backend { .. } => Error::internal(e.to_string()),
        E::NotSupported { .. } => Error::NotSupported {
            message: e.to_string(),
        },
        E::Core(c) => crate::error::core_error(path, c),
        other => Error::validation(path, other.to_string()),
    }
}

/// An instant as an X.509 time (seconds).
pub(crate) fn date(t: Timestamp) -> Result<DateTime, Error> {
    let secs = u64::try_from(t.0.div_euclid(1000))
        .map_err(|_| Error::internal("the clock is before 1970"))?;
    DateTime::from_unix_duration(std::time::Duration::from_secs(secs))
        .map_err(|_| Error::internal("the clock is outside the range of X.509 times"))
}

/// The serial number of the certificate of key `key_id`: 16 bytes of a hash of the id,
/// positive and of fixed length.
fn serial_number(key_id: &str) -> Vec<u8> {
    let digest = Sha256::new()
        .chain_update(b"payhsm certificate serial number\0")
        .chain_update(key_id.as_bytes())
        .finalize();
    let mut serial = digest[..16].to_vec();
    serial[0] = (serial[0] & 0x7F) | 0x40;
    serial
}

/// The region CA, ready to certify.
pub(crate) struct Authority<'a> {
    key: Box<dyn RsaPrivateKey + 'a>,
    /// The CA's self-signed certificate.
    pub(crate) certificate: Certificate,
    /// When the CA's certificate expires; no certificate it issues outlives it.
    pub(crate) not_after: Timestamp,
}

impl<S: Store> Hsm<S> {
    /// Now, as an X.509 time.
    pub(crate) fn x509_now(&self) -> Result<DateTime, Error> {
        date(self.now())
    }

    /// The region CA, made the first time it is needed. Two callers racing to make it both
    /// generate a key; the store keeps the first, and the second uses it.
    pub(crate) fn authority(&self) -> Result<Authority<'_>, Error> {
        let record = match self.store().get_key(CA_KEY_ID)? {
            Some(record) => record,
            None => {
                let attributes = KeyAttributes {
                    key_usage: KeyUsage::S1,
                    key_class: KeyClass::AsymmetricKeyPair,
                    key_algorithm: CA_ALGORITHM,
                    key_modes_of_use: KeyModesOfUse {
                        sign: true,
                        ..KeyModesOfUse::default()
                    },
                };
                let made =
                    self.insert_key(CA_KEY_ID.to_owned(), NewKey::internal(attributes), None);
                match made {
                    Ok(record) => record,
                    Err(Error::Conflict { .. }) => self
                        .store()
                        .get_key(CA_KEY_ID)?
                        .ok_or_else(|| Error::internal("the region CA vanished"))?,
                    Err(e) => return Err(e),
                }
            }
        };
        policy::check_usable(&record)?;
        let key = self.private_key(&record)?;
        let not_after = record.create_timestamp.plus_days(CA_VALIDITY_DAYS);
        let template = CertificateTemplate {
            role: Role::Ca,
            not_before: date(record.create_timestamp)?,
            not_after: date(not_after)?,
            serial_number: Some(serial_number(&record.key_id)),
        };
        let certificate = cert::issue(
            &format!("CN=payhsm TR-34 CA,OU={},O=payhsm", self.region().as_str()),
            key.public_key(),
            &template,
            Issuer::SelfSigned(&*key),
            &mut OsRandom,
        )
        .map_err(|e| Error::internal(format!("the region CA's certificate: {e}")))?;
        Ok(Authority {
            key,
            certificate,
            not_after,
        })
    }

    /// The certificate the region CA issues for the key pair `record`, whose public key is
    /// `public`: for signing (S0) or for key transport (the others), valid from the key's
    /// creation until `until` (or the CA's own expiry, if sooner).
    pub(crate) fn certify(
        &self,
        ca: &Authority<'_>,
        record: &KeyRecord,
        public: &RsaPublicKey,
        until: Timestamp,
    ) -> Result<Certificate, Error> {
        let role = if record.attributes.key_usage == KeyUsage::S0 {
            Role::Kdh
        } else {
            Role::Krd
        };
        self.issue_by_ca(ca, record, role, until, |subject, template, issuer| {
            cert::issue(subject, public, template, issuer, &mut OsRandom)
        })
    }

    /// The certificate (DER) the region CA issues for the ECC key pair `record`, whose public
    /// key is `public`: for key agreement (`keyUsage` keyAgreement), valid from the key's
    /// creation until the CA's own expiry.
    fn certify_key_agreement(
        &self,
        ca: &Authority<'_>,
        record: &KeyRecord,
        public: &SubjectPublicKeyInfoOwned,
    ) -> Result<Vec<u8>, Error> {
        self.issue_by_ca(
            ca,
            record,
            Role::KeyAgreement,
            ca.not_after,
            |subject, template, issuer| {
                cert::issue_der(subject, public, template, issuer, &mut OsRandom)
            },
        )
    }

    /// A certificate of the key pair `record` for `role` from the region CA, valid from the
    /// key's creation until `until` (or the CA's own expiry, if sooner), built by `issue`.
    fn issue_by_ca<T>(
        &self,
        ca: &Authority<'_>,
        record: &KeyRecord,
        role: Role,
        until: Timestamp,
        issue: impl FnOnce(&str, &CertificateTemplate, Issuer<'_>) -> Result<T, payhsm_tr34::Error>,
    ) -> Result<T, Error> {
        let template = CertificateTemplate {
            role,
            not_before: date(record.create_timestamp)?,
            not_after: date(until.min(ca.not_after))?,
            serial_number: Some(serial_number(&record.key_id)),
        };
        let subject = format!(
            "CN={},OU={},O=payhsm",
            record.key_id,
            self.region().as_str()
        );
        let issuer = Issuer::Ca {
            certificate: &ca.certificate,
            key: &*ca.key,
        };
        issue(&subject, &template, issuer)
            .map_err(|e| Error::internal(format!("certifying key {}: {e}", record.key_id)))
    }

    /// An imported CA public key, checked for `role`, and its certificate.
    pub(crate) fn ca_certificate(
        &self,
        identifier: &str,
        field: &str,
        role: &KeyRole,
    ) -> Result<(KeyRecord, Certificate), Error> {
        // Every certificate check starts from a CA's certificate (or is a root's own).
        self.rsa_self_test()?;
        let record = self.load(identifier, field)?;
        policy::check_key(role, &record)?;
        let certificate = self.stored_certificate(&record)?;
        Ok((record, certificate))
    }

    /// The certificate an imported public key rests as.
    pub(crate) fn stored_certificate(&self, record: &KeyRecord) -> Result<Certificate, Error> {
        let der = self.store().reveal(record)?;
        Certificate::from_der(der.expose_secret()).map_err(|_| {
            Error::internal(format!(
                "key {} failed its integrity check: not a certificate",
                record.key_id
            ))
        })
    }

    /// `GetPublicKeyCertificate`: the certificate the region CA issues for a key pair, and the
    /// CA's certificate as its chain.
    pub fn get_public_key_certificate(&self, input: KeyIdentifierInput) -> Result<Value, Error> {
        let params = json!({ "keyIdentifier": input.key_identifier });
        self.run("GetPublicKeyCertificate", Audit::Read, params, || {
            let record = self.load(&input.key_identifier, "KeyIdentifier")?;
            if record.state != KeyState::CreateComplete {
                return Err(Error::policy(
                    Rule::KeyState,
                    format!("the key is {}", record.state.name()),
                ));
            }
            if record.attributes.key_class != KeyClass::AsymmetricKeyPair {
                return Err(Error::policy(
                    Rule::KeyClass,
                    "GetPublicKeyCertificate serves key pairs (ASYMMETRIC_KEY_PAIR); a public \
                     key's certificate is the one it was imported with",
                ));
            }
            let ca = self.authority()?;
            let certificate = if Curve::of(record.attributes.key_algorithm).is_some() {
                let public = self
                    .store()
                    .ec_private_key(&record)?
                    .public_key()
                    .to_spki()?;
                self.certify_key_agreement(&ca, &record, &public)?
            } else {
                let public = self.private_key(&record)?.public_key().clone();
                self.certify(&ca, &record, &public, ca.not_after)?
                    .to_der()
                    .to_vec()
            };
            Ok((
                json!({
                    "KeyCertificate": der_certificate_text(&certificate)?,
                    "KeyCertificateChain": certificate_text(&ca.certificate)?,
                }),
                vec![self.arn_text(&record)?],
            ))
        })
    }

    /// `ImportKey` with `RootCertificatePublicKey`: a self-signed CA certificate, valid now,
    /// becomes a trust anchor (S0, `Verify`).
    pub(crate) fn import_root_certificate(
        &self,
        input: &RootCertificatePublicKey,
    ) -> Result<Incoming, Error> {
        self.rsa_self_test()?;
        let base = "KeyMaterial.RootCertificatePublicKey";
        let attributes = public_key_attributes(&input.key_attributes, base)?;
        if !policy::fits(&roles::ROOT_CA, &attributes) {
            return Err(Error::policy(
                Rule::KeyUsage,
                "a root certificate's key is a CA key: TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE \
                 with Verify",
            ));
        }
        let path = format!("{base}.PublicKeyCertificate");
        let certificate = AnyCertificate::parse(&path, &input.public_key_certificate)?;
        certificate.check_algorithm(&path, attributes.key_algorithm)?;
        certificate
            .check_root(self.x509_now()?)
            .map_err(|problem| Error::validation(&path, problem))?;
        Ok(Incoming::public_key(attributes, certificate.der()))
    }

    /// `ImportKey` with `TrustedCertificatePublicKey`: a certificate that chains to an
    /// imported CA, for signing (`Verify`, and `digitalSignature` in the certificate) or key
    /// transport (`Encrypt` and `Wrap`, and `keyEncipherment`).
    pub(crate) fn import_trusted_certificate(
        &self,
        input: &TrustedCertificatePublicKey,
    ) -> Result<Incoming, Error> {
        let base = "KeyMaterial.TrustedCertificatePublicKey";
        let attributes = public_key_attributes(&input.key_attributes, base)?;
        let path = format!("{base}.PublicKeyCertificate");
        let purpose = if attributes.key_modes_of_use.verify {
            Purpose::Signing
        } else if attributes.key_usage == KeyUsage::K3 {
            Purpose::KeyAgreement
        } else {
            Purpose::KeyTransport
        };
        let certificate = self.trusted_certificate(
            &input.certificate_authority_public_key_identifier,
            &format!("{base}.CertificateAuthorityPublicKeyIdentifier"),
            &roles::TRUSTED_CERTIFICATE_CA,
            &path,
            &input.public_key_certificate,
            purpose,
        )?;
        certificate.check_algorithm(&path, attributes.key_algorithm)?;
        Ok(Incoming::public_key(attributes, certificate.der()))
    }

    /// The certificate `text` (the request member at `path`), checked against the imported CA
    /// `ca_identifier` (which must play `role`) for `purpose`.
    pub(crate) fn trusted_certificate(
        &self,
        ca_identifier: &str,
        ca_field: &str,
        role: &KeyRole,
        path: &str,
        text: &str,
        purpose: Purpose,
    ) -> Result<AnyCertificate, Error> {
        let record = self.load(ca_identifier, ca_field)?;
        policy::check_key(role, &record)?;
        let ca = AnyCertificate::from_der(self.store().reveal(&record)?.expose_secret()).map_err(
            |_| {
                Error::internal(format!(
                    "key {} failed its integrity check: not a certificate",
                    record.key_id
                ))
            },
        )?;
        let certificate = AnyCertificate::parse(path, text)?;
        certificate
            .check_issued_by(&ca, self.x509_now()?, purpose)
            .map_err(|problem| Error::validation(path, problem))?;
        Ok(certificate)
    }
}

/// The attributes of an imported public key: class `PUBLIC_KEY`, in the attribute table.
fn public_key_attributes(input: &KeyAttributesInput, base: &str) -> Result<KeyAttributes, Error> {
    let attributes = input.parse(&format!("{base}.KeyAttributes"))?;
    if attributes.key_class != KeyClass::PublicKey {
        return Err(Error::policy(
            Rule::KeyClass,
            "a certificate imports a key of class PUBLIC_KEY",
        ));
    }
    policy::check_attributes(&attributes)?;
    Ok(attributes)
}

impl Incoming {
    /// An imported public key: its certificate (DER) is what rests in the store.
    fn public_key(attributes: KeyAttributes, certificate: &[u8]) -> Self {
        Self {
            attributes,
            exportable: false,
            material: SecretVec::from_slice(certificate),
            nonce: None,
        }
    }
}

impl NewKey {
    /// An internal key of the HSM: not exportable, enabled, untagged.
    pub(crate) fn internal(attributes: KeyAttributes) -> Self {
        Self {
            attributes,
            exportable: false,
            kcv_method: KcvMethod::Sha1,
            enabled: true,
            tags: std::collections::BTreeMap::new(),
            origin: KeyOrigin::AwsPaymentCryptography,
            derive_key_usage: None,
            multi_region: None,
        }
    }
}
