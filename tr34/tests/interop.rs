//! Interoperability with an independent TR-34 implementation (`tests/interop/make_token.py`,
//! pyca/cryptography with its own DER code, written from the layout of AWS Payment
//! Cryptography's samples for `X9_TR34_2012` and from RFC 5652 for `X9_TR34_2019`): it builds
//! tokens payhsm imports, and opens the tokens payhsm exports, in both forms, two-pass and
//! (2019) one-pass. `tests/tokens.rs` holds tokens it built with fixed randomness.
//!
//! The tests need `PAYHSM_PYTHON`: a Python with `tests/interop/requirements.txt` installed
//! (CI creates it). Without it they are skipped with a message, except under `CI=true`,
//! where they fail.

mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicUsize, Ordering},
};

use common::{Pki, pki};
use payhsm_core::{rng::OsRandom, secret::KeyMaterial};
use payhsm_tr34::{
    cert::Certificate,
    now,
    rsa::RsaKeySize,
    token::{self, ExportMode, ExportRequest, Form, ImportMode, ImportRequest},
};
use serde_json::Value;

/// (header, key, KDH size, KRD size, nonce): TDES-2, TDES-3 and AES-128. The 16-byte nonce
/// and the header with an optional block put the X9_TR34_2012 signed attributes out of DER
/// order.
const CASES: [(&str, &str, RsaKeySize, RsaKeySize, &str); 3] = [
    (
        "D9999K0TB00E0000",
        "0123456789ABCDEFFEDCBA9876543210",
        RsaKeySize::Rsa2048,
        RsaKeySize::Rsa2048,
        "0F1E2D3C4B5A6978",
    ),
    (
        "D9999B0TX00N0100KS1800604B120F9292800000",
        "89ABCDEF0123456776543210FEDCBA980011223344556677",
        RsaKeySize::Rsa3072,
        RsaKeySize::Rsa4096,
        "000102030405060708090A0B0C0D0E0F",
    ),
    (
        "D9999K0AB00E0000",
        "00112233445566778899AABBCCDDEEFF",
        RsaKeySize::Rsa4096,
        RsaKeySize::Rsa3072,
        "F0E1D2C3B4A59687",
    ),
];

fn python() -> Option<PathBuf> {
    match std::env::var_os("PAYHSM_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but PAYHSM_PYTHON is not set: the TR-34 interop tests cannot run")
        }
        None => {
            eprintln!(
                "skipped: set PAYHSM_PYTHON to a Python with tr34/tests/interop/requirements.txt"
            );
            None
        }
    }
}

fn script(python: &Path, args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/make_token.py");
    let output = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "make_token.py {}: {}",
        args[0],
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn scratch_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "payhsm-tr34-interop-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A token the independent implementation builds for `krd`, signed by a KDH it makes under a
/// CA of its own (as the AWS sample does): the token, the KDH and the CA certificates.
fn build(
    python: &Path,
    dir: &Path,
    krd: &Certificate,
    form: Form,
    (header, key): (&str, &str),
    freshness: [&str; 2],
) -> (Vec<u8>, Certificate, Certificate) {
    let krd_pem = write(dir, "krd.pem", &krd.to_pem().unwrap());
    let out = script(
        python,
        &[
            "import-token",
            "--krd-cert",
            &krd_pem,
            "--key",
            key,
            "--header",
            header,
            freshness[0],
            freshness[1],
            "--form",
            form.name(),
            "--out-dir",
            dir.to_str().unwrap(),
        ],
    );
    let read =
        |name: &str| Certificate::from_pem(&std::fs::read_to_string(dir.join(name)).unwrap());
    let token = common::hex(out["token"].as_str().unwrap());
    (token, read("kdh.pem").unwrap(), read("kdh_ca.pem").unwrap())
}

/// The independent implementation opens a token payhsm exported with `pki`'s KDH and KRD.
fn open(
    python: &Path,
    dir: &Path,
    pki: &Pki,
    form: Form,
    token: &[u8],
    freshness: &[&str],
) -> Value {
    let token = payhsm_core::hex::encode(token);
    let files = [
        write(dir, "krd_key.pem", &pki.krd.key.to_pkcs8_pem().unwrap()),
        write(dir, "krd.pem", &pki.krd.cert.to_pem().unwrap()),
        write(dir, "kdh.pem", &pki.kdh.cert.to_pem().unwrap()),
        write(dir, "ca.pem", &pki.ca.cert.to_pem().unwrap()),
    ];
    let [krd_key, krd, kdh, ca] = files.each_ref().map(String::as_str);
    let args = [
        &["open-token", "--token", &token][..],
        freshness,
        &[
            "--krd-key",
            krd_key,
            "--krd-cert",
            krd,
            "--kdh-cert",
            kdh,
            "--ca-cert",
            ca,
            "--form",
            form.name(),
        ],
    ]
    .concat();
    script(python, &args)
}

#[test]
fn payhsm_imports_tokens_the_independent_implementation_builds() {
    let Some(python) = python() else { return };
    for form in Form::ALL {
        for (header, key, _, krd_size, nonce) in CASES {
            let pki = pki(RsaKeySize::Rsa2048, krd_size);
            let dir = scratch_dir();
            let (token, kdh, ca) = build(
                &python,
                &dir,
                &pki.krd.cert,
                form,
                (header, key),
                ["--nonce", nonce],
            );
            let nonce = common::hex(nonce);
            let request = ImportRequest {
                form,
                krd_certificate: Some(&pki.krd.cert),
                ..ImportRequest::two_pass(&kdh, &ca, now().unwrap(), &nonce)
            };
            let imported = token::import(&token, &pki.krd.key, &request)
                .unwrap_or_else(|e| panic!("{form} {header}: {e}"));
            assert_eq!(
                imported.key().expose_secret(),
                common::hex(key),
                "{form} {header}"
            );
            assert_eq!(imported.header().as_str(), header);
            assert_eq!(imported.kdh(), &kdh.issuer_and_serial_number());
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}

#[test]
fn the_independent_implementation_opens_tokens_payhsm_exports() {
    let Some(python) = python() else { return };
    for form in Form::ALL {
        for (header, key, kdh_size, krd_size, nonce) in CASES {
            let pki = pki(kdh_size, krd_size);
            let nonce_bytes = common::hex(nonce);
            let request = ExportRequest {
                form,
                kdh_certificate: &pki.kdh.cert,
                krd_certificate: &pki.krd.cert,
                krd_trust: None,
                mode: ExportMode::TwoPass {
                    nonce: &nonce_bytes,
                },
                header: header.parse().unwrap(),
            };
            let secret = KeyMaterial::from_hex("key", key).unwrap();
            let token = token::export(&secret, &request, &pki.kdh.key, &mut OsRandom).unwrap();
            let dir = scratch_dir();
            let out = open(&python, &dir, pki, form, &token, &["--nonce", nonce]);
            assert_eq!(out["key"], key, "{form} {header}");
            assert_eq!(out["header"], header, "{form} {header}");
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}

#[test]
fn one_pass_tokens_travel_both_ways_in_the_2019_form() {
    let Some(python) = python() else { return };
    let (header, key) = ("D9999K0TB00E0000", "0123456789ABCDEFFEDCBA9876543210");
    let form = Form::X9Tr34_2019;
    let signed = common::time("2025-01-01T00:00:00Z");
    let pki = pki(RsaKeySize::Rsa2048, RsaKeySize::Rsa2048);
    let dir = scratch_dir();

    // Built by the independent implementation, imported by payhsm.
    let (token, kdh, ca) = build(
        &python,
        &dir,
        &pki.krd.cert,
        form,
        (header, key),
        ["--signing-time", "2025-01-01T00:00:00Z"],
    );
    let request = ImportRequest {
        form,
        krd_certificate: Some(&pki.krd.cert),
        mode: ImportMode::OnePass {
            after: common::time("2024-12-31T00:00:00Z"),
        },
        ..ImportRequest::two_pass(&kdh, &ca, now().unwrap(), &[])
    };
    let imported = token::import(&token, &pki.krd.key, &request).unwrap();
    assert_eq!(imported.key().expose_secret(), common::hex(key));
    assert_eq!(imported.signing_time(), Some(signed));

    // Exported by payhsm, opened by the independent implementation.
    let request = ExportRequest {
        form,
        kdh_certificate: &pki.kdh.cert,
        krd_certificate: &pki.krd.cert,
        krd_trust: None,
        mode: ExportMode::OnePass {
            signing_time: signed,
        },
        header: header.parse().unwrap(),
    };
    let secret = KeyMaterial::from_hex("key", key).unwrap();
    let token = token::export(&secret, &request, &pki.kdh.key, &mut OsRandom).unwrap();
    let out = open(&python, &dir, pki, form, &token, &["--one-pass"]);
    assert_eq!(out["key"], key);
    assert_eq!(out["signing_time"], "250101000000Z");
    std::fs::remove_dir_all(dir).unwrap();
}
