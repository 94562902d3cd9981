//! The callers' side of the asymmetric tests: CAs, KDH and KRD parties built with
//! `payhsm-tr34` alone (once per test binary), certificates as the service exchanges them,
//! and the independent Python TR-34 implementation.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
};

use base64ct::{Base64, Encoding};
use payhsm_core::rng::OsRandom;
use payhsm_tr34::{
    DateTime,
    cert::{self, Certificate, CertificateTemplate, Issuer, Role},
    rsa::{RsaKeySize, RsaPrivateKey, SoftwareRsaKey},
};
use serde_json::Value;

/// A key and its certificate.
pub struct Party {
    pub key: SoftwareRsaKey,
    pub cert: Certificate,
}

fn time(s: &str) -> DateTime {
    s.parse().unwrap()
}

/// Valid around the harness clock (late 2026).
fn template(role: Role) -> CertificateTemplate {
    CertificateTemplate {
        role,
        not_before: time("2024-01-01T00:00:00Z"),
        not_after: time("2034-01-01T00:00:00Z"),
        serial_number: None,
    }
}

fn self_signed(name: &str, size: RsaKeySize, template: &CertificateTemplate) -> Party {
    let key = SoftwareRsaKey::generate(size).unwrap();
    let cert = cert::issue(
        name,
        key.public_key(),
        template,
        Issuer::SelfSigned(&key),
        &mut OsRandom,
    )
    .unwrap();
    Party { key, cert }
}

fn issued(ca: &Party, name: &str, size: RsaKeySize, role: Role) -> Party {
    let key = SoftwareRsaKey::generate(size).unwrap();
    let cert = cert::issue(
        name,
        key.public_key(),
        &template(role),
        Issuer::Ca {
            certificate: &ca.cert,
            key: &ca.key,
        },
        &mut OsRandom,
    )
    .unwrap();
    Party { key, cert }
}

/// One party per name, made once per test binary (parties made from other parties: the lock
/// is not held while making one; two tests racing may both make it, and the first one stays).
fn cached(name: &'static str, make: impl FnOnce() -> Party) -> &'static Party {
    static CACHE: OnceLock<Mutex<HashMap<&'static str, &'static Party>>> = OnceLock::new();
    let cache = || CACHE.get_or_init(Default::default).lock().unwrap();
    if let Some(party) = cache().get(name) {
        return party;
    }
    let made: &'static Party = Box::leak(Box::new(make()));
    cache().entry(name).or_insert(made)
}

/// The callers' CA (RSA-2048).
pub fn ca() -> &'static Party {
    cached("ca", || {
        self_signed(
            "CN=payhsm test CA,O=payhsm,C=US",
            RsaKeySize::Rsa2048,
            &template(Role::Ca),
        )
    })
}

/// Another CA, which the HSM does not trust.
pub fn other_ca() -> &'static Party {
    cached("other_ca", || {
        self_signed(
            "CN=payhsm other CA,O=payhsm,C=US",
            RsaKeySize::Rsa2048,
            &template(Role::Ca),
        )
    })
}

/// A root CA of `size` (for public-key imports of every size).
pub fn root(size: RsaKeySize) -> &'static Party {
    let make = move || {
        self_signed(
            &format!("CN=payhsm test root {},O=payhsm", size.bits()),
            size,
            &template(Role::Ca),
        )
    };
    match size {
        RsaKeySize::Rsa2048 => ca(),
        RsaKeySize::Rsa3072 => cached("root3072", make),
        RsaKeySize::Rsa4096 => cached("root4096", make),
    }
}

/// A CA whose certificate expired in 2021.
pub fn expired_ca() -> &'static Party {
    cached("expired_ca", || {
        self_signed(
            "CN=payhsm expired CA,O=payhsm",
            RsaKeySize::Rsa2048,
            &CertificateTemplate {
                role: Role::Ca,
                not_before: time("2020-01-01T00:00:00Z"),
                not_after: time("2021-01-01T00:00:00Z"),
                serial_number: None,
            },
        )
    })
}

/// A KDH certified by [`ca`].
pub fn kdh() -> &'static Party {
    cached("kdh", || {
        issued(
            ca(),
            "CN=payhsm test KDH,O=payhsm",
            RsaKeySize::Rsa2048,
            Role::Kdh,
        )
    })
}

/// A KDH certified by [`other_ca`].
pub fn foreign_kdh() -> &'static Party {
    cached("foreign_kdh", || {
        issued(
            other_ca(),
            "CN=payhsm foreign KDH,O=payhsm",
            RsaKeySize::Rsa2048,
            Role::Kdh,
        )
    })
}

/// A KRD of `size` certified by [`ca`].
pub fn krd(size: RsaKeySize) -> &'static Party {
    let make = move || {
        issued(
            ca(),
            &format!("CN=payhsm test KRD {},O=payhsm", size.bits()),
            size,
            Role::Krd,
        )
    };
    match size {
        RsaKeySize::Rsa2048 => cached("krd2048", make),
        RsaKeySize::Rsa3072 => cached("krd3072", make),
        RsaKeySize::Rsa4096 => cached("krd4096", make),
    }
}

/// A KRD certified by [`other_ca`].
pub fn foreign_krd() -> &'static Party {
    cached("foreign_krd", || {
        issued(
            other_ca(),
            "CN=payhsm foreign KRD,O=payhsm",
            RsaKeySize::Rsa2048,
            Role::Krd,
        )
    })
}

/// A certificate as the service exchanges it: base64 of the PEM text.
pub fn b64(cert: &Certificate) -> String {
    Base64::encode_string(cert.to_pem().unwrap().as_bytes())
}

/// A certificate the service returned.
pub fn from_b64(text: &Value) -> Certificate {
    let pem = Base64::decode_vec(text.as_str().unwrap()).unwrap();
    Certificate::from_pem(std::str::from_utf8(&pem).unwrap()).unwrap()
}

/// The Python with `tr34/tests/interop/requirements.txt` and `tests/interop/requirements.txt`,
/// from `PAYHSM_PYTHON`. Without it
/// the interop parts are skipped with a message, except under `CI=true`, where they fail.
pub fn python() -> Option<PathBuf> {
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

/// Runs the independent implementation (`tr34/tests/interop/make_token.py`).
pub fn make_token(python: &Path, args: &[&str]) -> Value {
    run_script(python, "../tr34/tests/interop/make_token.py", args)
}

/// Runs the independent RSA peer (`tests/interop/rsa_peer.py`: key cryptograms, RSA data
/// encryption, CSR parsing).
pub fn rsa_peer(python: &Path, args: &[&str]) -> Value {
    run_script(python, "tests/interop/rsa_peer.py", args)
}

/// Runs a Python script (a path from the crate's root) and reads the JSON it prints.
fn run_script(python: &Path, script: &str, args: &[&str]) -> Value {
    run_script_with_input(python, script, args, None)
}

/// As [`run_script`], with `input` as JSON on the script's standard input.
pub fn run_script_with_input(
    python: &Path,
    script: &str,
    args: &[&str],
    input: Option<&Value>,
) -> Value {
    use std::{io::Write as _, process::Stdio};
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let mut child = Command::new(python)
        .arg(&script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(input) = input {
        stdin.write_all(input.to_string().as_bytes()).unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{} {}: {}",
        script.display(),
        args[0],
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A fresh scratch directory.
pub fn scratch_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "payhsm-keystore-tr34-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// An ECC party for key agreement: its P-256 key and its certificate (keyUsage keyAgreement)
/// from [`ca`], base64 of the PEM text as the service takes it.
pub struct EcParty {
    pub key: payhsm_keystore::ecc::SoftwareEcKey,
    pub cert_b64: String,
}

/// The ECC party of [`ca`], made once per test binary.
pub fn ecdh_party() -> &'static EcParty {
    use payhsm_keystore::ecc::{Curve, EcPrivateKey as _, SoftwareEcKey};
    static PARTY: std::sync::OnceLock<EcParty> = std::sync::OnceLock::new();
    PARTY.get_or_init(|| {
        let ca = ca();
        let key = SoftwareEcKey::generate(Curve::P256).unwrap();
        let der = cert::issue_der(
            "CN=ECDH party,O=payhsm tests",
            &key.public_key().to_spki().unwrap(),
            &template(Role::KeyAgreement),
            Issuer::Ca {
                certificate: &ca.cert,
                key: &ca.key,
            },
            &mut OsRandom,
        )
        .unwrap();
        let pem = payhsm_tr34::der::pem::encode_string(
            "CERTIFICATE",
            payhsm_tr34::der::pem::LineEnding::LF,
            &der,
        )
        .unwrap();
        EcParty {
            key,
            cert_b64: <base64ct::Base64 as base64ct::Encoding>::encode_string(pem.as_bytes()),
        }
    })
}
