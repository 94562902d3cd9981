//! T-34-10 on stable Rust: the `tr34_import` fuzz body over its seed corpus and a few thousand
//! mutated inputs. No input may panic.
//!
//! `PAYHSM_WRITE_FUZZ_SEEDS=1 cargo test -p payhsm-tr34 --test fuzz_body` rewrites the seeds
//! (`fuzz/seeds/tr34_import`): the Annex B certificates and key blocks, a request, headers, and
//! a token in each form from KDH 1 to KRD 1.

#[allow(unreachable_pub, dead_code)]
#[path = "../../fuzz/src/tr34_import.rs"]
mod tr34_import;

#[allow(unreachable_pub, dead_code)]
#[path = "../../fuzz/src/xorshift.rs"]
mod xorshift;

use xorshift::Rng;

use std::path::PathBuf;

use payhsm_core::{rng::OsRandom, secret::KeyMaterial};
use payhsm_tr34::{
    cert::CertificateRequest,
    token::{self, ExportMode, ExportRequest, Form},
};

fn seed_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/seeds/tr34_import"
    ))
}

fn write_seeds() {
    let s = tr34_import::setup();
    let dir = seed_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let mut seeds: Vec<(String, Vec<u8>)> = vec![
        ("kdh1.cert".into(), s.kdh.to_der().to_vec()),
        ("ca_kdh.cert".into(), s.ca.to_der().to_vec()),
        ("krd1.cert".into(), s.krd.to_der().to_vec()),
        (
            "kdh1.csr".into(),
            CertificateRequest::create("CN=TR34 Sample KDH 1,O=TR34 Samples,C=US", &s.kdh_key)
                .unwrap()
                .to_der()
                .to_vec(),
        ),
        ("annex_b.header".into(), b"A0256K0TB00E0000".to_vec()),
        ("service.header".into(), b"D9999K0AB00E0000".to_vec()),
        (
            "optional_block.header".into(),
            b"D0000B0TX00E0100KS1800604B120F9292800000".to_vec(),
        ),
    ];
    let key = KeyMaterial::from_hex("key", "0123456789ABCDEFFEDCBA9876543210").unwrap();
    for form in Form::ALL {
        let request = ExportRequest {
            form,
            kdh_certificate: &s.kdh,
            krd_certificate: &s.krd,
            krd_trust: None,
            mode: ExportMode::TwoPass {
                nonce: tr34_import::NONCE,
            },
            header: "A0256K0TB00E0000".parse().unwrap(),
        };
        let token = token::export(&key, &request, &s.kdh_key, &mut OsRandom).unwrap();
        seeds.push((format!("{}.token", form.name()), token));
    }
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

fn seeds() -> Vec<Vec<u8>> {
    if std::env::var_os("PAYHSM_WRITE_FUZZ_SEEDS").is_some() {
        write_seeds();
    }
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(seed_dir())
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    assert_eq!(
        seeds.len(),
        9,
        "certificates, a request, headers and two tokens"
    );
    seeds
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut input = seed.to_vec();
    for _ in 0..=rng.below(3) {
        let at = rng.below(input.len());
        match rng.below(6) {
            0 if !input.is_empty() => input[at] ^= 1 << rng.below(8),
            1 if !input.is_empty() => input[at] = u8::try_from(rng.below(256)).unwrap(),
            2 => input.insert(at, u8::try_from(rng.below(256)).unwrap()),
            3 if !input.is_empty() => {
                let end = (at + 1 + rng.below(64)).min(input.len());
                input.drain(at..end);
            }
            4 => input.truncate(at),
            _ if !input.is_empty() => input[at] = [0x00, 0x80, 0x81, 0x82, 0xFF][rng.below(5)],
            _ => {}
        }
    }
    input
}

#[test]
fn no_input_panics() {
    let seeds = seeds();
    for seed in &seeds {
        tr34_import::run(seed);
    }
    let mut rng = Rng(0x7234_7234_7234_7234);
    for _ in 0..3000 {
        let seed = &seeds[rng.below(seeds.len())];
        tr34_import::run(&mutate(&mut rng, seed));
    }
}

#[test]
fn the_seed_tokens_import() {
    let s = tr34_import::setup();
    for form in Form::ALL {
        let token = std::fs::read(seed_dir().join(format!("{}.token", form.name()))).unwrap();
        let request = payhsm_tr34::token::ImportRequest {
            form,
            krd_certificate: Some(&s.krd),
            ..payhsm_tr34::token::ImportRequest::two_pass(
                &s.kdh,
                &s.ca,
                tr34_import::time(),
                tr34_import::NONCE,
            )
        };
        let imported = token::import(&token, &s.krd_key, &request).unwrap();
        assert_eq!(imported.header().as_str(), "A0256K0TB00E0000");
    }
}
