//! The body of the `tr34_import` fuzz target (T-34-10): no input may panic.
//!
//! Arbitrary bytes go to the certificate, request, key block header and key block parsers, to
//! `Form::detect`, and to `token::import` in both forms with a fixed setup from the TR-34
//! Annex B samples (KRD 1's key, KDH 1's certificate under CA-KDH, at a time they were valid),
//! so that seeds signed by KDH 1 exercise the path up to the signature.

use std::sync::OnceLock;

use payhsm_tr34::{
    DateTime, KeyBlockHeader,
    cert::{Certificate, CertificateRequest},
    rsa::SoftwareRsaKey,
    token::{self, Form, ImportRequest, key_block},
};

/// The Annex B credentials the target trusts.
pub struct Setup {
    /// KDH 1's certificate.
    pub kdh: Certificate,
    /// KDH 1's private key (for writing seeds).
    pub kdh_key: SoftwareRsaKey,
    /// CA-KDH's certificate, the trust anchor.
    pub ca: Certificate,
    /// KRD 1's certificate.
    pub krd: Certificate,
    /// KRD 1's private key.
    pub krd_key: SoftwareRsaKey,
}

/// The nonce every seed token carries.
pub const NONCE: &[u8] = &[0xA5; 8];

fn sample(id: &str, field: &str) -> Vec<u8> {
    let data: serde_json::Value =
        serde_json::from_str(include_str!("../../vectors/data/tr34.json")).unwrap();
    let entry = data
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == id)
        .unwrap();
    let hex = entry["inputs"][field].as_str().unwrap();
    payhsm_core::hex::decode("sample", hex).unwrap()
}

/// The fixed setup, built once.
pub fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let cert = |id| Certificate::from_der(&sample(id, "certificate_der")).unwrap();
        let key =
            |id| SoftwareRsaKey::from_pkcs8_der(&sample(id, "private_key_pkcs8_der")).unwrap();
        Setup {
            kdh: cert("TR34-sample-KDH-1-cert"),
            kdh_key: key("TR34-sample-KDH-1-cert"),
            ca: cert("TR34-sample-CA-KDH-cert"),
            krd: cert("TR34-sample-KRD-1-cert"),
            krd_key: key("TR34-sample-KRD-1-cert"),
        }
    })
}

/// A time inside the sample certificates' validity.
pub fn time() -> DateTime {
    DateTime::new(2015, 1, 1, 0, 0, 0).unwrap()
}

/// Feeds `data` to every TR-34 parser and to the import path.
pub fn run(data: &[u8]) {
    let _ = Certificate::from_der(data);
    let _ = CertificateRequest::from_der(data);
    if let Ok(header) = KeyBlockHeader::from_bytes(data) {
        // A parsed header is kept verbatim.
        assert_eq!(header.as_bytes(), data);
    }
    if let Ok(content) = key_block::decode(data) {
        // A decoded key block re-encodes to the same bytes.
        let again = key_block::encode(&content.kdh, &content.key, &content.header).unwrap();
        assert_eq!(again.expose_secret(), data);
    }
    let _ = Form::detect(data);
    let s = setup();
    for form in Form::ALL {
        let request = ImportRequest {
            form,
            krd_certificate: Some(&s.krd),
            ..ImportRequest::two_pass(&s.kdh, &s.ca, time(), NONCE)
        };
        let _ = token::import(data, &s.krd_key, &request);
    }
}
