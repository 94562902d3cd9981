//! Certificates and requests for the three TR-34 roles, and path validation.

mod common;

use common::{new_ca, now, template, time};
use payhsm_core::rng::OsRandom;
use payhsm_tr34::{
    Error,
    cert::{self, Certificate, CertificateRequest, Issuer, Purpose, Role, verify_chain},
    rsa::{RsaKeySize, RsaPrivateKey, SoftwareRsaKey},
};

#[test]
fn a_csr_round_trips_and_a_ca_issues_from_it() {
    let ca = new_ca("CN=Issuing CA,O=payhsm,C=US");
    let key = SoftwareRsaKey::generate(RsaKeySize::Rsa3072).unwrap();
    let csr = CertificateRequest::create("CN=KRD 7,OU=Devices,O=payhsm,C=US", &key).unwrap();
    let pem = csr.to_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    let parsed = CertificateRequest::from_pem(&pem).unwrap();
    assert_eq!(
        parsed.subject().to_string(),
        "CN=KRD 7,OU=Devices,O=payhsm,C=US"
    );
    assert_eq!(parsed.public_key(), key.public_key());

    let issuer = Issuer::Ca {
        certificate: &ca.cert,
        key: &ca.key,
    };
    let krd =
        cert::issue_for_request(&parsed, &template(Role::Krd), issuer, &mut OsRandom).unwrap();
    assert_eq!(krd.subject(), parsed.subject());
    assert_eq!(krd.issuer(), ca.cert.subject());
    assert_eq!(krd.public_key(), key.public_key());
    assert_eq!(krd.serial_number().as_bytes().len(), 16);
    assert!(krd.key_usage().unwrap().unwrap().key_encipherment());
    assert_eq!(krd.basic_constraints().unwrap(), None);
    verify_chain(&krd, &[], &ca.cert, now(), Purpose::KrdKeyTransport).unwrap();
    // The certificate survives PEM, and a bundle reads in order.
    let bundle = format!("{}\n{}", krd.to_pem().unwrap(), ca.cert.to_pem().unwrap());
    assert_eq!(
        Certificate::from_pem_bundle(&bundle).unwrap(),
        [krd.clone(), ca.cert.clone()]
    );
    // A request is not self-signed into a certificate.
    assert!(matches!(
        cert::issue_for_request(
            &parsed,
            &template(Role::Krd),
            Issuer::SelfSigned(&key),
            &mut OsRandom
        ),
        Err(Error::Unsupported {
            field: "issuer",
            ..
        })
    ));
}

#[test]
fn a_tampered_csr_is_refused() {
    let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
    let csr = CertificateRequest::create("CN=KDH 1,O=payhsm", &key).unwrap();
    let mut der = csr.to_der().to_vec();
    let at = der.windows(5).position(|w| w == b"KDH 1").unwrap();
    der[at + 4] = b'2';
    assert_eq!(
        CertificateRequest::from_der(&der).unwrap_err(),
        Error::SignatureInvalid
    );
}

#[test]
fn the_roles_get_their_extensions() {
    let ca = new_ca("CN=Root,O=payhsm");
    let bc = ca.cert.basic_constraints().unwrap().unwrap();
    assert!(bc.ca);
    let ku = ca.cert.key_usage().unwrap().unwrap();
    assert!(ku.key_cert_sign() && ku.crl_sign() && !ku.digital_signature());
    let kdh = common::issue(
        &ca,
        "CN=KDH,O=payhsm",
        RsaKeySize::Rsa2048,
        &template(Role::Kdh),
    );
    let ku = kdh.cert.key_usage().unwrap().unwrap();
    assert!(ku.digital_signature() && !ku.key_encipherment());
    assert_eq!(
        kdh.cert.subject_key_identifier().unwrap().unwrap().len(),
        20
    );
    assert!(format!("{:?}", kdh.cert).contains("CN=KDH,O=payhsm"));
}

#[test]
fn the_builder_refuses_inconsistent_requests() {
    let ca = new_ca("CN=Root,O=payhsm");
    let other = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
    // A self-signed certificate for someone else's key.
    assert!(matches!(
        cert::issue(
            "CN=X",
            ca.key.public_key(),
            &template(Role::Ca),
            Issuer::SelfSigned(&other),
            &mut OsRandom
        ),
        Err(Error::KeyRejected { .. })
    ));
    // A CA certificate with the wrong private key.
    let issuer = Issuer::Ca {
        certificate: &ca.cert,
        key: &other,
    };
    assert!(matches!(
        cert::issue(
            "CN=X",
            other.public_key(),
            &template(Role::Kdh),
            issuer,
            &mut OsRandom
        ),
        Err(Error::KeyRejected { .. })
    ));
    // A leaf certificate as the issuer.
    let kdh = common::issue(&ca, "CN=KDH", RsaKeySize::Rsa2048, &template(Role::Kdh));
    let issuer = Issuer::Ca {
        certificate: &kdh.cert,
        key: &kdh.key,
    };
    assert!(matches!(
        cert::issue(
            "CN=X",
            other.public_key(),
            &template(Role::Kdh),
            issuer,
            &mut OsRandom
        ),
        Err(Error::Unsupported {
            field: "issuer",
            ..
        })
    ));
    // Validity backwards, a bad name.
    let mut backwards = template(Role::Kdh);
    backwards.not_after = backwards.not_before;
    let issuer = Issuer::Ca {
        certificate: &ca.cert,
        key: &ca.key,
    };
    assert!(matches!(
        cert::issue(
            "CN=X",
            other.public_key(),
            &backwards,
            issuer,
            &mut OsRandom
        ),
        Err(Error::Unsupported {
            field: "validity",
            ..
        })
    ));
    assert!(matches!(
        cert::issue(
            "not a name",
            other.public_key(),
            &template(Role::Kdh),
            issuer,
            &mut OsRandom
        ),
        Err(Error::Malformed {
            field: "subject name",
            ..
        })
    ));
}

#[test]
fn paths_through_intermediates_check_every_signature_and_validity() {
    let root = new_ca("CN=Root,O=payhsm");
    let issue_ca = |issuer: &common::Party, name: &str| {
        let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        let cert = cert::issue(
            name,
            key.public_key(),
            &template(Role::Ca),
            Issuer::Ca {
                certificate: &issuer.cert,
                key: &issuer.key,
            },
            &mut OsRandom,
        )
        .unwrap();
        common::Party { key, cert }
    };
    let a = issue_ca(&root, "CN=Intermediate A,O=payhsm");
    let b = issue_ca(&a, "CN=Intermediate B,O=payhsm");
    let kdh = common::issue(
        &b,
        "CN=KDH,O=payhsm",
        RsaKeySize::Rsa2048,
        &template(Role::Kdh),
    );
    let chain = [b.cert.clone(), a.cert.clone()];
    verify_chain(&kdh.cert, &chain, &root.cert, now(), Purpose::KdhSigning).unwrap();
    // Intermediates in any order.
    let reversed = [a.cert.clone(), b.cert.clone()];
    verify_chain(&kdh.cert, &reversed, &root.cert, now(), Purpose::KdhSigning).unwrap();
    // A missing intermediate.
    assert!(matches!(
        verify_chain(
            &kdh.cert,
            std::slice::from_ref(&b.cert),
            &root.cert,
            now(),
            Purpose::KdhSigning
        ),
        Err(Error::CertificateNotTrusted {
            reason: "does not chain to the configured CA",
            ..
        })
    ));
    // An intermediate that is not valid yet at the verification time.
    let mut late = template(Role::Ca);
    late.not_before = time("2027-01-01T00:00:00Z");
    let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
    let young = cert::issue(
        "CN=Young CA",
        key.public_key(),
        &late,
        Issuer::Ca {
            certificate: &root.cert,
            key: &root.key,
        },
        &mut OsRandom,
    )
    .unwrap();
    let young = common::Party { key, cert: young };
    let leaf = common::issue(&young, "CN=KDH", RsaKeySize::Rsa2048, &template(Role::Kdh));
    assert!(matches!(
        verify_chain(
            &leaf.cert,
            std::slice::from_ref(&young.cert),
            &root.cert,
            now(),
            Purpose::KdhSigning
        ),
        Err(Error::CertificateNotTrusted {
            certificate: "intermediate CA certificate",
            reason: "not yet valid at the verification time"
        })
    ));
    // A trust anchor whose key did not sign the path, under the right name.
    let impostor = {
        let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
        cert::issue(
            "CN=Root,O=payhsm",
            key.public_key(),
            &template(Role::Ca),
            Issuer::SelfSigned(&key),
            &mut OsRandom,
        )
        .unwrap()
    };
    assert!(matches!(
        verify_chain(&kdh.cert, &chain, &impostor, now(), Purpose::KdhSigning),
        Err(Error::CertificateNotTrusted {
            reason: "the signature does not verify under the CA key",
            ..
        })
    ));
}
