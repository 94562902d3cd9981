//! ISO 9564 PIN block decoding, formats 0, 1, 3 and 4 (body in src/pin_block_decode.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| payhsm_fuzz::pin_block_decode::run(data));
