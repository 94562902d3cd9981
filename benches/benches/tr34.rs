//! TR-34 key transport: tokens exported (KDH) and imported (KRD) per second, for RSA-2048 and
//! RSA-3072 (KDH and KRD keys of the same size), in the service's form.
//!
//! Export is one OAEP encryption and one PKCS #1 signature; import is a chain check (its
//! certificate signature verified once per process), a signature check and one OAEP
//! decryption, which dominates; `decrypt_oaep/*` and `verify_signature/*` are those two RSA
//! operations alone, in the same run.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use payhsm_core::{rng::OsRandom, secret::KeyMaterial};
use payhsm_tr34::{
    DateTime,
    cert::{self, Certificate, CertificateTemplate, Issuer, Role},
    rsa::{OaepHash, RsaKeySize, RsaPrivateKey, SoftwareRsaKey},
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
        // The RSA work an import does, in the same run: one OAEP decryption (private key) and
        // the token's signature (public key); the KDH certificate's signature under the CA is
        // checked once per process (`Certificate::verify_signed_by` keeps its successes).
        let wrapped = krd
            .cert
            .public_key()
            .encrypt_oaep(OaepHash::Sha256, &[0x11; 32], &mut OsRandom)
            .unwrap();
        g.bench_function(format!("decrypt_oaep/{name}"), |b| {
            b.iter(|| {
                krd.key
                    .decrypt_oaep(OaepHash::Sha256, black_box(&wrapped))
                    .unwrap()
            });
        });
        let signature = kdh.key.sign_pkcs1_sha256(b"signed attributes").unwrap();
        g.bench_function(format!("verify_signature/{name}"), |b| {
            b.iter(|| {
                kdh.cert
                    .public_key()
                    .verify_pkcs1_sha256(black_box(b"signed attributes"), &signature)
                    .unwrap()
            });
        });
    }
    g.finish();
}

criterion_group!(benches, tr34);
criterion_main!(benches);
