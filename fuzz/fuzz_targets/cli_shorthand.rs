//! The CLI's shorthand and JSON parameter parser (body in src/cli_shorthand.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| payhsm_fuzz::cli_shorthand::run(data));
