//! Certificate path validation for TR-34: a KDH or KRD certificate up to a configured CA.
//!
//! The checks are the ones TR-34 relies on (RFC 5280 §6, reduced to what a closed PKI of
//! CA, KDH and KRD needs): every signature along the path, validity at a given time,
//! `basicConstraints` CA=TRUE and `keyCertSign` (if `keyUsage` is present) for every issuer,
//! path length constraints, the leaf's `keyUsage` for its purpose, and no unknown critical
//! extension. Revocation is not checked.

use der::oid::AssociatedOid;
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};

use super::Certificate;
use crate::{
    DateTime, Error, oid,
    rsa::{SignatureHash, null_or_absent},
};

/// The longest path accepted, leaf and anchor included.
const MAX_PATH_LEN: usize = 8;

/// What the leaf certificate's key is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// A KDH signs key tokens: `keyUsage` must allow `digitalSignature`.
    KdhSigning,
    /// A KRD receives keys: `keyUsage` must allow `keyEncipherment`.
    KrdKeyTransport,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Self::KdhSigning => "KDH certificate",
            Self::KrdKeyTransport => "KRD certificate",
        }
    }
}

/// Validates `leaf` up to the trust anchor `ca` through any of `intermediates`, at `time`.
///
/// The anchor is trusted as configured: its own signature is not checked, but it must be a
/// CA (`basicConstraints` CA=TRUE) valid at `time`.
pub fn verify_chain(
    leaf: &Certificate,
    intermediates: &[Certificate],
    ca: &Certificate,
    time: DateTime,
    purpose: Purpose,
) -> Result<(), Error> {
    let label = purpose.label();
    let untrusted = |reason| Error::CertificateNotTrusted {
        certificate: label,
        reason,
    };
    check_common(leaf, time).map_err(untrusted)?;
    if let Some(ku) = leaf.key_usage()? {
        let allowed = match purpose {
            Purpose::KdhSigning => ku.digital_signature(),
            Purpose::KrdKeyTransport => ku.key_encipherment(),
        };
        if !allowed {
            return Err(untrusted(match purpose {
                Purpose::KdhSigning => "keyUsage does not allow digitalSignature",
                Purpose::KrdKeyTransport => "keyUsage does not allow keyEncipherment",
            }));
        }
    }

    let mut current = leaf;
    // `intermediates_below` counts the intermediate CA certificates between the issuer being
    // checked and the leaf, which its pathLenConstraint limits.
    for intermediates_below in 0..MAX_PATH_LEN - 1 {
        let issued_by = |candidate: &Certificate| {
            candidate.subject() == current.issuer()
                && current.verify_signed_by(candidate.public_key()).is_ok()
        };
        let (issuer, is_anchor) = if issued_by(ca) {
            (ca, true)
        } else if let Some(i) = intermediates.iter().find(|i| issued_by(i)) {
            (i, false)
        } else if ca.subject() == current.issuer() {
            return Err(untrusted("the signature does not verify under the CA key"));
        } else {
            return Err(untrusted("does not chain to the configured CA"));
        };
        let issuer_untrusted = |reason| Error::CertificateNotTrusted {
            certificate: if is_anchor {
                "CA certificate"
            } else {
                "intermediate CA certificate"
            },
            reason,
        };
        check_common(issuer, time).map_err(issuer_untrusted)?;
        check_issuer(issuer, intermediates_below).map_err(issuer_untrusted)?;
        if is_anchor {
            return Ok(());
        }
        current = issuer;
    }
    Err(untrusted("the certificate path is too long"))
}

/// Validity at `time` and no unknown critical extension.
fn check_common(cert: &Certificate, time: DateTime) -> Result<(), &'static str> {
    if time < cert.not_before() {
        return Err("not yet valid at the verification time");
    }
    if time > cert.not_after() {
        return Err("expired at the verification time");
    }
    let known = [
        BasicConstraints::OID,
        KeyUsage::OID,
        SubjectKeyIdentifier::OID,
        AuthorityKeyIdentifier::OID,
        ExtendedKeyUsage::OID,
    ];
    let extensions = cert
        .x509()
        .tbs_certificate()
        .extensions()
        .map_or(&[][..], |e| e.as_slice());
    if extensions
        .iter()
        .any(|e| e.critical && !known.contains(&e.extn_id))
    {
        return Err("has an unknown critical extension");
    }
    Ok(())
}

/// An issuer must be a CA allowed to sign certificates, with room in its path length.
fn check_issuer(issuer: &Certificate, intermediates_below: usize) -> Result<(), &'static str> {
    let bc = issuer
        .basic_constraints()
        .map_err(|_| "basicConstraints is malformed")?
        .ok_or("has no basicConstraints (an issuer must be a CA)")?;
    if !bc.ca {
        return Err("basicConstraints does not have CA=TRUE");
    }
    if bc
        .path_len_constraint
        .is_some_and(|limit| intermediates_below > usize::from(limit))
    {
        return Err("the path is longer than its pathLenConstraint allows");
    }
    let ku = issuer.key_usage().map_err(|_| "keyUsage is malformed")?;
    if ku.is_some_and(|ku| !ku.key_cert_sign()) {
        return Err("keyUsage does not allow keyCertSign");
    }
    Ok(())
}

/// The hash of an accepted certificate signature algorithm (SHA-2 with RSA PKCS #1 v1.5).
pub(super) fn signature_hash(alg: &AlgorithmIdentifierOwned) -> Result<SignatureHash, Error> {
    let hash = match alg.oid {
        oid::SHA256_WITH_RSA => SignatureHash::Sha256,
        oid::SHA384_WITH_RSA => SignatureHash::Sha384,
        oid::SHA512_WITH_RSA => SignatureHash::Sha512,
        _ => {
            return Err(Error::unsupported(
                "certificate signature algorithm",
                "only sha256/384/512WithRSAEncryption are accepted",
            ));
        }
    };
    if null_or_absent(alg) {
        Ok(hash)
    } else {
        Err(Error::malformed(
            "certificate signature algorithm",
            "parameters must be NULL",
        ))
    }
}
