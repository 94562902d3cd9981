//! T-KB-14 on stable Rust: the `tr31_unwrap` fuzz body over the seed corpus and a few thousand
//! mutated and random inputs. No input may panic.

#[allow(unreachable_pub, dead_code)]
#[path = "../../fuzz/src/tr31_unwrap.rs"]
mod tr31_unwrap;

#[allow(unreachable_pub, dead_code)]
#[path = "../../fuzz/src/xorshift.rs"]
mod xorshift;

use xorshift::Rng;

use payhsm_tr31::KeyBlock;

fn seeds() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds/tr31_unwrap");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    assert_eq!(
        seeds.len(),
        52,
        "one block and one header per tr31.json key block"
    );
    seeds
}

/// Sets the length field to the text's length when it is 4 digits long, so mutants get past
/// the first check.
fn fix_length(input: &mut [u8]) {
    if input.len() > 5 && input.len() <= 9999 {
        let length = format!("{:04}", input.len());
        input[1..5].copy_from_slice(length.as_bytes());
    }
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut input = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(3) {
        let at = rng.below(input.len());
        match rng.below(8) {
            0 if !input.is_empty() => input[at] ^= 1 << rng.below(8),
            1 if !input.is_empty() => input[at] = b"0123456789ABCDEF0F"[rng.below(18)],
            2 => input.insert(at, u8::try_from(0x20 + rng.below(0x5F)).unwrap()),
            3 if !input.is_empty() => {
                let end = (at + 1 + rng.below(32)).min(input.len());
                input.drain(at..end);
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                let end = (from + 1 + rng.below(64)).min(other.len());
                input.splice(at..at, other[from..end].iter().copied());
            }
            5 if !input.is_empty() => input.truncate(at),
            6 => input.insert(at, u8::try_from(rng.below(256)).unwrap()),
            _ => {}
        }
    }
    if rng.below(4) != 0 {
        fix_length(&mut input);
    }
    input
}

#[test]
fn t_kb_14_seeds_do_not_panic() {
    for seed in seeds() {
        tr31_unwrap::run(&seed);
    }
}

#[test]
fn t_kb_14_mutants_and_random_input_do_not_panic() {
    let seeds = seeds();
    let mut rng = Rng(0x7431_5F75_6E77_7261);
    let mut well_formed = 0;
    for _ in 0..10_000 {
        let input = mutate(&mut rng, &seeds);
        if KeyBlock::parse(&String::from_utf8_lossy(&input)).is_ok() {
            well_formed += 1;
        }
        tr31_unwrap::run(&input);
    }
    for _ in 0..1000 {
        let len = rng.below(200);
        let mut input: Vec<u8> = (0..len)
            .map(|_| u8::try_from(rng.below(256)).unwrap())
            .collect();
        if rng.below(2) == 0 {
            fix_length(&mut input);
        }
        tr31_unwrap::run(&input);
    }
    // The mutants reach past the parser into the cryptography, not only into parse errors.
    assert!(well_formed > 500, "{well_formed}");
}
