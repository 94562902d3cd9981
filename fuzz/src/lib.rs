//! Fuzz target bodies, kept apart from libFuzzer so that stable tests can run them too
//! (`tr31/tests/fuzz_body.rs` includes them by path).

pub mod tr31_unwrap;
