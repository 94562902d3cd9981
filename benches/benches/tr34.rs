//! TR-34 key transport: tokens exported (KDH) and imported (KRD) per second, for RSA-2048 and
//! RSA-3072 (KDH and KRD keys of the same size), in the service's form.
//!
//! Export is one OAEP encryption and one PKCS #1 signature; import is a chain check, a
//! signature check and one OAEP decryption, which dominates.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use payhsm_core::{rng::OsRandom, secret::KeyMaterial};
use payhsm_tr34::{
    DateTime,
    cert::{self, Certificate, CertificateTemplate, Issuer, Role},
    rsa::{RsaKeySize, RsaPrivateKey, SoftwareRsaKey},
    token::{self, ExportMode, ExportRequest, Form, ImportRequest},
};

const NONCE: &[u8] = &[0x5A; 8];

struct Party {
    key: SoftwareRsaKey,
    cert: Certificate,
}

fn time(s: &str) -> DateTime {
    s.parse().unwrap()
}

fn party(role: Role, size: RsaKeySize, ca: Option<&Party>) -> Party {
    let key = SoftwareRsaKey::generate(size).unwrap();
    let template = CertificateTemplate {
        role,
        not_before: time("2024-01-01T00:00:00Z"),
        not_after: time("2034-01-01T00:00:00Z"),
        serial_number: None,
    };
    let issuer = match ca {
        Some(ca) => Issuer::Ca {
            certificate: &ca.cert,
            key: &ca.key,
        },
        None => Issuer::SelfSigned(&key),
    };
    let cert = cert::issue(
        "CN=bench,O=payhsm",
        key.public_key(),
        &template,
        issuer,
        &mut OsRandom,
    )
    .unwrap();
    Party { key, cert }
}

fn tr34(c: &mut Criterion) {
    let mut g = c.benchmark_group("tr34");
    g.throughput(Throughput::Elements(1));
    let key = KeyMaterial::from_hex("key", "0123456789ABCDEFFEDCBA9876543210").unwrap();
    for (name, size) in [
        ("rsa2048", RsaKeySize::Rsa2048),
        ("rsa3072", RsaKeySize::Rsa3072),
    ] {
        let ca = party(Role::Ca, RsaKeySize::Rsa2048, None);
        let kdh = party(Role::Kdh, size, Some(&ca));
        let krd = party(Role::Krd, size, Some(&ca));
        let request = ExportRequest {
            form: Form::X9Tr34_2012,
            kdh_certificate: &kdh.cert,
            krd_certificate: &krd.cert,
            krd_trust: None,
            mode: ExportMode::TwoPass { nonce: NONCE },
            header: "D0000K0TB00E0000".parse().unwrap(),
        };
        g.bench_function(format!("export/{name}"), |b| {
            b.iter(|| token::export(black_box(&key), &request, &kdh.key, &mut OsRandom).unwrap());
        });
        let block = token::export(&key, &request, &kdh.key, &mut OsRandom).unwrap();
        let import =
            ImportRequest::two_pass(&kdh.cert, &ca.cert, time("2026-01-01T00:00:00Z"), NONCE);
        g.bench_function(format!("import/{name}"), |b| {
            b.iter(|| token::import(black_box(&block), &krd.key, &import).unwrap());
        });
    }
    g.finish();
}

criterion_group!(benches, tr34);
criterion_main!(benches);
