//! T-KB-14: arbitrary bytes into the key block parser and the unwrap path.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| payhsm_fuzz::tr31_unwrap::run(data));
