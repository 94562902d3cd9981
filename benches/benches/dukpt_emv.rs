//! DUKPT and EMV: TDES DUKPT transaction keys by the number of counter bits set (1, 9 and 10,
//! the worst case X9.24-1 allows), AES DUKPT working keys, and ARQC verification including
//! master and session key derivation.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use payhsm_core::{
    crypto::SoftwareKey,
    dukpt::{self, Bdk, Ksn, WorkingKeyUsage},
    emv::{self, Card, PanSequenceNumber, mkd::MasterKeyDerivation, session::SessionKeyDerivation},
    fields::Pan,
    key::KeyAlgorithm,
    mac::Padding,
    secret::KeyMaterial,
};

fn tdes_dukpt(c: &mut Criterion) {
    let bdk = KeyMaterial::from_hex("bdk", "0123456789ABCDEFFEDCBA9876543210").unwrap();
    let mut g = c.benchmark_group("dukpt");
    // Counters with 1, 9 and 10 one-bits.
    for (name, ksn) in [
        ("tdes_transaction_key_1bit", "FFFF9876543210E00001"),
        ("tdes_transaction_key_9bits", "FFFF9876543210E001FF"),
        ("tdes_transaction_key_10bits", "FFFF9876543210FFF800"),
    ] {
        let ksn = Ksn::from_hex(ksn).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| dukpt::derive(Bdk::Tdes(&bdk), black_box(&ksn), None, None).unwrap());
        });
    }
    let aes =
        SoftwareKey::from_hex(KeyAlgorithm::Aes128, "FEDCBA9876543210F1F1F1F1F1F1F1F1").unwrap();
    let ksn = Ksn::from_hex("123456789012345600000008").unwrap();
    g.bench_function("aes128_working_key", |b| {
        b.iter(|| {
            dukpt::working_key(
                Bdk::Aes(&aes),
                black_box(&ksn),
                WorkingKeyUsage::DataEncrypt,
                None,
            )
            .unwrap()
        });
    });
    g.finish();
}

fn arqc(c: &mut Criterion) {
    let imk =
        SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "0123456789ABCDEFFEDCBA9876543210").unwrap();
    let pan = Pan::new("12345678901234567").unwrap();
    let data = [0x5A; 33];
    let mut g = c.benchmark_group("emv");
    for (name, option) in [
        ("arqc_verify_option_a", MasterKeyDerivation::OptionA),
        ("arqc_verify_option_b", MasterKeyDerivation::OptionB),
    ] {
        let card = Card {
            pan: &pan,
            psn: PanSequenceNumber::new("01").unwrap(),
            option,
        };
        let d = SessionKeyDerivation::EmvCommon { atc: [0, 0x1C] };
        let arqc = emv::generate_arqc(&imk, &card, &d, &data, Padding::Method2).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                emv::verify_arqc(
                    &imk,
                    &card,
                    &d,
                    black_box(&data),
                    Padding::Method2,
                    arqc.as_bytes(),
                )
                .unwrap()
            });
        });
    }
    g.finish();
}

criterion_group!(benches, tdes_dukpt, arqc);
criterion_main!(benches);
