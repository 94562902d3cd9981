//! `api::dispatch` with arbitrary operations and request JSON (body in src/dispatch_json.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    payhsm_fuzz::dispatch_json::run(data);
});
