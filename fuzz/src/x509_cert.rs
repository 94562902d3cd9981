//! The body of the `x509_cert` fuzz target (T-34-10): X.509 certificates and certification
//! requests on their own, DER and PEM. No input may panic; a certificate that parses keeps its
//! DER verbatim, and every extension accessor and its own signature check run on it.

use payhsm_tr34::cert::{Certificate, CertificateRequest};

/// Feeds `data` to the certificate and request parsers and to every accessor of what parses.
pub fn run(data: &[u8]) {
    if let Ok(cert) = Certificate::from_der(data) {
        assert_eq!(cert.to_der(), data);
        let _ = (
            cert.not_before(),
            cert.not_after(),
            cert.sha256_fingerprint(),
        );
        let _ = cert.basic_constraints();
        let _ = cert.key_usage();
        let _ = cert.subject_key_identifier();
        let _ = cert.issuer_and_serial_number();
        let _ = cert.verify_signed_by(cert.public_key());
        let pem = cert.to_pem().unwrap();
        assert_eq!(Certificate::from_pem(&pem).unwrap().to_der(), data);
    }
    let _ = CertificateRequest::from_der(data);
    if let Ok(text) = core::str::from_utf8(data) {
        let _ = Certificate::from_pem(text);
        let _ = Certificate::from_pem_bundle(text);
    }
}
