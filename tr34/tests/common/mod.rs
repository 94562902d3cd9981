//! Shared fixtures: a small PKI (CA, KDH, KRD) per RSA size, built with payhsm alone, and the
//! TR-34 Annex B sample credentials of `vectors/data/tr34.json`.
#![allow(dead_code, unreachable_pub)]

use std::{collections::HashMap, sync::Mutex, sync::OnceLock};

use payhsm_core::rng::OsRandom;
use payhsm_tr34::{
    DateTime,
    cert::{self, Certificate, CertificateTemplate, Issuer, Role},
    rsa::{RsaKeySize, RsaPrivateKey, SoftwareRsaKey},
};

/// A key and its certificate.
pub struct Party {
    pub key: SoftwareRsaKey,
    pub cert: Certificate,
}

/// A CA with a KDH and a KRD under it.
pub struct Pki {
    pub ca: Party,
    pub kdh: Party,
    pub krd: Party,
}

pub fn time(s: &str) -> DateTime {
    s.parse().unwrap()
}

/// Inside every fixture certificate's validity.
pub fn now() -> DateTime {
    time("2026-06-01T00:00:00Z")
}

pub fn template(role: Role) -> CertificateTemplate {
    CertificateTemplate {
        role,
        not_before: time("2024-01-01T00:00:00Z"),
        not_after: time("2034-01-01T00:00:00Z"),
        serial_number: None,
    }
}

pub fn new_ca(name: &str) -> Party {
    let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
    let cert = cert::issue(
        name,
        key.public_key(),
        &template(Role::Ca),
        Issuer::SelfSigned(&key),
        &mut OsRandom,
    )
    .unwrap();
    Party { key, cert }
}

pub fn issue(ca: &Party, name: &str, size: RsaKeySize, template: &CertificateTemplate) -> Party {
    let key = SoftwareRsaKey::generate(size).unwrap();
    let cert = cert::issue(
        name,
        key.public_key(),
        template,
        Issuer::Ca {
            certificate: &ca.cert,
            key: &ca.key,
        },
        &mut OsRandom,
    )
    .unwrap();
    Party { key, cert }
}

pub fn new_pki(kdh: RsaKeySize, krd: RsaKeySize) -> Pki {
    let ca = new_ca("CN=payhsm test CA,O=payhsm,C=US");
    Pki {
        kdh: issue(
            &ca,
            "CN=payhsm test KDH,O=payhsm,C=US",
            kdh,
            &template(Role::Kdh),
        ),
        krd: issue(
            &ca,
            "CN=payhsm test KRD,O=payhsm,C=US",
            krd,
            &template(Role::Krd),
        ),
        ca,
    }
}

/// One PKI per (KDH size, KRD size), built once per test binary.
pub fn pki(kdh: RsaKeySize, krd: RsaKeySize) -> &'static Pki {
    static CACHE: OnceLock<Mutex<HashMap<(RsaKeySize, RsaKeySize), &'static Pki>>> =
        OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache
        .entry((kdh, krd))
        .or_insert_with(|| Box::leak(Box::new(new_pki(kdh, krd))))
}

pub fn hex(s: &str) -> Vec<u8> {
    payhsm_core::hex::decode("hex", s).unwrap()
}

/// The entries of `vectors/data/tr34.json` (the TR-34 Annex B samples).
pub fn annex_b_vectors() -> Vec<serde_json::Value> {
    serde_json::from_str(include_str!("../../../vectors/data/tr34.json")).unwrap()
}

/// The entry `id` of `vectors/data/tr34.json`.
pub fn annex_b_entry(id: &str) -> serde_json::Value {
    annex_b_vectors()
        .into_iter()
        .find(|v| v["id"] == id)
        .unwrap()
}

/// A string at `path` in a JSON value.
pub fn field<'a>(v: &'a serde_json::Value, path: &[&str]) -> &'a str {
    path.iter().fold(v, |v, k| &v[*k]).as_str().unwrap()
}

/// An Annex B sample certificate.
pub fn annex_b_cert(id: &str) -> Certificate {
    Certificate::from_der(&hex(field(
        &annex_b_entry(id),
        &["inputs", "certificate_der"],
    )))
    .unwrap()
}

/// The private key of an Annex B sample certificate (KDH 1 and KRD 1 have one).
pub fn annex_b_key(id: &str) -> SoftwareRsaKey {
    SoftwareRsaKey::from_pkcs8_der(&hex(field(
        &annex_b_entry(id),
        &["inputs", "private_key_pkcs8_der"],
    )))
    .unwrap()
}
