//! Card, PIN and MAC operations on software keys: CVV, PVV, IBM 3624 offset, PIN block
//! encryption and translation (ISO 0 and ISO 4), retail MAC and AES-CMAC over 64 bytes and
//! 1 KiB.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use payhsm_core::{
    card::cvv,
    crypto::SoftwareKey,
    fields::{Expiry, Pan, ServiceCode},
    key::KeyAlgorithm,
    mac::{self, MacAlgorithm, Padding},
    pin::{
        Pin,
        block::{self, Fill, PinBlockFormat},
        decimalization::DecimalizationTable,
        ibm3624::{self, Ibm3624Params},
        pvv::{self, Pvki},
        translate::{self, TranslationContext},
    },
    rng::OsRandom,
};

const TDES2: &str = "0123456789ABCDEFFEDCBA9876543210";
const TDES2_B: &str = "89ABCDEF01234567FEDCBA9876543210";
const AES128: &str = "2B7E151628AED2A6ABF7158809CF4F3C";

fn key(algorithm: KeyAlgorithm, hex: &str) -> SoftwareKey {
    SoftwareKey::from_hex(algorithm, hex).unwrap()
}

fn card_and_pin(c: &mut Criterion) {
    let tdes = key(KeyAlgorithm::Tdes2Key, TDES2);
    let tdes_b = key(KeyAlgorithm::Tdes2Key, TDES2_B);
    let aes = key(KeyAlgorithm::Aes128, AES128);
    let pan = Pan::new("4123456789012345").unwrap();
    let expiry = Expiry::new("8701").unwrap();
    let sc = ServiceCode::new("101").unwrap();
    let pin = Pin::new("1234").unwrap();
    let mut g = c.benchmark_group("card");
    g.bench_function("cvv_generate", |b| {
        b.iter(|| cvv::generate(&tdes, black_box(&pan), &expiry, &sc, 3).unwrap());
    });
    g.bench_function("pvv_generate", |b| {
        let pvki = Pvki::new(1).unwrap();
        b.iter(|| pvv::generate(&tdes, black_box(&pan), &pin, pvki).unwrap());
    });
    g.bench_function("ibm3624_offset", |b| {
        let params =
            Ibm3624Params::new(DecimalizationTable::STANDARD, "4123456789012", "F").unwrap();
        b.iter(|| ibm3624::offset(&tdes, black_box(&params), &pin).unwrap());
    });
    for (name, format, k_in, k_out) in [
        ("iso0", PinBlockFormat::Iso0, &tdes, &tdes_b),
        ("iso4", PinBlockFormat::Iso4, &aes, &aes),
    ] {
        g.bench_function(format!("pin_block_encrypt_{name}"), |b| {
            b.iter(|| {
                block::encrypt(
                    k_in,
                    format,
                    black_box(&pin),
                    Some(&pan),
                    Fill::Random(&mut OsRandom),
                )
                .unwrap()
            });
        });
        let e =
            block::encrypt(k_in, format, &pin, Some(&pan), Fill::Random(&mut OsRandom)).unwrap();
        g.bench_function(format!("pin_translate_{name}"), |b| {
            b.iter(|| {
                translate::translate(
                    k_in,
                    format,
                    black_box(&e),
                    Some(&pan),
                    k_out,
                    format,
                    None,
                    TranslationContext::Online,
                    &mut OsRandom,
                )
                .unwrap()
            });
        });
    }
    g.finish();
}

fn macs(c: &mut Criterion) {
    let tdes = key(KeyAlgorithm::Tdes2Key, TDES2);
    let aes = key(KeyAlgorithm::Aes128, AES128);
    let mut g = c.benchmark_group("mac");
    for (size, label) in [(64usize, "64B"), (1024, "1KiB")] {
        let msg = vec![0x5Au8; size];
        g.bench_function(format!("retail_mac_{label}"), |b| {
            b.iter(|| {
                mac::generate(
                    &tdes,
                    MacAlgorithm::Iso9797Algorithm3,
                    black_box(&msg),
                    Padding::Method1,
                    None,
                )
                .unwrap()
            });
        });
        g.bench_function(format!("aes_cmac_{label}"), |b| {
            b.iter(|| {
                mac::generate(
                    &aes,
                    MacAlgorithm::Cmac,
                    black_box(&msg),
                    Padding::Method1,
                    None,
                )
                .unwrap()
            });
        });
    }
    g.finish();
}

criterion_group!(benches, card_and_pin, macs);
criterion_main!(benches);
