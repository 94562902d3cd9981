//! DUKPT key serial number parsing (body in src/ksn_parse.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| payhsm_fuzz::ksn_parse::run(data));
