//! T-34-10: a TR-34 token's CMS structures on their own (body in src/cms.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| payhsm_fuzz::cms::run(data));
