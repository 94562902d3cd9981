//! The `server_router` fuzz body on stable Rust: the seeds, a request signed for the fuzz
//! body's key, and a few thousand mutations of them. No input may panic.

#[allow(unreachable_pub, dead_code)]
#[path = "../../fuzz/src/server_router.rs"]
mod server_router;

#[allow(unreachable_pub, dead_code)]
#[path = "../../fuzz/src/xorshift.rs"]
mod xorshift;

use xorshift::Rng;

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest};
use payhsm_keystore::arn::Region;
use payhsm_server::auth::sign_request;

/// A GenerateMac request signed with the fuzz body's key at its fixed time.
fn signed_seed() -> Vec<u8> {
    let body = br#"{"KeyIdentifier":"alias/m","MessageData":"00112233","GenerationAttributes":{"Algorithm":"CMAC"}}"#;
    let headers = [
        ("content-type", "application/json"),
        ("host", "127.0.0.1:8080"),
    ];
    let creds = Credentials::new(
        "PHSMFUZZFUZZFUZZFUZZ",
        "fuzz/secret/key/0123456789",
        None,
        None,
        "t",
    );
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let request = SignableRequest::new(
        "POST",
        "/mac/generate",
        headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) =
        sign_request(&creds, &Region::new("us-east-1").unwrap(), at, request).unwrap();
    let mut text = String::from("POST /mac/generate\n");
    for (k, v) in headers.into_iter().chain(instructions.headers()) {
        text.push_str(&format!("{k}: {v}\n"));
    }
    text.push('\n');
    let mut out = text.into_bytes();
    out.extend_from_slice(body);
    out
}

fn seeds() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds/server_router");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    assert_eq!(seeds.len(), 5);
    seeds.push(signed_seed());
    seeds
}

#[test]
fn the_signed_seed_verifies() {
    // Through the same parse as the fuzz body, so that mutations start from a valid request.
    let seed = signed_seed();
    let text = String::from_utf8(seed).unwrap();
    assert!(server_router::run(text.as_bytes()), "{text}");
    // One byte of the body changed, and it does not.
    assert!(!server_router::run(text.replace("0011", "0012").as_bytes()));
}

#[test]
fn seeds_and_mutations_never_panic() {
    let seeds = seeds();
    for seed in &seeds {
        let _ = server_router::run(seed);
    }
    let mut rng = Rng(0x005E_ED0F_5E4E_u64);
    for _ in 0..4000 {
        let seed = &seeds[rng.below(seeds.len())];
        let data = rng.mutate(seed, b"%/{}\n:?\"\\\0");
        let _ = server_router::run(&data);
    }
    for _ in 0..500 {
        let data: Vec<u8> = (0..rng.below(300))
            .map(|_| u8::try_from(rng.below(256)).unwrap())
            .collect();
        let _ = server_router::run(&data);
    }
}
