//! The `dispatch_json` fuzz body on stable Rust: its seeds and a few thousand mutations of them
//! into `api::dispatch` (T-H-2). No input may panic, and every refusal is a service exception.

#[allow(unreachable_pub, dead_code)]
#[path = "../../fuzz/src/dispatch_json.rs"]
mod dispatch_json;

#[allow(unreachable_pub, dead_code)]
#[path = "../../fuzz/src/xorshift.rs"]
mod xorshift;

use xorshift::Rng;

fn seeds() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds/dispatch_json");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    seeds
}

#[test]
fn the_seeds_reach_the_operations() {
    let seeds = seeds();
    assert_eq!(seeds.len(), 10);
    let succeeded = seeds.iter().filter(|s| dispatch_json::run(s)).count();
    // Every seed but the two made to fail verification and PIN decoding succeeds.
    assert_eq!(succeeded, 8);
}

#[test]
fn seeds_and_mutations_never_panic() {
    let seeds = seeds();
    let mut rng = Rng(0x0D15_7A7C_u64);
    for _ in 0..4000 {
        let seed = &seeds[rng.below(seeds.len())];
        let data = rng.mutate(seed, b"0F\"{}[],:-9");
        let _ = dispatch_json::run(&data);
    }
}
