//! T-34-10: X.509 certificates and requests on their own (body in src/x509_cert.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| payhsm_fuzz::x509_cert::run(data));
