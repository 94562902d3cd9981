//! Export on the KDH, import on the KRD: every form, RSA size and key type TR-34 carries.

mod common;

use common::{hex, now, pki};
use payhsm_core::{
    kcv::KcvMethod,
    key::{KeyAlgorithm, KeyUsage, ModeOfUse},
    rng::OsRandom,
    secret::KeyMaterial,
};
use payhsm_tr34::{
    Error, KeyBlockHeader,
    rsa::RsaKeySize,
    token::{self, ExportMode, ExportRequest, Form, ImportMode, ImportRequest, Trust},
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

fn import_request<'a>(pki: &'a common::Pki, form: Form, mode: ImportMode<'a>) -> ImportRequest<'a> {
    ImportRequest {
        form,
        krd_certificate: Some(&pki.krd.cert),
        mode,
        ..ImportRequest::two_pass(&pki.kdh.cert, &pki.ca.cert, now(), NONCE)
    }
}

fn round_trip(kdh: RsaKeySize, krd: RsaKeySize, form: Form, header: &str, key_hex: &str) {
    let pki = pki(kdh, krd);
    let key = KeyMaterial::from_hex("key", key_hex).unwrap();
    let request = export_request(pki, form, header, ExportMode::TwoPass { nonce: NONCE });
    let token = token::export(&key, &request, &pki.kdh.key, &mut OsRandom).unwrap();
    let imported = token::import(
        &token,
        &pki.krd.key,
        &import_request(pki, form, ImportMode::TwoPass { nonce: NONCE }),
    )
    .unwrap();
    assert_eq!(imported.key().expose_secret(), key.expose_secret());
    assert_eq!(imported.header().as_str(), header);
    assert_eq!(imported.kdh(), &pki.kdh.cert.issuer_and_serial_number());
    assert_eq!(imported.signing_time(), None);
}

#[test]
fn tdes_keys_travel_under_every_krd_size_in_both_forms() {
    for form in Form::ALL {
        for krd in [
            RsaKeySize::Rsa2048,
            RsaKeySize::Rsa3072,
            RsaKeySize::Rsa4096,
        ] {
            round_trip(
                RsaKeySize::Rsa2048,
                krd,
                form,
                "D9999K0TB00E0000",
                "0123456789ABCDEFFEDCBA9876543210",
            );
            round_trip(
                RsaKeySize::Rsa2048,
                krd,
                form,
                "A0256B0TX00N0000",
                "0123456789ABCDEFFEDCBA98765432100011223344556677",
            );
        }
    }
}

#[test]
fn a_header_with_optional_blocks_travels_verbatim() {
    for form in Form::ALL {
        round_trip(
            RsaKeySize::Rsa2048,
            RsaKeySize::Rsa2048,
            form,
            "D0000B0TX00E0100KS1800604B120F9292800000",
            "0123456789ABCDEFFEDCBA9876543210",
        );
    }
}

#[test]
fn aes_128_travels_under_rsa_3072_and_4096_with_any_kdh_size() {
    for form in Form::ALL {
        for (kdh, krd) in [
            (RsaKeySize::Rsa3072, RsaKeySize::Rsa3072),
            (RsaKeySize::Rsa2048, RsaKeySize::Rsa4096),
            (RsaKeySize::Rsa4096, RsaKeySize::Rsa3072),
        ] {
            round_trip(
                kdh,
                krd,
                form,
                "D0256K0AB00E0000",
                "00112233445566778899AABBCCDDEEFF",
            );
        }
    }
}

#[test]
fn the_import_returns_the_attributes_and_the_service_kcv() {
    let pki = pki(RsaKeySize::Rsa2048, RsaKeySize::Rsa3072);
    for (header, key_hex, algorithm, method) in [
        (
            "D9999P0TE00S0000",
            "0123456789ABCDEFFEDCBA9876543210",
            KeyAlgorithm::Tdes2Key,
            KcvMethod::AnsiX924,
        ),
        (
            "D9999D0AD01N0000",
            "2B7E151628AED2A6ABF7158809CF4F3C",
            KeyAlgorithm::Aes128,
            KcvMethod::Cmac,
        ),
    ] {
        let key = KeyMaterial::from_hex("key", key_hex).unwrap();
        let request = export_request(
            pki,
            Form::default(),
            header,
            ExportMode::TwoPass { nonce: NONCE },
        );
        let token = token::export(&key, &request, &pki.kdh.key, &mut OsRandom).unwrap();
        let imported = token::import(
            &token,
            &pki.krd.key,
            &import_request(pki, Form::default(), ImportMode::TwoPass { nonce: NONCE }),
        )
        .unwrap();
        assert_eq!(imported.key_algorithm(), algorithm);
        let attributes = imported.key_attributes().unwrap();
        assert_eq!(attributes.key_algorithm, algorithm);
        let header: KeyBlockHeader = header.parse().unwrap();
        assert_eq!(attributes.key_usage, header.key_usage());
        let kcv = imported.key_check_value().unwrap();
        let software = payhsm_core::crypto::SoftwareKey::new(algorithm, &key).unwrap();
        let expected = payhsm_core::kcv::compute(&software, method, 3).unwrap();
        assert_eq!(kcv.as_bytes(), expected.as_bytes());
    }
    // The published AES-128 CMAC KCV of the X9.143 §8.1 key (vectors/data/kcv.json).
    let key = KeyMaterial::from_hex("key", "3F419E1CB7079442AA37474C2EFBF8B8").unwrap();
    let request = export_request(
        pki,
        Form::default(),
        "D0256K0AB00E0000",
        ExportMode::TwoPass { nonce: NONCE },
    );
    let token = token::export(&key, &request, &pki.kdh.key, &mut OsRandom).unwrap();
    let imported = token::import(
        &token,
        &pki.krd.key,
        &import_request(pki, Form::default(), ImportMode::TwoPass { nonce: NONCE }),
    )
    .unwrap();
    assert_eq!(
        imported.key_check_value().unwrap().as_bytes(),
        hex("08793E")
    );
    assert_eq!(imported.header().key_usage(), KeyUsage::K0);
    assert_eq!(imported.header().mode_of_use(), ModeOfUse::ENCRYPT_DECRYPT);
}

#[test]
fn one_pass_tokens_carry_a_signing_time_and_refuse_replays() {
    let pki = pki(RsaKeySize::Rsa2048, RsaKeySize::Rsa2048);
    let key = KeyMaterial::from_hex("key", "0123456789ABCDEFFEDCBA9876543210").unwrap();
    let signed = common::time("2026-05-31T12:00:00Z");
    let request = export_request(
        pki,
        Form::X9Tr34_2019,
        "D9999K0TB00E0000",
        ExportMode::OnePass {
            signing_time: signed,
        },
    );
    let token = token::export(&key, &request, &pki.kdh.key, &mut OsRandom).unwrap();
    let first = import_request(
        pki,
        Form::X9Tr34_2019,
        ImportMode::OnePass {
            after: common::time("2026-01-01T00:00:00Z"),
        },
    );
    let imported = token::import(&token, &pki.krd.key, &first).unwrap();
    assert_eq!(imported.signing_time(), Some(signed));
    // The replay bound is now the accepted token's signing time.
    let again = import_request(
        pki,
        Form::X9Tr34_2019,
        ImportMode::OnePass { after: signed },
    );
    assert!(matches!(
        token::import(&token, &pki.krd.key, &again),
        Err(Error::Freshness { .. })
    ));
    // A one-pass token has no nonce for a two-pass import.
    let two_pass = import_request(pki, Form::X9Tr34_2019, ImportMode::TwoPass { nonce: NONCE });
    assert!(matches!(
        token::import(&token, &pki.krd.key, &two_pass),
        Err(Error::Freshness { .. })
    ));
    // The service's form is two-pass only.
    let request = export_request(
        pki,
        Form::X9Tr34_2012,
        "D9999K0TB00E0000",
        ExportMode::OnePass {
            signing_time: signed,
        },
    );
    assert!(matches!(
        token::export(&key, &request, &pki.kdh.key, &mut OsRandom),
        Err(Error::Unsupported { field: "form", .. })
    ));
}

#[test]
fn a_token_in_one_form_does_not_import_as_the_other() {
    let pki = pki(RsaKeySize::Rsa2048, RsaKeySize::Rsa2048);
    let key = KeyMaterial::from_hex("key", "0123456789ABCDEFFEDCBA9876543210").unwrap();
    for form in Form::ALL {
        let other = if form == Form::X9Tr34_2012 {
            Form::X9Tr34_2019
        } else {
            Form::X9Tr34_2012
        };
        let request = export_request(
            pki,
            form,
            "D9999K0TB00E0000",
            ExportMode::TwoPass { nonce: NONCE },
        );
        let token = token::export(&key, &request, &pki.kdh.key, &mut OsRandom).unwrap();
        let result = token::import(
            &token,
            &pki.krd.key,
            &import_request(pki, other, ImportMode::TwoPass { nonce: NONCE }),
        );
        assert!(
            matches!(
                result,
                Err(Error::Unsupported {
                    field: "SignedData version",
                    ..
                })
            ),
            "{result:?}"
        );
    }
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
