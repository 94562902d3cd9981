//! What the KDH side refuses before it builds a token: the key-size policy, a KDH key that is
//! not its certificate's, an untrusted KRD certificate, one-pass in the service's form. (What
//! it builds is checked byte for byte in `tokens.rs` and against the independent
//! implementation in `interop.rs`.)

mod common;

use common::{now, pki};
use payhsm_core::{rng::OsRandom, secret::KeyMaterial};
use payhsm_tr34::{
    Error,
    rsa::RsaKeySize,
    token::{self, ExportMode, ExportRequest, Form, Trust},
};

const NONCE: &[u8] = &[0x5A; 8];

fn export_request<'a>(
    pki: &'a common::Pki,
    form: Form,
    header: &str,
    mode: ExportMode<'a>,
) -> ExportRequest<'a> {
    ExportRequest {
        form,
        kdh_certificate: &pki.kdh.cert,
        krd_certificate: &pki.krd.cert,
        krd_trust: Some(Trust {
            ca: &pki.ca.cert,
            intermediates: &[],
            time: now(),
        }),
        mode,
        header: header.parse().unwrap(),
    }
}

#[test]
fn the_service_form_is_two_pass_only() {
    let pki = pki(RsaKeySize::Rsa2048, RsaKeySize::Rsa2048);
    let key = KeyMaterial::from_hex("key", "0123456789ABCDEFFEDCBA9876543210").unwrap();
    let request = export_request(
        pki,
        Form::X9Tr34_2012,
        "D9999K0TB00E0000",
        ExportMode::OnePass {
            signing_time: common::time("2026-05-31T12:00:00Z"),
        },
    );
    assert!(matches!(
        token::export(&key, &request, &pki.kdh.key, &mut OsRandom),
        Err(Error::Unsupported { field: "form", .. })
    ));
}

#[test]
fn export_enforces_the_key_size_policy() {
    let small = pki(RsaKeySize::Rsa2048, RsaKeySize::Rsa2048);
    let large = pki(RsaKeySize::Rsa2048, RsaKeySize::Rsa3072);
    let nonce = ExportMode::TwoPass { nonce: NONCE };
    let cases = [
        // AES needs RSA-3072 or more.
        (
            small,
            "D0256K0AB00E0000",
            "00112233445566778899AABBCCDDEEFF",
            "key block header",
        ),
        // AES-192 and AES-256 need ECDH.
        (
            large,
            "D0256K0AB00E0000",
            "00112233445566778899AABBCCDDEEFF0011223344556677",
            "key",
        ),
        (
            large,
            "D0256K0AB00E0000",
            "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF",
            "key",
        ),
        // Only TDES and AES keys.
        (
            large,
            "D0256M7HC00E0000",
            "00112233445566778899AABBCCDDEEFF",
            "key block header",
        ),
        // A TDES key is 16 or 24 bytes.
        (large, "D0256K0TB00E0000", "0011223344556677", "key"),
    ];
    for (pki, header, key_hex, field) in cases {
        let key = KeyMaterial::from_hex("key", key_hex).unwrap();
        let request = export_request(pki, Form::default(), header, nonce);
        let result = token::export(&key, &request, &pki.kdh.key, &mut OsRandom);
        assert!(
            matches!(result, Err(Error::Unsupported { field: f, .. }) if f == field),
            "{header} {key_hex}: {result:?}"
        );
    }
    // A nonce outside 8..=16 bytes.
    let key = KeyMaterial::from_hex("key", "0123456789ABCDEFFEDCBA9876543210").unwrap();
    for nonce in [&[1u8; 7][..], &[1u8; 17][..]] {
        let request = export_request(
            small,
            Form::default(),
            "D9999K0TB00E0000",
            ExportMode::TwoPass { nonce },
        );
        assert!(matches!(
            token::export(&key, &request, &small.kdh.key, &mut OsRandom),
            Err(Error::Unsupported { field: "nonce", .. })
        ));
    }
}

#[test]
fn export_checks_the_kdh_key_and_the_krd_certificate() {
    let pki = pki(RsaKeySize::Rsa2048, RsaKeySize::Rsa2048);
    let key = KeyMaterial::from_hex("key", "0123456789ABCDEFFEDCBA9876543210").unwrap();
    let request = export_request(
        pki,
        Form::default(),
        "D9999K0TB00E0000",
        ExportMode::TwoPass { nonce: NONCE },
    );
    // The KRD's key is not the KDH certificate's key.
    assert!(matches!(
        token::export(&key, &request, &pki.krd.key, &mut OsRandom),
        Err(Error::KeyRejected { .. })
    ));
    // A KRD certificate from another CA.
    let other = common::new_ca("CN=other CA");
    let request = ExportRequest {
        krd_trust: Some(Trust {
            ca: &other.cert,
            intermediates: &[],
            time: now(),
        }),
        ..request
    };
    assert!(matches!(
        token::export(&key, &request, &pki.kdh.key, &mut OsRandom),
        Err(Error::CertificateNotTrusted {
            certificate: "KRD certificate",
            ..
        })
    ));
    // A KDH certificate as the KRD: keyUsage has no keyEncipherment.
    let request = ExportRequest {
        krd_certificate: &pki.kdh.cert,
        krd_trust: Some(Trust {
            ca: &pki.ca.cert,
            intermediates: &[],
            time: now(),
        }),
        ..request
    };
    assert!(matches!(
        token::export(&key, &request, &pki.kdh.key, &mut OsRandom),
        Err(Error::CertificateNotTrusted {
            reason: "keyUsage does not allow keyEncipherment",
            ..
        })
    ));
}
