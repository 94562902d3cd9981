//! Fuzz target bodies, kept apart from libFuzzer so that stable tests can run them too
//! (`tr31/tests/fuzz_body.rs`, `tr34/tests/fuzz_body.rs` and `server/tests/fuzz_body.rs`
//! include them by path).

pub mod server_router;
pub mod tr31_unwrap;
pub mod tr34_import;
