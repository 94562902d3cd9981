//! A Marvin-style timing measurement of the RSA private-key path (issue 14, T-RSA-5): RSA-2048
//! OAEP-SHA256 decryption on aws-lc-rs (`SoftwareRsaKey`, the path TR-34 imports, key
//! cryptograms and `DecryptData` take), timed per call for three classes of ciphertext,
//! interleaved in a shuffled order so that drift and load fall on every class alike:
//!
//! - `valid`: OAEP-SHA256 ciphertexts of random 32-byte keys;
//! - `pkcs1`: PKCS#1 v1.5 ciphertexts, whose plaintext starts with the zero byte OAEP wants
//!   and then fails the label hash check;
//! - `random`: random values below the modulus, whose plaintext almost never starts with zero.
//!
//! It prints each class's median and trimmed mean, and Welch's t between `valid` and each
//! invalid class on the trimmed samples (|t| above about 5 means a leak worth chasing; under
//! load the noise floor rises, so run it on a quiet machine for a verdict).
//!
//! ```sh
//! cargo bench -p payhsm-benches --bench marvin [-- samples per class, default 20000]
//! ```

use std::time::Instant;

use payhsm_core::rng::{OsRandom, RandomSource as _};
use payhsm_tr34::rsa::{
    EncryptionPadding, OaepHash, RsaKeySize, RsaPrivateKey as _, SoftwareRsaKey,
};

const CLASSES: [&str; 3] = ["valid", "pkcs1", "random"];

fn main() {
    let samples: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).expect("an RSA key");
    let public = key.public_key();
    let k = public.modulus_len();
    let mut rng = OsRandom;
    let mut secret = [0u8; 32];
    let mut make = |class: usize| -> Vec<u8> {
        rng.fill(&mut secret).unwrap();
        match class {
            0 => public
                .encrypt(
                    EncryptionPadding::Oaep(OaepHash::Sha256),
                    &secret,
                    &mut OsRandom,
                )
                .unwrap(),
            1 => public
                .encrypt(EncryptionPadding::Pkcs1, &secret, &mut OsRandom)
                .unwrap(),
            _ => {
                let mut c = vec![0u8; k];
                OsRandom.fill(&mut c[1..]).unwrap();
                c
            }
        }
    };
    // A shuffled schedule of (class, ciphertext): each class `samples` times.
    let mut schedule: Vec<(usize, Vec<u8>)> = (0..samples * CLASSES.len())
        .map(|i| (i % CLASSES.len(), make(i % CLASSES.len())))
        .collect();
    for i in (1..schedule.len()).rev() {
        let mut r = [0u8; std::mem::size_of::<usize>()];
        OsRandom.fill(&mut r).unwrap();
        let j = usize::from_le_bytes(r) % (i + 1);
        schedule.swap(i, j);
    }
    // Warm-up.
    for (_, c) in schedule.iter().take(200) {
        let _ = std::hint::black_box(key.decrypt_oaep(OaepHash::Sha256, c));
    }
    let mut times: [Vec<f64>; 3] = Default::default();
    for (class, c) in &schedule {
        let start = Instant::now();
        let out = key.decrypt_oaep(OaepHash::Sha256, std::hint::black_box(c));
        let ns = start.elapsed().as_nanos() as f64;
        assert_eq!(
            out.is_ok(),
            *class == 0,
            "class {} decrypted wrongly",
            CLASSES[*class]
        );
        times[*class].push(ns);
    }
    let trimmed: Vec<Vec<f64>> = times
        .iter_mut()
        .map(|t| {
            t.sort_by(f64::total_cmp);
            // Interrupts and preemption only ever add time: drop the slowest 5%.
            t[..t.len() * 95 / 100].to_vec()
        })
        .collect();
    let stats = |t: &[f64]| {
        let n = t.len() as f64;
        let mean = t.iter().sum::<f64>() / n;
        let var = t.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var, n)
    };
    println!("RSA-2048 OAEP-SHA256 decryption on aws-lc-rs, {samples} samples per class");
    let (m0, v0, n0) = stats(&trimmed[0]);
    for (i, name) in CLASSES.iter().enumerate() {
        let (m, v, n) = stats(&trimmed[i]);
        let median = times[i][times[i].len() / 2];
        let t = if i == 0 {
            0.0
        } else {
            (m - m0) / (v / n + v0 / n0).sqrt()
        };
        println!(
            "{name:>7}: median {:>9.0} ns, trimmed mean {:>9.0} ns ({:+.3}% of valid), Welch t vs valid {t:+.2}",
            median,
            m,
            (m / m0 - 1.0) * 100.0
        );
    }
}
