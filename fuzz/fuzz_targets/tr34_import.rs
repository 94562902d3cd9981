//! T-34-10: arbitrary bytes into the TR-34 token, CMS, X.509 and key block parsers.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| payhsm_fuzz::tr34_import::run(data));
