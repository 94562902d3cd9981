//! Interoperability with an independent TR-34 implementation (`tests/interop/make_token.py`,
//! pyca/cryptography with its own DER code): it builds tokens payhsm imports, and opens the
//! tokens payhsm exports, in both forms.
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

use common::pki;
use payhsm_core::{rng::OsRandom, secret::KeyMaterial};
use payhsm_tr34::{
    cert::Certificate,
    now,
    rsa::RsaKeySize,
    token::{self, ExportMode, ExportRequest, Form, ImportRequest},
};
use serde_json::Value;

const CASES: [(&str, &str, RsaKeySize); 3] = [
    (
        "D9999K0TB00E0000",
        "0123456789ABCDEFFEDCBA9876543210",
        RsaKeySize::Rsa2048,
    ),
    (
        "D9999B0TX00N0000",
        "89ABCDEF0123456776543210FEDCBA980011223344556677",
        RsaKeySize::Rsa2048,
    ),
    (
        "D9999K0AB00E0000",
        "00112233445566778899AABBCCDDEEFF",
        RsaKeySize::Rsa3072,
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

#[test]
fn payhsm_imports_tokens_the_independent_implementation_builds() {
    let Some(python) = python() else { return };
    for form in Form::ALL {
        for (header, key, krd_size) in CASES {
            let pki = pki(RsaKeySize::Rsa2048, krd_size);
            let dir = scratch_dir();
            let krd_pem = write(&dir, "krd.pem", &pki.krd.cert.to_pem().unwrap());
            let out = script(
                &python,
                &[
                    "import-token",
                    "--krd-cert",
                    &krd_pem,
                    "--key",
                    key,
                    "--header",
                    header,
                    "--form",
                    form.name(),
                    "--out-dir",
                    dir.to_str().unwrap(),
                ],
            );
            let read = |name: &str| {
                Certificate::from_pem(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
            };
            let (kdh, ca) = (read("kdh.pem"), read("kdh_ca.pem"));
            let token = common::hex(out["token"].as_str().unwrap());
            let nonce = common::hex(out["nonce"].as_str().unwrap());
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
    let nonce = [0x0Fu8, 0x1E, 0x2D, 0x3C, 0x4B, 0x5A, 0x69, 0x78];
    for form in Form::ALL {
        for (header, key, krd_size) in CASES {
            let pki = pki(RsaKeySize::Rsa2048, krd_size);
            let request = ExportRequest {
                form,
                kdh_certificate: &pki.kdh.cert,
                krd_certificate: &pki.krd.cert,
                krd_trust: None,
                mode: ExportMode::TwoPass { nonce: &nonce },
                header: header.parse().unwrap(),
            };
            let secret = KeyMaterial::from_hex("key", key).unwrap();
            let token = token::export(&secret, &request, &pki.kdh.key, &mut OsRandom).unwrap();
            let dir = scratch_dir();
            let out = script(
                &python,
                &[
                    "open-token",
                    "--token",
                    &payhsm_core::hex::encode(&token),
                    "--nonce",
                    &payhsm_core::hex::encode(&nonce),
                    "--krd-key",
                    &write(&dir, "krd_key.pem", &pki.krd.key.to_pkcs8_pem().unwrap()),
                    "--krd-cert",
                    &write(&dir, "krd.pem", &pki.krd.cert.to_pem().unwrap()),
                    "--kdh-cert",
                    &write(&dir, "kdh.pem", &pki.kdh.cert.to_pem().unwrap()),
                    "--ca-cert",
                    &write(&dir, "ca.pem", &pki.ca.cert.to_pem().unwrap()),
                    "--form",
                    form.name(),
                ],
            );
            assert_eq!(out["key"], key, "{form} {header}");
            assert_eq!(out["header"], header, "{form} {header}");
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
