//! Arbitrary requests into the server's router and SigV4 check.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = payhsm_fuzz::server_router::run(data);
});
