//! TR-31 / X9.143 key blocks: wrap and unwrap for versions B (TDES KBPK) and D (AES KBPK),
//! through a key handle whose schedule is already expanded (the HSM's steady state).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use payhsm_core::{crypto::SoftwareKey, key::KeyAlgorithm, rng::OsRandom};
use payhsm_tr31::{Header, Kbpk, UnwrapOptions, WrapOptions, unwrap, wrap};

const KEY: [u8; 16] = [
    0x3F, 0x41, 0x9E, 0x1C, 0xB7, 0x07, 0x94, 0x42, 0xAA, 0x37, 0x47, 0x4C, 0x2E, 0xFB, 0xF8, 0xB8,
];

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("tr31");
    for (name, algorithm, kbpk, header) in [
        (
            "B_tdes2",
            KeyAlgorithm::Tdes2Key,
            "DD7515F2BFC17F85CE48F3CA25CB21F6",
            "B0000P0TE00E0000",
        ),
        (
            "D_aes256",
            KeyAlgorithm::Aes256,
            "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6",
            "D0000P0AE00E0000",
        ),
    ] {
        let kbpk = SoftwareKey::from_hex(algorithm, kbpk).unwrap();
        let header = Header::parse(header).unwrap();
        let options = WrapOptions::default();
        let block = wrap(Kbpk::Key(&kbpk), &header, &KEY, &options, &mut OsRandom).unwrap();
        g.bench_function(format!("wrap_{name}"), |b| {
            b.iter(|| {
                wrap(
                    Kbpk::Key(&kbpk),
                    black_box(&header),
                    &KEY,
                    &options,
                    &mut OsRandom,
                )
                .unwrap()
            });
        });
        g.bench_function(format!("unwrap_{name}"), |b| {
            b.iter(|| {
                unwrap(
                    Kbpk::Key(&kbpk),
                    black_box(&block),
                    &UnwrapOptions::default(),
                )
                .unwrap()
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
