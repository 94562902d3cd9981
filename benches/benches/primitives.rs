//! Block ciphers through key handles, key expansion and KCV; and, as references in the same
//! run, the RustCrypto `aes` and `des` crates called directly.
//!
//! `baseline/aes128_block` is the unit every figure is reported against (benches/ratios.py).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use payhsm_core::{
    crypto::{SoftwareKey, SymmetricKey},
    kcv::{self, KcvMethod},
    key::KeyAlgorithm,
    secret::KeyMaterial,
};

const TDES2: &str = "0123456789ABCDEFFEDCBA9876543210";
const TDES3: &str = "0123456789ABCDEFFEDCBA987654321089ABCDEF01234567";
const AES128: &str = "3F419E1CB7079442AA37474C2EFBF8B8";
const AES256: &str = "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6";

fn key(algorithm: KeyAlgorithm, hex: &str) -> SoftwareKey {
    SoftwareKey::from_hex(algorithm, hex).unwrap()
}

fn baseline(c: &mut Criterion) {
    let k = key(KeyAlgorithm::Aes128, AES128);
    c.bench_function("baseline/aes128_block", |b| {
        let mut block = [0u8; 16];
        b.iter(|| k.encrypt_ecb(black_box(&mut block)).unwrap());
    });
}

/// The RustCrypto ciphers without a key handle around them.
fn reference(c: &mut Criterion) {
    use cipher::{Array, BlockCipherEncrypt, KeyInit};
    let mut g = c.benchmark_group("reference");
    let material = KeyMaterial::from_hex("key", TDES2).unwrap();
    let tdes = des::TdesEde2::new_from_slice(material.expose_secret()).unwrap();
    g.bench_function("des_crate_tdes2_block", |b| {
        let mut block = Array::from([0u8; 8]);
        b.iter(|| tdes.encrypt_block(black_box(&mut block)));
    });
    g.bench_function("des_crate_tdes2_new", |b| {
        b.iter(|| des::TdesEde2::new_from_slice(black_box(material.expose_secret())).unwrap());
    });
    let material = KeyMaterial::from_hex("key", AES128).unwrap();
    let aes = aes::Aes128::new_from_slice(material.expose_secret()).unwrap();
    g.bench_function("aes_crate_aes128_block", |b| {
        let mut block = Array::from([0u8; 16]);
        b.iter(|| aes.encrypt_block(black_box(&mut block)));
    });
    g.finish();
}

fn blocks(c: &mut Criterion) {
    let mut g = c.benchmark_group("block");
    for (name, alg, hex, n) in [
        ("tdes2_block", KeyAlgorithm::Tdes2Key, TDES2, 8),
        ("tdes3_block", KeyAlgorithm::Tdes3Key, TDES3, 8),
        ("aes256_block", KeyAlgorithm::Aes256, AES256, 16),
    ] {
        let k = key(alg, hex);
        g.bench_function(name, |b| {
            let mut block = [0u8; 16];
            b.iter(|| k.encrypt_ecb(black_box(&mut block[..n])).unwrap());
        });
    }
    let k = key(KeyAlgorithm::Aes128, AES128);
    g.bench_function("aes128_cbc_1KiB", |b| {
        let mut data = [0u8; 1024];
        b.iter(|| k.encrypt_cbc(&[0; 16], black_box(&mut data)).unwrap());
    });
    let k = key(KeyAlgorithm::Tdes2Key, TDES2);
    g.bench_function("tdes2_cbc_1KiB", |b| {
        let mut data = [0u8; 1024];
        b.iter(|| k.encrypt_cbc(&[0; 8], black_box(&mut data)).unwrap());
    });
    g.finish();
}

/// What keeping the expanded schedule saves: expanding a key versus using an expanded one.
fn expansion(c: &mut Criterion) {
    let mut g = c.benchmark_group("expand");
    for (name, alg, hex) in [
        ("tdes2_new", KeyAlgorithm::Tdes2Key, TDES2),
        ("aes128_new", KeyAlgorithm::Aes128, AES128),
    ] {
        let material = KeyMaterial::from_hex("key", hex).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| SoftwareKey::new(alg, black_box(&material)).unwrap());
        });
    }
    g.finish();
}

fn kcvs(c: &mut Criterion) {
    let mut g = c.benchmark_group("kcv");
    let tdes = key(KeyAlgorithm::Tdes2Key, TDES2);
    g.bench_function("tdes_ansi_x9_24", |b| {
        b.iter(|| kcv::compute(black_box(&tdes), KcvMethod::AnsiX924, 3).unwrap());
    });
    let aes = key(KeyAlgorithm::Aes128, AES128);
    g.bench_function("aes_cmac", |b| {
        b.iter(|| kcv::compute(black_box(&aes), KcvMethod::Cmac, 3).unwrap());
    });
    g.finish();
}

criterion_group!(benches, baseline, reference, blocks, expansion, kcvs);
criterion_main!(benches);
